"""Settings → Remote engines: a team's servers, added, tested and removed from the window.

Every call (the engines file, the keyring, the server) runs off the GUI thread;
the key field never shows a stored key back.
"""

from __future__ import annotations

from app.engine import remotes
from app.errors import HearthError
from app.ui.qt import (
    QCheckBox, QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, Qt, QVBoxLayout,
)
from app.ui.tasks import NETWORK


class EnginesDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.runner = window.tasks.scope(self)
        self.setWindowTitle("Remote engines")
        self.resize(640, 460)
        layout = QVBoxLayout(self)
        intro = QLabel("Use your team's inference server (vLLM, llama.cpp's llama-server, Ollama, LM Studio, another "
                       "Hearth). Only the prompt is sent, and only to the servers listed here; chats, documents and "
                       "savings stay on this machine.", wordWrap=True)
        layout.addWidget(intro)
        self.list = QListWidget(accessibleName="Remote engines")
        layout.addWidget(self.list, 1)
        form = QFormLayout()
        self.name = QLineEdit(accessibleName="Engine name", placeholderText="team")
        self.url = QLineEdit(accessibleName="Base URL", placeholderText="http://gpu-box:8000/v1")
        self.key = QLineEdit(accessibleName="API key", echoMode=QLineEdit.Password,
                             placeholderText="kept in the system keyring, or a file only you can read")
        self.own = QCheckBox("This address is my own network (usable in offline mode)", accessibleName="Own network")
        form.addRow("&Name", self.name)
        form.addRow("&URL", self.url)
        form.addRow("API &key", self.key)
        form.addRow(self.own)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        for text, slot in (("Add or update", self.add), ("Test", self.test), ("Remove", self.remove)):
            button = QPushButton(text, accessibleName=f"{text} engine")
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.state = QLabel(textFormat=Qt.PlainText, wordWrap=True, accessibleName="Engine status")
        layout.addWidget(self.state)
        self.runner.failed.connect(self.state.setText)
        self.refresh()

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return item.text().split()[0] if item else (self.name.text().strip() or None)

    def refresh(self) -> None:
        self.runner.run(remotes.load_all, on_done=self._show)

    def _show(self, engines) -> None:
        self.list.clear()
        for e in engines:
            self.list.addItem(f"{e.name}   {e.base_url}" + ("   (own network)" if e.own_network else ""))
        if not engines:
            self.state.setText("No remote engines yet: fill in a name and a URL, then Add.")

    def add(self) -> None:
        name, url, key, own = self.name.text().strip(), self.url.text().strip(), self.key.text().strip(), \
            self.own.isChecked()
        self.runner.run(lambda: remotes.add(name, url, key or None, own_network=own), on_done=self._added)

    def _added(self, config) -> None:
        self.key.clear()
        self.state.setText(f"Added {config.name}. Its models appear in the model picker as {config.name}:MODEL.")
        self.refresh()
        self.window.refresh_models()

    def test(self) -> None:
        name = self.selected()
        if not name:
            return
        from app.engine.remote import RemoteEngine

        def job():
            config = remotes.find(name)
            if config is None:
                raise HearthError(f"no engine named {name!r}")
            engine = RemoteEngine(config)
            try:
                return name, engine.models()
            finally:
                engine.close()

        self.state.setText(f"Asking {name}…")
        self.runner.run(job, lane=NETWORK, on_done=lambda r: self.state.setText(
            f"{r[0]} answers; its models: {', '.join(r[1]) or 'none'}"))

    def remove(self) -> None:
        name = self.selected()
        if name:
            self.runner.run(remotes.remove, name, on_done=lambda _r: (self.refresh(), self.window.refresh_models(),
                                                                      self.state.setText(f"Removed {name}.")))
