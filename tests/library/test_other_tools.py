"""Models from other tools' folders, in a fake home made here."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.library.other_tools import scan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_home(tmp_path, monkeypatch, bad_models):
    home = tmp_path / "home"
    model = bad_models["unknown_arch"]  # a small valid GGUF
    # Hugging Face cache: snapshots hold symlinks into blobs.
    blob = home / ".cache/huggingface/hub/models--org--repo-GGUF/blobs/abc123"
    blob.parent.mkdir(parents=True)
    shutil.copyfile(model, blob)
    snap = home / ".cache/huggingface/hub/models--org--repo-GGUF/snapshots/rev1"
    snap.mkdir(parents=True)
    (snap / "repo.Q4_K_M.gguf").symlink_to(blob)
    # LM Studio, with a broken file beside a good one.
    lms = home / ".lmstudio/models/pub/model-GGUF"
    lms.mkdir(parents=True)
    shutil.copyfile(model, lms / "model.Q8_0.gguf")
    (lms / "broken.gguf").write_bytes(b"junk")
    # Ollama: a manifest pointing at a digest-named blob.
    ollama = home / ".ollama/models"
    (ollama / "blobs").mkdir(parents=True)
    shutil.copyfile(model, ollama / "blobs" / "sha256-deadbeef")
    manifest = ollama / "manifests/registry.ollama.ai/library/llama3.2/3b"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:deadbeef"},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:0000"}]}))
    (ollama / "manifests/registry.ollama.ai/library/evil").mkdir(parents=True)
    (ollama / "manifests/registry.ollama.ai/library/evil/x").write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../../etc/passwd"}]}))
    # GPT4All, and a symlink loop that must not be followed forever.
    gpt = home / ".local/share/nomic.ai/GPT4All"
    gpt.mkdir(parents=True)
    shutil.copyfile(model, gpt / "gpt.Q4_0.gguf")
    (gpt / "loop").symlink_to(gpt, target_is_directory=True)
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_finds_models_of_every_tool_and_skips_broken_or_hostile_ones(fake_home):
    found = {(f.tool, f.name) for f in scan()}
    assert found == {("hf-cache", "org/repo-GGUF/repo.Q4_K_M.gguf"), ("lm-studio", "model.Q8_0.gguf"),
                     ("ollama", "llama3.2:3b"), ("gpt4all", "gpt.Q4_0.gguf")}


def test_scan_use_adds_them_in_place_without_copies(fake_home, hearth_home):
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def hearth(*args):
        return subprocess.run([sys.executable, "-m", "app", "models", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=60)

    listing = hearth("scan")
    assert "llama3.2:3b" in listing.stdout and "hearth models scan --use" in listing.stdout
    assert hearth("scan", "--use").returncode == 0
    rows = json.loads(hearth("scan", "--json").stdout)
    assert all(r["in_use"] for r in rows) and len(rows) == 4
    models = {r["id"]: r for r in json.loads(hearth("list", "--json").stdout)}
    assert models["ollama-llama3-2-3b"]["file"] == str(fake_home / ".ollama/models/blobs/sha256-deadbeef")
    assert not list((hearth_home / "models").glob("*.gguf"))  # used in place: nothing copied
