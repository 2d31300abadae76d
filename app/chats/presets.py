"""Conversation presets: the shipped ones in resources/, the user's own in the data folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from app import paths
from app.config import write_json_atomic

log = logging.getLogger(__name__)

PRESETS_VERSION = 1
BUILTIN_FILE = Path(__file__).resolve().parent.parent.parent / "resources" / "presets.json"
# The keys a preset (and a conversation's settings) may carry.
KEYS = ("system_prompt", "temperature", "top_p", "max_tokens", "context_length")
DEFAULT_PRESET = "General assistant"


def _read(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("presets file %s unreadable: %s", path, exc)
        return []
    presets = data.get("presets", []) if isinstance(data, dict) else []
    return [p for p in presets if isinstance(p, dict) and isinstance(p.get("name"), str)]


def user_presets_file() -> Path:
    return paths.data_dir() / "presets.json"


def builtin_presets() -> list[dict]:
    return [dict(p, builtin=True) for p in _read(BUILTIN_FILE)]


def all_presets() -> list[dict]:
    return builtin_presets() + [dict(p, builtin=False) for p in _read(user_presets_file())]


def find(name: str) -> dict | None:
    return next((p for p in all_presets() if p["name"] == name), None)


def save_user_preset(name: str, settings: dict) -> dict:
    preset = {"name": name.strip() or "My preset", **{k: settings[k] for k in KEYS if k in settings}}
    mine = [p for p in _read(user_presets_file()) if p["name"] != preset["name"]]
    mine.append(preset)
    write_json_atomic(user_presets_file(), {"version": PRESETS_VERSION, "presets": mine})
    return preset


def settings_from_preset(preset: dict) -> dict:
    return {"preset": preset["name"], **{k: preset[k] for k in KEYS if k in preset}}
