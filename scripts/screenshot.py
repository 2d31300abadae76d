#!/usr/bin/env python3
"""Screenshots of the real window on a virtual X screen, light and dark.

    .venv/bin/python scripts/screenshot.py OUTDIR

Re-runs itself under ``xvfb-run`` when there is no display (installing the
``xvfb`` package with apt-get first when it is missing and we are root).
Uses a throw-away data folder: one earlier exchange with a code block is
written to its chat database first (the starter model rarely writes a clean
fence on its own), then a live prompt is sent to the real starter model and
the window is captured once the reply has finished.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEEDED_ANSWER = """Here is a function that reads a file and counts words:

```python
from collections import Counter
from pathlib import Path


def word_counts(path: str, top: int = 10) -> list[tuple[str, int]]:
    words = Path(path).read_text(encoding="utf-8").lower().split()
    return Counter(words).most_common(top)  # the most frequent words first, with their counts
```

Call it with `word_counts("notes.txt")`."""


# Xvfb, plus the X client libraries Qt's xcb plugin loads (see shared/reference/packaging.md).
X_PACKAGES = ["xvfb", "xauth", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0",
              "libxcb-image0", "libxcb-render-util0", "libxcb-shape0", "libxcb-randr0", "libxcb-xkb1"]


REASONED_ANSWER = (
    "<think>The user iterates with range(len(xs) - 1). range stops before its end, so the last index "
    "len(xs) - 1 is never produced. They probably copied the pattern from code that compares neighbours. "
    "The fix is range(len(xs)), or better, iterate over the items.</think>\n\n"
    "`range(stop)` never includes `stop`, so `range(len(xs) - 1)` ends one index early. Iterate directly:\n\n"
    "```python\nfor x in xs:\n    print(x)\n```\n\n"
    "| pattern | visits |\n|---|---|\n| `range(len(xs) - 1)` | all but the last |\n| `range(len(xs))` | all |\n")


def ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("HEARTH_SCREENSHOT_CHILD"):
        return
    missing_cursor = subprocess.run(["sh", "-c", "ldconfig -p | grep -q libxcb-cursor.so.0"]).returncode
    if not shutil.which("xvfb-run") or missing_cursor:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", *X_PACKAGES], check=True)
        else:
            sys.exit("xvfb-run or Qt's X libraries not found: install " + " ".join(X_PACKAGES))
    env = dict(os.environ, HEARTH_SCREENSHOT_CHILD="1")
    env.pop("QT_QPA_PLATFORM", None)
    code = subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, *sys.argv], env=env)
    sys.exit(code)


def dark_palette():
    from app.ui.qt import QPalette
    from PySide6.QtGui import QColor

    palette = QPalette()
    for role, colour in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#e6e6e6"),
                         (QPalette.Base, "#1e1e1e"), (QPalette.AlternateBase, "#2b2b2b"),
                         (QPalette.Text, "#e6e6e6"), (QPalette.Button, "#353535"),
                         (QPalette.ButtonText, "#e6e6e6"), (QPalette.Highlight, "#2f65ca"),
                         (QPalette.HighlightedText, "#ffffff"), (QPalette.Link, "#8ab4f8"),
                         (QPalette.ToolTipBase, "#2b2b2b"), (QPalette.ToolTipText, "#e6e6e6")):
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.PlaceholderText, QColor("#9a9a9a"))
    for role in (QPalette.ButtonText, QPalette.WindowText, QPalette.Text):
        palette.setColor(QPalette.Disabled, role, QColor("#7a7a7a"))
    return palette


def capture(out: Path, theme: str) -> Path:
    from app.chats.store import ChatStore
    from app.config import load_settings
    from app.library.registry import ModelRegistry
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, QTimer

    os.environ["HEARTH_HOME"] = tempfile.mkdtemp(prefix=f"hearth-shot-{theme}-")
    store = ChatStore()
    conversation = store.create_conversation("Counting words in Python",
                                             {"preset": "Coding assistant", "max_tokens": 60})
    store.add_message(conversation.id, "user", "How do I count the most common words in a text file?")
    store.add_message(conversation.id, "assistant", SEEDED_ANSWER, model="example",
                      stats={"completion_tokens": 96, "ttft_ms": 140.0, "tokens_per_s": 78.0})
    store.set_meta("last_conversation", str(conversation.id))
    # A reasoning model's reply with two versions: the thinking section and the ‹ 2/2 › switcher.
    branched = store.create_conversation("Reasoning about a bug")
    question = store.add_message(branched.id, "user", "Why does `range(len(xs) - 1)` skip my last item?")
    store.add_message(branched.id, "assistant", "Because it stops one short.", model="example")
    store.set_leaf(branched.id, question.id)
    store.add_message(branched.id, "assistant", REASONED_ANSWER, model="example",
                      stats={"completion_tokens": 142, "tokens_per_s": 21.0, "reasoning_s": 12.4})
    store.close()
    from app.server import config as server_config

    config = server_config.load()
    config.port = 0  # any free port: the screenshot must not collide with a running Hearth
    server_config.save(config)

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
    window = MainWindow(load_settings(), ModelRegistry().resolve(None))
    window.resize(1300, 850)
    window.show()
    target = out / f"hearth-{theme}.png"

    def send():
        if not window._ready or len(window.chat.views) < 2:
            QTimer.singleShot(100, send)
            return
        window.prompt.setPlainText("Now make it ignore punctuation.")
        window.send()
        QTimer.singleShot(200, wait)

    def wait():
        if window.reply is not None:
            QTimer.singleShot(100, wait)
            return
        QTimer.singleShot(300, shoot)

    def shoot():
        window.grab().save(str(target))
        panel = window.open_server()  # then the API server panel, serving one request
        panel.resize(900, 560)
        panel.toggle.click()
        QTimer.singleShot(200, lambda: serve(panel))

    def serve(panel):
        if window.server.server is None:
            QTimer.singleShot(100, lambda: serve(panel))
            return
        import json
        import threading
        import urllib.request

        body = json.dumps({"model": window.model.id, "max_tokens": 8,
                           "messages": [{"role": "user", "content": "Say hi."}]}).encode()
        request = urllib.request.Request(window.server.server.base_url + "/chat/completions", data=body, headers={
            "Authorization": f"Bearer {window.server.config.key}", "Content-Type": "application/json",
            "User-Agent": "Continue/1.0"})
        threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=60).read(), daemon=True).start()
        QTimer.singleShot(200, lambda: shoot_panel(panel))

    def shoot_panel(panel):
        if panel.log.rowCount() == 0:
            QTimer.singleShot(100, lambda: shoot_panel(panel))
            return
        panel.grab().save(str(out / f"hearth-server-{theme}.png"))
        window.server.stop()
        panel.close()
        library = window.open_library()  # then the Discover tab: the catalog with fit and speed
        library.resize(1250, 700)
        library.tabs.setCurrentIndex(1)
        QTimer.singleShot(200, lambda: shoot_library(library))

    def shoot_library(library):
        if library.estimator is None:  # the first run measures this machine (a few seconds)
            QTimer.singleShot(200, lambda: shoot_library(library))
            return
        library.file_table.selectRow(0)
        QTimer.singleShot(300, lambda: finish(library))

    def finish(library):
        library.grab().save(str(out / f"hearth-library-{theme}.png"))
        library.close()
        from app import netlog  # then Settings -> Privacy, with a search and a refused connection logged
        from app.ui.settings_dialog import SettingsDialog

        with netlog.purpose("Hub search"):
            netlog._record("connect", "huggingface.co", 443, refused=False)
        netlog.note_transfer("huggingface.co", "download bartowski/Qwen2.5-Coder-7B-Instruct-GGUF", 4_683_073_536)
        with netlog.purpose("remote engine team: chat"):
            netlog._record("connect", "10.0.0.7", 8000, refused=True)
        dialog = SettingsDialog(window.settings, window, load_log=window._load_network_log)
        dialog.resize(900, 480)
        dialog.tabs.setCurrentIndex(1)
        dialog.show()
        QTimer.singleShot(500, lambda: shoot_privacy(dialog))

    def shoot_privacy(dialog):
        dialog.grab().save(str(out / f"hearth-privacy-{theme}.png"))
        dialog.close()
        window.open_conversation(branched.id)  # then the branched reply with its reasoning open
        QTimer.singleShot(300, shoot_branches)

    def shoot_branches():
        if len(window.chat.views) < 2:
            QTimer.singleShot(100, shoot_branches)
            return
        window.chat.views[-1].reasoning_toggle.click()
        QTimer.singleShot(300, lambda: (window.grab().save(str(out / f"hearth-branches-{theme}.png")),
                                        window.new_conversation(), QTimer.singleShot(500, shoot_welcome)))

    def shoot_welcome():
        window.grab().save(str(out / f"hearth-welcome-{theme}.png"))
        window.close()
        app.quit()

    QTimer.singleShot(100, send)
    app.exec()
    return target


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    ensure_display()
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    theme = os.environ.get("HEARTH_SCREENSHOT_THEME")
    if theme:  # one theme per process: Qt's palette is process-wide
        print(capture(out, theme))
        return 0
    for theme in ("light", "dark"):
        env = dict(os.environ, HEARTH_SCREENSHOT_THEME=theme, HEARTH_SCREENSHOT_CHILD="1")
        code = subprocess.call([sys.executable, __file__, str(out)], env=env)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
