import sqlite3

import pytest

from app.chats.store import COMPLETE, INTERRUPTED, SCHEMA_VERSION, STREAMING, ChatStore
from app.errors import HearthError


@pytest.fixture
def store(hearth_home):
    s = ChatStore()
    yield s
    s.close()


def test_database_is_versioned_and_in_wal_mode(store, hearth_home):
    assert store.path == hearth_home / "hearth.db"
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_conversations_newest_first_with_messages(store):
    a = store.create_conversation("First")
    b = store.create_conversation("Second")
    store.add_message(a.id, "user", "hello")
    store.add_message(a.id, "assistant", "hi there", model="m", stats={"completion_tokens": 2})
    assert [c.title for c in store.conversations()] == ["First", "Second"]  # First was updated last
    messages = store.messages(a.id)
    assert [(m.role, m.content) for m in messages] == [("user", "hello"), ("assistant", "hi there")]
    assert messages[1].stats == {"completion_tokens": 2} and messages[1].model == "m"
    assert store.messages(b.id) == []


def test_rename_delete_undo_and_purge(store):
    c = store.create_conversation("Old name")
    store.add_message(c.id, "user", "keep me")
    store.rename(c.id, "  New\nname  ")
    assert store.conversation(c.id).title == "New name"
    store.delete(c.id)
    assert store.conversations() == []
    with pytest.raises(HearthError, match="no conversation"):
        store.conversation(c.id)
    store.undelete(c.id)
    assert store.messages(store.conversations()[0].id)[0].content == "keep me"
    store.delete(c.id)
    store.purge_deleted()
    assert store.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_search_finds_words_across_conversations(store):
    a = store.create_conversation("Rust chat")
    b = store.create_conversation("Python chat")
    store.add_message(a.id, "user", "How do lifetimes work in Rust?")
    store.add_message(b.id, "assistant", "Use a dictionary comprehension in Python.")
    hits = store.search("dictionary")
    assert [(c.title, m.role) for c, m in hits] == [("Python chat", "assistant")]
    assert [c.title for c, _ in store.search("lifet")] == ["Rust chat"]  # prefix match
    assert store.search('"; DROP TABLE messages; --') == []
    store.delete(b.id)
    assert store.search("dictionary") == []


def test_reply_cut_off_by_a_crash_is_marked_interrupted(hearth_home):
    first = ChatStore()
    c = first.create_conversation()
    m = first.add_message(c.id, "assistant", "", STREAMING)
    first.update_message(m.id, "partial rep")
    first.db.close()  # no finalising: as if the app were killed
    again = ChatStore()
    saved = again.messages(c.id)[0]
    assert (saved.content, saved.status) == ("partial rep", INTERRUPTED)
    again.close()


def test_newer_database_is_refused_readably(hearth_home):
    ChatStore().close()
    db = sqlite3.connect(hearth_home / "hearth.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(HearthError, match="newer Hearth"):
        ChatStore()


def test_corrupt_database_is_a_readable_error(hearth_home):
    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / "hearth.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HearthError, match=r"the chat database .*hearth.db is damaged \(file is not a database\)"):
        ChatStore()


def test_status_defaults_to_complete(store):
    c = store.create_conversation()
    assert store.add_message(c.id, "user", "x").status == COMPLETE
