"""The main window's menu bar and window-wide shortcuts, in one place to read them all."""

from __future__ import annotations

from app.ui.qt import QKeySequence, QShortcut, Qt


def build_menus(window) -> None:
    bar = window.menuBar()
    conversations = window.conversations
    file_menu = bar.addMenu("&File")
    file_menu.addAction("&New chat", QKeySequence("Ctrl+N"), window.new_conversation)
    file_menu.addAction("Export as &Markdown…", lambda: conversations.export("md"))
    file_menu.addAction("Export as &JSON…", lambda: conversations.export("json"))
    file_menu.addSeparator()
    file_menu.addAction("&Settings…", QKeySequence("Ctrl+,"), window.open_settings)
    file_menu.addAction("Remote &engines…", window.open_engines)
    file_menu.addAction("&Quit", QKeySequence("Ctrl+Q"), window.close)
    chat_menu = bar.addMenu("&Chat")
    chat_menu.addAction("&Find in all chats", QKeySequence("Ctrl+F"), conversations.focus_search)
    chat_menu.addAction("&Regenerate reply", QKeySequence("Ctrl+R"), window.regenerate)
    chat_menu.addAction("&Stop reply", window.stop)
    chat_menu.addAction("Re&name chat…", QKeySequence("F2"),
                        lambda: window.conversation_id and conversations.rename(window.conversation_id))
    chat_menu.addAction("&Delete chat", lambda: window.conversation_id and
                        conversations.delete(window.conversation_id))
    savings_menu = bar.addMenu("&Savings")
    savings_menu.addAction("Savings &dashboard…", window.savings.open_dashboard)
    docs_menu = bar.addMenu("&Documents")
    docs_menu.addAction("&Collections…", QKeySequence("Ctrl+D"), window.open_documents)
    models_menu = bar.addMenu("&Models")
    models_menu.addAction("Model &library…", QKeySequence("Ctrl+L"), window.open_library)
    models_menu.addAction("&Import GGUF file…", window.import_model)
    models_menu.addAction("&Refresh list", window.refresh_models)
    models_menu.addSeparator()
    models_menu.addAction("&API server…", window.open_server)
    stop = QShortcut(QKeySequence(Qt.Key_Escape), window)
    stop.activated.connect(window.stop)
