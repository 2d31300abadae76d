"""Damaged databases (issue 14): a clear error naming the file wherever the damage is met, and
``hearth doctor --repair`` salvaging what SQLite can still read, or re-indexing a collection."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app import paths
from app.chats.store import ChatStore
from app.storage import StoreError

ROOT = Path(__file__).resolve().parents[1]


def hearth(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)


def damage_middle(path: Path, pages: range) -> None:
    """Settle the WAL into the file, then overwrite some pages in the middle with noise."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(path, "r+b") as handle:
        for page in pages:
            handle.seek(page * size)
            handle.write(bytes((page * 7 + i) % 251 for i in range(size)))


@pytest.fixture
def damaged_chats(hearth_home):
    store = ChatStore()
    ids = []
    for c in range(3):
        chat = store.create_conversation(f"Chat {c}")
        ids.append(chat.id)
        for m in range(150):
            store.add_message(chat.id, "user" if m % 2 == 0 else "assistant", f"message {m} of chat {c} " + "x" * 300)
    store.close()
    pages = os.path.getsize(paths.database_file()) // 4096
    damage_middle(paths.database_file(), range(pages // 2, pages // 2 + 4))
    return ids


def test_damage_met_by_any_command_is_one_line_naming_the_file(damaged_chats):
    failures = []
    for cid in damaged_chats:
        result = hearth("chats", "show", str(cid))
        if result.returncode != 0:
            failures.append(result)
    assert failures, "the damage was not met: damage other pages"
    for result in failures:
        assert result.returncode == 1 and "Traceback" not in result.stderr
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1
        assert f"the chat database {paths.database_file()} is damaged" in line and "hearth doctor --repair" in line
    with pytest.raises(StoreError, match="is damaged"):
        store = ChatStore()
        try:
            for cid in damaged_chats:
                store.messages(cid)
        finally:
            store.close()


def test_repair_salvages_what_can_be_read_and_keeps_the_damaged_file(damaged_chats):
    checked = hearth("doctor", "--repair")
    assert checked.returncode == 0, checked.stderr
    line = next(l for l in checked.stdout.splitlines() if l.startswith("chat database"))
    assert "DAMAGED" in line and "salvaged" in line and ".damaged-" in line
    kept = list(paths.data_dir().glob("*.damaged-*"))
    assert len(kept) == 1  # never deleted
    store = ChatStore()
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        messages = sum(len(store.messages(cid)) for cid in damaged_chats)
        assert 300 <= messages < 450  # most of it back; the pages that were noise are gone
        assert store.search("message", limit=5)  # the full-text index refilled
    finally:
        store.close()
    again = hearth("doctor", "--repair")
    assert "chat database hearth.db: ok" in again.stdout or "chat database " in again.stdout and ": ok" in again.stdout


def test_a_damaged_collection_is_rebuilt_from_its_files(hearth_home, tmp_path):
    from app.config import load_settings
    from app.docs import service

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nFact {i}: item {i} costs {i * 3} euros.")
    service.add_paths("notes", [folder]).close()
    service.sync("notes", load_settings())
    db = paths.docs_dir() / "notes.db"
    pages = os.path.getsize(db) // 4096
    damage_middle(db, range(pages // 2, pages // 2 + 3))
    checked = hearth("doctor", "--repair")
    assert checked.returncode == 0, checked.stderr
    assert "collection 'notes'" in checked.stdout and "rebuilt from its files: 12 indexed" in checked.stdout
    status = service.status("notes")
    assert status["indexed_files"] == 12 and status["folders"] == [str(folder)]
