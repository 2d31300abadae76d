"""Collections end to end with the real starter model embedding and answering, real SQLite, real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import load_settings
from app.docs import service
from app.docs.store import CollectionStore
from tests.docs.conftest import FACTS

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args, env=None, timeout=180):
    env = dict(env or os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


@pytest.fixture
def indexed(documents):
    service.add_paths("handbook", [documents]).close()
    result = service.sync("handbook", load_settings())
    return documents, result


def test_add_indexes_supported_files_and_lists_the_rest_with_reasons(indexed):
    documents, result = indexed
    assert (result.indexed, result.skipped) == (4, 4)
    info = service.status("handbook")
    skipped = {Path(s["file"]).name: s["reason"] for s in info["skipped"]}
    assert skipped["secret.pdf"].startswith("encrypted PDF")
    assert skipped["corrupt.pdf"].startswith("damaged or not a PDF")
    assert skipped["empty.txt"] == "empty file" and skipped["image.txt"] == "binary file"
    assert info["pages"] == 3 and info["indexed_files"] == 4


def test_search_finds_the_page_and_the_lines(indexed):
    documents, _ = indexed
    searcher = service.Searcher()
    try:
        [top, *_] = searcher.search(["handbook"], "How often is the cooling pump inspected?", 5)
        assert (Path(top.file).name, top.page, top.lines) == ("handbook.pdf", 1, None)
        assert FACTS[1][:40] in " ".join(top.text.split())
        [code, *_] = searcher.search(["handbook"], "late fee per week overdue", 3)
        assert Path(code.file).name == "billing.py" and code.lines == [4, 6]
        assert searcher.search(["handbook"], "xylophone zebra", 5) == []  # nothing relevant: nothing invented
    finally:
        searcher.close()


def test_cli_search_json_and_ask_with_citations(indexed):
    documents, _ = indexed
    found = hearth("docs", "search", "handbook", "diesel generator fuel hours", "--k", "2", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) <= 2 and {"file", "page", "lines", "score", "text"} <= set(hits[0])
    assert hits[0]["file"] == str(documents / "handbook.pdf") and hits[0]["page"] == 3
    asked = hearth("docs", "ask", "handbook", "How long does the generator's fuel last?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answer"].strip() and answer["citations"]
    first = answer["citations"][0]
    assert first["n"] == 1 and first["where"] == "handbook.pdf, page 3" and "72 hours" in first["text"]
    nothing = json.loads(hearth("docs", "ask", "handbook", "xylophone zebra quantum", "--json").stdout)
    assert nothing["citations"] == [] and "found nothing" in nothing["answer"]


def test_only_changed_files_are_indexed_again_and_deleted_ones_vanish(indexed):
    documents, _ = indexed
    notes = documents / "notes.md"
    notes.write_text(notes.read_text() + "\n## Parking\n\nVisitors park in zone C.\n")
    result = service.sync("handbook", load_settings())
    assert (result.indexed, result.removed) == (1, 0)
    os.utime(documents / "travel.docx")  # touched, same content: no new embedding
    assert service.sync("handbook", load_settings()).indexed == 0
    (documents / "handbook.pdf").unlink()
    result = service.sync("handbook", load_settings())
    assert result.removed == 1
    store = CollectionStore("handbook")
    try:
        left = store.db.execute("SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
                                "WHERE f.path LIKE '%handbook.pdf'").fetchone()[0]
        fts = store.db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'reactor'").fetchone()[0]
    finally:
        store.close()
    assert left == 0 and fts == 0
    searcher = service.Searcher()
    try:
        assert Path(searcher.search(["handbook"], "where do visitors park", 1)[0].file).name == "notes.md"
    finally:
        searcher.close()


def test_embedding_work_counts_in_the_tally(indexed):
    from app.savings.tally import SavingsStore

    store = SavingsStore()
    try:
        rows = store.db.execute("SELECT source, comparison_model, input_tokens FROM replies").fetchall()
    finally:
        store.close()
    assert rows and rows[0][0] == "embedding" and rows[0][1] == "text-embedding-3-small" and rows[0][2] > 50


def test_symlink_loops_end_and_links_out_of_the_collection_are_not_read(tmp_path):
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "a.md").write_text("# A\n\nalpha text")
    (inside / "loop").symlink_to(inside)
    outside = tmp_path / "outside.md"
    outside.write_text("# Outside\n\nconfidential payroll")
    (inside / "leak.md").symlink_to(outside)
    service.add_paths("linky", [inside]).close()
    result = service.sync("linky", load_settings())
    assert result.indexed == 1
    assert [Path(f["file"]).name for f in service.status("linky")["files"]] == ["a.md"]


def test_sigkill_in_the_middle_of_indexing_resumes_without_half_files(tmp_path, hearth_home):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):  # short files: the starter model embeds ~140 tokens/s (it computes logits too)
        (folder / f"doc{i:03d}.md").write_text(f"# Doc {i}\n\nFact number {i} is kept here.")
    proc = subprocess.Popen([sys.executable, "-m", "app", "docs", "add", "big", str(folder)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    db_path = hearth_home / "docs" / "big.db"
    deadline = time.monotonic() + 120
    indexed = 0
    while time.monotonic() < deadline and indexed < 3:
        time.sleep(0.1)
        if db_path.exists():
            try:
                with sqlite3.connect(db_path) as db:
                    indexed = db.execute("SELECT count(*) FROM files WHERE status = 'indexed'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its reader and embedding processes
    proc.wait()
    assert 3 <= indexed < 40, "kill must land mid-way"
    store = CollectionStore("big")
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = store.counts()["indexed_files"]
        # whole files only: every indexed file has all its passages
        partial = store.db.execute("SELECT count(*) FROM files f WHERE f.chunks != "
                                   "(SELECT count(*) FROM chunks c WHERE c.file_id = f.id)").fetchone()[0]
    finally:
        store.close()
    assert partial == 0 and before < 40
    result = service.sync("big", load_settings())
    assert result.indexed == 40 - before and result.unchanged == before
    assert service.status("big")["indexed_files"] == 40


def test_no_network_connection_is_opened(indexed, tmp_path):
    """An audit hook in every Hearth process (the CLI, the reader, the embedder, the chat worker) refuses and
    records any attempt to resolve a name or connect a network socket."""
    documents, _ = indexed
    guard = tmp_path / "guard"
    guard.mkdir()
    attempts = tmp_path / "attempts.log"
    (guard / "sitecustomize.py").write_text(f'''
import socket, sys
def _hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname") or (
            event == "socket.connect" and args[0].family != socket.AF_UNIX):
        with open({str(attempts)!r}, "a") as log:
            log.write(f"{{event}} {{args[1:]}}\\n")
        raise OSError("network access blocked by the test")
sys.addaudithook(_hook)
''')
    env = dict(os.environ, PYTHONPATH=f"{guard}{os.pathsep}{ROOT}")
    (documents / "new.md").write_text("# New\n\nThe canteen opens at 11:30.")
    for args in (("docs", "sync", "handbook"), ("docs", "search", "handbook", "canteen opening", "--json"),
                 ("docs", "ask", "handbook", "When does the canteen open?", "--json")):
        result = hearth(*args, env=env)
        assert result.returncode == 0, result.stderr
    assert "11:30" in result.stdout
    assert not attempts.exists(), attempts.read_text()
    # the guard itself works: a connection attempt is caught
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
                           env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and attempts.exists()
