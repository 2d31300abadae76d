"""The one data folder every byte Hearth writes lives under.

``HEARTH_HOME`` overrides the platform default so that tests, benchmarks and
portable installs never touch the user's real folder.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Hearth"


def data_dir() -> Path:
    override = os.environ.get("HEARTH_HOME")
    if override:
        root = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        root = Path(user_data_dir(APP_NAME, appauthor=False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _sub(name: str) -> Path:
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    return _sub("models")


def logs_dir() -> Path:
    return _sub("logs")


def settings_file() -> Path:
    return data_dir() / "settings.json"


def registry_file() -> Path:
    return data_dir() / "models.json"


def database_file() -> Path:
    return data_dir() / "hearth.db"
