"""The conversation service: one chat turn, from the user's message to the saved, billed reply.

Every caller (the window, ``hearth chat``, ``hearth docs ask``, later the API
server) runs turns through here, so a reply made anywhere is saved and billed
the same way. A turn: save the message and an empty reply, find document
passages when the conversation uses collections, load the model (with the
conversation's context length), fit the prompt into the context the engine
actually allocated, stream the reply while saving it at least once a second,
finalise it with its status and stats, and count it in the savings tally.

Calls block: the CLI calls them directly, the window runs them on its model
lane. ``stop()`` may come from any thread. The service keeps its own chat
store connection, opened on the thread that runs turns, and never a live
settings object: every call brings a snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from typing import Callable

from app.chats import events as ev
from app.chats import presets
from app.chats.reasoning import split_reasoning
from app.chats.prompt import chat_messages, sampling_overrides
from app.chats.store import COMPLETE, ERROR, STOPPED, STREAMING, ChatStore, Message
from app.config import Settings
from app.engine import base
from app.engine.base import ChatEngine, EngineError, ModelTarget
from app.engine.params import sampling
from app.engine.protocol import STOP_CANCELLED, STOP_END, STOP_ERROR
from app.errors import HearthError

log = logging.getLogger(__name__)

Listener = Callable[[object], None]
SAVE_INTERVAL_S = 1.0
TITLE_CHARS = 60


class NothingToAnswer(HearthError):
    """Regenerate or edit asked of a conversation that has no such message."""


def default_conversation_settings() -> dict:
    """A new conversation's settings: the default preset's (system prompt, sampling)."""
    preset = presets.find(presets.DEFAULT_PRESET)
    return presets.settings_from_preset(preset) if preset else {}


def title_for(text: str) -> str:
    return " ".join(text.split())[:TITLE_CHARS] or "New chat"


def choose_model(name: str | None, settings: Settings):
    """The installed model a caller named (id, "starter", a path), or the default one; chat models only."""
    from app.engine.remote import RemoteModel, split_model_id
    from app.engine.remotes import find
    from app.library.registry import ModelRegistry

    for wanted in (name, settings.default_model):
        parts = split_model_id(wanted or "")
        if parts and find(parts[0]) is not None:  # ENGINE:MODEL on a configured remote engine
            return RemoteModel(*parts)
        if wanted:
            break
    model = ModelRegistry().resolve(name, settings.default_model)
    if model.info and model.info.is_embedding_model:
        raise HearthError(f"{model.path.name} is an embedding model; it cannot chat")
    return model


def _failure_kind(exc: EngineError) -> str:
    """The event kind of an engine's failure during a reply."""
    return {base.CRASH: ev.CRASH, base.CONTEXT: ev.CONTEXT}.get(exc.kind, ev.ENGINE)


class TurnHandle:
    """Stops one API request, whether it is still waiting, loading or streaming."""

    def __init__(self):
        self.cancelled = False
        self.stream = None

    def cancel(self) -> None:
        self.cancelled = True
        stream = self.stream
        if stream is not None:
            stream.cancel()


