"""Start the desktop app."""

from __future__ import annotations

import signal
import sys

from app.config import load_settings
from app.errors import HearthError
from app.library.registry import ModelRegistry


def run_gui(argv: list[str] | None = None) -> int:
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Hearth")
    # Let Ctrl-C in the terminal close the app instead of being swallowed by Qt's loop.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    settings = load_settings()
    try:
        model = ModelRegistry().resolve(None, settings.default_model)
    except HearthError as exc:
        QMessageBox.critical(None, "Hearth", str(exc))
        return 1
    window = MainWindow(settings, model)
    window.show()
    return app.exec()
