"""What the sidebar asks of conversations: list, rename, delete with undo, search, export.

Every store call runs on the DB lane; the window is told what to show
through the callbacks it gives (open a conversation, show an empty chat).
"""

from __future__ import annotations

from pathlib import Path

from app.chats.export import to_json, to_markdown
from app.ui.qt import QFileDialog, QInputDialog, QObject, QPushButton, QTimer

UNDO_SECONDS = 15


class ConversationActions(QObject):
    def __init__(self, window, sidebar, runner):
        super().__init__(window)
        self.window = window
        self.sidebar = sidebar
        self.runner = runner
        self._deleted: int | None = None
        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo delete")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_delete)
        window.statusBar().addPermanentWidget(self.undo_button)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(lambda: self.undo_button.setVisible(False))
        sidebar.rename_requested.connect(self.rename)
        sidebar.delete_requested.connect(self.delete)
        sidebar.search_changed.connect(self.search)

    def _status(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def refresh(self, open_last: bool = False) -> None:
        def job():
            store = self.runner.tasks.current_store()
            last = store.get_meta("last_conversation")
            return store.conversations(), int(last) if last and last.isdigit() else None

        def done(result):
            conversations, last = result
            if not self.sidebar.searching:
                self.sidebar.show_conversations(conversations, self.window.conversation_id)
            window = self.window
            # Only while the window still shows nothing: on a busy machine this answer can come after the
            # user picked a conversation or already sent a first message (it then emptied the new chat).
            if open_last and window._requested is None and window.reply is None and not window.chat.views:
                ids = {c.id for c in conversations}
                if last in ids or conversations:
                    self.window.open_conversation(last if last in ids else conversations[0].id)
                else:
                    self.window.show_empty()

        self.runner.run(job, on_done=done)

    def rename(self, conversation_id: int) -> None:
        item = self.sidebar.list.currentItem()
        current = item.text().split("\n")[0] if item else ""
        title, ok = QInputDialog.getText(self.window, "Rename chat", "Title:", text=current)
        if ok and title.strip():
            self.runner.store("rename", conversation_id, title.strip(), on_done=lambda _: self.refresh())
            if conversation_id == self.window.conversation_id:
                self.window.setWindowTitle(f"{title.strip()} — Hearth")

    def delete(self, conversation_id: int) -> None:
        if self.window.reply and self.window.reply.conversation_id == conversation_id:
            self.window.stop()
        self._deleted = conversation_id
        self.runner.store("delete", conversation_id, on_done=lambda _: self._after_delete(conversation_id))

    def _after_delete(self, conversation_id: int) -> None:
        self._status("Chat deleted.", UNDO_SECONDS * 1000)
        self.undo_button.setVisible(True)
        self._undo_timer.start(UNDO_SECONDS * 1000)
        if conversation_id == self.window.conversation_id:
            self.window.show_empty()
        self.refresh()

    def undo_delete(self) -> None:
        if self._deleted is None:
            return
        restored, self._deleted = self._deleted, None
        self.undo_button.setVisible(False)
        self.runner.store("undelete", restored, on_done=lambda _: (self.refresh(),
                                                                   self.window.open_conversation(restored)))

    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def search(self, query: str) -> None:
        if not query:
            self.sidebar.searching = False
            self.refresh()
            return
        self.runner.store("search", query, on_done=lambda results: self.sidebar.show_results(results, query))

    def export(self, fmt: str) -> None:
        if self.window.conversation_id is None:
            self._status("Nothing to export yet.", 4000)
            return
        title = self.window.windowTitle().removesuffix(" — Hearth")
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "chat"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export chat", str(Path.home() / f"{safe}.{fmt}"),
                                              "Markdown (*.md)" if fmt == "md" else "JSON (*.json)")
        if path:
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> None:
        conversation_id = self.window.conversation_id

        def job():
            store = self.runner.tasks.current_store()
            conversation, messages = store.conversation(conversation_id), store.messages(conversation_id)
            text = to_json(conversation, messages, store.tree(conversation_id)) if fmt == "json" else \
                to_markdown(conversation, messages)  # the whole tree to JSON, the branch on show to Markdown
            path.write_text(text, encoding="utf-8")
            return path

        self.runner.run(job, on_done=lambda p: self._status(f"Exported to {p}"),
                        on_error=lambda exc: self.window.show_error(f"Export failed: {exc}"))
