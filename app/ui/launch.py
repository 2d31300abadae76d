"""Start the desktop app."""

from __future__ import annotations

import os
import signal
import sys
import time

from app.config import load_settings
from app.errors import HearthError
from app.chats.service import choose_model


def run_gui(argv: list[str] | None = None) -> int:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        # Qt would abort with its own fatal message; say what to do instead.
        raise HearthError("no display to open the window on: start Hearth from a desktop session, "
                          "or use the command line (hearth chat, hearth --help)")
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, QMessageBox

    platforms = choose_platforms()
    _install_qt_messages()
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    if platforms and app.platformName() != platforms[0]:
        print(f"hearth: the {_PLATFORM_NAMES.get(platforms[0], platforms[0])} display could not start; "
              f"using {_PLATFORM_NAMES.get(app.platformName(), app.platformName())} instead", file=sys.stderr)
    app.setApplicationName("Hearth")
    app.setDesktopFileName("hearth")  # Wayland matches the window to hearth.desktop (its icon and name)
    from app.resources import resource
    from app.ui.qt import QIcon

    app.setWindowIcon(QIcon(str(resource("icons", "hearth-256.png"))))
    # Let Ctrl-C in the terminal close the app instead of being swallowed by Qt's loop.
    # Ctrl-C in the terminal and SIGTERM (a session ending, `kill`) close the app as the window's Quit does.
    # Python runs signal handlers only between bytecodes: a slow no-op timer lets it in while Qt waits.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    from app.ui.qt import QTimer

    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(300)
    try:
        from app import paths

        paths.check_data_dir()
    except HearthError as exc:  # nothing could be saved: say so before any window opens
        print(f"hearth: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "Hearth", str(exc))
        return 1
    settings = load_settings()
    from app import netlog

    netlog.install("window", offline=settings.offline)
    settings.subscribe(lambda names: "offline" in names and netlog.set_offline(settings.offline))
    try:
        model = choose_model(None, settings)  # an installed model, or ENGINE:MODEL on a team's server
    except HearthError as exc:
        QMessageBox.critical(None, "Hearth", str(exc))
        return 1
    window = MainWindow(settings, model)
    window.show()
    if settings.note:  # settings reset to defaults: said once, in the window
        window.show_error(settings.note)
    _route_uncaught_errors(window)
    probe = os.environ.get("HEARTH_STARTUP_PROBE")
    if probe:  # scripts/bench_package.py: when the window is shown and the event loop runs, note it and quit
        from app.ui.qt import QTimer

        def shown():
            with open(probe, "w", encoding="utf-8") as handle:
                handle.write(repr(time.monotonic()))
            # The packaged build's test reads this: the action icons ship as data files.
            with open(probe + ".icons", "w", encoding="utf-8") as handle:
                handle.write("missing" if window.send_button.icon().isNull() else "ok")
            app.quit()
        QTimer.singleShot(0, shown)
    return app.exec()


_PLATFORM_NAMES = {"xcb": "X11 (xcb)", "wayland": "Wayland", "offscreen": "offscreen"}


def _route_uncaught_errors(window) -> None:
    """A bug in a slot or a helper thread: the traceback goes to the log file, one line to the user
    (the window's banner, or stderr from a thread), never a traceback on the terminal."""
    import logging
    import threading

    from app import paths

    log = logging.getLogger("hearth")

    def in_slot(kind, value, tb):
        log.error("uncaught error", exc_info=(kind, value, tb))
        window.show_error(f"Something went wrong: {kind.__name__}: {value} (details in {paths.app_log_file()})")

    def in_thread(args):
        if args.exc_type is SystemExit:
            return
        log.error("uncaught error in thread %s", getattr(args.thread, "name", "?"),
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        print(f"hearth: background error: {args.exc_type.__name__}: {args.exc_value} "
              f"(details in {paths.app_log_file()})", file=sys.stderr)

    sys.excepthook = in_slot
    threading.excepthook = in_thread


def choose_platforms() -> list[str]:
    """Qt's platform plugins to try, in order: the session's own first, then the other.

    Qt tries each name of a semicolon-separated QT_QPA_PLATFORM in turn; a
    user's own setting is left alone.
    """
    if os.environ.get("QT_QPA_PLATFORM"):
        return [p for p in os.environ["QT_QPA_PLATFORM"].split(";") if p]
    if not sys.platform.startswith("linux"):
        return []
    # Only displays that exist: asking Wayland's library for a missing one prints its own error line.
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    wayland = bool(os.environ.get("WAYLAND_DISPLAY")) or bool(runtime and os.path.exists(os.path.join(runtime, "wayland-0")))
    x11 = bool(os.environ.get("DISPLAY"))
    order = (["wayland"] if wayland else []) + (["xcb"] if x11 else [])
    if x11 and not os.environ.get("WAYLAND_DISPLAY"):
        order.sort(key=lambda p: p != "xcb")  # an X11 session: X11 first, Wayland as the fallback
    if order:
        os.environ["QT_QPA_PLATFORM"] = ";".join(order)
    return order


def _install_qt_messages() -> None:
    """Qt's own messages go to the log; when no platform can start, one line instead of Qt's abort."""
    import logging

    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    log = logging.getLogger("qt")

    def handler(kind, _context, message):
        if kind == QtMsgType.QtFatalMsg:
            if "platform plugin" in message:
                tried = os.environ.get("QT_QPA_PLATFORM", "")
                names = [_PLATFORM_NAMES.get(p, p) for p in tried.split(";") if p] or ["any display"]
                what = f"neither {' nor '.join(names)} could start" if len(names) > 1 else f"{names[0]} could not start"
                sys.stderr.write(f"hearth: could not open a window: {what} on this display "
                                 "(QT_DEBUG_PLUGINS=1 shows why); the command line works: hearth --help\n")
            else:
                sys.stderr.write(f"hearth: Qt stopped: {message.splitlines()[0] if message else 'fatal error'}\n")
            sys.stderr.flush()
            os._exit(1)
        log.warning("%s", message) if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg) else \
            log.debug("%s", message)

    qInstallMessageHandler(handler)
