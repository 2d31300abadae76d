"""One engine for the conversation service, many underneath: the local worker and each remote server.

A model id ``NAME:MODEL`` whose NAME is a configured remote engine goes to that
server; anything else to the local engine. ``chat`` goes to the engine of the
last ``ensure_loaded``, which the service always calls first in a turn.
"""

from __future__ import annotations

from typing import Callable

from app.engine.base import ChatEngine, LoadedModel, ModelTarget
from app.engine.remote import RemoteEngine, split_model_id
from app.engine.remotes import RemoteConfig, load_all


class EngineRouter(ChatEngine):
    def __init__(self, local: ChatEngine, remotes: Callable[[], list[RemoteConfig]] = load_all):
        self.local = local
        self._remotes = remotes
        self._engines: dict[str, RemoteEngine] = {}
        self.current: ChatEngine = local

    def engine_for(self, model_id: str) -> ChatEngine:
        parts = split_model_id(model_id)
        if parts is None:
            return self.local
        config = next((c for c in self._remotes() if c.name == parts[0]), None)
        if config is None:
            return self.local
        engine = self._engines.get(config.name)
        if engine is None or engine.config != config:  # added again with another address or options
            if engine is not None:
                engine.close()
            engine = self._engines[config.name] = RemoteEngine(config)
        return engine

    def is_loaded(self, target: ModelTarget) -> bool:
        return self.engine_for(target.model_id).is_loaded(target)

    def ensure_loaded(self, target: ModelTarget, on_progress=None) -> LoadedModel:
        engine = self.engine_for(target.model_id)
        loaded = engine.ensure_loaded(target, on_progress)
        self.current = engine
        return loaded

    def chat(self, messages: list[dict], **sampling):
        return self.current.chat(messages, **sampling)

    def unload(self) -> None:
        self.current.unload()

    @property
    def loaded_model_id(self) -> str | None:
        return self.current.loaded_model_id

    @property
    def pid(self) -> int | None:
        return getattr(self.local, "pid", None)

    def close(self) -> None:
        self.local.close()
        for engine in self._engines.values():
            engine.close()


def remote_models(offline: bool) -> tuple[list, list[str]]:
    """Every configured server's models, for a model picker; and one line per server that did not answer.
    In offline mode only servers on this machine or the user's own network are asked."""
    from app.engine.base import EngineError
    from app.engine.remote import RemoteEngine, RemoteModel

    models, problems = [], []
    for config in load_all():
        if offline and not config.allowed_offline():
            continue
        engine = RemoteEngine(config)
        try:
            for name, context in engine.models().items():
                models.append(RemoteModel(config.name, name, context))
        except EngineError as exc:
            problems.append(str(exc))
        finally:
            engine.close()
    return models, problems
