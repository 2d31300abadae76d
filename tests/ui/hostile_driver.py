"""Opens the real window on stored hostile text and a hostile model, then reports what it shows.

Usage: python tests/ui/hostile_driver.py MODEL.gguf
Run in a process of its own because what it guards against (Qt reading a named
pipe on the GUI thread) would hang the test process instead of failing it.
Prints one JSON object: every label's and tooltip's text that holds markup,
with its format, and each message body's HTML.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.config import load_settings  # noqa: E402
from app.library.registry import ModelRegistry  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.qt import QApplication, QLabel, QListWidget, Qt, QTimer, QWidget  # noqa: E402


def report(window) -> dict:
    labels = [{"text": w.text(), "plain": w.textFormat() == Qt.PlainText}
              for w in window.findChildren(QLabel) if "<" in w.text()]
    tips = [w.toolTip() for w in window.findChildren(QWidget) if "<" in w.toolTip()]
    for view in window.findChildren(QListWidget):
        tips += [view.item(i).toolTip() for i in range(view.count()) if "<" in view.item(i).toolTip()]
    bodies = [v.body.toHtml() for v in window.chat.views]
    return {"labels": labels, "tips": tips, "bodies": bodies, "error": window.error_banner.text(),
            "picker": window.model_state.text()}


def main() -> None:
    app = QApplication([])
    window = MainWindow(load_settings(), ModelRegistry().resolve(sys.argv[1]))
    window.show()

    def check():
        try:
            poll()
        except Exception:  # a broken driver fails the test at once instead of timing out
            import traceback

            traceback.print_exc()
            app.exit(1)

    def poll():
        # The stored conversation is shown and the model's load has failed (its error names the architecture).
        if len(window.chat.views) < 2 or "<img" not in window.model_state.text() + window.error_banner.text():
            QTimer.singleShot(50, check)
            return
        print(json.dumps(report(window)), flush=True)
        app.quit()

    QTimer.singleShot(0, check)
    app.exec()


if __name__ == "__main__":
    main()
