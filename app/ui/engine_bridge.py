"""The engine, driven from a thread of its own so the GUI thread never waits on it.

``EngineBridge`` lives in a ``QThread``; the window calls its slots through
queued signals and hears back through its signals:
``loaded(str)``, ``token(str)``, ``finished(dict)`` (the reply's stats) and
``failed(str)`` (a readable message). ``cancel()`` is safe to call from the
GUI thread directly: it only writes one line to the worker's pipe.
"""

from __future__ import annotations

from dataclasses import asdict

from app.engine.client import Engine, EngineError
from app.engine.protocol import LoadModel
from app.ui.qt import QObject, Signal, Slot


class EngineBridge(QObject):
    loaded = Signal(str)
    token = Signal(str)
    finished = Signal(dict)
    failed = Signal(str)

    def __init__(self):
        super().__init__()
        self.engine = Engine()
        self._stream = None

    @Slot(object)
    def load(self, request: LoadModel) -> None:
        try:
            info = self.engine.ensure_loaded(request)
        except EngineError as exc:
            self.failed.emit(str(exc))
            return
        self.loaded.emit(info.path)

    @Slot(list, dict)
    def chat(self, messages: list, options: dict) -> None:
        try:
            self._stream = stream = self.engine.chat(messages, **options)
            for piece in stream:
                self.token.emit(piece)
        except EngineError as exc:
            self.failed.emit(str(exc))
            stats = getattr(self._stream, "stats", None)
            self.finished.emit(asdict(stats) if stats else {"stop_reason": "error"})
            return
        finally:
            self._stream = None
        self.finished.emit(asdict(stream.stats))

    def cancel(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.cancel()

    @Slot()
    def shutdown(self) -> None:
        self.engine.close()
