"""Per-conversation settings: preset, system prompt, sampling, context length.

Signals: ``changed(dict)`` with the conversation's full settings after any
edit; ``save_preset_requested(str name, dict settings)``.
"""

from __future__ import annotations

from app.chats import presets as preset_data
from app.config import setting
from app.ui.qt import (
    QComboBox, QDoubleSpinBox, QFormLayout, QInputDialog, QLabel, QPlainTextEdit, QPushButton, QSpinBox,
    QVBoxLayout, QWidget, Qt, Signal,
)


class ConversationSettings(QWidget):
    changed = Signal(dict)
    save_preset_requested = Signal(str, dict)

    def __init__(self, defaults):
        super().__init__()
        self._defaults = defaults
        self._loading = False
        layout = QVBoxLayout(self)
        title = QLabel("<b>Conversation settings</b>", textFormat=Qt.RichText)
        layout.addWidget(title)
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.setAccessibleName("Preset")
        form.addRow("&Preset", self.preset)
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setTabChangesFocus(True)
        form.addRow("&System prompt", self.system_prompt)
        self.temperature = self._spin(form, QDoubleSpinBox(), "temperature", 0.05, "&Temperature")
        self.top_p = self._spin(form, QDoubleSpinBox(), "top_p", 0.05, "Top-&p")
        self.top_k = self._spin(form, QSpinBox(), "top_k", 5, "Top-&k")
        self.min_p = self._spin(form, QDoubleSpinBox(), "min_p", 0.01, "M&in-p")
        self.repeat_penalty = self._spin(form, QDoubleSpinBox(), "repeat_penalty", 0.05, "Repeat pe&nalty")
        self.max_tokens = self._spin(form, QSpinBox(), "max_tokens", 64, "Max reply &tokens")
        self.context_length = self._spin(form, QSpinBox(), "context_length", 512, "&Context length")
        layout.addLayout(form)
        self.save_preset = QPushButton("Save as preset…")
        self.save_preset.setAccessibleName("Save as preset")
        self.save_preset.clicked.connect(self._ask_preset_name)
        layout.addWidget(self.save_preset)
        layout.addStretch(1)
        self.preset.activated.connect(self._preset_chosen)
        self.system_prompt.textChanged.connect(self._emit)
        for box in (self.temperature, self.top_p, self.top_k, self.min_p, self.repeat_penalty, self.max_tokens,
                    self.context_length):
            box.valueChanged.connect(self._emit)
        self.reload_presets()

    @staticmethod
    def _spin(form, box, name: str, step, mnemonic: str):
        """A number box with the schema's range and label: the panel accepts exactly what settings accept."""
        schema = setting(name)
        low, high = schema.bounds
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setAccessibleName(schema.label)
        box.setToolTip(schema.description)
        form.addRow(mnemonic, box)
        return box

    def reload_presets(self, select: str | None = None) -> None:
        current = select or self.preset.currentText()
        self.preset.blockSignals(True)
        self.preset.clear()
        self._presets = preset_data.all_presets()
        for p in self._presets:
            self.preset.addItem(p["name"] + ("" if p["builtin"] else " (mine)"), p["name"])
        index = self.preset.findData(current)
        self.preset.setCurrentIndex(max(0, index))
        self.preset.blockSignals(False)

    def load(self, settings: dict) -> None:
        """Show a conversation's settings without emitting ``changed``."""
        self._loading = True
        d = self._defaults
        index = self.preset.findData(settings.get("preset", ""))
        self.preset.setCurrentIndex(index if index >= 0 else 0)
        self.system_prompt.setPlainText(settings.get("system_prompt", ""))
        self.temperature.setValue(settings.get("temperature", d.temperature))
        self.top_p.setValue(settings.get("top_p", d.top_p))
        self.top_k.setValue(settings.get("top_k", d.top_k))
        self.min_p.setValue(settings.get("min_p", d.min_p))
        self.repeat_penalty.setValue(settings.get("repeat_penalty", d.repeat_penalty))
        self.max_tokens.setValue(settings.get("max_tokens", d.max_tokens))
        self.context_length.setValue(settings.get("context_length", d.context_length))
        self._loading = False

    def values(self) -> dict:
        # The finer sampling settings are saved with the conversation only when changed here:
        # untouched, the conversation follows the app's defaults (as one started from the CLI does).
        d = self._defaults
        finer = {name: value for name, value, default in (
            ("top_k", self.top_k.value(), d.top_k), ("min_p", round(self.min_p.value(), 3), d.min_p),
            ("repeat_penalty", round(self.repeat_penalty.value(), 3), d.repeat_penalty)) if value != default}
        return finer | {
            "preset": self.preset.currentData(),
            "system_prompt": self.system_prompt.toPlainText(),
            "temperature": round(self.temperature.value(), 3),
            "top_p": round(self.top_p.value(), 3),

            "max_tokens": self.max_tokens.value(),
            "context_length": self.context_length.value(),
        }

    def _emit(self, *_):
        if not self._loading:
            self.changed.emit(self.values())

    def _preset_chosen(self, index: int) -> None:
        preset = self._presets[index]
        merged = dict(self.values(), **preset_data.settings_from_preset(preset))
        self.load(merged)
        self.changed.emit(self.values())

    def _ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if ok and name.strip():
            self.save_preset_requested.emit(name.strip(), self.values())
