"""Hostile files in a collection (issue 14): special files, links, undecodable names, archive bombs,
endless PDFs. Each costs its own file, is listed with a reason, and never stops the rest."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.config import load_settings
from app.docs import indexer as indexer_module
from app.docs import parsers, service, workers
from app.docs.parsers import Skip
from tests.docs.conftest import make_docx, make_pdf

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)


def test_pipes_devices_links_and_undecodable_names_never_stop_a_collection(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe boiler is serviced in March.")
    os.mkfifo(folder / "pipe.md")  # would block any reader forever
    (folder / "pipe-link.md").symlink_to(folder / "pipe.md")
    (folder / "zero.txt").symlink_to("/dev/zero")  # endless, and outside the collection
    weird = os.fsencode(folder) + b"/caf\xe9 \x1b[2J.md"  # Latin-1 byte and an escape sequence in the name
    with open(weird, "wb") as handle:
        handle.write(b"# Cafe\n\nThe espresso machine is descaled weekly.")
    (folder / "zz-last.md").write_text("# Last\n\nThe last file is indexed too.")
    added = hearth("docs", "add", "hostile", str(folder), timeout=240)
    assert added.returncode == 0, added.stderr
    assert "\x1b" not in added.stdout + added.stderr
    status = json.loads(hearth("docs", "status", "hostile", "--json").stdout)
    indexed = sorted(Path(f["file"]).name for f in status["files"])
    assert indexed == ["caf\ufffd \x1b[2J.md", "good.md", "zz-last.md"]  # JSON escapes the control character
    reasons = {Path(s["file"]).name: s["reason"] for s in status["skipped"]}
    assert reasons == {"pipe.md": "not a regular file (a named pipe)",
                       "pipe-link.md": "not a regular file (a named pipe)",
                       "zero.txt": indexer_module.OUTSIDE}
    text = hearth("docs", "status", "hostile")
    assert text.returncode == 0 and "/zero.txt: a link to something outside" in text.stdout
    assert "\x1b" not in text.stdout
    again = service.sync("hostile", load_settings())  # the undecodable name is the same key next time
    assert (again.indexed, again.unchanged, again.skipped) == (0, 3, 3)
    answer = hearth("docs", "search", "hostile", "espresso descaled", "--json")
    assert answer.returncode == 0 and "espresso" in answer.stdout


def _office_bomb(path: Path, size: int, parts: int = 1) -> Path:
    make_docx(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for n in range(parts):
            with archive.open(f"word/media/padding{n}.xml", "w", force_zip64=True) as part:
                block = b"<w:t>" + b"a" * (1 << 20) + b"</w:t>"
                for _ in range(size // len(block) + 1):
                    part.write(block)
    return path


def test_office_archives_that_expand_past_the_limits_are_skipped_before_parsing(tmp_path, monkeypatch):
    ratio = _office_bomb(tmp_path / "ratio.docx", 8 << 20)  # ~8 MB of one letter: ~1000-fold
    with pytest.raises(Skip, match=r"expands [\d,]+-fold \(the limit is 200\): a zip bomb"):
        parsers.parse(ratio)
    monkeypatch.setattr(parsers, "MAX_OFFICE_EXPANDED_BYTES", 4 << 20)
    monkeypatch.setattr(parsers, "MAX_OFFICE_RATIO", 10 ** 9)
    with pytest.raises(Skip, match=r"expands to \d+ MB \(the limit for Word files is 4 MB\)"):
        parsers.parse(ratio)
    monkeypatch.setattr(parsers, "MAX_OFFICE_PARTS", 5)
    with pytest.raises(Skip, match=r"parts in its archive \(the limit is 5\)"):
        parsers.parse(make_docx(tmp_path / "plain.docx"))


def test_the_reader_process_cannot_take_more_than_its_memory_limit():
    probe = subprocess.run([sys.executable, "-c", "from app.docs.workers import _limit_memory\n"
                            "_limit_memory()\n"
                            "try:\n    bytearray(3 << 30)\nexcept MemoryError:\n    print('refused')"],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert probe.stdout.strip() == "refused", probe.stderr


def test_pages_and_passages_per_file_are_capped_with_the_reason_shown(tmp_path, monkeypatch):
    pdf = make_pdf(tmp_path / "long.pdf", {1: "First page.", 2: "Second page.", 3: "Third page."})
    monkeypatch.setattr(parsers, "MAX_PDF_PAGES", 2)
    kind, _digest, chunks, note = workers.read_file(str(pdf), None)
    assert kind == "ok" and note == "only its first 2 pages are indexed (of 3; the limit per file)"
    assert {c.page for c in chunks} == {1, 2}
    monkeypatch.setattr(workers, "MAX_PASSAGES_PER_FILE", 1)
    kind, _digest, chunks, note = workers.read_file(str(pdf), None)
    assert len(chunks) == 1 and note == "only its first 1 passages are indexed (of 2; the limit per file)"


def test_pause_acts_inside_a_long_file(tmp_path, monkeypatch):
    folder = tmp_path / "long"
    folder.mkdir()
    (folder / "long.md").write_text("".join(f"# Part {i}\n\nPart {i} says {i * 7}.\n\n" for i in range(8)))
    service.add_paths("long", [folder]).close()
    monkeypatch.setattr(indexer_module, "BATCH", 2)  # four batches in the one file
    asked = []
    with pytest.raises(indexer_module.IndexStopped):
        service.sync("long", load_settings(), should_stop=lambda: asked.append(1) or len(asked) >= 3)
    assert len(asked) == 3  # asked again between batches of the same file, not only between files
    assert service.status("long")["indexed_files"] == 0  # no half file kept
    assert service.sync("long", load_settings()).indexed == 1


def test_the_time_left_follows_the_bytes_to_read_not_the_file_count():
    import time

    # One small file of ten done in 10 s (10 passages); the nine left are the big ones.
    progress = indexer_module.IndexProgress(1, 10, 10, time.monotonic() - 10, bytes_total=100_000, bytes_done=1_000)
    left = progress.seconds_left
    assert 900 < left < 1000  # 99,000 bytes at 1 passage per 100 bytes, 1 passage/s; by file count: 90 s
    assert re.search(r"about 1[67] min left", progress.describe())
    assert indexer_module.IndexProgress(0, 10, 0, time.monotonic()).seconds_left is None  # nothing to go on yet


def test_ctrl_c_during_docs_add_pauses_in_one_line_without_tracebacks(tmp_path, hearth_home):
    import signal
    import sqlite3
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"doc{i:03d}.md").write_text(f"# Doc {i}\n\nFact number {i} is kept here.")
    proc = subprocess.Popen([sys.executable, "-m", "app", "docs", "add", "ctrlc", str(folder)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # A shell's background job starts with Ctrl-C ignored, and Python keeps an
                            # ignored SIGINT ignored: give the program a terminal's default.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db_path = hearth_home / "docs" / "ctrlc.db"
    deadline = time.monotonic() + 120
    indexed = 0
    while time.monotonic() < deadline and indexed < 2:
        time.sleep(0.1)
        try:
            with sqlite3.connect(db_path) as db:
                indexed = db.execute("SELECT count(*) FROM files WHERE status = 'indexed'").fetchone()[0]
        except sqlite3.Error:
            pass
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip() == "hearth: indexing of 'ctrlc' paused; 'hearth docs sync ctrlc' goes on from there"
