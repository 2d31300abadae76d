"""Pulling GGUF files from the loopback Hub with the real huggingface_hub session."""

import shutil

import pytest

from app.errors import HearthError
from app.library import download
from app.library.registry import ModelRegistry
from tests.library.loopback_hub import LoopbackHub


@pytest.fixture
def gguf_bytes(bad_models):
    return bad_models["unknown_arch"].read_bytes()  # a small, structurally valid GGUF


@pytest.fixture
def loopback(monkeypatch, gguf_bytes):
    with LoopbackHub() as server:
        big = gguf_bytes + b"\0" * 300_000  # padding after the tensor data: still a valid file
        server.add("tester/tiny-GGUF", {
            "tiny.Q4_0.gguf": big,
            "sub/dir/nested.Q8_0.gguf": gguf_bytes,
            "notes.Q4_0.gguf": b"not a model at all, but the hash matches",
            "split.F16-00001-of-00002.gguf": gguf_bytes,
            "split.F16-00002-of-00002.gguf": b"second part bytes",
        })
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def test_pull_verifies_and_installs(loopback, hearth_home):
    seen = []
    path = download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf", on_progress=seen.append)
    assert path == hearth_home / "models" / "tiny.Q4_0.gguf"
    assert path.read_bytes() == loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"]
    assert not list((hearth_home / "models").glob("*.incomplete"))
    assert seen[-1].done == seen[-1].total == path.stat().st_size
    assert "tiny-q4-0" in {m.id for m in ModelRegistry().models()}
    # Pulling again does nothing.
    requests = len(loopback.ranges)
    download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert len(loopback.ranges) == requests


def test_a_lost_connection_resumes_where_it_stopped(loopback, hearth_home):
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "cut once"
    with pytest.raises(HearthError):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    partial = hearth_home / "models" / "tiny.Q4_0.gguf.incomplete"
    kept = partial.stat().st_size
    assert 0 < kept < len(loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"])
    path = download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert loopback.ranges[-1] == f"bytes={kept}-"  # asked only for the rest
    assert path.read_bytes() == loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"]


def test_pause_keeps_the_partial_file_and_a_later_pull_resumes(loopback, hearth_home):
    calls = []
    with pytest.raises(download.DownloadStopped, match="paused"):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf", should_stop=lambda: calls.append(1) or True)
    assert (hearth_home / "models" / "tiny.Q4_0.gguf.incomplete").exists()
    download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert loopback.ranges[-1] is not None and loopback.ranges[-1].startswith("bytes=")


def test_a_corrupted_download_is_removed_never_registered(loopback, hearth_home):
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "corrupt"
    with pytest.raises(HearthError, match="does not match the Hub's SHA-256"):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert not list((hearth_home / "models").iterdir())


def test_a_file_that_is_not_gguf_is_rejected_after_download(loopback, hearth_home):
    with pytest.raises(HearthError, match="not a usable GGUF file"):
        download.pull("tester/tiny-GGUF", "notes.Q4_0.gguf")
    assert not list((hearth_home / "models").glob("*.gguf"))


def test_split_models_download_every_part(loopback, hearth_home):
    first = download.pull("tester/tiny-GGUF", "split.F16-00001-of-00002.gguf")
    assert first.name == "split.F16-00001-of-00002.gguf"
    assert (hearth_home / "models" / "split.F16-00002-of-00002.gguf").read_bytes() == b"second part bytes"


def test_files_in_sub_folders_land_in_the_models_folder(loopback, hearth_home):
    path = download.pull("tester/tiny-GGUF", "sub/dir/nested.Q8_0.gguf")
    assert path == hearth_home / "models" / "nested.Q8_0.gguf"


@pytest.mark.parametrize("name", ["../../evil.gguf", "/etc/evil.gguf", "a/../../b.gguf", "readme.txt", ".gguf"])
def test_hostile_names_are_refused_before_any_request(loopback, name):
    with pytest.raises(HearthError):
        download.pull("tester/tiny-GGUF", name)
    assert loopback.requests == []


def test_unknown_file_and_unknown_repo(loopback):
    with pytest.raises(HearthError, match="has no GGUF file 'missing.gguf'"):
        download.pull("tester/tiny-GGUF", "missing.gguf")
    with pytest.raises(HearthError, match="no such repository"):
        download.pull("nobody/nothing", "x.gguf")


def test_not_enough_disk_space_is_checked_first(loopback, hearth_home, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(download.shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(HearthError, match="not enough disk space"):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert loopback.ranges == []


def test_cli_pull_then_list(loopback, hearth_home):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run([sys.executable, "-m", "app", "models", "pull", "tester/tiny-GGUF", "tiny.Q4_0.gguf"],
                            capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Installed tiny-q4-0" in result.stdout and "SHA-256 verified" in result.stdout
    listed = json.loads(subprocess.run([sys.executable, "-m", "app", "models", "list", "--json"], capture_output=True,
                                       text=True, env=env, cwd=root, timeout=60).stdout)
    assert "tiny-q4-0" in {row["id"] for row in listed}
    bad = subprocess.run([sys.executable, "-m", "app", "models", "pull", "tester/tiny-GGUF", "../../x.gguf"],
                         capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("hearth: ") and "Traceback" not in bad.stderr
