"""The model picker above the chat: installed chat models, and the loading state of the chosen one.

Signals: ``chosen(InstalledModel)`` when the user picks another model.
``set_state`` shows what the conversation service reports (loading, ready, failed).
"""

from __future__ import annotations

from app.library.registry import InstalledModel
from app.ui.qt import QComboBox, QHBoxLayout, QLabel, Qt, QWidget, Signal, tip


class ModelPicker(QWidget):
    chosen = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.models: list[InstalledModel] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setAccessibleName("Model")
        self.combo.setToolTip("The model that answers")
        # Long model names shrink with the window instead of widening it (the settings panel beside
        # the chat pushed it past an 800-pixel screen).
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.activated.connect(self._activated)
        label = QLabel("M&odel:")  # Alt+M opens the Models menu
        label.setBuddy(self.combo)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        self.state = QLabel("Loading…")
        self.state.setTextFormat(Qt.PlainText)  # file names and engine messages are not markup
        self.state.setAccessibleName("Model status")
        layout.addWidget(self.state)

    def show_models(self, models: list[InstalledModel], current: InstalledModel) -> None:
        self.models = [m for m in models if m.problem is None and not (m.info and m.info.is_embedding_model)]
        self.combo.clear()
        for m in self.models:
            label = m.id
            if m.info:
                label += f"  ({m.info.size_label}, {m.info.quantization})"
            if m.is_starter:
                label += "  · starter demo"
            if getattr(m, "source", "") == "remote":
                label += f"  · remote ({m.engine})"
            self.combo.addItem(label, m.id)
        if self.combo.findData(current.id) < 0 and getattr(current, "source", "") == "remote":
            self.models.append(current)  # its server did not answer: keep the choice visible
            self.combo.addItem(f"{current.id}  · remote ({current.engine}, not answering)", current.id)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current.id)))

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def set_backend(self, backend: str, gpu_layers: int) -> None:
        """Say in the tooltip what the loaded model runs on (CPU, CUDA, Metal, or a team's server)."""
        if not backend:
            where = "a remote server"
        elif backend == "CPU":
            where = "the CPU (this llama.cpp is a CPU build; README: GPU builds)"
        else:
            where = f"{backend}, {'all' if gpu_layers < 0 else gpu_layers} layers on the GPU"
        text = f"The model that answers. Runs on {where}."
        self.combo.setToolTip(tip(text))
        self.state.setToolTip(tip(text))

    def _activated(self, index: int) -> None:
        if 0 <= index < len(self.models):
            self.chosen.emit(self.models[index])
