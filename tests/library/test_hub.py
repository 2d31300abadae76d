"""Discovery through the real huggingface_hub client against a loopback Hub (no internet here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.library import hub
from tests.library.loopback_hub import LoopbackHub

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def loopback(monkeypatch):
    with LoopbackHub() as server:
        server.add("bartowski/Qwen2.5-7B-Instruct-GGUF", {
            "Qwen2.5-7B-Instruct-Q4_K_M.gguf": b"q4" * 50, "Qwen2.5-7B-Instruct-Q8_0.gguf": b"q8" * 90,
            "Qwen2.5-7B-Instruct-f16-00001-of-00002.gguf": b"a" * 300,
            "Qwen2.5-7B-Instruct-f16-00002-of-00002.gguf": b"b" * 200, "README.md": b"# card"},
            downloads=900, likes=10, modified="2025-01-01T00:00:00.000Z")
        server.add("someone/qwen-coder-GGUF", {"coder.IQ4_XS.gguf": b"x" * 40}, downloads=50, likes=99,
                   modified="2026-06-01T00:00:00.000Z")
        server.add("meta/gated-GGUF", {"m.Q4_0.gguf": b"g"}, behaviour="gated")
        server.add("flaky/down-GGUF", {"m.Q4_0.gguf": b"g"}, behaviour="unavailable")
        server.add("broken/json-GGUF", {"m.Q4_0.gguf": b"g"}, behaviour="garbage")
        server.add("broken/drop-GGUF", {"m.Q4_0.gguf": b"g"}, behaviour="drop")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def test_search_sorted_by_downloads_likes_or_recency(loopback):
    assert [r.id for r in hub.search("qwen")] == ["bartowski/Qwen2.5-7B-Instruct-GGUF", "someone/qwen-coder-GGUF"]
    assert [r.id for r in hub.search("qwen", sort="likes")][0] == "someone/qwen-coder-GGUF"
    assert [r.id for r in hub.search("qwen", sort="recent")][0] == "someone/qwen-coder-GGUF"
    top = hub.search("qwen")[0]
    assert (top.downloads, top.likes) == (900, 10)
    assert any("filter=gguf" in r for r in loopback.requests)


def test_repository_files_with_quantization_and_grouped_split_parts(loopback):
    details = hub.repo_details("bartowski/Qwen2.5-7B-Instruct-GGUF")
    assert details.license == "apache-2.0" and details.downloads == 900
    by_quant = {f.quantization: f for f in details.files}
    assert set(by_quant) == {"Q4_K_M", "Q8_0", "F16"}  # README is not a model
    split = by_quant["F16"]
    assert split.size == 500 and split.name.endswith("00001-of-00002.gguf") and len(split.parts) == 2
    assert all(len(sha) == 64 for sha in split.sha256)  # LFS hashes, for verifying downloads


@pytest.mark.parametrize("repo, message", [
    ("nobody/nothing", "no such repository"),
    ("meta/gated-GGUF", "is gated"),
    ("flaky/down-GGUF", "HTTP 503"),
    ("broken/json-GGUF", "unreadable answer"),
    ("broken/drop-GGUF", "connection to the Hub was lost"),
    ("../../etc/passwd", "not a Hub repository id"),
    ("owner/name/../x", "not a Hub repository id"),
])
def test_hub_errors_are_one_readable_line(loopback, repo, message):
    with pytest.raises(hub.HubError, match=message) as err:
        hub.repo_details(repo)
    assert "\n" not in str(err.value)


def test_offline_mode_refuses_before_any_request(loopback, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubError, match="offline mode is on"):
        hub.search("qwen")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(hub.HubError, match="offline mode is on"):
        hub.repo_details("bartowski/Qwen2.5-7B-Instruct-GGUF", offline=True)
    assert loopback.requests == []


def test_cli_search_and_files(loopback):
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "app", "models", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=60)

    found = json.loads(run("search", "qwen", "--json").stdout)
    assert [r["id"] for r in found][0] == "bartowski/Qwen2.5-7B-Instruct-GGUF"
    files = json.loads(run("files", "bartowski/Qwen2.5-7B-Instruct-GGUF", "--json").stdout)
    assert {f["quantization"] for f in files["files"]} == {"Q4_K_M", "Q8_0", "F16"}
    text = run("files", "bartowski/Qwen2.5-7B-Instruct-GGUF").stdout
    assert "Q4_K_M" in text and "(2 parts)" in text
    gated = run("files", "meta/gated-GGUF")
    assert gated.returncode == 1 and gated.stderr.startswith("hearth: ") and "gated" in gated.stderr
    assert "Traceback" not in gated.stderr
