"""The messages between Hearth and its inference worker, one JSON object a line.

Plain dataclasses so that every caller (CLI, GUI, tests, benchmark) speaks
the same typed vocabulary; JSON lines so a human can read a captured session
and so the worker needs nothing but a pipe. ``PROTOCOL_VERSION`` is checked
at start-up: a frozen app never talks to a worker from another build.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

PROTOCOL_VERSION = 2

# Why a reply stopped.
STOP_END = "end_of_turn"
STOP_LENGTH = "length"
STOP_CANCELLED = "cancelled"
STOP_ERROR = "error"


# --- requests: client -> worker -------------------------------------------

@dataclass
class LoadModel:
    path: str
    n_ctx: int = 4096
    n_gpu_layers: int | str = "auto"
    n_threads: int = 1
    n_threads_batch: int = 1
    n_batch: int = 512
    flash_attn: bool | str = "auto"
    # A user-supplied Jinja chat template that replaces the model's own.
    chat_template: str | None = None
    # Draft tokens from earlier text in the context (decoding.py): faster where replies repeat it.
    prompt_lookup: bool = True
    # n_threads is the most; the count per token follows the machine's load (threads.py).
    adaptive_threads: bool = False


@dataclass
class Chat:
    id: str
    messages: list[dict]
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    # Constrained output: {"json": True} (any JSON object), {"json_schema": {...}} or {"gbnf": "..."}.
    grammar: dict | None = None
    # OpenAI-style tool definitions, given to the chat template (or described in the system prompt).
    tools: list[dict] | None = None
    # A raw prompt for text completion: no chat template, ``messages`` ignored.
    prompt: str | None = None
    # Drop the oldest turns when the conversation outgrows the context (the app's chat). False:
    # refuse with an Error of kind "context" that names both numbers (the API server, unless asked).
    truncate: bool = True
    # The last message is the assistant's unfinished reply: write on from its last word
    # (Continue after the length limit) instead of starting a new turn.
    continue_last: bool = False


@dataclass
class Cancel:
    id: str


@dataclass
class GetStats:
    pass


@dataclass
class Unload:
    pass


@dataclass
class Shutdown:
    pass


# --- events: worker -> client ---------------------------------------------

@dataclass
class Ready:
    protocol: int
    pid: int
    llama_cpp_version: str
    gpu_offload: bool
    system_info: str = ""


@dataclass
class Loaded:
    path: str
    n_ctx: int
    n_ctx_train: int
    n_layers: int
    n_gpu_layers: int
    load_ms: float
    chat_template: str  # "model", "override" or "fallback"
    n_threads: int
    n_threads_batch: int


@dataclass
class LoadProgress:
    fraction: float  # 0..1 of the weights read


@dataclass
class Token:
    id: str
    text: str


@dataclass
class ReplyStats:
    prompt_tokens: int = 0
    # Prompt tokens found in the KV cache from the previous turn, not evaluated again.
    cached_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    total_ms: float = 0.0
    stop_reason: str = STOP_END
    # Oldest messages left out because the conversation outgrew the context.
    dropped_messages: int = 0
    # CPU package energy during the reply (RAPL), when the OS lets us read it.
    energy_j: float | None = None
    # Made by a remote engine: no local electricity to count (the server's cost goes in the calculator).
    remote: bool = False
    # Set when the model's chat template failed or ran too long and ChatML was used instead.
    template_note: str | None = None
    # Prompt lookup: tokens offered as drafts, and how many of them the model kept.
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    # Generation threads at the end of the reply, when the count follows the machine's load,
    # and how many times the count changed during it.
    threads: int = 0
    thread_changes: int = 0


@dataclass
class Done:
    id: str
    stats: ReplyStats


@dataclass
class Error:
    id: str | None
    kind: str  # "load", "request", "context", "grammar", "template", "internal", "crash"
    message: str


@dataclass
class WorkerStats:
    model: str | None
    n_ctx: int
    cached_tokens: int
    n_gpu_layers: int
    rss_bytes: int


@dataclass
class Unloaded:
    pass


_TYPES = {cls.__name__: cls for cls in (
    LoadModel, Chat, Cancel, GetStats, Unload, Shutdown,
    Ready, Loaded, LoadProgress, Token, Done, Error, WorkerStats, Unloaded,
)}


class ProtocolError(ValueError):
    pass


def encode(message: Any) -> bytes:
    # Tokens are the hot path: a shallow copy is enough for flat messages.
    data = asdict(message) if isinstance(message, Done) else dict(message.__dict__)
    data["type"] = type(message).__name__
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def decode(line: bytes | str) -> Any:
    try:
        data = json.loads(line)
        cls = _TYPES[data.pop("type")]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"unreadable message: {line[:200]!r}") from exc
    known = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if cls is Done:
        kwargs["stats"] = ReplyStats(**kwargs.get("stats", {}))
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ProtocolError(f"malformed {cls.__name__}: {exc}") from exc
