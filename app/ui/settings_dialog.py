"""Application settings (Ctrl+,): how models are loaded and run.

Edits a copy; ``accepted`` values are applied by the window, which saves
them off the GUI thread and reloads the model when needed.
"""

from __future__ import annotations

from app.config import Settings
from app.ui.qt import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QVBoxLayout


def _auto_box(value, low: int, high: int, name: str):
    box = QComboBox()
    box.setEditable(True)
    box.setAccessibleName(name)
    box.addItem("auto")
    for n in range(low, high + 1):
        box.addItem(str(n))
    box.setCurrentText(str(value))
    return box


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Hearth settings")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.context = QSpinBox()
        self.context.setRange(256, 1 << 20)
        self.context.setSingleStep(1024)
        self.context.setValue(settings.context_length)
        self.context.setAccessibleName("Default context length")
        form.addRow("Default &context length", self.context)
        self.gpu_layers = _auto_box(settings.gpu_layers, -1, 200, "GPU layers")
        form.addRow("&GPU layers (auto, 0 = CPU, -1 = all)", self.gpu_layers)
        self.threads = _auto_box(settings.threads, 1, 64, "Generation threads")
        form.addRow("Generation &threads", self.threads)
        self.batch_threads = _auto_box(settings.batch_threads, 1, 64, "Prompt threads")
        form.addRow("&Prompt threads", self.batch_threads)
        self.batch = QSpinBox()
        self.batch.setRange(16, 8192)
        self.batch.setValue(settings.batch_size)
        self.batch.setAccessibleName("Batch size")
        form.addRow("&Batch size", self.batch)
        self.flash = QComboBox()
        self.flash.addItems(["auto", "on", "off"])
        self.flash.setAccessibleName("Flash attention")
        self.flash.setCurrentText({True: "on", False: "off"}.get(settings.flash_attention, "auto"))
        form.addRow("&Flash attention", self.flash)
        self.offline = QCheckBox("Offline mode: never use the network")
        self.offline.setChecked(settings.offline)
        self.offline.setAccessibleName("Offline mode")
        form.addRow(self.offline)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

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
            "offline": self.offline.isChecked(),
        }
