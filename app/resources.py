"""Where the shipped data (presets, catalog, prices, tokenizers, icons) is found.

One locator for the three ways Hearth runs: a source checkout (``resources/``
beside ``app/``), an installed wheel (``app/resources/`` when packaged inside
the package) and a PyInstaller bundle (``resources/`` under ``sys._MEIPASS``).
``HEARTH_RESOURCES`` overrides all three, for packagers who move the folder.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from app.errors import HearthError


def _candidates() -> list[Path]:
    found = []
    override = os.environ.get("HEARTH_RESOURCES")
    if override:
        found.append(Path(override))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        found.append(Path(bundle) / "resources")
    package = Path(__file__).resolve().parent
    found += [package / "resources", package.parent / "resources"]
    return found


@functools.lru_cache(maxsize=1)
def resources_dir() -> Path:
    for folder in _candidates():
        if (folder / "prices.json").is_file():
            return folder
    raise HearthError("Hearth's resources folder (presets, prices, catalog) is missing from this installation; "
                      "reinstall Hearth")


def resource(*parts: str) -> Path:
    """A shipped file or folder, e.g. ``resource("tokenizers")``."""
    return resources_dir().joinpath(*parts)
