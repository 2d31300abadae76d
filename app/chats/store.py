"""Conversations and their messages in SQLite: nothing a user wrote or read is ever lost.

WAL mode with ``synchronous=NORMAL``: each committed message survives the app
being killed. A reply is written when it starts (status ``streaming``),
updated as it grows, and finalised as ``complete``, ``stopped`` or ``error``;
a reply found still ``streaming`` on open was cut off by a crash and is
marked ``interrupted``. Deleting a conversation only hides it until
``purge_deleted`` runs, which is what makes undo possible.

A conversation is a tree (format 3): each message names the one it follows
(``parent_id``), so regenerating a reply or editing an earlier message adds a
sibling instead of replacing anything. The conversation remembers the leaf
of the branch on show; ``messages()`` is the path from the root to it, each
message carrying its siblings' ids for the ‹ 2/3 › switcher. Nothing a user
wrote or read on any branch is deleted, and search finds it all.

One connection per store, used from one thread at a time. The window's
database lane holds one; the conversation service holds its own on the thread
that runs replies (WAL lets them read while the other writes).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from app import paths
from app.errors import HearthError
from app.storage import open_database


COMPLETE, STREAMING, STOPPED, ERROR, INTERRUPTED = "complete", "streaming", "stopped", "error", "interrupted"


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    settings: dict = field(default_factory=dict)


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    created: float
    status: str = COMPLETE
    model: str | None = None
    stats: dict = field(default_factory=dict)
    error: str | None = None
    # Written by Hearth, not the model ("nothing relevant found"): shown, never fed back as the model's words.
    canned: bool = False
    parent_id: int | None = None  # the message this one follows; None for a conversation's first
    siblings: list[int] = field(default_factory=list)  # alternatives at this point, itself included, oldest first


def _v1(db: sqlite3.Connection) -> None:
    db.executescript("""
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}',
            deleted REAL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            created REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete',
            model TEXT,
            stats TEXT NOT NULL DEFAULT '{}',
            error TEXT
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
        CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """)


def _v2(db: sqlite3.Connection) -> None:
    """Replies Hearth wrote itself are marked, including the document answers saved before the mark existed."""
    db.execute("ALTER TABLE messages ADD COLUMN canned INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE messages SET canned = 1 WHERE role = 'assistant' AND content LIKE 'I found nothing in %' "
               "AND content LIKE '%so I will not guess.%'")


def _v3(db: sqlite3.Connection) -> None:
    """Branches: every message follows a parent; the saved, linear conversations become one chain each."""
    db.executescript("""
        ALTER TABLE messages ADD COLUMN parent_id INTEGER;
        ALTER TABLE conversations ADD COLUMN leaf_id INTEGER;
        UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p
                                         WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id);
        UPDATE conversations SET leaf_id = (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id);
        CREATE INDEX messages_by_parent ON messages(parent_id);
    """)


# Ordered migrations: _MIGRATIONS[n] brings a database from version n to n + 1.
_MIGRATIONS = [_v1, _v2, _v3]
_COLUMNS = "id, conversation_id, role, content, created, status, model, stats, error, canned, parent_id"
_LEAF = object()  # add_message's default parent: the end of the branch on show


def _message(r) -> Message:
    return Message(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], bool(r[9]), r[10])
SCHEMA_VERSION = len(_MIGRATIONS)


class ChatStore:
    def __init__(self, path: Path | None = None):
        self.path = path or paths.database_file()
        self.db = open_database(self.path, _MIGRATIONS, "chat database")
        with self.db:
            self.db.execute("UPDATE messages SET status = ? WHERE status = ?", (INTERRUPTED, STREAMING))

    def close(self) -> None:
        self.db.close()

    # --- conversations ---------------------------------------------------------
    def create_conversation(self, title: str = "New chat", settings: dict | None = None) -> Conversation:
        now = time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO conversations (title, created, updated, settings) VALUES (?, ?, ?, ?)",
                (title, now, now, json.dumps(settings or {})))
        return Conversation(cur.lastrowid, title, now, now, settings or {})

    def conversations(self) -> list[Conversation]:
        rows = self.db.execute(
            "SELECT id, title, created, updated, settings FROM conversations WHERE deleted IS NULL "
            "ORDER BY updated DESC, id DESC").fetchall()
        return [Conversation(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def conversation(self, conversation_id: int) -> Conversation:
        row = self.db.execute(
            "SELECT id, title, created, updated, settings FROM conversations WHERE id = ? AND deleted IS NULL",
            (conversation_id,)).fetchone()
        if row is None:
            raise HearthError(f"no conversation with id {conversation_id} (see 'hearth chats list')")
        return Conversation(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())[:200] or "Untitled"
        with self.db:
            self.db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def set_settings(self, conversation_id: int, settings: dict) -> None:
        with self.db:
            self.db.execute("UPDATE conversations SET settings = ? WHERE id = ?",
                            (json.dumps(settings), conversation_id))

    def delete(self, conversation_id: int) -> None:
        with self.db:
            self.db.execute("UPDATE conversations SET deleted = ? WHERE id = ?", (time.time(), conversation_id))

    def undelete(self, conversation_id: int) -> None:
        with self.db:
            self.db.execute("UPDATE conversations SET deleted = NULL WHERE id = ?", (conversation_id,))

    def purge_deleted(self) -> None:
        with self.db:
            self.db.execute("DELETE FROM conversations WHERE deleted IS NOT NULL")

    # --- messages ----------------------------------------------------------------
    def add_message(self, conversation_id: int, role: str, content: str, status: str = COMPLETE,
                    model: str | None = None, stats: dict | None = None, parent_id=_LEAF) -> Message:
        """Add a message after ``parent_id`` (by default, at the end of the branch on show); it becomes
        the end of the branch on show."""
        now = time.time()
        with self.db:
            if parent_id is _LEAF:
                parent_id = self._leaf(conversation_id)
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, role, content, created, status, model, stats, parent_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, now, status, model, json.dumps(stats or {}), parent_id))
            self.db.execute("UPDATE conversations SET updated = ?, leaf_id = ? WHERE id = ?",
                            (now, cur.lastrowid, conversation_id))
        return Message(cur.lastrowid, conversation_id, role, content, now, status, model, stats or {},
                       parent_id=parent_id)

    def update_message(self, message_id: int, content: str, status: str | None = None,
                       stats: dict | None = None, error: str | None = None, canned: bool | None = None) -> None:
        sets, args = ["content = ?"], [content]
        if canned is not None:
            sets.append("canned = ?"), args.append(int(canned))
        if status is not None:
            sets.append("status = ?"), args.append(status)
        if stats is not None:
            sets.append("stats = ?"), args.append(json.dumps(stats))
        if error is not None:
            sets.append("error = ?"), args.append(error)
        with self.db:
            self.db.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id = ?", (*args, message_id))

    def _leaf(self, conversation_id: int) -> int | None:
        row = self.db.execute("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return row[0] if row else None

    def messages(self, conversation_id: int) -> list[Message]:
        """The branch on show: from the first message to the leaf, each with its siblings."""
        return self._branch(conversation_id, self.tree(conversation_id))

    def tree(self, conversation_id: int) -> list[Message]:
        """Every message of the conversation, on every branch, oldest first."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
                               (conversation_id,)).fetchall()
        return [_message(r) for r in rows]

    def _branch(self, conversation_id: int, everything: list[Message]) -> list[Message]:
        by_id = {m.id: m for m in everything}
        children: dict[int | None, list[int]] = {}
        for m in everything:
            children.setdefault(m.parent_id, []).append(m.id)
        leaf = self._leaf(conversation_id)
        if leaf not in by_id:
            leaf = everything[-1].id if everything else None
        path, seen = [], set()
        while leaf is not None and leaf in by_id and leaf not in seen:
            seen.add(leaf)
            path.append(by_id[leaf])
            leaf = by_id[leaf].parent_id
        path.reverse()
        for m in path:
            m.siblings = children.get(m.parent_id, [m.id])
        return path

    def set_leaf(self, conversation_id: int, message_id: int | None) -> None:
        """Show the branch that ends at ``message_id`` (None: before the first message), exactly."""
        with self.db:
            self.db.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (message_id, conversation_id))

    def select(self, conversation_id: int, message_id: int) -> None:
        """Show the branch through ``message_id``: below it, the newest reply at each step."""
        rows = self.db.execute("SELECT id, parent_id FROM messages WHERE conversation_id = ?",
                               (conversation_id,)).fetchall()
        if message_id not in {r[0] for r in rows}:
            raise HearthError(f"message {message_id} is not in conversation {conversation_id}")
        newest_child: dict[int, int] = {}
        for mid, parent in rows:
            if parent is not None and mid > newest_child.get(parent, -1):
                newest_child[parent] = mid
        leaf, seen = message_id, set()
        while leaf in newest_child and leaf not in seen:
            seen.add(leaf)
            leaf = newest_child[leaf]
        self.set_leaf(conversation_id, leaf)

    def fork(self, conversation_id: int, message_id: int) -> Conversation:
        """A new conversation holding the branch on show up to ``message_id`` (a copy: the two go apart)."""
        source = self.conversation(conversation_id)
        everything = self.tree(conversation_id)
        by_id = {m.id: m for m in everything}
        if message_id not in by_id:
            raise HearthError(f"message {message_id} is not in conversation {conversation_id}")
        path, at = [], message_id
        while at is not None:
            path.append(by_id[at])
            at = by_id[at].parent_id
        fork = self.create_conversation(f"{source.title} (fork)"[:200], source.settings)
        parent = None
        for m in reversed(path):
            copy = self.add_message(fork.id, m.role, m.content, COMPLETE if m.status == STREAMING else m.status,
                                    m.model, m.stats, parent_id=parent)
            if m.canned or m.error:
                self.update_message(copy.id, m.content, error=m.error, canned=m.canned or None)
            parent = copy.id
        return self.conversation(fork.id)

    def search(self, text: str, limit: int = 100) -> list[tuple[Conversation, Message]]:
        """Messages matching every word of ``text``, newest first."""
        words = [w.replace('"', '""') for w in text.split()]
        if not words:
            return []
        query = " ".join(f'"{w}"*' for w in words)
        rows = self.db.execute(
            "SELECT m.id FROM messages_fts f JOIN messages m ON m.id = f.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? AND c.deleted IS NULL ORDER BY m.created DESC LIMIT ?",
            (query, limit)).fetchall()
        results = []
        for (message_id,) in rows:
            message = _message(self.db.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?",
                                               (message_id,)).fetchone())
            results.append((self.conversation(message.conversation_id), message))
        return results

    # --- app state ------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
