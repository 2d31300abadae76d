"""Runs the real main window in its own process and chats, for tests that kill it.

Usage: python tests/ui/app_driver.py "first prompt" "second prompt"
Sends the first prompt and waits for its reply, then sends the second and
prints "STREAMING <worker pid>" as soon as part of that reply has been saved
(the periodic save while streaming), then keeps streaming until killed. A
reply that ends before its first periodic save (the model may stop early) is
followed by the second prompt again.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.chats import events as ev  # noqa: E402
from app.config import load_settings  # noqa: E402
from app.library.registry import ModelRegistry  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.qt import QApplication, QTimer  # noqa: E402


def main() -> None:
    app = QApplication([])
    window = MainWindow(load_settings(), ModelRegistry().resolve(None))
    # Save the streaming reply every 0.2 s instead of every second: the tiny model
    # sometimes ends a reply within a second, before the first periodic save.
    window.session.service.save_interval_s = 0.2
    window.show()
    prompts = list(sys.argv[1:])
    last_prompt = prompts[-1]
    state = {"announced": False}

    def on_event(event):
        # A partial save of the second reply is on disk: announce it.
        if isinstance(event, ev.ReplySaved) and not prompts and not state["announced"]:
            state["announced"] = True
            print(f"STREAMING {window.session.engine.pid}", flush=True)

    window.session.event.connect(on_event)

    def next_prompt():
        if not window._ready or window.reply is not None:
            QTimer.singleShot(50, next_prompt)
            return
        if not prompts:
            if state["announced"]:
                return
            prompts.append(last_prompt)  # the reply ended too soon: ask again
        window.settings_panel.max_tokens.setValue(2000 if len(prompts) == 1 else 16)
        window.prompt.setPlainText(prompts.pop(0))
        window.send()
        QTimer.singleShot(50, next_prompt)

    QTimer.singleShot(0, next_prompt)
    app.exec()


if __name__ == "__main__":
    main()
