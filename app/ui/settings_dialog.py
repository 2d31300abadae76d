"""Application settings (Ctrl+,): how models are loaded and run, and privacy.

Shows the settings; the window applies ``values()`` in one ``Settings.update``,
whose ``changed`` notification saves them off the GUI thread and reloads the
model when a load setting changed. Ranges and names come from the schema.

The Privacy tab shows every network connection Hearth made or refused (the log
``app/netlog.py`` keeps in every process), read off the GUI thread by the
``load_log`` the window passes (rows of ``netlog.COLUMNS``), with the Offline switch above it.
"""

from __future__ import annotations

from app.config import Settings, setting
from app import netlog
from app.ui.qt import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel,
    QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget,
)


def _auto_box(settings: Settings, name: str, suggestions: range):
    """'auto' or a number: common values listed, any value in the schema's range typed."""
    schema = setting(name)
    box = QComboBox()
    box.setEditable(True)
    box.setAccessibleName(schema.label)
    box.setToolTip(f"{schema.description} (auto, or {schema.bounds[0]:g} to {schema.bounds[1]:g})")
    box.addItem("auto")
    for n in suggestions:
        box.addItem(str(n))
    box.setCurrentText(str(getattr(settings, name)))
    return box


def _spin(settings: Settings, name: str, step: int) -> QSpinBox:
    schema = setting(name)
    box = QSpinBox()
    box.setRange(*(int(b) for b in schema.bounds))
    box.setSingleStep(step)
    box.setValue(getattr(settings, name))
    box.setAccessibleName(schema.label)
    box.setToolTip(schema.description)
    return box


class SettingsDialog(QDialog):
    """``load_log(on_done)``: reads the network log off the GUI thread and hands its rows to ``on_done``."""

    def __init__(self, settings: Settings, parent=None, load_log=None):
        super().__init__(parent)
        self.setWindowTitle("Hearth settings")
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        engine_page = QWidget()
        self.tabs.addTab(engine_page, "&Engine")
        self.tabs.addTab(self._privacy_page(settings, load_log), "&Privacy")
        layout.addWidget(self.tabs)
        form = QFormLayout(engine_page)
        self.context = _spin(settings, "context_length", 1024)
        form.addRow("Default &context length", self.context)
        self.gpu_layers = _auto_box(settings, "gpu_layers", range(-1, 201))
        form.addRow("&GPU layers (auto, 0 = CPU, -1 = all)", self.gpu_layers)
        self.threads = _auto_box(settings, "threads", range(1, 65))
        form.addRow("Generation &threads", self.threads)
        self.batch_threads = _auto_box(settings, "batch_threads", range(1, 65))
        form.addRow("&Prompt threads", self.batch_threads)
        self.batch = _spin(settings, "batch_size", 128)
        form.addRow("&Batch size", self.batch)
        self.flash = QComboBox()
        self.flash.addItems(["auto", "on", "off"])
        self.flash.setAccessibleName(setting("flash_attention").label)
        self.flash.setCurrentText({True: "on", False: "off"}.get(settings.flash_attention, "auto"))
        form.addRow("&Flash attention", self.flash)
        self.lookup = QCheckBox(setting("prompt_lookup").label)
        self.lookup.setChecked(settings.prompt_lookup)
        self.lookup.setToolTip(setting("prompt_lookup").description)
        form.addRow(self.lookup)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _privacy_page(self, settings: Settings, load_log) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        self.offline = QCheckBox(setting("offline").label)
        self.offline.setChecked(settings.offline)
        self.offline.setAccessibleName("Offline mode")
        column.addWidget(self.offline)
        column.addWidget(QLabel("Offline refuses every network connection in every Hearth process (the app, "
                                "the model worker, document indexing), and notes the refusal below. Hearth "
                                "connects only when you search or download models, or use a team's server.",
                                wordWrap=True))
        column.addWidget(QLabel("Network connections Hearth made, newest first:"))
        self.network_log = QTableWidget(0, len(netlog.COLUMNS))
        self.network_log.setHorizontalHeaderLabels(list(netlog.COLUMNS))
        self.network_log.setAccessibleName("Network connections")
        self.network_log.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.network_log.verticalHeader().setVisible(False)
        self.network_log.horizontalHeader().setStretchLastSection(True)
        column.addWidget(self.network_log, 1)
        row = QHBoxLayout()
        self.log_state = QLabel()
        row.addWidget(self.log_state, 1)
        refresh = QPushButton("&Refresh")
        refresh.setAccessibleName("Refresh the connection list")
        row.addWidget(refresh)
        column.addLayout(row)
        self._load_log = load_log
        refresh.clicked.connect(self.refresh_log)
        self.refresh_log()
        return page

    def refresh_log(self) -> None:
        if self._load_log is None:
            return
        self.log_state.setText("Reading…")
        self._load_log(self._show_log)

    def _show_log(self, rows: list[tuple[str, ...]]) -> None:
        self.network_log.setRowCount(len(rows))
        for r, values in enumerate(reversed(rows)):
            for c, value in enumerate(values):
                self.network_log.setItem(r, c, QTableWidgetItem(value))
        self.network_log.resizeColumnsToContents()
        refused = sum(1 for values in rows if values[1] != "made")
        self.log_state.setText("None: Hearth has made no network connection." if not rows else
                               f"{len(rows)} logged" + (f", {refused} refused by offline mode" if refused else ""))

    def values(self) -> dict:
        def auto_or_int(text: str):
            text = text.strip()
            return "auto" if text == "auto" else int(text)

        return {
            "context_length": self.context.value(),
            "gpu_layers": auto_or_int(self.gpu_layers.currentText()),
            "threads": auto_or_int(self.threads.currentText()),
            "batch_threads": auto_or_int(self.batch_threads.currentText()),
            "batch_size": self.batch.value(),
            "flash_attention": {"on": True, "off": False}.get(self.flash.currentText(), "auto"),
            "prompt_lookup": self.lookup.isChecked(),
            "offline": self.offline.isChecked(),
        }
