"""The API server beside the window: start and stop it, its address and key, an example, and a
live log of the requests it served.

``ServerControl`` belongs to the main window (the server runs while the
dialog is closed); its requests go through the window's conversation service
on the model lane, so the server and the chat share one loaded model.
"""

from __future__ import annotations

import time

from app.server import config as server_config
from app.server.backend import LogEntry
from app.ui.qt import (
    QApplication, QCheckBox, QDialog, QHBoxLayout, QLabel, QObject, QPlainTextEdit, QPushButton, Qt,
    QTableWidget, QTableWidgetItem, QVBoxLayout, Signal,
)
from app.ui.tasks import MODEL, NETWORK

LOG_COLUMNS = ("Time", "Client", "Endpoint", "Model", "Tokens in/out", "Seconds", "Status")
MAX_LOG_ROWS = 500


class ServerControl(QObject):
    """Signals: ``state_changed()`` (started, stopped, failed), ``served(LogEntry)``."""

    state_changed = Signal()
    served = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.runner = window.tasks.scope(self)
        self.server = None
        self.config: server_config.ServerConfig | None = None
        self.error = ""
        self.entries: list[LogEntry] = []
        self.served.connect(self._keep)

    def _keep(self, entry: LogEntry) -> None:
        self.entries = (self.entries + [entry])[-MAX_LOG_ROWS:]

    def start(self, lan: bool = False) -> None:
        from app.server.backend import Backend
        from app.server.run import ApiServer

        settings, service, tasks = self.window.settings.copy(), self.window.session.service, self.window.tasks

        def job():
            config = server_config.load()
            config.host = "0.0.0.0" if lan else "127.0.0.1"
            backend = Backend(service, settings, config, submit=lambda fn: tasks.submit(MODEL, fn),
                              on_log=self._from_server, shared=True)
            server = ApiServer(backend, config)
            server.start()
            return server

        self.error = ""
        self.runner.run(job, lane=NETWORK, on_done=self._started, on_error=self._failed)

    def _from_server(self, entry: LogEntry) -> None:  # on the server's thread
        try:
            self.served.emit(entry)
        except RuntimeError:  # the window is closing
            pass

    def _started(self, server) -> None:
        self.server, self.config = server, server.config
        self.state_changed.emit()

    def _failed(self, exc: Exception) -> None:
        self.error = str(exc)
        self.state_changed.emit()

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            self.runner.run(server.stop, lane=NETWORK, on_done=lambda _r: self.state_changed.emit())

    def rotate_key(self) -> None:
        def rotated(config):
            self.config = config
            if self.server is not None:
                self.server.config.key = config.key  # takes effect at once; old clients get 401
            self.state_changed.emit()

        self.runner.run(server_config.rotate_key, on_done=rotated)

    def load_config(self) -> None:
        def loaded(config) -> None:
            if self.server is None:  # a running server's own configuration is the one to show
                self.config = config
            self.state_changed.emit()

        self.runner.run(server_config.load, on_done=loaded)


class ServerWindow(QDialog):
    def __init__(self, control: ServerControl, parent=None):
        super().__init__(parent)
        self.control = control
        self.setWindowTitle("API server")
        self.resize(820, 560)
        layout = QVBoxLayout(self)
        intro = QLabel("Serve your models to coding tools (Continue, Aider, Cline, Zed, the openai SDK) through the "
                       "OpenAI and Anthropic APIs. Only this machine can connect, and every request needs the key.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.toggle = QPushButton("Start server")
        self.toggle.setAccessibleName("Start or stop the API server")
        self.toggle.clicked.connect(self._toggle)
        row.addWidget(self.toggle)
        self.lan = QCheckBox("Allow other machines on my network")
        self.lan.setAccessibleName("Serve on the local network")
        self.lan.setToolTip("Listens on every network interface: anyone on the network who has the key can use it")
        row.addWidget(self.lan)
        row.addStretch(1)
        layout.addLayout(row)
        self.state = QLabel()
        self.state.setTextFormat(Qt.PlainText)
        self.state.setWordWrap(True)
        self.state.setAccessibleName("Server status")
        layout.addWidget(self.state)
        keys = QHBoxLayout()
        self.key = QLabel()
        self.key.setTextFormat(Qt.PlainText)
        self.key.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.key.setAccessibleName("API key")
        keys.addWidget(self.key, 1)
        copy_key = QPushButton("Copy key")
        copy_key.setAccessibleName("Copy the API key")
        copy_key.clicked.connect(lambda: control.config and QApplication.clipboard().setText(control.config.key))
        keys.addWidget(copy_key)
        rotate = QPushButton("New key…")
        rotate.setAccessibleName("Make a new API key")
        rotate.clicked.connect(control.rotate_key)
        keys.addWidget(rotate)
        layout.addLayout(keys)
        self.example = QPlainTextEdit()
        self.example.setReadOnly(True)
        self.example.setAccessibleName("Example")
        self.example.setMaximumHeight(110)
        layout.addWidget(self.example)
        copy_example = QPushButton("Copy example")
        copy_example.setAccessibleName("Copy the example")
        copy_example.clicked.connect(lambda: QApplication.clipboard().setText(self.example.toPlainText()))
        layout.addWidget(copy_example, 0, Qt.AlignLeft)
        self.log = QTableWidget(0, len(LOG_COLUMNS))
        self.log.setHorizontalHeaderLabels(LOG_COLUMNS)
        self.log.setAccessibleName("Requests served")
        self.log.horizontalHeader().setStretchLastSection(True)
        self.log.verticalHeader().setVisible(False)
        layout.addWidget(self.log, 1)
        control.state_changed.connect(self.refresh)
        control.served.connect(self._add_row)
        for entry in control.entries:
            self._add_row(entry)
        control.load_config()
        self.refresh()

    def _toggle(self) -> None:
        if self.control.server is None:
            self.control.start(lan=self.lan.isChecked())
            self.state.setText("Starting…")
        else:
            self.control.stop()

    def refresh(self) -> None:
        control, server = self.control, self.control.server
        self.toggle.setText("Stop server" if server else "Start server")
        self.lan.setEnabled(server is None)
        if control.error:
            self.state.setText(f"Not running: {control.error}")
        elif server is not None:
            warning = "" if server.config.loopback else "  — reachable from your network: keep the key secret"
            self.state.setText(f"Running at {server.base_url}{warning}")
        else:
            self.state.setText("Stopped.")
        config = control.config
        self.key.setText(f"Key: {config.key}" if config else "Key: …")
        url = server.base_url if server else (config.base_url() if config else "http://127.0.0.1:4327/v1")
        key = config.key if config else "KEY"
        self.example.setPlainText(
            f'curl {url}/chat/completions -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{self.control.window.model.id}", "messages": [{{"role": "user", "content": "Hello"}}]}}\'\n\n'
            f'# Python: OpenAI(base_url="{url}", api_key="{key}")')

    def _add_row(self, entry: LogEntry) -> None:
        row = self.log.rowCount()
        if row >= MAX_LOG_ROWS:
            self.log.removeRow(0)
            row -= 1
        self.log.insertRow(row)
        values = (time.strftime("%H:%M:%S", time.localtime(entry.at)), entry.client, entry.endpoint, entry.model,
                  f"{entry.prompt_tokens}/{entry.completion_tokens}", f"{entry.seconds:.2f}", str(entry.status))
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setFlags(item.flags() & ~Qt.ItemIsEditable)
            self.log.setItem(row, column, item)
        self.log.resizeColumnsToContents()
        self.log.scrollToBottom()
