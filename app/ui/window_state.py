"""The main window opens where and as large as it was left, or at a size that suits the screen.

Kept in the data folder (``window.json``), not in Qt's own settings store,
so that everything Hearth keeps stays in one folder. The file is a few
hundred bytes, read once before the window shows and written as it closes.
"""

from __future__ import annotations

import base64
import json

from app import paths
from app.config import write_json_atomic
from app.ui.qt import QByteArray, QGuiApplication

DEFAULT_SIZE = (1200, 800)
SCREEN_SHARE = 0.85  # on a small screen, this much of it


def restore(window) -> None:
    try:
        data = json.loads(paths.window_state_file().read_text(encoding="utf-8"))
        geometry = QByteArray(base64.b64decode(data["geometry"]))
    except (OSError, ValueError, KeyError, TypeError):
        geometry = None
    if geometry is not None and window.restoreGeometry(geometry):
        return
    screen = QGuiApplication.primaryScreen()
    width, height = DEFAULT_SIZE
    if screen is not None:
        available = screen.availableGeometry()
        width = min(width, int(available.width() * SCREEN_SHARE))
        height = min(height, int(available.height() * SCREEN_SHARE))
        window.resize(width, height)
        frame = window.frameGeometry()
        frame.moveCenter(available.center())
        window.move(frame.topLeft())
    else:
        window.resize(width, height)


def save(window) -> None:
    try:
        write_json_atomic(paths.window_state_file(),
                          {"version": 1, "geometry": base64.b64encode(bytes(window.saveGeometry())).decode()})
    except Exception:  # noqa: BLE001 (a window that cannot remember its place still closes)
        pass
