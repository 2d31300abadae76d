"""The Documents button above the chat: which collections this conversation answers from.

The choice belongs to the conversation (saved in its settings); the button
only shows it. Signals: ``toggled(str name, bool on)``, ``manage_requested()``.
"""

from __future__ import annotations

from app.ui import icons
from app.ui.qt import QMenu, Qt, QToolButton, Signal


class DocsPicker(QToolButton):
    toggled_collection = Signal(str, bool)
    manage_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setText("Documents")
        self.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        icons.set_icon(self, "documents")
        self.setAccessibleName("Use documents")
        self.setToolTip("Answer from your document collections, with citations")
        self.setPopupMode(QToolButton.InstantPopup)
        # The menu arrow sits in the padding, apart from the text (by default it touched it).
        self.setStyleSheet("QToolButton { padding: 3px 20px 3px 8px; } "
                           "QToolButton::menu-indicator { subcontrol-position: right center; right: 6px; }")
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self.names: list[str] = []
        self.chosen: list[str] = []

    def show_names(self, names: list[str]) -> None:
        """The collections that exist (they change as the user adds and removes them)."""
        self.names = names
        self.show_chosen(self.chosen)

    def show_chosen(self, chosen: list[str]) -> None:
        """The current conversation's collections."""
        self.chosen = chosen = [c for c in chosen if c in self.names]
        names = self.names
        self.menu_.clear()
        if not names:
            self.menu_.addAction("No collections yet: Documents → Collections…", self.manage_requested.emit)
        for name in names:
            action = self.menu_.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in chosen)
            action.toggled.connect(lambda on, n=name: self.toggled_collection.emit(n, on))
        self.setText(f"Documents: {', '.join(chosen)}" if chosen else "Documents")
