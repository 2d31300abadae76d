"""The local engine: llama.cpp in Hearth's worker process, behind the ``ChatEngine`` interface.

A thin adapter over ``client.Engine`` (which owns the process and its
protocol): it turns a ``ModelTarget`` into the worker's load request and
restarts a crashed worker on the next load.
"""

from __future__ import annotations

from app.engine.base import ChatEngine, LoadedModel, ModelTarget
from app.engine.client import ChatStream, Engine
from app.engine.gpu import backend_name
from app.engine.params import load_request


class LocalEngine(ChatEngine):
    def __init__(self, engine: Engine | None = None):
        self.worker = engine or Engine()
        self._model_id: str | None = None

    @property
    def loaded_model_id(self) -> str | None:
        return self._model_id if self.worker.alive and self.worker.loaded is not None else None

    def unload(self) -> None:
        self.worker.unload()
        self._model_id = None

    def _request(self, target: ModelTarget):
        return load_request(str(target.path), target.effective_settings())

    def is_loaded(self, target: ModelTarget) -> bool:
        return self.worker.is_loaded(self._request(target))

    def ensure_loaded(self, target: ModelTarget, on_progress=None) -> LoadedModel:
        loaded = self.worker.ensure_loaded(self._request(target), on_progress=on_progress)
        self._model_id = target.model_id
        ready = self.worker.ready
        backend = backend_name(ready.system_info, ready.gpu_offload) if ready else ""
        return LoadedModel(target.model_id, loaded.n_ctx, loaded.n_gpu_layers, backend)

    def chat(self, messages: list[dict], **sampling) -> ChatStream:
        return self.worker.chat(messages, **sampling)

    @property
    def pid(self) -> int | None:
        return self.worker.pid

    def close(self) -> None:
        self.worker.close()
