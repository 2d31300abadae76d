"""What the API server asks of Hearth: which models exist, and one generation at a time, in order.

llama.cpp runs one sequence per model, so requests wait in a fair line: the
conversation service runs them one by one on a single thread (the window's
model lane when the window is open, so its chat and the server share one
model; a thread of its own under ``hearth serve``). A request beyond the
line's bound is refused (429); a client that goes away cancels its request,
waiting or streaming. Tokens reach the event loop through
``call_soon_threadsafe``, each request on its own queue.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from app.chats import events as ev
from app.chats.service import ConversationService, TurnHandle
from app.config import Settings
from app.errors import HearthError
from app.server.config import ServerConfig

log = logging.getLogger(__name__)


class ApiError(HearthError):
    """An error with its HTTP status and OpenAI error type; the message is the client's to read."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.code, self.headers, self.param = status, kind, code, headers or {}, param


@dataclass
class LogEntry:
    """One served request, for the window's live log (no prompt text unless the user asked)."""

    at: float
    client: str
    endpoint: str
    model: str
    status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    prompt: str = ""


def _mtime(path) -> float:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


class Backend:
    def __init__(self, service: ConversationService, settings: Settings, config: ServerConfig,
                 submit: Callable[[Callable[[], object]], Future] | None = None,
                 on_log: Callable[[LogEntry], None] | None = None, shared: bool = False):
        self.service = service
        self.settings = settings  # a snapshot: the server never reads the window's live settings
        self.config = config
        self._own_pool = None
        if submit is None:
            self._own_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-serve")
            submit = self._own_pool.submit
        self._submit = submit
        self.on_log = on_log
        self.shared = shared  # the window's engine: never unloaded behind its back
        self.in_line = 0  # running + waiting
        self._line_lock = threading.Lock()
        self._last_used = time.monotonic()
        self._embedders: dict[str, object] = {}
        self._embed_lock = threading.Lock()
        self._idle_timer: threading.Timer | None = None
        self._installed: tuple | None = None

    # --- models ---------------------------------------------------------------------------
    def installed(self) -> list:
        """Installed models, read again only when the models folder or the registry changed (reading
        every header costs ~15 ms: too much to pay on each request's time to first token)."""
        from app import paths
        from app.library.registry import ModelRegistry

        stamp = tuple(_mtime(f) for f in (paths.models_dir(), paths.registry_file()))
        cached = self._installed
        if cached is not None and cached[0] == stamp:
            return cached[1]
        models = [m for m in ModelRegistry().models() if m.problem is None]
        self._installed = (stamp, models)
        return models

    def resolve(self, name) -> object:
        """An installed model by id or alias; never a file path a client names."""
        if not isinstance(name, str) or not name:
            raise ApiError(400, "'model' is required: one of GET /v1/models", param="model")
        wanted = self.config.aliases.get(name, name)
        models = self.installed()
        if wanted in ("default", "hearth"):
            wanted = self.settings.default_model or (models[0].id if models else "")
        for model in models:
            if model.id == wanted:
                return model
        raise ApiError(404, f"no model {name!r} here; GET /v1/models lists them", code="model_not_found",
                       param="model")

    def context_for(self, model) -> int:
        """Room for coding tools: the server's context (16k by default) where the model and memory allow."""
        # Beside the window, the app's own context length: the window's model serves both without reloading.
        wanted = self.settings.context_length if self.shared else \
            max(self.config.context_length, self.settings.context_length)
        trained = model.info.context_length if model.info and model.info.context_length else wanted
        return max(256, min(wanted, trained))

    def check_memory(self, model, n_ctx: int) -> None:
        """Refuse a model that cannot fit rather than let the machine swap or the worker die."""
        if self.service.engine_has(model.id) or model.info is None:
            return
        from app import hardware
        from app.gguf.header import human_bytes
        from app.library.fit import fit

        _total, available = hardware.memory_bytes()
        verdict = fit(model.info, n_ctx, available)
        if verdict.verdict == "won't fit":
            raise ApiError(400, f"{model.id} needs about {human_bytes(verdict.need_bytes)} of memory with a "
                                f"{n_ctx}-token context, but only {human_bytes(available)} is free",
                           kind="insufficient_memory", code="model_too_large")

    # --- generation -------------------------------------------------------------------------
    def _enter_line(self) -> None:
        with self._line_lock:
            if self.in_line > self.config.queue_limit:
                raise ApiError(429, f"{self.in_line} requests are already waiting for the model; try again shortly",
                               kind="rate_limit_error", code="queue_full", headers={"Retry-After": "2"})
            self.in_line += 1

    def _leave_line(self) -> None:
        with self._line_lock:
            self.in_line -= 1
        self._last_used = time.monotonic()
        self._schedule_unload()

    async def generate(self, model, messages: list[dict], options: dict, client: str,
                       on_token: Callable[[str], object] | None = None) -> ev.ReplyFinished:
        """Run one request in line; ``on_token`` (a coroutine function) gets each piece as it comes.

        Cancelled (client gone) while waiting or streaming, the request stops within one token."""
        n_ctx = self.context_for(model)
        self.check_memory(model, n_ctx)
        self._enter_line()
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        handle = TurnHandle()
        settings = self.settings.copy()

        def emit(event) -> None:
            if isinstance(event, ev.Token):
                loop.call_soon_threadsafe(events.put_nowait, event.text)

        def job():
            return self.service.complete(model, settings, messages, options, emit, source=f"api:{client}",
                                         handle=handle, context_length=n_ctx)

        future = asyncio.wrap_future(self._submit(job))
        future.add_done_callback(lambda _f: events.put_nowait(None))
        try:
            while True:
                piece = await events.get()
                if piece is None:
                    break
                if on_token is not None:
                    await on_token(piece)
            finished = await future
        except BaseException:  # the client went away (CancelledError) or a write failed
            handle.cancel()
            raise
        finally:
            self._leave_line()
        if finished.error:
            status = 400 if finished.error_kind == ev.CONTEXT else 500
            kind = "invalid_request_error" if status == 400 else "server_error"
            code = "context_length_exceeded" if finished.error_kind == ev.CONTEXT else finished.error_kind
            raise ApiError(status, finished.error, kind=kind, code=code)
        return finished

    def record(self, entry: LogEntry) -> None:
        log.info("%s %s %s -> %s (%d+%d tokens, %.2f s)", entry.client, entry.endpoint, entry.model, entry.status,
                 entry.prompt_tokens, entry.completion_tokens, entry.seconds)
        if self.on_log is not None:
            self.on_log(entry)

    # --- embeddings -------------------------------------------------------------------------
    def embed(self, model, texts: list[str]) -> list[list[float]]:
        """On a caller's worker thread: one embedding process per model, kept alive between requests."""
        from app.docs.indexer import embedding_threads
        from app.docs.workers import EmbedProcess

        with self._embed_lock:
            embedder = self._embedders.get(model.id)
            if embedder is None or embedder.proc is None:
                embedder = EmbedProcess(model.path, embedding_threads(),
                                        pool_mean=not (model.info and model.info.is_embedding_model))
                embedder.start()
                self._embedders[model.id] = embedder
            vectors = embedder.embed(texts)
        return [list(map(float, v)) for v in vectors]

    # --- idle unloading -----------------------------------------------------------------------
    def _schedule_unload(self) -> None:
        if self.shared or self.config.idle_unload_s <= 0:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(self.config.idle_unload_s, self._unload_if_idle)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _unload_if_idle(self) -> None:
        if self.in_line == 0 and time.monotonic() - self._last_used >= self.config.idle_unload_s - 0.5:
            self._submit(self.service.unload)
            log.info("unloaded the model after %d s idle", self.config.idle_unload_s)

    def close(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        for embedder in self._embedders.values():
            embedder.close()
        if self._own_pool is not None:
            self._own_pool.shutdown(wait=True)
