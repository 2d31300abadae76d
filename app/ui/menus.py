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
    help_menu = bar.addMenu("&Help")
    help_menu.addAction("&Keyboard shortcuts", QKeySequence(Qt.Key_F1), lambda: show_shortcuts(window))
    help_menu.addAction("&About Hearth", lambda: show_about(window))
    stop = QShortcut(QKeySequence(Qt.Key_Escape), window)
    stop.activated.connect(window.stop)


# Keys that belong to widgets, not menu entries.
WIDGET_KEYS = [("Send the message", "Enter"), ("New line in the message", "Shift+Enter"),
               ("Stop the reply", "Esc"), ("Focus the model picker", "Alt+O")]


def shortcut_rows(window) -> list[tuple[str, str]]:
    """Every menu entry with a shortcut, then the widgets' own keys: the list F1 shows."""
    rows = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for action in menu.actions():
            key = action.shortcut().toString(QKeySequence.NativeText)
            if key:
                rows.append((action.text().replace("&", "").rstrip("…"), key))
    return rows + WIDGET_KEYS


def show_shortcuts(window) -> None:
    from app.ui.qt import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout

    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    layout = QVBoxLayout(dialog)
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Action", "Keys"])
    table.setAccessibleName("Keyboard shortcuts")
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    for r, (what, keys) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(what))
        table.setItem(r, 1, QTableWidgetItem(keys))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    layout.addWidget(table)
    buttons = QDialogButtonBox(QDialogButtonBox.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.resize(460, 480)
    window.shortcuts_dialog = dialog
    dialog.show()


def show_about(window) -> None:
    from app import __version__, paths
    from app.ui.qt import QMessageBox

    QMessageBox.information(window, "About Hearth", (
        f"Hearth {__version__}\n\n"
        "A private AI assistant: open models run on this machine, or on your team's server.\n"
        "Nothing you write leaves this machine unless you use a remote engine.\n\n"
        f"Your data: {paths.data_dir()}\n"
        "Models run through llama.cpp (MIT licence); the starter model is SmolLM2-135M-Instruct (Apache 2.0)."))
