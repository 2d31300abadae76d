"""Where the user writes: the message box, attachments, Send and Stop, and the edit banner.

Signals: ``send_requested()``, ``stop_requested()``, ``attach_requested()``.
The window reads ``take()`` (the message with its attachments, box cleared)
and tells the composer when a reply is running (``set_busy``).
"""

from __future__ import annotations

from app.chats.attachments import Attachment, message_with
from app.chats.store import Message
from app.display import shown_name
from app.ui import icons
from app.ui.qt import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, Qt, QVBoxLayout, QWidget, Signal

EDIT_NOTE = ("Editing an earlier message: sending replaces it and everything after it. "
             "Press Esc in the box or start a new chat to cancel.")


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


class Composer(QWidget):
    send_requested = Signal()
    stop_requested = Signal()
    attach_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.attachments: list[Attachment] = []
        self.editing: Message | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit_banner = QLabel(EDIT_NOTE)
        self.edit_banner.setVisible(False)
        layout.addWidget(self.edit_banner)
        self.attachment_label = QLabel()
        self.attachment_label.setTextFormat(Qt.PlainText)  # file names are not markup
        self.attachment_label.setWordWrap(True)
        self.attachment_label.setAccessibleName("Attachments")
        self.attachment_label.setVisible(False)
        layout.addWidget(self.attachment_label)
        row = QHBoxLayout()
        self.attach_button = QPushButton("Attach…")
        self.attach_button.setAccessibleName("Attach a file")
        icons.set_icon(self.attach_button, "attach")
        self.attach_button.clicked.connect(self.attach_requested)
        row.addWidget(self.attach_button)
        self.prompt = PromptEdit()
        self.prompt.setAccessibleName("Message")
        self.prompt.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line, Esc to stop)")
        self.prompt.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.prompt.submitted.connect(self.send_requested)
        self.prompt.stop_requested.connect(self.stop_requested)
        row.addWidget(self.prompt, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        icons.set_icon(self.send_button, "send")
        self.send_button.clicked.connect(self.send_requested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        icons.set_icon(self.stop_button, "stop")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        layout.addLayout(row)

    def message(self) -> str:
        return message_with(self.prompt.toPlainText(), self.attachments)

    def take(self) -> tuple[str, Message | None]:
        """The message to send and the message it replaces (when editing); the box is cleared."""
        content, editing = self.message(), self.editing
        self.prompt.clear()
        self.attachments = []
        self.attachment_label.setVisible(False)
        self.cancel_edit()
        return content, editing

    def add_attachment(self, attachment: Attachment) -> None:
        self.attachments.append(attachment)
        names = ", ".join(shown_name(a.name) for a in self.attachments)
        warnings = [a.warning for a in self.attachments if a.warning]
        self.attachment_label.setText(f"Attached: {names}" + (f" — warning: {'; '.join(warnings)}" if warnings else ""))
        self.attachment_label.setVisible(True)

    def start_edit(self, message: Message) -> None:
        self.editing = message
        self.prompt.setPlainText(message.content)
        self.edit_banner.setVisible(True)
        self.prompt.setFocus()

    def cancel_edit(self) -> None:
        self.editing = None
        self.edit_banner.setVisible(False)

    def set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
