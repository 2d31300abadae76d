"""The main window: a conversation with the selected model.

This is the foundation's window: one conversation, streamed replies, stop,
per-reply stats. Conversations, Markdown and the rest arrive with the
desktop-app issue on top of the same bridge.
"""

from __future__ import annotations

from app.config import Settings
from app.engine.params import load_request, sampling
from app.library.registry import InstalledModel
from app.ui.engine_bridge import EngineBridge
from app.ui.qt import (
    QHBoxLayout, QLabel, QMainWindow, QPlainTextEdit, QPushButton, Qt, QTextBrowser, QTextCursor,
    QThread, QVBoxLayout, QWidget, Signal,
)

STARTER_NOTE = ("You are chatting with the built-in starter model, a tiny 135M-parameter demo: it works "
                "offline but its answers are poor. Download a real model from the model library for "
                "useful answers.")


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line, Esc stops the reply."""

    submitted = Signal()
    stop_requested = Signal()

    def keyPressEvent(self, event):  # noqa: N802 (Qt naming)
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self.submitted.emit()
            return
        if event.key() == Qt.Key_Escape:
            self.stop_requested.emit()
            return
        super().keyPressEvent(event)


class MainWindow(QMainWindow):
    _request_load = Signal(object)
    _request_chat = Signal(list, dict)
    _request_shutdown = Signal()

    def __init__(self, settings: Settings, model: InstalledModel):
        super().__init__()
        self.settings = settings
        self.model = model
        self.messages: list[dict] = []
        self._reply = ""
        self._busy = False
        self._ready = False
        self.setWindowTitle("Hearth")
        self.resize(900, 700)
        self._build()
        self._start_engine()

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        self.notice = QLabel(STARTER_NOTE if self.model.is_starter else "")
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.notice.setVisible(self.model.is_starter)
        layout.addWidget(self.notice)
        self.transcript = QTextBrowser()
        self.transcript.setAccessibleName("Conversation")
        self.transcript.setOpenExternalLinks(False)
        layout.addWidget(self.transcript, 1)
        row = QHBoxLayout()
        self.prompt = PromptEdit()
        self.prompt.setAccessibleName("Message")
        self.prompt.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line, Esc to stop)")
        self.prompt.setFixedHeight(80)
        self.prompt.submitted.connect(self.send)
        self.prompt.stop_requested.connect(self.stop)
        row.addWidget(self.prompt, 1)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        row.addWidget(self.send_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.setCentralWidget(central)
        self.statusBar().showMessage(f"Loading {self.model.path.name}...")

    def _start_engine(self) -> None:
        self.thread_ = QThread(self)
        self.bridge = EngineBridge()
        self.bridge.moveToThread(self.thread_)
        self._request_load.connect(self.bridge.load)
        self._request_chat.connect(self.bridge.chat)
        self._request_shutdown.connect(self.bridge.shutdown)
        self.bridge.loaded.connect(self._on_loaded)
        self.bridge.token.connect(self._on_token)
        self.bridge.finished.connect(self._on_finished)
        self.bridge.failed.connect(self._on_failed)
        self.thread_.start()
        self._request_load.emit(load_request(str(self.model.path), self.settings))

    # --- actions -------------------------------------------------------------
    def send(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text or self._busy:
            return
        if not self._ready:
            self.statusBar().showMessage("The model is still loading; try again in a moment.")
            return
        self.prompt.clear()
        self.messages.append({"role": "user", "content": text})
        self._append(f"\nYou:\n{text}\n\nAssistant:\n")
        self._reply = ""
        self._set_busy(True)
        # A dead worker comes back here: ensure_loaded restarts it if needed.
        self._request_load.emit(load_request(str(self.model.path), self.settings))
        self._request_chat.emit(list(self.messages), sampling(self.settings))

    def stop(self) -> None:
        if self._busy:
            self.bridge.cancel()

    # --- engine events ---------------------------------------------------------
    def _on_loaded(self, path: str) -> None:
        if not self._ready:
            self._ready = True
            self.statusBar().showMessage(f"Ready: {self.model.id}")

    def _on_token(self, piece: str) -> None:
        self._reply += piece
        self._append(piece)

    def _on_finished(self, stats: dict) -> None:
        self._set_busy(False)
        if self._reply:
            self.messages.append({"role": "assistant", "content": self._reply})
        reason = stats.get("stop_reason", "")
        if reason == "cancelled":
            self._append(" [stopped]")
        self._append("\n")
        if stats.get("completion_tokens"):
            self.statusBar().showMessage(
                f"{self.model.id} · {stats['completion_tokens']} tokens · first token "
                f"{stats['ttft_ms']:.0f} ms · {stats['tokens_per_s']:.1f} tokens/s · {reason.replace('_', ' ')}"
            )

    def _on_failed(self, message: str) -> None:
        self._append(f"\n[Error: {message}]\n")
        self.statusBar().showMessage(f"Error: {message}")

    # --- helpers -----------------------------------------------------------------
    def _append(self, text: str) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.End)
        cursor.insertText(text)
        self.transcript.setTextCursor(cursor)
        self.transcript.ensureCursorVisible()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    def closeEvent(self, event):  # noqa: N802
        # Shut down in order: stop the reply, stop the worker, then the thread.
        self.stop()
        self.bridge.cancel()
        self._request_shutdown.emit()
        self.thread_.quit()
        self.thread_.wait(10_000)
        super().closeEvent(event)
