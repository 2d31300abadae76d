"""Every Qt import goes through here: one place for version workarounds."""

from PySide6.QtCore import QFileSystemWatcher, QMimeData, QObject, QPoint, QSize, Qt, QThread, QTimer, QUrl, Signal, Slot  # noqa: F401
from PySide6.QtGui import (  # noqa: F401
    QAction, QDesktopServices, QDropEvent, QFont, QFontDatabase, QGuiApplication, QIcon, QKeySequence, QPalette,
    QShortcut,
    QTextCursor, QTextOption,
)
from PySide6.QtWidgets import (  # noqa: F401
    QAbstractItemView, QApplication, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
    QFileDialog, QFormLayout, QFrame, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QMainWindow, QMenu, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QScrollArea,
    QSizePolicy, QSpinBox, QSplitter, QStatusBar, QTableWidget, QTableWidgetItem, QTabWidget, QTextBrowser,
    QToolButton, QVBoxLayout, QWidget,
)
