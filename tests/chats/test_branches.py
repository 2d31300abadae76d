"""Branches (issue 15): regenerate and edit keep the old version as a sibling, the conversation shows one
branch, switching and forking work, the migration from format 2 keeps everything, and export and search
see every branch."""

from __future__ import annotations

import json

import pytest

from app.chats import store as chat_store
from app.chats.export import to_json, to_markdown
from app.chats.service import ConversationService
from app.chats.store import ChatStore
from app.config import Settings
from app.engine.scripted import ScriptedEngine, ScriptedReply
from app.storage import open_database


@pytest.fixture
def store(hearth_home):
    s = ChatStore()
    yield s
    s.close()


def contents(messages):
    return [m.content for m in messages]


def test_a_format_2_database_migrates_to_one_chain_per_conversation(hearth_home):
    from app import paths

    hearth_home.mkdir(parents=True, exist_ok=True)
    old = open_database(paths.database_file(), chat_store._MIGRATIONS[:2], "chat database")
    for title in ("First", "Second"):
        cur = old.execute("INSERT INTO conversations (title, created, updated) VALUES (?, 0, 0)", (title,))
        for n, role in enumerate(("user", "assistant", "user", "assistant")):
            old.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (?, ?, ?, 0)",
                        (cur.lastrowid, role, f"{title} {n}"))
    old.commit()
    old.close()
    store = ChatStore()
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == chat_store.SCHEMA_VERSION == 3
        for c in store.conversations():
            branch = store.messages(c.id)
            assert contents(branch) == [f"{c.title} {n}" for n in range(4)]
            assert [m.parent_id for m in branch] == [None] + [m.id for m in branch[:-1]]
            assert all(m.siblings == [m.id] for m in branch)
    finally:
        store.close()


def test_regenerate_and_edit_keep_the_old_version_as_a_sibling(hearth_home):
    engine = ScriptedEngine(replies=[ScriptedReply(["first answer"]), ScriptedReply(["second answer"]),
                                     ScriptedReply(["answer to the edit"])])
    service = ConversationService(engine)
    model = type("M", (), {"id": "scripted", "path": None})()
    done = service.send(None, "question", model, Settings())
    cid = done.conversation_id
    service.regenerate(cid, model, Settings())
    store = ChatStore()
    try:
        question, reply = store.messages(cid)
        assert reply.content == "second answer" and len(reply.siblings) == 2
        first_reply = reply.siblings[0]
        service.edit_and_resend(cid, question.id, "edited question", model, Settings())
        edited, answer = store.messages(cid)
        assert (edited.content, answer.content) == ("edited question", "answer to the edit")
        assert edited.siblings == [question.id, edited.id]
        # Switch back: the original question, with its newest reply.
        store.select(cid, question.id)
        assert contents(store.messages(cid)) == ["question", "second answer"]
        store.select(cid, first_reply)
        assert contents(store.messages(cid)) == ["question", "first answer"]
        # Nothing was lost, and search finds text on a branch not on show.
        assert sorted(contents(store.tree(cid))) == sorted(["question", "first answer", "second answer",
                                                            "edited question", "answer to the edit"])
        assert [m.content for _c, m in store.search("edit")] == ["answer to the edit", "edited question"]
    finally:
        store.close()
        service.close()


def test_the_model_sees_only_the_branch_on_show(hearth_home):
    engine = ScriptedEngine(default=ScriptedReply(["ok"]))
    service = ConversationService(engine)
    model = type("M", (), {"id": "scripted", "path": None})()
    cid = service.send(None, "one", model, Settings()).conversation_id
    store = ChatStore()
    first_question = store.messages(cid)[0]
    store.close()
    service.edit_and_resend(cid, first_question.id, "two", model, Settings())
    service.send(cid, "three", model, Settings())
    assert [m["content"] for m in engine.calls[-1].messages if m["role"] == "user"] == ["two", "three"]
    service.close()


def test_fork_copies_the_branch_up_to_a_message_into_a_new_conversation(store):
    c = store.create_conversation("Planning")
    q1 = store.add_message(c.id, "user", "q1")
    a1 = store.add_message(c.id, "assistant", "a1")
    store.add_message(c.id, "user", "q2")
    store.add_message(c.id, "assistant", "a2")
    fork = store.fork(c.id, a1.id)
    assert fork.title == "Planning (fork)" and fork.id != c.id
    assert contents(store.messages(fork.id)) == ["q1", "a1"]
    store.add_message(fork.id, "user", "another way")
    assert contents(store.messages(c.id)) == ["q1", "a1", "q2", "a2"]  # the original is untouched
    assert q1.id not in [m.id for m in store.messages(fork.id)]  # copies, not shared rows


def test_export_writes_the_branch_to_markdown_and_the_tree_to_json(store):
    c = store.create_conversation("Tree")
    q = store.add_message(c.id, "user", "q")
    store.add_message(c.id, "assistant", "old answer")
    store.set_leaf(c.id, q.id)
    store.add_message(c.id, "assistant", "new answer")
    conversation = store.conversation(c.id)
    md = to_markdown(conversation, store.messages(c.id))
    assert "new answer" in md and "old answer" not in md
    tree = json.loads(to_json(conversation, store.messages(c.id), store.tree(c.id)))
    by_content = {m["content"]: m for m in tree["messages"]}
    assert set(by_content) == {"q", "old answer", "new answer"}
    assert by_content["old answer"]["parent_id"] == by_content["new answer"]["parent_id"] == by_content["q"]["id"]
    assert tree["branch"] == [by_content["q"]["id"], by_content["new answer"]["id"]]
