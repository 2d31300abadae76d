"""The conversation service with the scripted engine: saving, stopping, failures, documents, billing.

Real SQLite and the real savings tally; the engine replays scripted tokens
(the real llama.cpp path is covered by tests/engine and the CLI and window
end-to-end tests). The document searcher is a stand-in returning fixed
passages: retrieval itself is tested in tests/docs.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from app.chats import events as ev
from app.chats.service import ConversationService
from app.chats.store import ChatStore
from app.config import Settings
from app.docs.retrieval import Hit
from app.engine.scripted import ScriptedEngine, ScriptedReply
from app.library.registry import ModelRegistry
from app.savings.tally import SavingsStore


class Passages:
    """A document searcher that returns the same passages for any question (or none)."""

    def __init__(self, hits: list[Hit]):
        self.hits = hits
        self.asked: list[tuple[list[str], str]] = []

    def search(self, names, question, k=5):
        self.asked.append((list(names), question))
        return self.hits[:k]

    def close(self):
        pass


PUMP = Hit("/docs/handbook.pdf", 3, None, "Generators", "The diesel generator runs 72 hours on a full tank. " * 40,
           1.0, 0.9)


@pytest.fixture
def model():
    return ModelRegistry().resolve(None)


def make(engine=None, hits=None):
    engine = engine or ScriptedEngine()
    searcher = Passages(hits if hits is not None else [])
    return ConversationService(engine, searcher_factory=lambda: searcher), engine, searcher


def run(call):
    events = []
    result = call(events.append)
    return result, events


def tally_rows():
    store = SavingsStore()
    try:
        return [(r[0], r[1], r[2]) for r in store.db.execute(
            "SELECT source, conversation_id, message_id FROM replies ORDER BY id").fetchall()]
    finally:
        store.close()


def test_a_turn_is_saved_streamed_and_billed(model):
    service, engine, _ = make(ScriptedEngine(default=ScriptedReply(["Hel", "lo", "!"])))
    finished, events = run(lambda emit: service.send(None, "Say hello", model, Settings(), None, emit))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "TurnStarted" and kinds[-1] == "ReplyFinished"
    assert [e.text for e in events if isinstance(e, ev.Token)] == ["Hel", "lo", "!"]
    assert finished.text == "Hello!" and finished.status == "complete" and finished.stats["completion_tokens"] == 3
    assert finished.bill is not None and finished.bill.tooltip().startswith("On gpt-4o this reply would have cost $")
    store = ChatStore()
    conversation = store.conversation(finished.conversation_id)
    rows = store.messages(finished.conversation_id)
    assert conversation.title == "Say hello" and conversation.settings["preset"] == "General assistant"
    assert [(m.role, m.content, m.status) for m in rows] == [("user", "Say hello", "complete"),
                                                             ("assistant", "Hello!", "complete")]
    assert store.get_meta("last_conversation") == str(finished.conversation_id)
    store.close()
    assert tally_rows() == [("chat", finished.conversation_id, finished.message_id)]
    # The model saw the preset's system prompt, then the question.
    assert [m["role"] for m in engine.calls[0].messages] == ["system", "user"]
    service.close()


def test_stop_keeps_what_was_written(model):
    service, engine, _ = make(ScriptedEngine(default=ScriptedReply(["word "] * 500, delay_s=0.005)))
    events = []
    stopped = threading.Event()

    def emit(event):
        events.append(event)
        if isinstance(event, ev.Token) and len(events) > 5 and not stopped.is_set():
            stopped.set()
            threading.Thread(target=service.stop).start()

    finished = service.send(None, "Go on and on", model, Settings(), None, emit)
    assert finished.status == "stopped" and finished.stop_reason == "cancelled"
    assert 0 < len(finished.text) < len("word ") * 500
    store = ChatStore()
    assert store.messages(finished.conversation_id)[-1].content == finished.text
    store.close()


def test_a_crash_mid_reply_is_typed_saved_and_the_next_turn_reloads(model):
    engine = ScriptedEngine(replies=[ScriptedReply(["partial", " text"], fail="crash")])
    service, engine, _ = make(engine)
    finished, events = run(lambda emit: service.send(None, "Hi", model, Settings(), None, emit))
    failure = next(e for e in events if isinstance(e, ev.TurnFailed))
    assert failure.kind == ev.CRASH and "SIGKILL" in failure.message and "send again" in failure.message
    assert finished.status == "error" and finished.text == "partial text" and finished.bill is None
    assert tally_rows() == []
    again, events = run(lambda emit: service.send(finished.conversation_id, "Back?", model, Settings(), None, emit))
    assert again.status == "complete" and len(engine.loads) == 2  # the dead worker was replaced
    assert any(isinstance(e, ev.ModelLoading) for e in events)


def test_a_model_that_cannot_load_fails_the_turn_with_a_kind(model):
    service, _, _ = make(ScriptedEngine(load_error="model.gguf: unknown architecture 'hearthnonsense'"))
    finished, events = run(lambda emit: service.send(None, "Hi", model, Settings(), None, emit))
    assert [e.kind for e in events if isinstance(e, ev.ModelFailed)] == [ev.LOAD]
    assert [e.kind for e in events if isinstance(e, ev.TurnFailed)] == [ev.LOAD]
    assert finished.status == "error"


def test_regenerate_and_edit_replace_what_follows(model):
    service, engine, _ = make()
    first = service.send(None, "One", model, Settings())
    cid = first.conversation_id
    service.send(cid, "Two", model, Settings())
    again = service.regenerate(cid, model, Settings())
    store = ChatStore()
    rows = store.messages(cid)
    assert [m.role for m in rows] == ["user", "assistant", "user", "assistant"] and rows[-1].id == again.message_id
    service.edit_and_resend(cid, rows[0].id, "One, better", model, Settings())
    rows = store.messages(cid)
    store.close()
    assert [(m.role, m.content) for m in rows][0] == ("user", "One, better") and len(rows) == 2
    nothing, events = run(lambda emit: service.regenerate(
        service.send(None, "x", model, Settings()).conversation_id, model, Settings(), None, emit))
    assert nothing.status == "complete"  # a conversation ending in a reply can be regenerated


def test_a_second_turn_while_one_streams_is_refused(model):
    service, _, _ = make(ScriptedEngine(default=ScriptedReply(["a"] * 200, delay_s=0.005)))
    first = threading.Thread(target=service.send, args=(None, "long", model, Settings()))
    first.start()
    try:
        while not service.busy:
            pass
        result, events = run(lambda emit: service.send(None, "again", model, Settings(), None, emit))
        assert result is None and [e.kind for e in events] == [ev.BUSY]
    finally:
        service.stop()
        first.join()


def test_an_empty_message_and_nothing_to_regenerate_are_input_errors(model):
    service, _, _ = make()
    assert run(lambda emit: service.send(None, "  ", model, Settings(), None, emit))[1][0].kind == ev.INPUT
    cid = ChatStore().create_conversation("empty").id
    result, events = run(lambda emit: service.regenerate(cid, model, Settings(), None, emit))
    assert result is None and events[0].kind == ev.INPUT


def test_collections_belong_to_the_conversation(model):
    service, engine, searcher = make(hits=[PUMP])
    with_docs = service.send(None, "How long does the generator run?", model, Settings(),
                             {"collections": ["handbook"]})
    assert searcher.asked == [(["handbook"], "How long does the generator run?")]
    assert with_docs.citations[0]["where"] == "handbook.pdf, page 3"
    plain = service.send(None, "What is a monad?", model, Settings(), {})
    assert len(searcher.asked) == 1 and plain.citations is None  # a new chat does not inherit the choice
    store = ChatStore()
    assert store.conversation(with_docs.conversation_id).settings["collections"] == ["handbook"]
    store.close()
    # A continued conversation uses the collections saved with it.
    service.send(with_docs.conversation_id, "And on half a tank?", model, Settings())
    assert len(searcher.asked) == 2
    assert [s for s, *_ in tally_rows()] == ["docs", "chat", "docs"]


def test_a_canned_reply_is_marked_and_never_fed_back(model):
    service, engine, searcher = make(hits=[])
    nothing = service.send(None, "Tell me a joke", model, Settings(), {"collections": ["handbook"]})
    assert nothing.canned and nothing.text.startswith("I found nothing in 'handbook'")
    assert engine.calls == [] and tally_rows() == []  # the model was not asked, nothing billed
    searcher.hits = [PUMP]
    service.send(nothing.conversation_id, "How long does the generator run?", model, Settings())
    shown = "\n".join(m["content"] for m in engine.calls[-1].messages)
    assert "I found nothing" not in shown and "Tell me a joke" not in shown
    store = ChatStore()
    assert [m.canned for m in store.messages(nothing.conversation_id)] == [False, True, False, False]
    store.close()
    # Regenerating the canned reply asks again rather than repeating it.
    again = service.regenerate(nothing.conversation_id, model, Settings())
    assert not again.canned


def test_document_passages_fit_the_context_the_engine_allocated(model):
    # The conversation asks for 8192 tokens, but the engine could only allocate 1024.
    service, engine, _ = make(ScriptedEngine(n_ctx=1024), hits=[PUMP, PUMP, PUMP])
    finished = service.send(None, "How long does the generator run?", model, Settings(),
                            {"collections": ["handbook"], "context_length": 8192, "max_tokens": 256})
    prompt_chars = sum(len(m["content"]) for m in engine.calls[0].messages)
    assert prompt_chars <= (1024 - 256) * 3  # 3 characters a token: the budget's conservative rate
    assert len(finished.citations) == 1


def test_an_old_canned_reply_is_marked_by_the_migration(hearth_home):
    from app import paths

    db = sqlite3.connect(paths.database_file())
    from app.chats.store import _v1

    _v1(db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO conversations (title, created, updated) VALUES ('old', 0, 0)")
    db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (1, 'user', 'q', 0)")
    db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (1, 'assistant', ?, 0)",
               ("I found nothing in 'mystuff' that answers this, so I will not guess. Try other words.",))
    db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (1, 'assistant', 'real', 0)")
    db.commit()
    db.close()
    store = ChatStore()
    assert [m.canned for m in store.messages(1)] == [False, True, False]
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == 3  # and on through the branches step
    store.close()
