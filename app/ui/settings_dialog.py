"""Application settings (Ctrl+,): how models are loaded and run.

Shows the settings; the window applies ``values()`` in one ``Settings.update``,
whose ``changed`` notification saves them off the GUI thread and reloads the
model when a load setting changed. Ranges and names come from the schema.
"""

from __future__ import annotations

from app.config import Settings, setting
from app.ui.qt import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QVBoxLayout


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
    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Hearth settings")
        layout = QVBoxLayout(self)
        form = QFormLayout()
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
        self.offline = QCheckBox(setting("offline").label)
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