class ConversationService:
    def __init__(self, engine: ChatEngine, store_factory: Callable[[], ChatStore] = ChatStore,
                 searcher_factory: Callable[[], object] | None = None, record_bills: bool = True):
        self.engine = engine
        self._store_factory = store_factory
        self._searcher_factory = searcher_factory
        self._store: ChatStore | None = None
        self._searcher = None
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._stream = None
        self.record_bills = record_bills
        self.save_interval_s = SAVE_INTERVAL_S

    # --- the public calls -----------------------------------------------------------
    def load(self, model, settings: Settings, conversation_settings: dict | None = None,
             emit: Listener = lambda _e: None) -> base.LoadedModel | None:
        """Load ``model`` for a conversation (its own context length applies); None if it failed."""
        loaded = self._ensure_loaded(self._target(model, settings, conversation_settings or {}), emit)
        return None if isinstance(loaded, ev.ModelFailed) else loaded

    def send(self, conversation_id: int | None, text: str, model, settings: Settings,
             conversation_settings: dict | None = None, emit: Listener = lambda _e: None,
             extra_sampling: dict | None = None) -> ev.ReplyFinished | None:
        """A new user message in a conversation (a new conversation when ``conversation_id`` is None)."""
        return self._turn(conversation_id, text, None, model, settings, conversation_settings, emit,
                          extra_sampling)

    def edit_and_resend(self, conversation_id: int, message_id: int, text: str, model, settings: Settings,
                        conversation_settings: dict | None = None, emit: Listener = lambda _e: None,
                        extra_sampling: dict | None = None) -> ev.ReplyFinished | None:
        """Replace a user message and everything after it with ``text`` and a new reply."""
        return self._turn(conversation_id, text, message_id, model, settings, conversation_settings, emit,
                          extra_sampling)

    def regenerate(self, conversation_id: int, model, settings: Settings,
                   conversation_settings: dict | None = None, emit: Listener = lambda _e: None,
                   extra_sampling: dict | None = None) -> ev.ReplyFinished | None:
        """Replace the last reply with a new one."""
        return self._turn(conversation_id, None, None, model, settings, conversation_settings, emit,
                          extra_sampling)

    def continue_reply(self, conversation_id: int, model, settings: Settings,
                       conversation_settings: dict | None = None, emit: Listener = lambda _e: None,
                       extra_sampling: dict | None = None) -> ev.ReplyFinished | None:
        """Write on from where the last reply stopped (it reached the length limit): the same
        message grows; only the new words are billed."""
        return self._turn(conversation_id, None, None, model, settings, conversation_settings, emit,
                          extra_sampling, continuing=True)

    def complete(self, model, settings: Settings, messages: list[dict], sampling_options: dict,
                 emit: Listener = lambda _e: None, source: str = "api", handle: "TurnHandle | None" = None,
                 context_length: int | None = None) -> ev.ReplyFinished:
        """A stateless turn for the API server: the client sends the whole conversation, nothing is
        saved in the chat store, the reply is billed under ``source``. Same loading, streaming and
        billing as a chat turn. ``handle.cancel()`` stops this request alone, from any thread.

        ``sampling_options`` go to the engine as they are (``grammar``, ``tools``, ``prompt``,
        ``truncate`` included). Failures come back as ``TurnFailed`` events and an error status."""
        handle = handle or TurnHandle()

        def finish(text, status, stats, error=None, kind=None):
            if error:
                emit(ev.TurnFailed(kind or ev.ENGINE, error))
            finished = ev.ReplyFinished(None, None, model.id, text, status, stats,
                                        stats.get("stop_reason", STOP_END), error=error, messages=messages,
                                        error_kind=kind if error else None)
            if status != ERROR and text and self.record_bills:
                self._bill(finished, settings, source)
            return finished

        if handle.cancelled:
            return finish("", STOPPED, {"stop_reason": STOP_CANCELLED})
        loaded = self._ensure_loaded(self._target(model, settings, {"context_length": context_length}), emit)
        if isinstance(loaded, ev.ModelFailed):
            return finish("", ERROR, {"stop_reason": STOP_ERROR}, loaded.message, loaded.kind)
        text, stream = "", None
        try:
            stream = self.engine.chat(messages, **sampling_options)
            handle.stream = stream
            if handle.cancelled:
                stream.cancel()
            for piece in stream:
                text += piece
                emit(ev.Token(None, None, piece))
        except EngineError as exc:
            kind = _failure_kind(exc)
            stats = asdict(stream.stats) if stream is not None and stream.stats else {"stop_reason": STOP_ERROR}
            return finish(text, ERROR, stats, str(exc), kind)
        finally:
            handle.stream = None
        stats = asdict(stream.stats)
        return finish(text, STOPPED if stats.get("stop_reason") == STOP_CANCELLED else COMPLETE, stats)

    def stop(self) -> None:
        """End the reply being written (or about to be): what was written is kept, marked stopped."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def engine_has(self, model_id: str) -> bool:
        """Whether the engine holds this model now (whatever its settings)."""
        loaded = getattr(self.engine, "loaded_model_id", None)
        return loaded == model_id

    def unload(self) -> None:
        """Free the model's memory (the API server's idle timeout); the next turn loads it again."""
        self.engine.unload()

    def close(self) -> None:
        """On the thread that ran the turns: close the store and the document searcher."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- the pipeline ------------------------------------------------------------------
    def store(self) -> ChatStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def _target(self, model, settings: Settings, conversation_settings: dict) -> ModelTarget:
        return ModelTarget(model.id, str(model.path) if getattr(model, "path", None) else None,
                           settings.copy(), conversation_settings.get("context_length"))

    def _ensure_loaded(self, target: ModelTarget, emit: Listener) -> base.LoadedModel | ev.ModelFailed:
        if not self.engine.is_loaded(target):
            emit(ev.ModelLoading(target.model_id))
        try:
            loaded = self.engine.ensure_loaded(
                target, on_progress=lambda f: emit(ev.ModelProgress(target.model_id, f)))
        except EngineError as exc:
            failed = ev.ModelFailed(target.model_id, ev.LOAD if exc.kind == base.LOAD else ev.CRASH, str(exc))
            emit(failed)
            return failed
        emit(ev.ModelReady(target.model_id, loaded.n_ctx, loaded.backend, loaded.gpu_layers))
        return loaded

    def _turn(self, conversation_id, text, edit_from, model, settings, conversation_settings, emit,
              extra_sampling, continuing: bool = False) -> ev.ReplyFinished | None:
        if text is not None and not text.strip():
            emit(ev.TurnFailed(ev.INPUT, "empty message: type something to send", conversation_id))
            return None
        if not self._busy.acquire(blocking=False):
            emit(ev.TurnFailed(ev.BUSY, "a reply is already being written; stop it first", conversation_id))
            return None
        self._stop.clear()
        try:
            try:
                started = self._start(conversation_id, text, edit_from, model, conversation_settings, continuing)
            except HearthError as exc:
                kind = ev.INPUT if isinstance(exc, NothingToAnswer) else ev.STORAGE
                emit(ev.TurnFailed(kind, str(exc), conversation_id))
                return None
            except Exception as exc:  # sqlite3 and disk errors: the message was not saved
                log.exception("could not save the message")
                emit(ev.TurnFailed(ev.STORAGE, f"could not save the message: {exc}", conversation_id))
                return None
            started_event, conv_settings = started
            emit(started_event)
            return self._generate(started_event, conv_settings, model, settings, emit, extra_sampling or {})
        finally:
            self._stream = None
            self._busy.release()

    def _start(self, conversation_id, text, edit_from, model, conversation_settings, continuing=False):
        store = self.store()
        if continuing:
            saved = store.conversation(conversation_id)
            settings = dict(conversation_settings if conversation_settings is not None else saved.settings)
            history = store.messages(conversation_id)
            if not history or history[-1].role != "assistant" or history[-1].canned or not history[-1].content:
                raise NothingToAnswer("nothing to continue: the conversation does not end with a reply")
            reply = history[-1]
            store.update_message(reply.id, reply.content, STREAMING)
            return ev.TurnStarted(conversation_id, False, None, reply, history, continuing=True), settings
        created = conversation_id is None
        if created:
            settings = dict(conversation_settings if conversation_settings is not None
                            else default_conversation_settings())
            conversation_id = store.create_conversation(title_for(text or ""), settings).id
        else:
            saved = store.conversation(conversation_id)
            settings = dict(conversation_settings if conversation_settings is not None else saved.settings)
            if settings != saved.settings:
                store.set_settings(conversation_id, settings)
        store.set_meta("last_conversation", str(conversation_id))
        user = None
        # Edit and regenerate branch off: the old message stays, as a sibling of the new one.
        if edit_from is not None:
            edited = next((m for m in store.messages(conversation_id) if m.id == edit_from), None)
            if edited is None:
                raise NothingToAnswer("that message is not on the branch on show")
            store.set_leaf(conversation_id, edited.parent_id)
        elif text is None:  # regenerate: a new reply beside the last one
            history = store.messages(conversation_id)
            if not history or history[-1].role != "assistant":
                raise NothingToAnswer("nothing to regenerate: the conversation does not end with a reply")
            store.set_leaf(conversation_id, history[-1].parent_id)
        if text is not None:
            user = store.add_message(conversation_id, "user", text)
        history = store.messages(conversation_id)
        if not history or history[-1].role != "user":
            raise NothingToAnswer("nothing to answer: the conversation has no message waiting for a reply")
        reply = store.add_message(conversation_id, "assistant", "", STREAMING, model.id)
        history = store.messages(conversation_id)  # with the reply's siblings (a regenerate has some)
        return ev.TurnStarted(conversation_id, created, user, history[-1], history), settings

    def _generate(self, started: ev.TurnStarted, conv_settings: dict, model, settings: Settings, emit,
                  extra_sampling: dict) -> ev.ReplyFinished:
        cid, reply = started.conversation_id, started.reply
        history = started.history[:-1]
        if started.continuing:
            return self._continue(started, conv_settings, model, settings, emit, extra_sampling)
        question = history[-1].content
        options = _options(settings, conv_settings, extra_sampling)
        messages = chat_messages(conv_settings, history)
        collections = [c for c in conv_settings.get("collections") or [] if isinstance(c, str)]

        def finish(text, status, stats, error=None, kind=None, citations=None, canned=False, shown=None):
            return self._finish(reply, model, settings, emit, text, status, stats, error, kind, citations, canned,
                                shown, source="docs" if citations is not None else "chat")

        hits = None
        if collections:
            try:
                hits = self._searcher_for().search(collections, question, settings.docs_passages)
            except HearthError as exc:
                return finish("", ERROR, {"stop_reason": STOP_ERROR}, str(exc), ev.DOCUMENTS)
            except Exception as exc:
                log.exception("document retrieval failed")
                return finish("", ERROR, {"stop_reason": STOP_ERROR}, f"document search failed: {exc}", ev.DOCUMENTS)
            if not hits:  # nothing relevant: say so, never let the model invent an answer
                from app.docs.service import not_found

                return finish(not_found(collections), COMPLETE, {"stop_reason": STOP_END}, citations=[],
                              canned=True)
        if self._stop.is_set():
            return finish("", STOPPED, {"stop_reason": STOP_CANCELLED})
        loaded = self._ensure_loaded(self._target(model, settings, conv_settings), emit)
        if isinstance(loaded, ev.ModelFailed):
            return finish("", ERROR, {"stop_reason": STOP_ERROR}, loaded.message, loaded.kind)
        citations = None
        if hits is not None:
            from app.docs.service import build_prompt, citations_as_dicts

            prompt = build_prompt(question, hits, loaded.n_ctx, options.get("max_tokens", settings.max_tokens),
                                  history=messages[:-1])
            messages = prompt.messages
            citations = citations_as_dicts(prompt.citations)
        if self._stop.is_set():
            return finish("", STOPPED, {"stop_reason": STOP_CANCELLED}, shown=messages)
        return self._stream_reply(reply, messages, options, citations, emit, finish, cid)

    def _continue(self, started: ev.TurnStarted, conv_settings: dict, model, settings: Settings, emit,
                  extra_sampling: dict) -> ev.ReplyFinished:
        cid, reply = started.conversation_id, started.reply
        options = _options(settings, conv_settings, extra_sampling)
        options["continue_last"] = True
        messages = chat_messages(conv_settings, started.history[:-1]) + [{"role": "assistant",
                                                                            "content": reply.content}]
        citations = reply.stats.get("citations")

        def finish(text, status, stats, error=None, kind=None, citations=None, canned=False, shown=None):
            # Billed as what it is: the conversation and the unfinished reply in, the new words out.
            return self._finish(reply, model, settings, emit, text, status, stats, error, kind, citations, False,
                                shown, billed_from=len(reply.content))

        loaded = self._ensure_loaded(self._target(model, settings, conv_settings), emit)
        if isinstance(loaded, ev.ModelFailed):
            return finish(reply.content, STOPPED, {"stop_reason": STOP_ERROR}, loaded.message, loaded.kind)
        return self._stream_reply(reply, messages, options, citations, emit, finish, cid, prefix=reply.content)

    def _finish(self, reply: Message, model, settings: Settings, emit, text: str, status: str, stats: dict,
                error, kind, citations, canned: bool, shown, source: str = "chat",
                billed_from: int = 0) -> ev.ReplyFinished:
        """Save the reply as it ended, bill it (from ``billed_from``: a continued reply's new words)."""
        cid = reply.conversation_id
        if error:
            emit(ev.TurnFailed(kind or ev.ENGINE, error, cid))
        stats = dict(stats)
        if citations is not None:
            stats["citations"] = citations  # saved with the reply, shown under it
        try:
            self.store().update_message(reply.id, text, status, stats, error, canned=canned or None)
        except Exception as exc:  # the reply is still shown; say it was not saved
            log.exception("could not save the reply")
            emit(ev.TurnFailed(ev.STORAGE, f"could not save the reply: {exc}", cid))
        finished = ev.ReplyFinished(cid, reply.id, model.id, text, status, stats, stats.get("stop_reason", STOP_END),
                                    citations, canned, error, messages=shown or [])
        if status != ERROR and text[billed_from:] and not canned and self.record_bills:
            billed = finished if not billed_from else ev.ReplyFinished(
                cid, reply.id, model.id, text[billed_from:], status, stats, finished.stop_reason, citations, False,
                error, messages=shown or [])
            self._bill(billed, settings, source)
            finished.bill, finished.bill_error = billed.bill, billed.bill_error
        emit(finished)
        return finished

    def _stream_reply(self, reply: Message, messages, options, citations, emit, finish, cid, prefix: str = ""):
        text, saved_at, error, kind = prefix, time.monotonic(), None, None
        # A continued reply whose thinking ended before keeps the time it was shown with.
        started, thought_s = time.monotonic(), (reply.stats.get("reasoning_s", 0.0) if _reasoning_finished(prefix)
                                                else None)
        stream = None
        try:
            stream = self._stream = self.engine.chat(messages, **options)
            if self._stop.is_set():
                stream.cancel()
            for piece in stream:
                text += piece
                if thought_s is None and _reasoning_finished(text):
                    thought_s = time.monotonic() - started
                emit(ev.Token(cid, reply.id, piece))
                now = time.monotonic()
                if now - saved_at >= self.save_interval_s:
                    saved_at = now
                    try:
                        self.store().update_message(reply.id, text)
                        emit(ev.ReplySaved(reply.id, len(text)))
                    except Exception:  # the final save will try again
                        log.exception("could not save the streaming reply")
        except EngineError as exc:
            error, kind = str(exc), _failure_kind(exc)
            if kind == ev.CRASH:
                error += ". Your conversation is saved; send again to restart the model."
        stats = asdict(stream.stats) if stream is not None and stream.stats else {"stop_reason": STOP_ERROR}
        if thought_s is None and split_reasoning(text).has_reasoning:  # cut off while still thinking
            thought_s = time.monotonic() - started
        if thought_s is not None:
            stats["reasoning_s"] = round(thought_s, 1)
        if prefix:
            stats["completion_tokens_before"] = (reply.stats.get("completion_tokens", 0)
                                                 + reply.stats.get("completion_tokens_before", 0))
        reason = stats.get("stop_reason")
        status = ERROR if error or reason == STOP_ERROR else STOPPED if reason == STOP_CANCELLED else COMPLETE
        return finish(text, status, stats, error, kind, citations, shown=messages)

    def _searcher_for(self):
        if self._searcher is None:
            if self._searcher_factory is None:
                from app.docs.service import Searcher

                self._searcher = Searcher()
            else:
                self._searcher = self._searcher_factory()
        return self._searcher

    def _bill(self, finished: ev.ReplyFinished, settings: Settings, source: str) -> None:
        from app.savings.service import record_turn, turn_for_reply

        try:
            finished.bill = record_turn(turn_for_reply(finished.messages, finished.text, finished.stats,
                                                       finished.model_id, finished.conversation_id,
                                                       finished.message_id, source=source), settings)
        except HearthError as exc:
            finished.bill_error = str(exc)
        except Exception as exc:  # never fails the reply; logged for us
            log.exception("could not record the reply in the savings tally")
            finished.bill_error = f"{type(exc).__name__}: {exc}"


def _reasoning_finished(text: str) -> bool:
    """Cheap check first: most replies have no reasoning, and this runs on every token."""
    if "</think>" not in text and "<|channel|>final" not in text:
        return False
    split = split_reasoning(text)
    return split.has_reasoning and not split.thinking


def _options(settings: Settings, conv_settings: dict, extra_sampling: dict) -> dict:
    """Sampling for a turn: the app's, then the conversation's, then the caller's."""
    options = sampling(settings)
    options.update(sampling_overrides(conv_settings))
    options.update(extra_sampling)
    return options
