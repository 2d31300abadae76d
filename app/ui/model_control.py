"""Which model answers: the picker's list (installed models, and the models of a team's servers),
the user's choice, importing a GGUF, and the notice about the starter or a remote model."""

from __future__ import annotations

from pathlib import Path

from app.engine.router import remote_models
from app.library.registry import InstalledModel, ModelRegistry
from app.ui import remote_ui
from app.ui.qt import QFileDialog, QObject
from app.ui.tasks import NETWORK

STARTER_NOTE = ("You are using the built-in starter model, a tiny 135M-parameter demo: it works offline, "
                "but its answers are poor. For real help, add a proper model: Models → Import GGUF file… "
                "uses one you already have; the model library downloads one.")


class ModelControl(QObject):
    def __init__(self, window, picker):
        super().__init__(window)
        self.window = window
        self.picker = picker
        self.runner = window.runner
        picker.chosen.connect(self.choose)

    def refresh(self) -> None:
        """The model list changed (a download, an import, a delete, an engine): show it in the picker."""
        window = self.window
        self.runner.run(lambda: ModelRegistry().models(), on_done=lambda models: self.picker.show_models(
            models, window.model))
        self.runner.run(remote_models, window.settings.offline, lane=NETWORK, on_done=self._remote_models)

    def _remote_models(self, found) -> None:
        models, problems = found
        local = [m for m in self.picker.models if not remote_ui.is_remote(m)]
        self.picker.show_models(local + models, self.window.model)
        if problems:
            self.window.statusBar().showMessage("; ".join(problems), 8000)

    def choose(self, chosen: InstalledModel) -> None:
        window = self.window
        if chosen.id == window.model.id:
            return
        window.model = chosen
        self.show_notice()
        window.settings.set("default_model", chosen.id)  # saved by the settings subscription
        window.load_model()

    def import_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.runner.run(lambda: ModelRegistry().import_model(Path(path)),
                            on_done=lambda m: (self.window.statusBar().showMessage(f"Imported {m.id}", 5000),
                                               self.refresh()))

    def show_notice(self) -> None:
        """The starter's limits, or where a remote model's messages go."""
        model, notice = self.window.model, self.window.notice
        notice.setText(remote_ui.notice(model) if remote_ui.is_remote(model) else STARTER_NOTE)
        notice.setVisible(model.is_starter or remote_ui.is_remote(model))
        welcome = getattr(self.window, "welcome", None)
        if welcome is not None:  # the way to a better model matters while the starter answers
            welcome.card.setVisible(bool(getattr(model, "is_starter", False)))
