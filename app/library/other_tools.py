"""GGUF models the user already has from other tools, to use in place instead of a second copy.

Looks where the Hugging Face cache, LM Studio, Ollama and GPT4All keep their
models (each overridable the way those tools allow). Ollama stores models as
content-addressed blobs named by their digest; its manifests say which blob
is the model. Folders are walked without following symlinked folders (no
loops), only to a fixed depth, and every file is checked with the GGUF
header reader before it is offered.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.gguf.header import GGUFError, read_gguf

MAX_DEPTH = 6
OLLAMA_MODEL_MEDIA = "application/vnd.ollama.image.model"


@dataclass
class FoundModel:
    tool: str
    name: str
    path: Path
    size: int

    @property
    def suggested_id(self) -> str:
        import re

        return re.sub(r"[^a-z0-9]+", "-", f"{self.tool}-{self.name}".lower()).strip("-")


def _walk_gguf(root: Path, depth: int = MAX_DEPTH):
    if not root.is_dir():
        return
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root, followlinks=False):
        if len(Path(folder).parts) - base_depth >= depth:
            dirs[:] = []
        for name in files:
            if name.lower().endswith(".gguf"):
                yield Path(folder) / name


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def hf_cache_dirs() -> list[Path]:
    if os.environ.get("HF_HUB_CACHE"):
        return [Path(os.environ["HF_HUB_CACHE"])]
    hf_home = Path(os.environ.get("HF_HOME") or _home() / ".cache" / "huggingface")
    return [hf_home / "hub"]


def lm_studio_dirs() -> list[Path]:
    return [_home() / ".lmstudio" / "models", _home() / ".cache" / "lm-studio" / "models"]


def ollama_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or _home() / ".ollama" / "models")


def gpt4all_dirs() -> list[Path]:
    if sys.platform == "darwin":
        return [_home() / "Library" / "Application Support" / "nomic.ai" / "GPT4All"]
    if sys.platform == "win32":
        return [Path(os.environ.get("LOCALAPPDATA", _home())) / "nomic.ai" / "GPT4All"]
    return [_home() / ".local" / "share" / "nomic.ai" / "GPT4All"]


def _hf_cache() -> list[FoundModel]:
    found = []
    for cache in hf_cache_dirs():
        for repo in sorted(cache.glob("models--*")) if cache.is_dir() else []:
            name = repo.name[len("models--"):].replace("--", "/")
            for path in _walk_gguf(repo / "snapshots"):
                found.append(FoundModel("hf-cache", f"{name}/{path.name}", path, 0))
    return found


def _ollama() -> list[FoundModel]:
    root = ollama_dir()
    manifests = root / "manifests"
    found = []
    if not manifests.is_dir():
        return found
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for layer in data.get("layers", []) if isinstance(data, dict) else []:
            if not isinstance(layer, dict) or layer.get("mediaType") != OLLAMA_MODEL_MEDIA:
                continue
            digest = str(layer.get("digest", ""))
            if not digest.startswith("sha256:") or "/" in digest or ".." in digest:
                continue
            blob = root / "blobs" / digest.replace(":", "-")
            relative = manifest.relative_to(manifests).parts
            name = f"{relative[-2]}:{relative[-1]}" if len(relative) >= 2 else manifest.name
            found.append(FoundModel("ollama", name, blob, 0))
    return found


def _plain(tool: str, folders: list[Path]) -> list[FoundModel]:
    return [FoundModel(tool, path.name, path, 0) for folder in folders for path in _walk_gguf(folder)]


def scan() -> list[FoundModel]:
    """Models found in other tools' folders that pass the GGUF header check."""
    candidates = (_hf_cache() + _plain("lm-studio", lm_studio_dirs()) + _ollama()
                  + _plain("gpt4all", gpt4all_dirs()))
    usable, seen = [], set()
    for model in candidates:
        try:
            real = model.path.resolve()
            if real in seen:
                continue
            info = read_gguf(real)
        except (GGUFError, OSError):
            continue
        seen.add(real)
        model.path, model.size = real, info.file_size
        usable.append(model)
    return usable
