"""Shows the conversation service's events in the window: model state, the streaming reply,
its end (stats, sources, bill) and errors.

Tokens are collected as they come and the reply is re-rendered at most every
``RENDER_INTERVAL_MS``, so a fast model never floods the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.chats import events as ev
from app.chats.service import title_for
from app.ui.message_view import MessageView
from app.ui.qt import QObject, QTimer, tip

RENDER_INTERVAL_MS = 50


@dataclass
class Reply:
    """The reply being written, wherever the user is looking."""

    conversation_id: int | None
    model: str
    view: MessageView | None = None
    message_id: int | None = None
    text: str = ""


class ReplyPresenter(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self._render_pending = False

    def mark_last_reply(self) -> None:
        """Only the last reply offers Regenerate, and only while nothing is being written."""
        views, idle = self.window.chat.views, self.window.reply is None
        for index, view in enumerate(views):
            last_reply = index == len(views) - 1 and view.role == "assistant" and idle
            view.regenerate_button.setVisible(last_reply)
            view.continue_button.setVisible(last_reply and getattr(view, "cut_by_limit", False))

    def _on_event(self, event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_model_event(self, event) -> None:
        if isinstance(event, ev.ModelLoading):
            self.window._ready = False
            self.window.picker.set_state(f"Loading {event.model_id}…")
        elif isinstance(event, ev.ModelProgress) and not self.window._ready:
            self.window.picker.set_state(f"Loading {event.model_id}… {event.fraction:.0%}")
        elif isinstance(event, ev.ModelReady):
            self.window._ready = True
            self.window.picker.set_state("Ready")
            self.window.picker.set_backend(event.backend, event.gpu_layers)
            self.window.statusBar().showMessage(f"Model ready: {event.model_id}", 5000)
        elif isinstance(event, ev.ModelFailed):
            self.window._ready = False
            self.window.picker.set_state("Not loaded")
            self.window.show_error(f"{event.message}. Pick another model above, or change the settings (Ctrl+,).")

    def _on_started(self, event: ev.TurnStarted) -> None:
        window, reply = self.window, self.window.reply
        if reply is None:
            return
        reply.conversation_id, reply.message_id = event.conversation_id, event.reply.id
        if reply.view is not None:
            reply.view.set_place(event.reply.id, event.reply.siblings)
        if event.user is not None and window.chat.views[-2:-1] and event.history[-2:-1]:
            window.chat.views[-2].set_place(event.history[-2].id, event.history[-2].siblings)
        if window.conversation_id is None and window._requested is None:  # the new chat is still shown
            window.conversation_id = window._requested = event.conversation_id
            window.setWindowTitle(f"{title_for(event.history[0].content)} — Hearth")
        if window.conversation_id == event.conversation_id:
            window.history = event.history
        if event.created:
            window.conversations.refresh()

    def _on_token(self, event: ev.Token) -> None:
        reply = self.window.reply
        if reply is None or reply.message_id != event.message_id:
            return
        reply.text += event.text
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(RENDER_INTERVAL_MS, self._render_reply)

    def _render_reply(self) -> None:
        self._render_pending = False
        reply = self.window.reply
        if reply is not None and reply.view is not None and reply.conversation_id == self.window.conversation_id:
            reply.view.set_content(reply.text, streaming=True)

    def _on_failed(self, event: ev.TurnFailed) -> None:
        self.window.show_error(event.message)
        reply = self.window.reply
        if reply is not None and reply.message_id is None:  # refused before it started: nothing was saved
            self.window.reply = None
            if reply.view in self.window.chat.views:
                self.window.chat.remove_from(self.window.chat.views.index(reply.view))
            self.window._set_busy(False)

    def _on_finished(self, event: ev.ReplyFinished) -> None:
        reply, self.window.reply = self.window.reply, None
        self.window._set_busy(False)
        for message in self.window.history:
            if message.id == event.message_id:
                message.content, message.status, message.stats = event.text, event.status, event.stats
                message.canned = event.canned
        view = reply.view if reply is not None and reply.message_id == event.message_id else None
        if view is not None and event.conversation_id == self.window.conversation_id:
            view.set_content(event.text)
            view.set_stats(None if event.canned else event.model_id, event.stats, event.status, event.error)
            if event.bill is not None:
                view.footer.setToolTip(tip(event.bill.tooltip()))
            self.mark_last_reply()
        if event.bill_error:
            self.window.statusBar().showMessage(f"Not counted in savings: {event.bill_error}", 5000)
        elif event.bill is not None:
            self.window.savings.refresh()


_HANDLERS = {
    ev.ModelLoading: ReplyPresenter._on_model_event, ev.ModelProgress: ReplyPresenter._on_model_event,
    ev.ModelReady: ReplyPresenter._on_model_event, ev.ModelFailed: ReplyPresenter._on_model_event,
    ev.TurnStarted: ReplyPresenter._on_started, ev.Token: ReplyPresenter._on_token,
    ev.TurnFailed: ReplyPresenter._on_failed, ev.ReplyFinished: ReplyPresenter._on_finished,
}
