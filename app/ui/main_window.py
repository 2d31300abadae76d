"""Hearth's main window: conversations, the chat, the model picker and settings.

The GUI thread only draws. The model runs behind ``EngineBridge`` in its own
thread (and process); the chat store, file reads and model scans run on the
``BackgroundRunner``'s thread. A reply is saved as it streams (at most a
second behind) and finalised with its status, so stopping, a worker crash or
the app being killed never loses what was written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from app.chats import presets as preset_data
from app.chats import render
from app.chats.attachments import Attachment, message_with, read_attachment
from app.chats.export import to_json, to_markdown
from app.chats.prompt import chat_messages, sampling_overrides
from app.chats.store import COMPLETE, ERROR, STOPPED, STREAMING, ChatStore, Message
from app.config import Settings
from app.engine.params import load_request, sampling
from app.library.download_queue import DONE, DownloadQueue
from app.library.registry import InstalledModel, ModelRegistry
from app.savings import tokens
from app.ui.chat_view import ChatView
from app.ui.conversation_settings import ConversationSettings
from app.ui.engine_bridge import EngineBridge
from app.ui.docs_window import DocsWindow, Indexing
from app.ui.library_window import LibraryWindow, QueueSignals
from app.ui.message_view import MessageView
from app.ui.qt import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenu,
    QPalette,
    QPlainTextEdit,
    QPushButton,
    QShortcut,
    QSplitter,
    Qt,
    QThread,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.runner import BackgroundRunner
from app.ui.savings_status import SavingsStatus
from app.ui.settings_dialog import SettingsDialog
from app.ui.sidebar import Sidebar

STARTER_NOTE = ("You are using the built-in starter model, a tiny 135M-parameter demo: it works offline, "
                "but its answers are poor. For real help, add a proper model: Models → Import GGUF file… "
                "uses one you already have; the model library downloads one.")
RENDER_INTERVAL_MS = 50
SAVE_INTERVAL_S = 1.0
UNDO_SECONDS = 15


def is_dark() -> bool:
    return QApplication.palette().color(QPalette.Window).lightness() < 128


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


@dataclass
class _Reply:
    """The reply being generated, wherever the user is looking."""

    conversation_id: int
    model: str
    message_id: int | None = None
    text: str = ""
    view: MessageView | None = None
    error: str | None = None
    saved_at: float = field(default_factory=time.monotonic)
    messages: list = field(default_factory=list)
    citations: list | None = None  # passages a document answer may cite


class MainWindow(QMainWindow):
    _request_load = Signal(object)
    _request_chat = Signal(list, dict)
    _request_shutdown = Signal()

    def __init__(self, settings: Settings, model: InstalledModel,
                 store_factory=ChatStore):
        super().__init__()
        self.settings = settings
        self.model = model
        self.models: list[InstalledModel] = [model]
        self.conversation_id: int | None = None
        self.conversation_settings: dict = {}
        self.history: list[Message] = []
        self.reply: _Reply | None = None
        self.attachments: list[Attachment] = []
        self._edit_from: Message | None = None
        self._ready = False
        self._render_pending = False
        self._deleted: int | None = None
        self._requested: int | None = None  # the conversation most recently asked for
        self.setWindowTitle("Hearth")
        self.resize(1200, 800)
        self.runner = BackgroundRunner(self, store_factory)
        self.runner.failed.connect(self.show_error)
        self.runner.run(render.warm_up)
        self.runner.run(tokens.warm_up)
        self.library = None
        self.download_signals = QueueSignals(self)
        self.downloads = DownloadQueue(offline=lambda: self.settings.offline,
                                       on_change=self.download_signals.changed.emit)
        self.download_signals.changed.connect(self._download_changed)
        self.doc_collections: list[str] = []
        self._searcher = None  # belongs to the runner's thread
        self.indexing = Indexing(self.settings, self)
        self.docs_window = None
        self._build()
        self._build_menus()
        self._start_engine()
        self._refresh_conversations(open_last=True)
        self._refresh_models()
        self.savings.refresh()
        self.indexing.collections_changed.connect(self._refresh_collections)
        QTimer.singleShot(0, self._start_documents)

    # --- layout ----------------------------------------------------------------
    def _build(self) -> None:
        splitter = QSplitter()
        self.sidebar = Sidebar()
        self.sidebar.open_requested.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.rename_requested.connect(self.rename_conversation)
        self.sidebar.delete_requested.connect(self.delete_conversation)
        self.sidebar.search_changed.connect(self._search)
        splitter.addWidget(self.sidebar)

        center = QWidget()
        layout = QVBoxLayout(center)
        top = QHBoxLayout()
        self.model_picker = QComboBox()
        self.model_picker.setAccessibleName("Model")
        self.model_picker.setToolTip("The model that answers")
        self.model_picker.setMinimumContentsLength(28)
        self.model_picker.activated.connect(self._model_chosen)
        top.addWidget(QLabel("&Model:"))
        top.itemAt(0).widget().setBuddy(self.model_picker)
        top.addWidget(self.model_picker, 1)
        self.model_state = QLabel("Loading…")
        self.model_state.setAccessibleName("Model status")
        top.addWidget(self.model_state)
        self.docs_button = QToolButton()
        self.docs_button.setText("Documents")
        self.docs_button.setAccessibleName("Use documents")
        self.docs_button.setToolTip("Answer from your document collections, with citations")
        self.docs_button.setPopupMode(QToolButton.InstantPopup)
        self.docs_menu = QMenu(self.docs_button)
        self.docs_button.setMenu(self.docs_menu)
        top.addWidget(self.docs_button)
        self.settings_toggle = QPushButton("Conversation settings")
        self.settings_toggle.setAccessibleName("Show conversation settings")
        self.settings_toggle.setCheckable(True)
        top.addWidget(self.settings_toggle)
        layout.addLayout(top)

        self.notice = QLabel(STARTER_NOTE)
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.notice.setVisible(self.model.is_starter)
        layout.addWidget(self.notice)
        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setAccessibleName("Error")
        self.error_banner.setStyleSheet("QLabel { background: #fdecea; color: #611a15; padding: 6px; }")
        self.error_banner.setVisible(False)
        layout.addWidget(self.error_banner)

        self.chat = ChatView(is_dark())
        self.chat.view_added.connect(self._wire_view)
        layout.addWidget(self.chat, 1)

        self.edit_banner = QLabel()
        self.edit_banner.setVisible(False)
        layout.addWidget(self.edit_banner)
        self.attachment_label = QLabel()
        self.attachment_label.setWordWrap(True)
        self.attachment_label.setAccessibleName("Attachments")
        self.attachment_label.setVisible(False)
        layout.addWidget(self.attachment_label)
        row = QHBoxLayout()
        self.attach_button = QPushButton("Attach…")
        self.attach_button.setAccessibleName("Attach a file")
        self.attach_button.clicked.connect(self.choose_attachment)
        row.addWidget(self.attach_button)
        self.prompt = PromptEdit()
        self.prompt.setAccessibleName("Message")
        self.prompt.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line, Esc to stop)")
        self.prompt.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.prompt.submitted.connect(self.send)
        self.prompt.stop_requested.connect(self.stop)
        row.addWidget(self.prompt, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        layout.addLayout(row)
        splitter.addWidget(center)

        self.settings_panel = ConversationSettings(self.settings)
        self.settings_panel.changed.connect(self._conversation_settings_changed)
        self.settings_panel.save_preset_requested.connect(self._save_preset)
        self.settings_panel.setVisible(False)
        self.settings_toggle.toggled.connect(self.settings_panel.setVisible)
        splitter.addWidget(self.settings_panel)
        splitter.setSizes([260, 700, 300])
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)

        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo delete")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_delete)
        self.statusBar().addPermanentWidget(self.undo_button)
        self.savings = SavingsStatus(self, self.runner, self.settings)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(lambda: self.undo_button.setVisible(False))
        self.prompt.setFocus()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction("&New chat", QKeySequence("Ctrl+N"), self.new_conversation)
        file_menu.addAction("Export as &Markdown…", lambda: self.export("md"))
        file_menu.addAction("Export as &JSON…", lambda: self.export("json"))
        file_menu.addSeparator()
        file_menu.addAction("&Settings…", QKeySequence("Ctrl+,"), self.open_settings)
        file_menu.addAction("&Quit", QKeySequence("Ctrl+Q"), self.close)
        chat_menu = bar.addMenu("&Chat")
        chat_menu.addAction("&Find in all chats", QKeySequence("Ctrl+F"), self.focus_search)
        chat_menu.addAction("&Regenerate reply", QKeySequence("Ctrl+R"), self.regenerate)
        chat_menu.addAction("&Stop reply", self.stop)
        chat_menu.addAction("Re&name chat…", QKeySequence("F2"),
                            lambda: self.conversation_id and self.rename_conversation(self.conversation_id))
        chat_menu.addAction("&Delete chat", lambda: self.conversation_id and
                            self.delete_conversation(self.conversation_id))
        savings_menu = bar.addMenu("&Savings")
        savings_menu.addAction("Savings &dashboard…", self.savings.open_dashboard)
        docs_menu = bar.addMenu("&Documents")
        docs_menu.addAction("&Collections…", QKeySequence("Ctrl+D"), self.open_documents)
        models_menu = bar.addMenu("&Models")
        models_menu.addAction("Model &library…", QKeySequence("Ctrl+L"), self.open_library)
        models_menu.addAction("&Import GGUF file…", self.import_model)
        models_menu.addAction("&Refresh list", self._refresh_models)
        stop = QShortcut(QKeySequence(Qt.Key_Escape), self)
        stop.activated.connect(self.stop)

    # --- engine ------------------------------------------------------------------
    def _start_engine(self) -> None:
        self.engine_thread = QThread(self)
        self.bridge = EngineBridge()
        self.bridge.moveToThread(self.engine_thread)
        self._request_load.connect(self.bridge.load)
        self._request_chat.connect(self.bridge.chat)
        self._request_shutdown.connect(self.bridge.shutdown)
        self.bridge.loading.connect(self._on_loading)
        self.bridge.load_progress.connect(self._on_load_progress)
        self.bridge.loaded.connect(self._on_loaded)
        self.bridge.load_failed.connect(self._on_load_failed)
        self.bridge.token.connect(self._on_token)
        self.bridge.failed.connect(self._on_reply_failed)
        self.bridge.finished.connect(self._on_finished)
        self.engine_thread.start()
        self._load_current_model()

    def _load_request(self):
        settings = self.settings.copy()
        if self.conversation_settings.get("context_length"):
            settings.set("context_length", self.conversation_settings["context_length"])
        return load_request(str(self.model.path), settings)

    def _load_current_model(self) -> None:
        self._request_load.emit(self._load_request())

    def _on_loading(self, path: str) -> None:
        self._ready = False
        self.model_state.setText(f"Loading {Path(path).name}…")

    def _on_load_progress(self, fraction: float) -> None:
        if not self._ready:
            self.model_state.setText(f"Loading {self.model.path.name}… {fraction:.0%}")

    def _on_loaded(self, path: str) -> None:
        self._ready = True
        self.model_state.setText("Ready")
        self.statusBar().showMessage(f"Model ready: {self.model.id}", 5000)

    def _on_load_failed(self, message: str) -> None:
        self._ready = False
        self.model_state.setText("Not loaded")
        self.show_error(f"{message}. Pick another model above, or change the settings (Ctrl+,).")

    # --- models ----------------------------------------------------------------------
    def _refresh_models(self) -> None:
        self.runner.run(lambda: ModelRegistry().models(), on_done=self._show_models)

    def refresh_models(self) -> None:
        """The model list changed (a download, an import, a delete): show it in the picker."""
        self._refresh_models()

    def open_library(self) -> LibraryWindow:
        if self.library is None:
            self.library = LibraryWindow(self.settings, self.downloads, self.download_signals, self)
            self.library.setAttribute(Qt.WA_DeleteOnClose)
            self.library.destroyed.connect(lambda: setattr(self, "library", None))
        self.library.apply_offline()  # the setting may have changed since it opened
        self.library.show()
        self.library.raise_()
        self.library.activateWindow()
        return self.library

    # --- documents -----------------------------------------------------------------------
    def _start_documents(self) -> None:
        """Follow the collections' folders, and pick up what changed while the app was closed."""
        try:
            self.indexing.watch()
        except OSError as exc:
            self.show_error(f"Cannot watch document folders: {exc}")
        self.indexing.sync_all()
        self._refresh_collections()

    def _refresh_collections(self) -> None:
        from app.docs.store import collection_names

        names = collection_names()
        self.doc_collections = [c for c in self.doc_collections if c in names]
        self.docs_menu.clear()
        if not names:
            self.docs_menu.addAction("No collections yet: Documents → Collections…", self.open_documents)
        for name in names:
            action = self.docs_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self.doc_collections)
            action.toggled.connect(lambda on, n=name: self.use_collection(n, on))
        self._show_collections()

    def use_collection(self, name: str, on: bool = True) -> None:
        if on and name not in self.doc_collections:
            self.doc_collections.append(name)
        elif not on and name in self.doc_collections:
            self.doc_collections.remove(name)
        self._show_collections()

    def _show_collections(self) -> None:
        self.docs_button.setText(f"Documents: {', '.join(self.doc_collections)}" if self.doc_collections
                                 else "Documents")

    def open_documents(self) -> DocsWindow:
        if self.docs_window is None:
            self.docs_window = DocsWindow(self.indexing, self)
        self.docs_window.refresh()
        self.docs_window.show()
        return self.docs_window

    def _retrieve(self, question: str, collections: list[str]):
        """In the runner's thread: the passages for a question (one embedding process kept alive)."""
        from app.docs.service import Searcher

        if self._searcher is None:
            self._searcher = Searcher()
        return self._searcher.search(collections, question, self.settings.docs_passages)

    def _download_changed(self, job) -> None:
        if job.state == DONE:
            self.statusBar().showMessage(f"Downloaded {job.file}: pick it in the model list above", 8000)
            self._refresh_models()

    def _show_models(self, models: list[InstalledModel]) -> None:
        self.models = [m for m in models if m.problem is None and not (m.info and m.info.is_embedding_model)]
        self.model_picker.clear()
        for m in self.models:
            label = m.id
            if m.info:
                label += f"  ({m.info.size_label}, {m.info.quantization})"
            if m.is_starter:
                label += "  · starter demo"
            self.model_picker.addItem(label, m.id)
        index = self.model_picker.findData(self.model.id)
        self.model_picker.setCurrentIndex(max(0, index))

    def _model_chosen(self, index: int) -> None:
        chosen = self.models[index]
        if chosen.path == self.model.path:
            return
        self.model = chosen
        self.notice.setVisible(chosen.is_starter)
        self.settings.set("default_model", chosen.id)
        snapshot = self.settings.copy()
        self.runner.run(snapshot.save)
        self._load_current_model()

    def import_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.runner.run(lambda: ModelRegistry().import_model(Path(path)),
                            on_done=lambda m: (self.statusBar().showMessage(f"Imported {m.id}", 5000),
                                               self._refresh_models()))

    # --- conversations -------------------------------------------------------------
    def _refresh_conversations(self, open_last: bool = False) -> None:
        def job():
            store = self.runner.current_store()
            last = store.get_meta("last_conversation")
            return store.conversations(), int(last) if last and last.isdigit() else None

        def done(result):
            conversations, last = result
            if not self.sidebar.searching:
                self.sidebar.show_conversations(conversations, self.conversation_id)
            if open_last and self._requested is None:  # the user may have picked one already
                ids = {c.id for c in conversations}
                if last in ids:
                    self.open_conversation(last)
                elif conversations:
                    self.open_conversation(conversations[0].id)
                else:
                    self._show_empty()

        self.runner.run(job, on_done=done)

    def _show_empty(self) -> None:
        self._requested = None
        self.conversation_id = None
        self.history = []
        self.conversation_settings = self._default_conversation_settings()
        self.settings_panel.load(self.conversation_settings)
        self.chat.clear()
        self.setWindowTitle("Hearth")

    def _default_conversation_settings(self) -> dict:
        preset = preset_data.find(preset_data.DEFAULT_PRESET)
        return preset_data.settings_from_preset(preset) if preset else {}

    def new_conversation(self) -> None:
        self._show_empty()
        self.sidebar.list.clearSelection()
        self._cancel_edit()
        self.prompt.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        self._requested = conversation_id

        def job():
            store = self.runner.current_store()
            store.set_meta("last_conversation", str(conversation_id))
            return store.conversation(conversation_id), store.messages(conversation_id)

        self.runner.run(job, on_done=self._show_conversation)

    def _show_conversation(self, result) -> None:
        conversation, messages = result
        if conversation.id != self._requested:
            return  # the user asked for another one meanwhile
        self._cancel_edit()
        self.conversation_id = conversation.id
        self.conversation_settings = conversation.settings or self._default_conversation_settings()
        self.settings_panel.load(self.conversation_settings)
        self.history = messages
        self.setWindowTitle(f"{conversation.title} — Hearth")
        self.sidebar.select(conversation.id)
        reply = self.reply
        if reply and reply.conversation_id == conversation.id:
            # The reply is still streaming here: show what arrived so far, live.
            for message in messages:
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
        self._mark_last_reply()
        self.savings.show_reply_costs([(m.id, v) for m, v in zip(self.history, self.chat.views)
                                       if m.role == "assistant"])

    def _wire_view(self, view: MessageView) -> None:
        view.copied.connect(lambda what: self.statusBar().showMessage(f"Copied {what}", 3000))
        view.edit_requested.connect(lambda: self._edit_view(view))
        view.regenerate_requested.connect(self.regenerate)

    def _edit_view(self, view: MessageView) -> None:
        # Views and saved messages are in the same order once a reply is saved.
        if view in self.chat.views and self.reply is None:
            index = self.chat.views.index(view)
            if index < len(self.history):
                self.start_edit(self.history[index])

    def _mark_last_reply(self) -> None:
        for index, view in enumerate(self.chat.views):
            view.regenerate_button.setVisible(
                index == len(self.chat.views) - 1 and view.role == "assistant" and self.reply is None)

    def rename_conversation(self, conversation_id: int) -> None:
        item = self.sidebar.list.currentItem()
        current = item.text().split("\n")[0] if item else ""
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
        if ok and title.strip():
            self.runner.store("rename", conversation_id, title.strip(),
                              on_done=lambda _: self._refresh_conversations())
            if conversation_id == self.conversation_id:
                self.setWindowTitle(f"{title.strip()} — Hearth")

    def delete_conversation(self, conversation_id: int) -> None:
        if self.reply and self.reply.conversation_id == conversation_id:
            self.stop()
        self._deleted = conversation_id
        self.runner.store("delete", conversation_id, on_done=lambda _: self._after_delete(conversation_id))

    def _after_delete(self, conversation_id: int) -> None:
        self.statusBar().showMessage("Chat deleted.", UNDO_SECONDS * 1000)
        self.undo_button.setVisible(True)
        self._undo_timer.start(UNDO_SECONDS * 1000)
        if conversation_id == self.conversation_id:
            self._show_empty()
        self._refresh_conversations()

    def undo_delete(self) -> None:
        if self._deleted is None:
            return
        restored = self._deleted
        self._deleted = None
        self.undo_button.setVisible(False)
        self.runner.store("undelete", restored, on_done=lambda _: (self._refresh_conversations(),
                                                                   self.open_conversation(restored)))

    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def _search(self, query: str) -> None:
        if not query:
            self.sidebar.searching = False
            self._refresh_conversations()
            return
        self.runner.store("search", query, on_done=lambda results: self.sidebar.show_results(results, query))

    def export(self, fmt: str) -> None:
        if self.conversation_id is None:
            self.statusBar().showMessage("Nothing to export yet.", 4000)
            return
        title = self.windowTitle().removesuffix(" — Hearth")
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "chat"
        path, _ = QFileDialog.getSaveFileName(self, "Export chat", str(Path.home() / f"{safe}.{fmt}"),
                                              "Markdown (*.md)" if fmt == "md" else "JSON (*.json)")
        if path:
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> None:
        conversation_id = self.conversation_id

        def job():
            store = self.runner.current_store()
            conversation, messages = store.conversation(conversation_id), store.messages(conversation_id)
            text = to_json(conversation, messages) if fmt == "json" else to_markdown(conversation, messages)
            path.write_text(text, encoding="utf-8")
            return path

        self.runner.run(job, on_done=lambda p: self.statusBar().showMessage(f"Exported to {p}", 5000),
                        on_error=lambda exc: self.show_error(f"Export failed: {exc}"))

    def _conversation_settings_changed(self, values: dict) -> None:
        old_ctx = self.conversation_settings.get("context_length")
        self.conversation_settings = values
        if self.conversation_id is not None:
            self.runner.store("set_settings", self.conversation_id, values)
        if values.get("context_length") != old_ctx and self.reply is None:
            self._load_current_model()

    def _save_preset(self, name: str, values: dict) -> None:
        self.runner.run(lambda: preset_data.save_user_preset(name, values),
                        on_done=lambda p: (self.settings_panel.reload_presets(p["name"]),
                                           self.statusBar().showMessage(f"Saved preset “{p['name']}”", 4000)))

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            try:
                for name, value in dialog.values().items():
                    self.settings.set(name, value)
            except Exception as exc:  # a bad typed value: say so, keep the old settings
                self.show_error(str(exc))
                return
            snapshot = self.settings.copy()
            self.runner.run(snapshot.save)
            if self.reply is None:
                self._load_current_model()

    # --- attachments -------------------------------------------------------------------
    def choose_attachment(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach a text or source file", str(Path.home()))
        if path:
            self.attach(Path(path))

    def attach(self, path: Path) -> None:
        self.runner.run(read_attachment, path, on_done=self._attached,
                        on_error=lambda exc: self.show_error(str(exc)))

    def _attached(self, attachment: Attachment) -> None:
        self.attachments.append(attachment)
        names = ", ".join(a.name for a in self.attachments)
        warnings = [a.warning for a in self.attachments if a.warning]
        self.attachment_label.setText(f"Attached: {names}" + (f" — warning: {'; '.join(warnings)}" if warnings else ""))
        self.attachment_label.setVisible(True)

    # --- sending and streaming --------------------------------------------------------------
    def start_edit(self, message: Message) -> None:
        if self.reply is not None:
            return
        self._edit_from = message
        self.prompt.setPlainText(message.content)
        self.edit_banner.setText("Editing an earlier message: sending replaces it and everything after it. "
                                 "Press Esc in the box or start a new chat to cancel.")
        self.edit_banner.setVisible(True)
        self.prompt.setFocus()

    def _cancel_edit(self) -> None:
        self._edit_from = None
        self.edit_banner.setVisible(False)

    def send(self) -> None:
        content = message_with(self.prompt.toPlainText(), self.attachments)
        if not content.strip() or self.reply is not None:
            return
        if not self._ready:
            self.statusBar().showMessage("The model is still loading; your message is kept in the box.", 5000)
            return
        self.error_banner.setVisible(False)
        self.prompt.clear()
        self.attachments = []
        self.attachment_label.setVisible(False)
        edit_from = self._edit_from
        self._cancel_edit()
        if edit_from is not None:
            index = next((i for i, m in enumerate(self.history) if m.id == edit_from.id), len(self.history))
            self.chat.remove_from(index)
            self.history = self.history[:index]
        self.chat.add("user", content)
        self._begin_reply(user_content=content, delete_from=edit_from.id if edit_from else None)

    def regenerate(self) -> None:
        if self.reply is not None or not self.history or self.history[-1].role != "assistant":
            return
        if not self._ready:
            return
        last = self.history.pop()
        self.chat.remove_from(len(self.chat.views) - 1)
        self._begin_reply(user_content=None, delete_from=last.id)

    def _begin_reply(self, user_content: str | None, delete_from: int | None) -> None:
        conversation_id = self.conversation_id
        settings = dict(self.conversation_settings)
        model_id = self.model.id
        collections = list(self.doc_collections)
        view = self.chat.add("assistant", "", STREAMING, model_id)
        self.reply = _Reply(conversation_id or -1, model_id, view=view)
        self._set_busy(True)

        def job():
            store = self.runner.current_store()
            cid = conversation_id
            if cid is None:
                title = " ".join((user_content or "New chat").split())[:60]
                cid = store.create_conversation(title, settings).id
                store.set_meta("last_conversation", str(cid))
            if delete_from is not None:
                store.delete_from(cid, delete_from)
            if user_content is not None:
                store.add_message(cid, "user", user_content)
            history = store.messages(cid)
            reply = store.add_message(cid, "assistant", "", STREAMING, model_id)
            question = history[-1].content if history and history[-1].role == "user" else None
            hits = self._retrieve(question, collections) if collections and question else None
            return cid, history, reply, (collections, hits)

        self.runner.run(job, on_done=self._start_generation,
                        on_error=lambda exc: self._abort_reply(f"Could not save the message: {exc}"))

    def _start_generation(self, result) -> None:
        conversation_id, history, reply_message, (collections, hits) = result
        new_conversation = self.conversation_id is None
        self.conversation_id = conversation_id
        self.history = history + [reply_message]
        if self.reply is None:
            return
        self.reply.conversation_id = conversation_id
        self.reply.message_id = reply_message.id
        if new_conversation:
            self._refresh_conversations()
        options = sampling(self.settings)
        options.update(sampling_overrides(self.conversation_settings))
        self.reply.messages = chat_messages(self.conversation_settings, history)
        if hits is not None:
            from app.docs import service as docs

            if not hits:  # nothing relevant: say so, never let the model invent an answer
                self._answer_without_model(docs.not_found(collections), {"citations": []})
                return
            prompt = docs.build_prompt(history[-1].content, hits, self.settings.context_length,
                                       options.get("max_tokens", self.settings.max_tokens),
                                       history=self.reply.messages[:-1])
            self.reply.messages = prompt.messages
            self.reply.citations = docs.citations_as_dicts(prompt.citations)
        self._request_load.emit(self._load_request())  # restarts a crashed worker if needed
        self._request_chat.emit(self.reply.messages, options)

    def _answer_without_model(self, text: str, stats: dict) -> None:
        reply = self.reply
        reply.text = text
        self.reply = None
        self._set_busy(False)
        self.runner.store("update_message", reply.message_id, text, COMPLETE, stats)
        for message in self.history:
            if message.id == reply.message_id:
                message.content, message.status, message.stats = text, COMPLETE, stats
        if reply.view is not None:
            reply.view.set_content(text)
            reply.view.set_stats(None, stats, COMPLETE)
            self._mark_last_reply()

    def _abort_reply(self, message: str) -> None:
        self.reply = None
        self._set_busy(False)
        self.show_error(message)

    def stop(self) -> None:
        if self._edit_from is not None and self.reply is None:
            self._cancel_edit()
            self.prompt.clear()
            return
        if self.reply is not None:
            self.bridge.cancel()

    def _on_token(self, piece: str) -> None:
        reply = self.reply
        if reply is None:
            return
        reply.text += piece
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(RENDER_INTERVAL_MS, self._render_reply)
        now = time.monotonic()
        if reply.message_id is not None and now - reply.saved_at >= SAVE_INTERVAL_S:
            reply.saved_at = now
            self.runner.store("update_message", reply.message_id, reply.text)

    def _render_reply(self) -> None:
        self._render_pending = False
        reply = self.reply
        if reply is not None and reply.view is not None and reply.conversation_id == self.conversation_id:
            reply.view.set_content(reply.text, streaming=True)

    def _on_reply_failed(self, message: str) -> None:
        if self.reply is not None:
            self.reply.error = message
        if "worker" in message:
            message += ". Your conversation is saved; send again to restart the model."
        self.show_error(message)

    def _on_finished(self, stats: dict) -> None:
        reply = self.reply
        self.reply = None
        self._set_busy(False)
        if reply is None:
            return
        if reply.citations is not None:
            stats = dict(stats, citations=reply.citations)  # saved with the reply, shown under it
        reason = stats.get("stop_reason")
        status = {"cancelled": STOPPED, "error": ERROR}.get(reason, COMPLETE)
        if reply.error:
            status = ERROR
        if reply.message_id is not None:
            self.runner.store("update_message", reply.message_id, reply.text, status, stats, reply.error)
        for message in self.history:
            if message.id == reply.message_id:
                message.content, message.status, message.stats = reply.text, status, stats
        if reply.view is not None and reply.conversation_id == self.conversation_id:
            reply.view.set_content(reply.text)
            reply.view.set_stats(reply.model, stats, status, reply.error)
            self._mark_last_reply()
        if status != ERROR and reply.text:
            self.savings.record(reply.messages, reply.text, stats, reply.conversation_id, reply.message_id,
                                reply.model, reply.view)

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        if busy:
            for view in self.chat.views:
                view.regenerate_button.setVisible(False)

    def show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(True)

    # --- shutdown ------------------------------------------------------------------------
    def closeEvent(self, event):  # noqa: N802
        # In order: stop the reply, save it, stop the database thread, the worker, the engine thread.
        if self.reply is not None:
            self.bridge.cancel()
            if self.reply.message_id is not None:
                self.runner.store("update_message", self.reply.message_id, self.reply.text, STOPPED)
        self.indexing.shutdown()
        searcher = self._searcher
        if searcher is not None:
            self.runner.run(searcher.close)
        self.runner.shutdown()
        self.downloads.close()
        self._request_shutdown.emit()
        self.engine_thread.quit()
        self.engine_thread.wait(15_000)
        super().closeEvent(event)
