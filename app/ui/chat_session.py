"""The conversation service, driven from the window: calls run on the model lane, events come
back on the GUI thread as ``event(object)`` (the typed events of ``app/chats/events.py``).

``stop()`` is safe on the GUI thread: it only flags the service and writes
one cancel line to the engine.
"""

from __future__ import annotations

from app.chats.service import ConversationService
from app.engine.base import ChatEngine
from app.ui.qt import QObject, Signal
from app.ui.tasks import MODEL, TaskManager


class ChatSession(QObject):
    event = Signal(object)

    def __init__(self, tasks: TaskManager, engine: ChatEngine, parent=None):
        super().__init__(parent)
        self.tasks = tasks
        self.service = ConversationService(engine)

    @property
    def engine(self) -> ChatEngine:
        return self.service.engine

    def _emit(self, event) -> None:
        try:
            self.event.emit(event)
        except RuntimeError:  # the window is gone: the turn still saves, nobody to show it to
            pass

    def load(self, model, settings, conversation_settings: dict) -> None:
        self.tasks.submit(MODEL, self.service.load, model, settings, conversation_settings, self._emit)

    def send(self, conversation_id, text: str, model, settings, conversation_settings: dict,
             edit_from: int | None = None) -> None:
        if edit_from is not None:
            self.tasks.submit(MODEL, lambda: self.service.edit_and_resend(
                conversation_id, edit_from, text, model, settings, conversation_settings, self._emit))
        else:
            self.tasks.submit(MODEL, lambda: self.service.send(
                conversation_id, text, model, settings, conversation_settings, self._emit))

    def regenerate(self, conversation_id: int, model, settings, conversation_settings: dict) -> None:
        self.tasks.submit(MODEL, lambda: self.service.regenerate(
            conversation_id, model, settings, conversation_settings, self._emit))

    def continue_reply(self, conversation_id: int, model, settings, conversation_settings: dict) -> None:
        self.tasks.submit(MODEL, lambda: self.service.continue_reply(
            conversation_id, model, settings, conversation_settings, self._emit))

    def stop(self) -> None:
        self.service.stop()

    def shutdown(self) -> None:
        """Stop the reply, then (after the turn has saved it) close the store and the engine."""
        self.service.stop()

        def close():
            self.service.close()
            self.service.engine.close()

        self.tasks.submit(MODEL, close)
