"""The conversation list with search across every message.

Signals: ``open_requested(int conversation_id)``, ``new_requested()``,
``rename_requested(int)``, ``delete_requested(int)``, ``search_changed(str)``.
"""

from __future__ import annotations

from datetime import date, datetime

from app.chats.store import Conversation, Message
from app.ui import icons
from app.ui.qt import (
    QAbstractItemView, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem, QMenu, QPalette, QPushButton, Qt, QTimer,
    QVBoxLayout, QWidget, Signal, tip,
)

ID_ROLE = Qt.UserRole
MESSAGE_ROLE = ID_ROLE + 1
SEARCH_DELAY_MS = 200


class Sidebar(QWidget):
    open_requested = Signal(int)
    hit_requested = Signal(int, int)  # a search result: conversation id, message id
    new_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    search_changed = Signal(str)

    def __init__(self):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.new_button = QPushButton("New chat")
        self.new_button.setAccessibleName("New chat")
        icons.set_icon(self.new_button, "new-chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested.emit)
        layout.addWidget(self.new_button)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search all messages (Ctrl+F)")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setAccessibleName("Conversations")
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.ElideRight)
        self.list.setContextMenuPolicy(Qt.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.rename_button = QPushButton("Rename")
        self.rename_button.setAccessibleName("Rename conversation")
        icons.set_icon(self.rename_button, "edit")
        self.rename_button.clicked.connect(lambda: self._emit_current(self.rename_requested))
        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete conversation")
        icons.set_icon(self.delete_button, "delete")
        self.delete_button.clicked.connect(lambda: self._emit_current(self.delete_requested))
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(lambda: self.search_changed.emit(self.search.text().strip()))
        self.search.textChanged.connect(lambda _text: self._timer.start())
        self.searching = False

    def show_conversations(self, conversations: list[Conversation], current: int | None) -> None:
        """Newest first, under date headings (Today, Yesterday, Previous 7 days, …)."""
        self.searching = False
        self.list.clear()
        heading = None
        today = date.today()
        for c in conversations:
            group = date_group(datetime.fromtimestamp(c.updated).date(), today)
            if group != heading:
                heading = group
                header = QListWidgetItem(group)
                header.setFlags(Qt.NoItemFlags)
                # Drawn as disabled text otherwise, too faint on a light palette to read.
                header.setForeground(self.list.palette().color(QPalette.Active, QPalette.PlaceholderText))
                font = header.font()
                font.setBold(True)
                header.setFont(font)
                self.list.addItem(header)
            when = datetime.fromtimestamp(c.updated).strftime("%H:%M" if group in ("Today", "Yesterday")
                                                              else "%d %b %H:%M")
            item = QListWidgetItem(f"{c.title}\n{when}")
            item.setData(ID_ROLE, c.id)
            item.setToolTip(tip(c.title))
            self.list.addItem(item)
            if c.id == current:
                self.list.setCurrentItem(item)

    def show_results(self, results: list[tuple[Conversation, Message]], query: str) -> None:
        self.searching = True
        self.list.clear()
        if not results:
            item = QListWidgetItem(f"No messages contain “{query}”")
            item.setFlags(Qt.NoItemFlags)
            self.list.addItem(item)
            return
        for conversation, message in results:
            item = QListWidgetItem(f"{conversation.title}\n{_snippet(message.content, query)}")
            item.setData(ID_ROLE, conversation.id)
            item.setData(MESSAGE_ROLE, message.id)
            self.list.addItem(item)

    def select(self, conversation_id: int | None) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == conversation_id:
                self.list.setCurrentItem(item)
                return

    def count(self) -> int:
        """Conversations (or search results) listed, headings not counted."""
        return len(self.items())

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(r) for r in range(self.list.count()) if self.list.item(r).data(ID_ROLE) is not None]

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item else None

    def _emit_current(self, signal) -> None:
        conversation_id = self.current_id()
        if conversation_id is not None:
            signal.emit(conversation_id)

    def _activated(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(ID_ROLE)
        if conversation_id is None:
            return
        message_id = item.data(MESSAGE_ROLE)
        if message_id is not None:  # a search hit: show the branch it is on
            self.hit_requested.emit(conversation_id, message_id)
        else:
            self.open_requested.emit(conversation_id)

    def _menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None or item.data(ID_ROLE) is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_requested.emit(item.data(ID_ROLE)))
        menu.addAction("Delete", lambda: self.delete_requested.emit(item.data(ID_ROLE)))
        menu.exec(self.list.mapToGlobal(position))


def date_group(day: date, today: date) -> str:
    age = (today - day).days
    if age <= 0:
        return "Today"
    if age == 1:
        return "Yesterday"
    if age < 7:
        return "Previous 7 days"
    if age < 30:
        return "Previous 30 days"
    return day.strftime("%B %Y")


def _snippet(text: str, query: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    first = query.split()[0].lower() if query.split() else ""
    at = flat.lower().find(first)
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = flat[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")
