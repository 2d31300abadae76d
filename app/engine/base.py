"""The interface every engine offers the conversation service: load a model, stream a reply, stop it.

The service never knows where tokens come from. Today there is the local
llama.cpp worker (``app/engine/local.py``) and a scripted engine for tests and
benchmarks (``app/engine/scripted.py``); an OpenAI-compatible remote endpoint
is the next implementation, and needs nothing from the service but this.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from app.config import Settings
from app.engine.protocol import ReplyStats
from app.errors import HearthError

# What went wrong, for callers that react differently (restart hint, settings hint, retry).
LOAD = "load"          # the model could not be loaded (bad file, out of memory, unknown architecture)
CRASH = "crash"        # the engine process died or the connection to it broke mid-reply
REQUEST = "request"    # the engine refused or failed this one request
CONTEXT = "context"    # the prompt does not fit the context, and dropping part of it was not allowed


# Settings that shape a loaded model: changing one means loading it again.
LOAD_SETTINGS = ("context_length", "gpu_layers", "threads", "batch_threads", "batch_size", "flash_attention",
                 "prompt_lookup")


class EngineError(HearthError):
    """The engine could not do what was asked; the message says why, ``kind`` says what kind of failure."""

    kind = REQUEST

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class WorkerCrashed(EngineError):
    """The engine's process died; a new one starts on the next request."""

    kind = CRASH


@dataclass(frozen=True)
class ModelTarget:
    """What to load: a model id, its file for a local engine, and a settings snapshot.

    ``context_length`` is the conversation's own context length, when it has one;
    it overrides the snapshot's default.
    """

    model_id: str
    path: str | None
    settings: Settings
    context_length: int | None = None

    def load_key(self) -> tuple:
        """What decides whether a loaded model can serve this target as it is."""
        settings = self.effective_settings()
        return (self.model_id, self.path, *(getattr(settings, name) for name in LOAD_SETTINGS))

    def effective_settings(self) -> Settings:
        if not self.context_length:
            return self.settings
        settings = self.settings.copy()
        settings.set("context_length", self.context_length)
        return settings


@dataclass(frozen=True)
class LoadedModel:
    model_id: str
    n_ctx: int  # the context actually allocated (may be below what was asked: the model's training length)
    gpu_layers: int = 0
    backend: str = ""  # "CPU", "CUDA", "Metal"…: what the engine runs on, for the picker's tooltip


class ReplyStream(Protocol):
    """One reply: iterate for text pieces; ``text`` and ``stats`` are complete after iteration.

    A failure raises ``EngineError`` (``WorkerCrashed`` when the engine died) with
    ``text`` keeping what had arrived and ``stats.stop_reason`` set to "error".
    """

    text: str
    stats: ReplyStats | None

    def __iter__(self) -> Iterator[str]: ...

    def cancel(self) -> None: ...


class ChatEngine(ABC):
    """An engine as the conversation service sees it. Calls come from one thread at a time,
    except ``ReplyStream.cancel``, which may come from any thread."""

    @abstractmethod
    def is_loaded(self, target: ModelTarget) -> bool: ...

    @abstractmethod
    def ensure_loaded(self, target: ModelTarget,
                      on_progress: Callable[[float], None] | None = None) -> LoadedModel:
        """Load unless this model with these settings is loaded already; raises ``EngineError``."""

    @abstractmethod
    def chat(self, messages: list[dict], **sampling) -> ReplyStream: ...

    @abstractmethod
    def close(self) -> None: ...

    def unload(self) -> None:
        """Free the loaded model; the next ``ensure_loaded`` loads it again."""

    @property
    def loaded_model_id(self) -> str | None:
        return None
