"""What the conversation service tells its callers, as typed events.

The window, the CLI and (later) the API server react to these; none of them
parses a message to learn what happened. A turn that started always ends
with exactly one ``ReplyFinished``; a ``TurnFailed`` before it says why the
reply is marked failed. A turn refused before it started (busy, empty
message, unwritable store) gets a ``TurnFailed`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.chats.store import Message

# Error kinds.
BUSY = "busy"            # a reply is already being written for this service
INPUT = "input"          # nothing to send, or nothing to regenerate or edit
STORAGE = "storage"      # the chat store could not be read or written
DOCUMENTS = "documents"  # document retrieval failed (a collection is missing or damaged)
LOAD = "load"            # the model could not be loaded
CRASH = "crash"          # the engine died mid-reply; it restarts on the next request
ENGINE = "engine"        # the engine failed this reply
CONTEXT = "context"      # the prompt does not fit the model's context (API requests, which are never cut)


@dataclass
class ModelLoading:
    model_id: str


@dataclass
class ModelProgress:
    model_id: str
    fraction: float  # 0..1 of the weights read


@dataclass
class ModelReady:
    model_id: str
    n_ctx: int
    backend: str = ""
    gpu_layers: int = 0


@dataclass
class ModelFailed:
    model_id: str
    kind: str
    message: str


@dataclass
class TurnStarted:
    """The user's message (None for a regenerate) and the empty reply are saved."""

    conversation_id: int
    created: bool  # a new conversation was made for this turn
    user: Message | None
    reply: Message
    history: list[Message]  # the conversation as saved, the new reply last
    continuing: bool = False  # the last reply writes on (Continue after the length limit)


@dataclass
class Token:
    conversation_id: int | None  # None for an API request, which has no saved conversation
    message_id: int | None
    text: str


@dataclass
class ReplySaved:
    """The streaming reply was saved part-way (at most ``save_interval_s`` behind)."""

    message_id: int
    chars: int


@dataclass
class TurnFailed:
    kind: str
    message: str
    conversation_id: int | None = None


@dataclass
class ReplyFinished:
    conversation_id: int | None  # None for an API request
    message_id: int | None
    model_id: str
    text: str
    status: str           # complete, stopped or error (store statuses)
    stats: dict           # ReplyStats as a dict, plus "citations" for a document answer
    stop_reason: str
    citations: list[dict] | None = None
    canned: bool = False  # written by Hearth, not the model
    error: str | None = None
    bill: object | None = None        # the tally's Record for this reply (its tooltip() is the bill)
    bill_error: str | None = None     # why the reply could not be counted
    messages: list[dict] = field(default_factory=list)  # what the model was shown
    error_kind: str | None = None     # the TurnFailed kind, when ``error`` is set
