"""Hearth's main window: wiring between the views and the services, and nothing else.

Conversations are listed by the sidebar and read on the DB lane; a turn is
the conversation service's job (``ChatSession`` runs it on the model lane and
hands back typed events); indexing belongs to the app's ``IndexScheduler``.
The GUI thread only draws what those report.
"""

from __future__ import annotations

from pathlib import Path

from app.chats import render
from app.chats.attachments import read_attachment
from app.chats.presets import save_user_preset
from app.chats.service import default_conversation_settings
from app.chats.store import STREAMING, ChatStore, Message
from app.config import Settings
from app.errors import HearthError
from app.engine import consent
from app.engine.base import LOAD_SETTINGS, ChatEngine
from app.library.download_queue import DONE, DownloadQueue
from app.library.registry import InstalledModel
from app.savings import tokens
from app.ui.chat_session import ChatSession
from app.ui.chat_view import ChatView
from app.ui.conversation_actions import ConversationActions
from app.ui.composer import Composer
from app.ui.conversation_settings import ConversationSettings
from app.ui.docs_picker import DocsPicker
from app.ui.docs_window import DocsWindow, Indexing
from app.ui.library_window import LibraryWindow, QueueSignals
from app.ui.menus import build_menus
from app.ui.message_view import MessageView
from app.ui.model_control import ModelControl
from app.ui.model_picker import ModelPicker
from app.ui.reply_presenter import Reply, ReplyPresenter
from app.ui import icons
from app.ui.qt import (
    QApplication, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QPalette, QPushButton, QSplitter,
    Qt, QTimer, QVBoxLayout, QWidget,
)
from app.ui.savings_status import SavingsStatus
from app.ui import remote_ui
from app.ui.server_window import ServerControl, ServerWindow
from app.ui.settings_dialog import SettingsDialog
from app.ui.sidebar import Sidebar
from app.ui.tasks import CPU, TaskManager
from app.ui import window_state
from app.ui.welcome import Welcome, recommend



def is_dark() -> bool:
    return QApplication.palette().color(QPalette.Window).lightness() < 128


# Below this width, opening the settings panel hides the sidebar.
NARROW_WINDOW = 1000

