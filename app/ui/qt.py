"""Every Qt import goes through here: one place for version workarounds, and
for the rule that untrusted text is never read as rich text.

Qt guesses whether a label's, a tooltip's or a message box's text is HTML and,
when it is, loads every ``<img src>`` it names from disk: a model name or an
error holding ``<img src=/dev/zero>`` exhausted memory, and a named pipe hung
the window. So the ``QLabel`` and ``QMessageBox`` this module hands out are
plain text unless a caller asks for rich text (and then escapes what it
inserts), and tooltips go through :func:`tip`.
"""

import html as _html

from PySide6.QtCore import QByteArray, QEvent, QFileSystemWatcher, QMimeData, QObject, QPoint, QSize, Qt, QThread, QTimer, QUrl, Signal, Slot  # noqa: F401
from PySide6.QtGui import (  # noqa: F401
    QAction, QColor, QDesktopServices, QDropEvent, QFont, QFontDatabase, QGuiApplication, QIcon, QKeySequence, QPalette,
    QImage, QPainter, QPixmap, QShortcut, QTextCursor, QTextDocument, QTextOption,
)
from PySide6.QtWidgets import (  # noqa: F401
    QAbstractButton, QAbstractItemView, QApplication, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
    QFileDialog, QFormLayout, QFrame, QHBoxLayout, QInputDialog, QLineEdit, QListWidget,
    QListWidgetItem, QMainWindow, QMenu, QPlainTextEdit, QProgressBar, QPushButton, QScrollArea,
    QSizePolicy, QSpinBox, QSplitter, QStatusBar, QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser,
    QToolButton, QVBoxLayout, QWidget,
)
from PySide6 import QtWidgets as _widgets  # noqa: E402


class QLabel(_widgets.QLabel):
    """A label that shows its text as typed unless told ``textFormat=Qt.RichText``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("textFormat", Qt.PlainText)
        super().__init__(*args, **kwargs)


class QMessageBox(_widgets.QMessageBox):
    """Qt's static message boxes guess the format of their text; these never do."""

    @classmethod
    def _ask(cls, icon, parent, title: str, text: str, buttons, default):
        box = cls(icon, title, text, buttons, parent)
        box.setTextFormat(Qt.PlainText)
        if default is not None:
            box.setDefaultButton(default)
        return box.exec()

    @classmethod
    def question(cls, parent, title: str, text: str, *_):
        return cls._ask(cls.Question, parent, title, text, cls.Yes | cls.No, cls.No)

    @classmethod
    def information(cls, parent, title: str, text: str, *_):
        return cls._ask(cls.Information, parent, title, text, cls.Ok, None)

    @classmethod
    def warning(cls, parent, title: str, text: str, *_):
        return cls._ask(cls.Warning, parent, title, text, cls.Ok, None)

    @classmethod
    def critical(cls, parent, title: str, text: str, *_):
        return cls._ask(cls.Critical, parent, title, text, cls.Ok, None)


def tip(text: str) -> str:
    """A tooltip that shows ``text`` as typed (Qt renders any tooltip that looks like HTML)."""
    if not any(c in text for c in "<&"):
        return text
    return "<p style='white-space:pre-wrap'>" + _html.escape(text, quote=False) + "</p>"
