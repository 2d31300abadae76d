"""An engine that replays scripted replies: tokens, stats, pauses and failures.

For tests and benchmarks of everything above the engine (the conversation
service, the window, the CLI's output) where a real model adds nothing but
time and chance. It honours the same interface and the same contract as the
local engine: cancel between tokens, ``stop_reason`` "cancelled", a crash
raises ``WorkerCrashed`` with the text so far kept, the next load restarts.
The tests that prove llama.cpp itself works use the real engine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from app.engine import protocol as p
from app.engine.base import LOAD, ChatEngine, EngineError, LoadedModel, ModelTarget, WorkerCrashed

CRASH_MESSAGE = "the model worker was killed by SIGKILL (out of memory?); it will restart on the next request"


@dataclass
class ScriptedReply:
    tokens: list[str]
    delay_s: float = 0.0        # pause before each token
    fail: str | None = None     # None, "crash" (the worker dies) or "error" (the request fails), after the tokens
    stop_reason: str = p.STOP_END
    prompt_tokens: int | None = None  # default: a word count of the messages
    energy_j: float | None = None


@dataclass
class ScriptedCall:
    messages: list[dict]
    sampling: dict


class ScriptedStream:
    def __init__(self, reply: ScriptedReply, messages: list[dict], engine: "ScriptedEngine"):
        self._reply = reply
        self._messages = messages
        self._engine = engine
        self._cancelled = threading.Event()
        self.text = ""
        self.stats: p.ReplyStats | None = None

    def cancel(self) -> None:
        self._cancelled.set()

    def __iter__(self):
        reply, started = self._reply, time.perf_counter()
        first = None
        count = 0
        for token in reply.tokens:
            if reply.delay_s:
                self._cancelled.wait(reply.delay_s)
            if self._cancelled.is_set():
                break
            first = first or time.perf_counter()
            self.text += token
            count += 1
            yield token
        elapsed = time.perf_counter() - started
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else \
            sum(len(str(m.get("content", "")).split()) for m in self._messages)
        reason = p.STOP_CANCELLED if self._cancelled.is_set() else reply.stop_reason
        gen_s = elapsed - ((first or started) - started)
        self.stats = p.ReplyStats(prompt_tokens=prompt, completion_tokens=count,
                                  ttft_ms=((first or started) - started) * 1000,
                                  tokens_per_s=count / gen_s if gen_s > 0 and count else 0.0,
                                  total_ms=elapsed * 1000, stop_reason=reason, energy_j=reply.energy_j)
        if reply.fail and not self._cancelled.is_set():
            self.stats.stop_reason = p.STOP_ERROR
            if reply.fail == "crash":
                self._engine.loaded = None
                raise WorkerCrashed(CRASH_MESSAGE)
            raise EngineError("the model could not continue this reply (scripted failure)")


class ScriptedEngine(ChatEngine):
    """Replies are taken in order; when the script runs out, ``default`` is repeated.

    ``calls`` records every request (messages and sampling), so a test can check
    what the model would have been shown. ``load_error`` makes loading fail.
    """

    def __init__(self, replies: list[ScriptedReply] | None = None, default: ScriptedReply | None = None,
                 n_ctx: int = 4096, load_error: str | None = None, load_delay_s: float = 0.0):
        self.replies = list(replies or [])
        self.default = default or ScriptedReply(["Scripted", " reply", "."])
        self.n_ctx = n_ctx
        self.load_error = load_error
        self.load_delay_s = load_delay_s
        self.loaded: ModelTarget | None = None
        self.loads: list[ModelTarget] = []
        self.calls: list[ScriptedCall] = []
        self.closed = False

    def is_loaded(self, target: ModelTarget) -> bool:
        return self.loaded is not None and self.loaded.load_key() == target.load_key()

    def ensure_loaded(self, target: ModelTarget, on_progress=None) -> LoadedModel:
        if not self.is_loaded(target):
            self.loads.append(target)
            if self.load_error:
                self.loaded = None
                raise EngineError(self.load_error, LOAD)
            for step in (0.25, 0.5, 1.0):
                if self.load_delay_s:
                    time.sleep(self.load_delay_s / 3)
                if on_progress is not None:
                    on_progress(step)
            self.loaded = target
        context = target.effective_settings().context_length
        return LoadedModel(target.model_id, min(context, self.n_ctx))

    def chat(self, messages: list[dict], **sampling) -> ScriptedStream:
        if self.loaded is None:
            raise EngineError("no model is loaded", LOAD)
        self.calls.append(ScriptedCall([dict(m) for m in messages], dict(sampling)))
        reply = self.replies.pop(0) if self.replies else self.default
        return ScriptedStream(reply, messages, self)

    def close(self) -> None:
        self.closed = True
        self.loaded = None

    def unload(self) -> None:
        self.loaded = None

    @property
    def loaded_model_id(self) -> str | None:
        return self.loaded.model_id if self.loaded else None