class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, model: InstalledModel, store_factory=ChatStore,
                 engine: ChatEngine | None = None):
        super().__init__()
        self.settings = settings
        self.model = model
        self.conversation_id: int | None = None
        self.conversation_settings: dict = default_conversation_settings()
        self.history: list[Message] = []
        self.reply: Reply | None = None
        self._ready = False
        self._requested: int | None = None  # the conversation most recently asked for
        self.library = self.docs_window = self.server_window = None
        self.setWindowTitle("Hearth")
        window_state.restore(self)
        self.tasks = TaskManager(store_factory)
        self.runner = self.tasks.scope(self)
        self.runner.failed.connect(self.show_error)
        self.runner.run(render.warm_up)
        self.runner.run(tokens.warm_up)
        if engine is None:
            from app.engine.local import LocalEngine
            from app.engine.router import EngineRouter

            engine = EngineRouter(LocalEngine())  # local models, and NAME:MODEL on a team's servers
        self.session = ChatSession(self.tasks, engine, self)
        self.presenter = ReplyPresenter(self)
        self.session.event.connect(self.presenter._on_event)
        self.download_signals = QueueSignals(self)
        offline = [settings.offline]  # read by the download thread: a plain value, kept current below
        self.downloads = DownloadQueue(offline=lambda: offline[0], on_change=self.download_signals.changed.emit)
        self.download_signals.changed.connect(self._download_changed)
        self.indexing = Indexing(self.tasks, self.settings, self)
        self.server = ServerControl(self)  # the API server: off until the user starts it
        self._consents: set = set()  # (engine, collection) pairs the user allowed to leave this machine
        self.runner.run(consent.granted, on_done=lambda found: self._consents.update(found))
        self.settings.subscribe(lambda names: self._settings_changed(names, offline))
        self._build()
        build_menus(self)
        self.load_model()
        self.conversations.refresh(open_last=True)
        self.refresh_models()
        self.savings.refresh()
        self.indexing.collections_changed.connect(self._refresh_collections)
        QTimer.singleShot(0, self._start_documents)
        self.runner.run(recommend, lane=CPU, on_done=self.welcome.show_recommendation,
                        on_error=lambda _exc: self.welcome.show_recommendation(None))

    # --- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        splitter = QSplitter()
        self.sidebar = Sidebar()
        self.sidebar.open_requested.connect(self.open_conversation)
        self.sidebar.hit_requested.connect(self.open_hit)
        self.sidebar.new_requested.connect(self.new_conversation)
        splitter.addWidget(self.sidebar)
        center = QWidget()
        layout = QVBoxLayout(center)
        top = QHBoxLayout()
        self.picker = ModelPicker()
        self.models = ModelControl(self, self.picker)
        self.model_picker, self.model_state = self.picker.combo, self.picker.state
        top.addWidget(self.picker, 1)
        self.docs_button = DocsPicker()
        self.docs_menu = self.docs_button.menu_
        self.docs_button.toggled_collection.connect(self.use_collection)
        self.docs_button.manage_requested.connect(self.open_documents)
        top.addWidget(self.docs_button)
        self.settings_toggle = QPushButton("Chat settings", checkable=True,
                                           accessibleName="Show conversation settings",
                                           toolTip="This conversation's preset, system prompt and sampling")
        icons.set_icon(self.settings_toggle, "chat-settings")
        top.addWidget(self.settings_toggle)
        layout.addLayout(top)
        self.notice = QLabel(wordWrap=True, accessibleName="Notice", textFormat=Qt.PlainText)
        self.models.show_notice()
        layout.addWidget(self.notice)
        # Engine and file messages are not markup.
        self.error_banner = QLabel(textFormat=Qt.PlainText, wordWrap=True, accessibleName="Error")
        self.error_banner.setStyleSheet("QLabel { background: #fdecea; color: #611a15; padding: 6px; }")
        self.error_banner.setVisible(False)
        layout.addWidget(self.error_banner)
        self.chat = ChatView(is_dark())
        self.chat.view_added.connect(self._wire_view)
        self.welcome = Welcome()
        self.welcome.prompt_chosen.connect(self._example_chosen)
        self.welcome.library_requested.connect(self._library_for)
        self.chat.set_welcome(self.welcome)
        self.welcome.card.setVisible(bool(getattr(self.model, "is_starter", False)))
        layout.addWidget(self.chat, 1)
        self.composer = Composer()
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.stop)
        self.composer.attach_requested.connect(self.choose_attachment)
        self.prompt, self.send_button, self.stop_button = (self.composer.prompt, self.composer.send_button,
                                                           self.composer.stop_button)
        self.edit_banner, self.attachment_label = self.composer.edit_banner, self.composer.attachment_label
        layout.addWidget(self.composer)
        splitter.addWidget(center)
        self.settings_panel = ConversationSettings(self.settings)
        self.settings_panel.changed.connect(self._conversation_settings_changed)
        self.settings_panel.save_preset_requested.connect(self._save_preset)
        self.settings_panel.setVisible(False)
        self.settings_toggle.toggled.connect(self._toggle_settings_panel)
        splitter.addWidget(self.settings_panel)
        splitter.setSizes([260, 700, 300])
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.conversations = ConversationActions(self, self.sidebar, self.runner)
        self.undo_button = self.conversations.undo_button
        self.savings = SavingsStatus(self, self.runner, self.settings)
        self.prompt.setFocus()

    # --- settings and models ----------------------------------------------------------
    def _settings_changed(self, names: frozenset, offline: list) -> None:
        offline[0] = self.settings.offline
        self.runner.run(self.settings.copy().save)
        if names & set(LOAD_SETTINGS) and self.reply is None:
            self.load_model()
        if "offline" in names and self.library is not None:
            self.library.apply_offline()

    def load_model(self) -> None:
        self.session.load(self.model, self.settings.copy(), dict(self.conversation_settings))

    def refresh_models(self) -> None:
        self.models.refresh()

    def import_model(self) -> None:
        self.models.import_model()

    def open_library(self) -> LibraryWindow:
        if self.library is None:
            self.library = LibraryWindow(self.settings, self.tasks, self.downloads, self.download_signals, self)
            self.library.setAttribute(Qt.WA_DeleteOnClose)
            self.library.destroyed.connect(lambda: setattr(self, "library", None))
        self.library.apply_offline()  # the setting may have changed since it opened
        self.library.show()
        self.library.raise_()
        self.library.activateWindow()
        return self.library

    def _toggle_settings_panel(self, shown: bool) -> None:
        """In a narrow window the sidebar makes room for the panel (and comes back when it closes),
        so the chat column keeps its place instead of the window growing past the screen."""
        self.settings_panel.setVisible(shown)
        self.sidebar.setVisible(not shown or self.width() >= NARROW_WINDOW)

    def _example_chosen(self, prompt: str) -> None:
        self.prompt.setPlainText(prompt)
        self.prompt.setFocus()

    def _library_for(self, model) -> None:
        """The library's Discover tab, on the recommended model when there is one."""
        library = self.open_library()
        library.tabs.setCurrentIndex(1)
        if model is not None:
            library.show_model(model.id)

    def open_engines(self):
        from app.ui.engines_dialog import EnginesDialog

        dialog = EnginesDialog(self)
        dialog.show()
        return dialog

    def open_server(self) -> ServerWindow:
        if self.server_window is None:
            self.server_window = ServerWindow(self.server, self)
        self.server_window.show()
        return self.server_window

    def _download_changed(self, job) -> None:
        if job.state == DONE:
            self.statusBar().showMessage(f"Downloaded {job.file}: pick it in the model list above", 8000)
            self.refresh_models()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self, load_log=self._load_network_log)
        if dialog.exec():
            try:
                self.settings.update(dialog.values())
            except HearthError as exc:  # a value the schema refuses: say so, keep the old settings
                self.show_error(str(exc))

    def _load_network_log(self, on_done) -> None:
        from app import netlog

        self.runner.run(lambda: [netlog.row(e) for e in netlog.entries()], on_done=on_done)

    # --- documents -----------------------------------------------------------------------
    def _start_documents(self) -> None:
        """Follow the collections' folders, and pick up what changed while the app was closed."""
        self.indexing.watch()
        self.indexing.sync_all()
        self._refresh_collections()

    def _refresh_collections(self) -> None:
        from app.docs.store import collection_names

        self.runner.run(collection_names, on_done=self.docs_button.show_names)

    def use_collection(self, name: str, on: bool = True) -> None:
        chosen = [c for c in self.conversation_settings.get("collections", []) if c != name] + ([name] if on else [])
        self._conversation_settings_changed(dict(self.conversation_settings, collections=chosen))

    def open_documents(self) -> DocsWindow:
        if self.docs_window is None:
            self.docs_window = DocsWindow(self.indexing, self)
        self.docs_window.refresh()
        self.docs_window.show()
        return self.docs_window

    # --- conversations ---------------------------------------------------------------------
    def show_empty(self) -> None:
        self._requested = self.conversation_id = None
        self.history = []
        self._show_settings(default_conversation_settings())
        self.chat.clear()
        self.setWindowTitle("Hearth")

    def _show_settings(self, values: dict) -> None:
        self.settings_panel.load(values)
        self._apply_conversation_settings(values)

    def new_conversation(self) -> None:
        self.show_empty()
        self.sidebar.list.clearSelection()
        self.composer.cancel_edit()
        self.prompt.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        self._requested = conversation_id

        def job():
            store = self.tasks.current_store()
            store.set_meta("last_conversation", str(conversation_id))
            return store.conversation(conversation_id), store.messages(conversation_id)

        self.runner.run(job, on_done=self._show_conversation)

    def _show_conversation(self, result) -> None:
        conversation, messages = result
        if conversation.id != self._requested:
            return  # the user asked for another one meanwhile
        self.composer.cancel_edit()
        self.conversation_id = conversation.id
        self._show_settings(conversation.settings or default_conversation_settings())
        self.history = messages
        self.setWindowTitle(f"{conversation.title} — Hearth")
        self.sidebar.select(conversation.id)
        reply = self.reply
        if reply and reply.conversation_id == conversation.id:
            for message in messages:  # still streaming here: show what arrived so far, live
                if message.id == reply.message_id:
                    message.content, message.status = reply.text, STREAMING
        self.chat.populated.connect(self._on_populated, Qt.SingleShotConnection)
        self.chat.show_messages(messages)

    def _on_populated(self) -> None:
        reply = self.reply
        if reply and reply.conversation_id == self.conversation_id:
            for view, message in zip(self.chat.views, self.history):
                if message.id == reply.message_id:
                    reply.view = view  # keep streaming into the freshly built view
        self.presenter.mark_last_reply()
        self.savings.show_reply_costs([(m.id, v) for m, v in zip(self.history, self.chat.views)
                                       if m.role == "assistant"])

    def _wire_view(self, view: MessageView) -> None:
        view.copied.connect(lambda what: self.statusBar().showMessage(f"Copied {what}", 3000))
        view.edit_requested.connect(lambda: self._edit_view(view))
        view.regenerate_requested.connect(self.regenerate)
        view.continue_requested.connect(self.continue_reply)
        view.branch_requested.connect(self.show_branch)
        view.fork_requested.connect(lambda: view.message_id and self.fork(view.message_id))

    def _edit_view(self, view: MessageView) -> None:
        # Views and saved messages are in the same order once a reply is saved.
        if view in self.chat.views and self.reply is None:
            index = self.chat.views.index(view)
            if index < len(self.history):
                self.composer.start_edit(self.history[index])

    def _conversation_settings_changed(self, values: dict) -> None:
        """An edit in the panel or the Documents button: the panel knows nothing of collections."""
        values = dict(values)
        collections = values.pop("collections", self.conversation_settings.get("collections"))
        if collections:  # saved only when the conversation uses documents
            values["collections"] = collections
        self._apply_conversation_settings(values)
        if self.conversation_id is not None:
            self.runner.store("set_settings", self.conversation_id, values)

    def _apply_conversation_settings(self, values: dict) -> None:
        old_ctx = self.conversation_settings.get("context_length")
        self.conversation_settings = values
        self.docs_button.show_chosen(values.get("collections", []))
        if values.get("context_length") != old_ctx and self.reply is None:
            self.load_model()  # the conversation's own context length

    def _save_preset(self, name: str, values: dict) -> None:
        self.runner.run(lambda: save_user_preset(name, values),
                        on_done=lambda p: (self.settings_panel.reload_presets(p["name"]),
                                           self.statusBar().showMessage(f"Saved preset “{p['name']}”", 4000)))

    def choose_attachment(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach a text or source file", str(Path.home()))
        if path:
            self.attach(Path(path))

    def attach(self, path: Path) -> None:
        self.runner.run(read_attachment, path, on_done=self.composer.add_attachment,
                        on_error=lambda exc: self.show_error(str(exc)))

    # --- turns: the service does the work, the window shows its events -----------------------
    def send(self) -> None:
        if not self.composer.message().strip() or self.reply is not None:
            return
        if not self._ready:
            self.statusBar().showMessage("The model is still loading; your message is kept in the box.", 5000)
            return
        collections = self.conversation_settings.get("collections", [])
        agreed = remote_ui.confirm_documents(self, self.model, collections, self._consents)
        if agreed is None:
            return  # the message stays in the box
        if agreed:
            self._consents |= {(self.model.engine, c) for c in agreed}
            self.runner.run(consent.grant, self.model.engine, agreed)
        content, edit_from = self.composer.take()
        if edit_from is not None:
            index = next((i for i, m in enumerate(self.history) if m.id == edit_from.id), len(self.history))
            self.chat.remove_from(index)
            self.history = self.history[:index]
        self.chat.add("user", content)
        self._begin_reply()
        self.session.send(self.conversation_id, content, self.model, self.settings.copy(),
                          dict(self.conversation_settings), edit_from.id if edit_from else None)

    def regenerate(self) -> None:
        if self.reply is not None or not self._ready or not self.history or self.history[-1].role != "assistant":
            return
        self.history.pop()
        self.chat.remove_from(len(self.chat.views) - 1)
        self._begin_reply()
        self.session.regenerate(self.conversation_id, self.model, self.settings.copy(),
                                dict(self.conversation_settings))

    def continue_reply(self) -> None:
        """Write on from where the last reply stopped at the length limit, in the same message."""
        if self.reply is not None or not self._ready or not self.history or self.history[-1].role != "assistant":
            return
        written = self.history[-1].content
        self.history.pop()
        self.chat.remove_from(len(self.chat.views) - 1)
        self._begin_reply()
        self.reply.text = written
        self.reply.view.set_content(written, streaming=True)
        self.session.continue_reply(self.conversation_id, self.model, self.settings.copy(),
                                    dict(self.conversation_settings))

    def show_branch(self, message_id: int) -> None:
        """Show another version of a message, and the conversation as it went on from it."""
        if self.conversation_id is not None and self.reply is None:
            self._open_on_branch(self.conversation_id, message_id)

    def open_hit(self, conversation_id: int, message_id: int) -> None:
        """A search result: its conversation, on the branch that holds the message found."""
        if self.reply is not None and self.reply.conversation_id == conversation_id:
            self.open_conversation(conversation_id)
            return
        self._open_on_branch(conversation_id, message_id)

    def _open_on_branch(self, conversation_id: int, message_id: int) -> None:
        self.runner.run(lambda: self.tasks.current_store().select(conversation_id, message_id),
                        on_done=lambda _r: self.open_conversation(conversation_id))

    def fork(self, message_id: int) -> None:
        """A new chat holding this conversation up to ``message_id``; the original stays as it is."""
        cid = self.conversation_id
        if cid is None:
            return

        def forked(conversation) -> None:
            self.conversations.refresh()
            self.open_conversation(conversation.id)
            self.statusBar().showMessage(f"Forked into “{conversation.title}”", 5000)

        self.runner.run(lambda: self.tasks.current_store().fork(cid, message_id), on_done=forked)

    def _begin_reply(self) -> None:
        self.error_banner.setVisible(False)
        view = self.chat.add("assistant", "", STREAMING, self.model.id)
        self.reply = Reply(self.conversation_id, self.model.id, view)
        self._set_busy(True)

    def stop(self) -> None:
        if self.composer.editing is not None and self.reply is None:
            self.composer.cancel_edit()
            self.prompt.clear()
        elif self.reply is not None:
            self.session.stop()

    def _set_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        if busy:
            for view in self.chat.views:
                view.regenerate_button.setVisible(False)

    def show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(True)

    def closeEvent(self, event):  # noqa: N802
        # In order: stop the reply (the service saves it), stop indexing and downloads, close the
        # service's store and the engine on the model lane, then the DB lane's stores.
        window_state.save(self)
        self.indexing.shutdown()
        self.downloads.close()
        if self.server.server is not None:
            self.server.server.stop()
        self.session.shutdown()
        self.tasks.shutdown()
        super().closeEvent(event)
