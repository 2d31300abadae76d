"""Text from models, documents, file names and GGUF metadata is shown as typed, and no view loads
a resource it names (issue 14: an ``<img src>`` to /dev/zero or a named pipe froze or killed the app)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from app.chats.render import render_markdown
from app.chats.store import ERROR, ChatStore
from PySide6.QtGui import Qt as GuiQt

from app.ui.qt import QLabel, QMessageBox, Qt, tip
from tests.conftest import write_tiny_gguf

ROOT = Path(__file__).resolve().parents[2]


class PipeWatch:
    """Notices whether any process opens a named pipe for reading (a blocked reader is released)."""

    def __init__(self, path: Path):
        self.path, self.opened, self._stop = path, False, threading.Event()
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:  # succeeds only while a reader has the pipe open
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.02)
                continue
            self.opened = True
            os.write(fd, b"x")
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_the_window_shows_hostile_text_as_typed_and_never_reads_what_it_names(hearth_home, tmp_path):
    pipe = PipeWatch(tmp_path / "pipe")
    tag = f'<img src="{pipe.path}">'
    model = tmp_path / "hostile.gguf"
    write_tiny_gguf(model, arch=f"{tag}arch")
    store = ChatStore()
    chat = store.create_conversation(f"{tag} title")
    store.add_message(chat.id, "user", f"{tag} and ![me]({pipe.path})")
    reply = store.add_message(
        chat.id, "assistant",
        f"![pic]({pipe.path})\n\n{tag}\n\n![data](data:image/png;base64,iVBORw0KGgo=)\n\ntext after",
        model=f"{tag}model",
        stats={"citations": [{"n": 1, "file": str(pipe.path), "page": 2, "where": f"{tag} p. 2",
                              "text": f"{tag} passage"}]})
    store.update_message(reply.id, reply.content, status=ERROR, error=f"{tag} failed")
    store.set_meta("last_conversation", str(chat.id))
    store.close()
    try:
        result = subprocess.run([sys.executable, str(ROOT / "tests/ui/hostile_driver.py"), str(model)],
                                capture_output=True, text=True, timeout=90, cwd=ROOT)
    finally:
        pipe.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert not pipe.opened, "a view read the file an <img> named"
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert tag in shown["picker"] + shown["error"]  # the model's error names its architecture, as typed
    assert shown["labels"], "no label held the hostile text"
    assert all(label["plain"] for label in shown["labels"] if "<img" in label["text"]), shown["labels"]
    assert all(not GuiQt.mightBeRichText(t) or "<img" not in t for t in shown["tips"]), shown["tips"]
    assert shown["tips"], "the conversation title and the model state have tooltips"
    reply_html = shown["bodies"][1]
    assert "<img" not in reply_html and "[image: pic]" in reply_html and "text after" in reply_html
    assert "&lt;img src=" in reply_html  # raw HTML in a reply shows as text


def test_markdown_images_become_links_with_their_alt_text():
    html = render_markdown("![a *cat*](/dev/zero) and ![](x.png \"t\") ![d](data:image/png;base64,AAAA)").html
    assert "<img" not in html
    assert '<a href="/dev/zero">[image: a cat]</a>' in html
    assert "[image: image]" in html


def test_labels_message_boxes_and_tooltips_are_plain_unless_asked(qtbot):
    label = QLabel('<img src="/dev/zero"><b>x</b>')
    qtbot.addWidget(label)
    assert label.textFormat() == Qt.PlainText
    rich = QLabel("<b>ours</b>", textFormat=Qt.RichText)
    qtbot.addWidget(rich)
    assert rich.textFormat() == Qt.RichText
    shown = []
    QMessageBox.exec = lambda box: shown.append((box.textFormat(), box.text())) or QMessageBox.Yes
    try:
        assert QMessageBox.question(None, "t", "<img src=/dev/zero>") == QMessageBox.Yes
        QMessageBox.critical(None, "t", "<b>x</b>")
    finally:
        del QMessageBox.exec
    assert shown == [(Qt.PlainText, "<img src=/dev/zero>"), (Qt.PlainText, "<b>x</b>")]
    assert tip("plain words") == "plain words"
    assert "&lt;img src=/dev/zero&gt;" in tip("<img src=/dev/zero>")
    assert "<img" not in tip("<img src=/dev/zero>")


def test_a_message_body_refuses_to_load_an_image_even_from_html_it_is_given(qtbot, tmp_path):
    """Defence in depth: were some future markup to reach a message's view, it still loads nothing."""
    from app.ui.message_view import MessageView
    from app.ui.qt import QImage, QTextDocument, QUrl

    picture = tmp_path / "real.png"
    image = QImage(4, 4, QImage.Format_RGB32)
    image.fill(0xFF0000)
    assert image.save(str(picture))
    view = MessageView("assistant", "x", dark=False)
    qtbot.addWidget(view)
    view.body.setHtml(f'<p><img src="{picture}"></p>')
    view.show()
    loaded = view.body.document().resource(QTextDocument.ImageResource, QUrl.fromLocalFile(str(picture)))
    assert loaded is None or (isinstance(loaded, QImage) and loaded.isNull()) or not loaded
