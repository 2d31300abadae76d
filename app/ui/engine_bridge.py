"""The engine, driven from a thread of its own so the GUI thread never waits on it.

``EngineBridge`` lives in a ``QThread``; the window calls its slots through
queued signals and hears back through its signals: ``loading(str path)``,
``load_progress(float)`` (0..1), ``loaded(str path)``, ``load_failed(str)``, ``token(str)``, ``failed(str)``
(a readable message about the reply) and ``finished(dict)`` (the reply's
stats, always emitted last, also after a failure). ``cancel()`` is safe to
call from the GUI thread: it only writes one line to the worker's pipe.
"""

from __future__ import annotations

from dataclasses import asdict

from app.engine.client import Engine, EngineError
from app.engine.protocol import LoadModel
from app.ui.qt import QObject, Signal, Slot


class EngineBridge(QObject):
    loading = Signal(str)
    load_progress = Signal(float)
    loaded = Signal(str)
    load_failed = Signal(str)
    token = Signal(str)
    failed = Signal(str)
    finished = Signal(dict)

    def __init__(self):
        super().__init__()
        self.engine = Engine()
        self._stream = None

    @Slot(object)
    def load(self, request: LoadModel) -> None:
        if not self.engine.is_loaded(request):
            self.loading.emit(request.path)
        try:
            self.engine.ensure_loaded(request, on_progress=self.load_progress.emit)
        except EngineError as exc:
            self.load_failed.emit(str(exc))
            return
        self.loaded.emit(request.path)

    @Slot(list, dict)
    def chat(self, messages: list, options: dict) -> None:
        if self.engine.loaded is None:
            self.failed.emit(self.engine.crash_message or "no model is loaded")
            self.finished.emit({"stop_reason": "error"})
            return
        stream = None
        try:
            self._stream = stream = self.engine.chat(messages, **options)
            for piece in stream:
                self.token.emit(piece)
        except EngineError as exc:
            self.failed.emit(str(exc))
        finally:
            self._stream = None
        stats = stream.stats if stream is not None else None
        self.finished.emit(asdict(stats) if stats else {"stop_reason": "error"})

    def cancel(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.cancel()

    @Slot()
    def shutdown(self) -> None:
        self.engine.close()
