"""A remote engine: a team's OpenAI-compatible server behind the ``ChatEngine`` interface.

Only the prompt travels, and only to the server the user configured; chats,
documents, indexes and the tally stay here. Streams ``/v1/chat/completions``
over httpx (already shipped with the Hub client) with connect and read
timeouts, one retry on a connection that cannot be made, ``Retry-After``
honoured once on 429/503, and cancellation that closes the stream. Every
failure is one readable line with a kind: the conversation service saves the
partial reply and marks it, as it does when the local worker dies.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass

from app import netlog
from app.engine import protocol as p
from app.engine.base import CRASH, LOAD, REQUEST, ChatEngine, EngineError, LoadedModel, ModelTarget
from app.engine.remotes import RemoteConfig, get_key

CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 30.0
MODELS_TTL_S = 30.0


@dataclass
class RemoteModel:
    """A model on a remote engine, shaped like an installed one where the app looks (id, path, info)."""

    engine: str
    name: str
    context_length: int | None = None
    path: None = None
    info: None = None
    problem: None = None
    is_starter: bool = False
    source: str = "remote"

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


def split_model_id(model_id: str) -> tuple[str, str] | None:
    engine, sep, name = model_id.partition(":")
    return (engine, name) if sep and engine and name else None


def _client(config: RemoteConfig):
    import httpx2 as httpx

    verify: ssl.SSLContext | bool = True
    if config.ca_file:
        verify = ssl.create_default_context(cafile=config.ca_file)  # the team's CA, never "verify nothing"
    key = get_key(config.name)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=config.base_url, headers=headers, verify=verify, trust_env=False,
                        timeout=httpx.Timeout(config.timeout_s, connect=CONNECT_TIMEOUT_S),
                        transport=httpx.HTTPTransport(retries=1, verify=verify, trust_env=False))


def describe_failure(config: RemoteConfig, exc: Exception) -> str:
    """A transport failure in one line the user can act on."""
    import httpx2 as httpx

    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(getattr(exc, "__cause__", None), ssl.SSLError):
        return (f"the TLS certificate of {config.name} ({config.host}) is not trusted: if your team runs its own "
                f"certificate authority, add its file with 'hearth engines add {config.name} URL --ca-file FILE'")
    if isinstance(exc, httpx.ConnectError):
        return f"cannot reach {config.name} at {config.base_url}: {text or 'connection refused'} (is the server up?)"
    if isinstance(exc, httpx.TimeoutException):
        return f"{config.name} did not answer in time ({type(exc).__name__})"
    return f"the connection to {config.name} broke: {type(exc).__name__}: {text}"


def _error_text(response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    if isinstance(error, str):
        return error[:300]
    return str(data.get("detail", data))[:300] if isinstance(data, dict) else str(data)[:300]


def check_status(config: RemoteConfig, response, model: str | None = None) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = _error_text(response)
    if status in (401, 403):
        raise EngineError(f"{config.name} refused the API key ({status}): check it with 'hearth engines add "
                          f"{config.name} URL --key-file FILE'", LOAD)
    if status == 404:
        raise EngineError(f"{config.name} has no model {model!r} ({status}: {detail})" if model else
                          f"{config.name}: not found ({status}: {detail})", LOAD)
    if status in (429, 503):
        raise EngineError(f"{config.name} is overloaded ({status}: {detail}); try again shortly", REQUEST)
    raise EngineError(f"{config.name} answered {status}: {detail}", REQUEST)


class RemoteStream:
    def __init__(self, engine: "RemoteEngine", body: dict):
        self._engine = engine
        self._body = body
        self._cancelled = threading.Event()
        self._response = None
        self._lock = threading.Lock()
        self.text = ""
        self.stats: p.ReplyStats | None = None

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            response = self._response
        if response is not None:
            try:
                response.close()  # ends the read at once; the server sees the client leave
            except Exception:
                pass

    def _open(self):
        """POST the request, honouring one Retry-After on 429/503."""
        engine, config = self._engine, self._engine.config
        for attempt in (1, 2):
            request = engine.client.build_request("POST", "/chat/completions", json=self._body)
            with netlog.purpose(f"remote engine {config.name}: chat"):
                response = engine.client.send(request, stream=True)
            if response.status_code in (429, 503) and attempt == 1:
                wait = response.headers.get("retry-after", "1")
                response.close()
                try:
                    delay = min(float(wait), MAX_RETRY_AFTER_S)
                except ValueError:
                    delay = 1.0
                if self._cancelled.wait(max(0.0, delay)):
                    return None
                continue
            if response.status_code >= 400:
                response.read()
                response.close()
                check_status(config, response, self._body.get("model"))
            return response
        return None

    def __iter__(self):
        import httpx2 as httpx

        config = self._engine.config
        started = time.perf_counter()
        stats = self.stats = p.ReplyStats(stop_reason=p.STOP_ERROR, remote=True)
        first = None
        count = 0
        finish = None
        usage = None
        try:
            response = self._open()
            with self._lock:
                self._response = response
            if response is None or self._cancelled.is_set():
                stats.stop_reason = p.STOP_CANCELLED
                return
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise EngineError(f"{config.name} sent something that is not an OpenAI stream: {data[:120]!r}")
                if not isinstance(chunk, dict):
                    raise EngineError(f"{config.name} sent an unexpected chunk: {data[:120]!r}")
                if "error" in chunk:
                    raise EngineError(f"{config.name} failed mid-reply: {str(chunk['error'])[:200]}", CRASH)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    if piece:
                        now = time.perf_counter()
                        first = first or now
                        count += 1
                        self.text += piece
                        yield piece
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            if finish is None and not self._cancelled.is_set():
                raise EngineError(f"the stream from {config.name} ended without finishing the reply", CRASH)
            stats.stop_reason = {"length": p.STOP_LENGTH}.get(finish, p.STOP_END)
        except EngineError:
            raise
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            if self._cancelled.is_set():
                stats.stop_reason = p.STOP_CANCELLED
            else:
                raise EngineError(describe_failure(config, exc) + " mid-reply", CRASH) from None
        finally:
            if self._cancelled.is_set():
                stats.stop_reason = p.STOP_CANCELLED
            with self._lock:
                if self._response is not None:
                    self._response.close()
                self._response = None
            end = time.perf_counter()
            completion = int((usage or {}).get("completion_tokens") or count)
            stats.prompt_tokens = int((usage or {}).get("prompt_tokens") or 0)
            stats.completion_tokens = completion
            stats.ttft_ms = ((first or end) - started) * 1000
            stats.total_ms = (end - started) * 1000
            if first is not None and completion > 1 and end > first:
                stats.tokens_per_s = (completion - 1) / (end - first)


class RemoteEngine(ChatEngine):
    """One configured server; any of its models."""

    def __init__(self, config: RemoteConfig):
        self.config = config
        self.client = _client(config)
        self.model: str | None = None
        self._models: tuple[float, dict] | None = None

    def models(self) -> dict[str, int | None]:
        """The server's models and their context length where it says (vLLM, llama.cpp, Hearth do)."""
        import httpx2 as httpx

        cached = self._models
        if cached is not None and time.monotonic() - cached[0] < MODELS_TTL_S:
            return cached[1]
        try:
            with netlog.purpose(f"remote engine {self.config.name}: model list"):
                response = self.client.get("/models", timeout=CONNECT_TIMEOUT_S + 5)
        except httpx.HTTPError as exc:
            raise EngineError(describe_failure(self.config, exc), LOAD) from None
        check_status(self.config, response)
        try:
            rows = response.json()["data"]
            found = {}
            for row in rows:
                meta = row.get("meta") or {}
                found[str(row["id"])] = row.get("max_model_len") or row.get("context_length") or \
                    meta.get("n_ctx_train") or None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EngineError(f"{self.config.name} answered /v1/models with something unexpected", LOAD) from None
        self._models = (time.monotonic(), found)
        return found

    def _check_offline(self, target: ModelTarget) -> None:
        if target.settings.offline and not self.config.allowed_offline():
            raise EngineError(f"offline mode is on: {self.config.name} ({self.config.host}) is not on this machine; "
                              f"mark it as your own network ('hearth engines add {self.config.name} URL "
                              "--own-network') or turn offline mode off", LOAD)

    def is_loaded(self, target: ModelTarget) -> bool:
        parts = split_model_id(target.model_id)
        return parts is not None and self.model == parts[1] and not (
            target.settings.offline and not self.config.allowed_offline())

    def ensure_loaded(self, target: ModelTarget, on_progress=None) -> LoadedModel:
        """Nothing to load here: check the server answers and has the model."""
        self._check_offline(target)
        parts = split_model_id(target.model_id)
        name = parts[1] if parts else target.model_id
        models = self.models()
        if name not in models:
            self._models = None
            raise EngineError(f"{self.config.name} has no model {name!r}; it serves: "
                              f"{', '.join(sorted(models)) or 'nothing'}", LOAD)
        self.model = name
        if on_progress is not None:
            on_progress(1.0)
        wanted = target.effective_settings().context_length
        return LoadedModel(target.model_id, min(wanted, models[name]) if models[name] else wanted)

    def chat(self, messages: list[dict], **sampling) -> RemoteStream:
        if self.model is None:
            raise EngineError("no remote model chosen", LOAD)
        body = {"model": self.model, "messages": messages, "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": sampling.get("max_tokens", 1024), "temperature": sampling.get("temperature", 0.7),
                "top_p": sampling.get("top_p", 0.95)}
        for name in ("top_k", "min_p", "seed"):  # accepted by vLLM, llama.cpp and Ollama's OpenAI endpoint
            if sampling.get(name) is not None:
                body[name] = sampling[name]
        if sampling.get("stop"):
            body["stop"] = sampling["stop"]
        return RemoteStream(self, body)

    def unload(self) -> None:
        self.model = None

    @property
    def loaded_model_id(self) -> str | None:
        return f"{self.config.name}:{self.model}" if self.model else None

    def close(self) -> None:
        self.client.close()
