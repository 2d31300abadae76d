"""Every Qt import goes through here: one place for version workarounds."""

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot  # noqa: F401
from PySide6.QtGui import QAction, QFont, QKeySequence, QTextCursor  # noqa: F401
from PySide6.QtWidgets import (  # noqa: F401
    QApplication, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPlainTextEdit, QPushButton,
    QStatusBar, QTextBrowser, QVBoxLayout, QWidget,
)
