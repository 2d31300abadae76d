"""Pulling GGUF files from the loopback Hub with the real huggingface_hub session."""

import shutil

import pytest

from app.errors import HearthError
from app.library import download
from app.library.registry import ModelRegistry


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


def test_a_lost_connection_is_retried_unattended_from_the_bytes_on_disk(loopback, hearth_home):
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "cut once"
    path = download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")  # no error: retried by itself
    data = loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"]
    assert path.read_bytes() == data
    resumed_at = int(loopback.ranges[-1].split("=")[1].rstrip("-"))
    assert 0 < resumed_at < len(data)  # asked only for the rest


def test_a_server_that_keeps_failing_is_retried_a_few_times_then_reported(loopback, hearth_home, monkeypatch):
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "error 500"
    with pytest.raises(HearthError, match="HTTP 500"):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    assert loopback.failed_requests == len(download.RETRY_DELAYS_S) + 1


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


def test_a_server_error_is_one_readable_line_and_a_retry_works(loopback, hearth_home):
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "error 500"
    with pytest.raises(HearthError, match="HTTP 500; try again later"):
        download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")
    loopback.file_behaviour.clear()
    assert download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf").exists()


def test_a_stalled_server_times_out_and_the_download_resumes_by_itself(loopback, hearth_home, monkeypatch):
    monkeypatch.setattr(download, "READ_TIMEOUT_S", 0.5)
    loopback.stall_s = 3.0
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "stall once"
    path = download.pull("tester/tiny-GGUF", "tiny.Q4_0.gguf")  # timed out once, resumed by itself
    assert path.read_bytes() == loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"]
    assert loopback.ranges[-1].startswith("bytes=") and loopback.ranges[-1] != "bytes=0-"


def test_part_names_of_a_split_model():
    assert download.part_names("m.Q8_0-00001-of-00003.gguf") == [
        "m.Q8_0-00001-of-00003.gguf", "m.Q8_0-00002-of-00003.gguf", "m.Q8_0-00003-of-00003.gguf"]
    assert download.part_names("plain.gguf") == ["plain.gguf"]
