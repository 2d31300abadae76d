"""The conversation as a scrolling column of messages.

Opening a long conversation builds its message views in batches of at most
~10 ms with the event loop running in between, so the window stays live.
While a reply streams only that message is re-rendered, so the cost of a
token does not grow with the length of the conversation.
"""

from __future__ import annotations

import time

from app.chats.store import Message
from app.ui.message_view import MessageView
from app.ui.qt import QScrollArea, QTimer, QVBoxLayout, QWidget, Signal

BATCH_BUDGET_S = 0.010


class ChatView(QScrollArea):
    """Signals: ``populated()`` once every message of an opened conversation is shown;
    ``view_added(MessageView)`` for every message view created."""

    populated = Signal()
    view_added = Signal(object)

    def __init__(self, dark: bool):
        super().__init__()
        self.dark = dark
        self.setWidgetResizable(True)
        self.setAccessibleName("Conversation")
        self._container = QWidget()
        self._layout = QVBoxLayout(self._container)
        self._layout.addStretch(1)
        self.setWidget(self._container)
        self.views: list[MessageView] = []
        self.welcome: QWidget | None = None
        self._pending: list[Message] = []
        self._generation = 0
        self._follow = True
        self.verticalScrollBar().rangeChanged.connect(self._on_range)
        self.verticalScrollBar().valueChanged.connect(self._on_scroll)

    def set_welcome(self, widget: QWidget) -> None:
        """What an empty conversation shows (app/ui/welcome.py); hidden once a message is added."""
        self.welcome = widget
        self._layout.insertWidget(0, widget)
        widget.setVisible(not self.views)

    def clear(self) -> None:
        self._generation += 1
        self._pending = []
        for view in self.views:
            view.hide()
            view.deleteLater()
        self.views = []
        self._follow = True
        if self.welcome is not None:
            self.welcome.setVisible(True)

    def show_messages(self, messages: list[Message]) -> None:
        """Replace the content with ``messages``, built in time-boxed batches."""
        self.clear()
        self._pending = list(messages)
        generation = self._generation
        self._add_batch(generation)

    def _add_batch(self, generation: int) -> None:
        if generation != self._generation:
            return  # another conversation was opened meanwhile
        deadline = time.perf_counter() + BATCH_BUDGET_S
        while self._pending and time.perf_counter() < deadline:
            message = self._pending.pop(0)
            view = self.add(message.role, message.content, message.status, message.model, message.stats,
                            message.error)
            view.set_place(message.id, message.siblings)
        if self._pending:
            QTimer.singleShot(0, lambda: self._add_batch(generation))
        else:
            self.populated.emit()

    def add(self, role: str, content: str, status: str = "complete", model=None, stats=None,
            error=None) -> MessageView:
        view = MessageView(role, content, self.dark, status, model, stats, error, parent=self._container)
        if self.welcome is not None:
            self.welcome.setVisible(False)
        self._layout.insertWidget(self._layout.count() - 1, view)
        self.views.append(view)
        self.view_added.emit(view)
        return view

    def remove_from(self, index: int) -> None:
        for view in self.views[index:]:
            view.hide()
            view.deleteLater()
        del self.views[index:]

    def _on_scroll(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 24

    def _on_range(self, _minimum: int, maximum: int) -> None:
        if self._follow:  # keep the newest text in sight unless the user scrolled up
            self.verticalScrollBar().setValue(maximum)
