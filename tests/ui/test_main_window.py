"""The real window on the offscreen platform, with the real starter model."""

import pytest

from app.config import load_settings
from app.library.registry import ModelRegistry
from app.ui.main_window import MainWindow
from app.ui.qt import Qt


@pytest.fixture
def window(qtbot):
    settings = load_settings()
    settings.set("max_tokens", 400)
    win = MainWindow(settings, ModelRegistry().resolve(None))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win._ready, timeout=30_000)
    yield win
    win.close()


def type_and_send(qtbot, win, text):
    qtbot.keyClicks(win.prompt, text)
    qtbot.keyClick(win.prompt, Qt.Key_Return)


def test_starter_model_notice_is_shown(window):
    assert window.notice.isVisible()
    assert "tiny 135M-parameter demo" in window.notice.text()


def test_send_and_see_the_reply_stream_in(qtbot, window):
    window.settings.set("max_tokens", 16)
    with qtbot.waitSignal(window.bridge.finished, timeout=30_000):
        type_and_send(qtbot, window, "Name a fruit.")
        assert window.prompt.toPlainText() == ""  # Enter sent it
    text = window.transcript.toPlainText()
    assert "You:\nName a fruit." in text
    reply = window.messages[-1]
    assert reply["role"] == "assistant" and reply["content"].strip() in text
    assert "tokens/s" in window.statusBar().currentMessage()
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()


def test_shift_enter_adds_a_line_instead_of_sending(qtbot, window):
    qtbot.keyClicks(window.prompt, "line one")
    qtbot.keyClick(window.prompt, Qt.Key_Return, Qt.ShiftModifier)
    assert window.prompt.toPlainText() == "line one\n"
    assert window.messages == []


def test_escape_stops_the_reply(qtbot, window):
    tokens = []
    window.bridge.token.connect(tokens.append)
    type_and_send(qtbot, window, "Write a long story about dragons.")
    qtbot.waitUntil(lambda: len(tokens) >= 3, timeout=30_000)
    with qtbot.waitSignal(window.bridge.finished, timeout=5_000) as done:
        qtbot.keyClick(window.prompt, Qt.Key_Escape)
    assert done.args[0]["stop_reason"] == "cancelled"
    assert window.transcript.toPlainText().rstrip().endswith("[stopped]")
