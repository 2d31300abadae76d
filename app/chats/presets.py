"""Conversation presets: the shipped ones in resources/, the user's own in the data folder."""

from __future__ import annotations

from pathlib import Path

from app import paths
from app.config import read_json_rows, write_json_atomic
from app.resources import resource

PRESETS_VERSION = 1
# The keys a preset (and a conversation's settings) may carry.
KEYS = ("system_prompt", "temperature", "top_p", "max_tokens", "context_length")
DEFAULT_PRESET = "General assistant"


def _read(path: Path) -> list[dict]:
    return [p for p in read_json_rows(path, "presets") if isinstance(p.get("name"), str)]


def user_presets_file() -> Path:
    return paths.user_presets_file()


def builtin_presets() -> list[dict]:
    return [dict(p, builtin=True) for p in _read(resource("presets.json"))]


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
