"""Start the desktop app."""

from __future__ import annotations

import signal
import sys

from app.config import load_settings
from app.errors import HearthError
from app.chats.service import choose_model


def run_gui(argv: list[str] | None = None) -> int:
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        # Qt would abort with its own fatal message; say what to do instead.
        raise HearthError("no display to open the window on: start Hearth from a desktop session, "
                          "or use the command line (hearth chat, hearth --help)")
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Hearth")
    # Let Ctrl-C in the terminal close the app instead of being swallowed by Qt's loop.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    settings = load_settings()
    try:
        model = choose_model(None, settings)  # an installed model, or ENGINE:MODEL on a team's server
    except HearthError as exc:
        QMessageBox.critical(None, "Hearth", str(exc))
        return 1
    window = MainWindow(settings, model)
    window.show()
    return app.exec()
