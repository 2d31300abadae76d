"""Opening Hearth's SQLite files from several processes at once (issue 14: a brand-new data folder
opened by the window and the CLI together raced in the schema migration)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OPEN_ALL = """
import os, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
from app.chats.store import ChatStore
from app.savings.tally import SavingsStore
from app.docs.store import CollectionStore
ChatStore().close(); SavingsStore().close(); CollectionStore("shared", create=True).close()
print("ok")
"""


def test_processes_opening_new_stores_at_once_migrate_them_once(tmp_path, hearth_home):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_ALL, str(go)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(ROOT))) for _ in range(8)]
    time.sleep(1.5)  # all started and waiting (imports done lazily after the signal)
    go.write_text("")
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _out, err in results]
    assert all(out.strip() == "ok" for out, _err in results)


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path):
    import sqlite3

    import pytest

    from app.errors import HearthError
    from app.storage import open_database

    def good(db):
        db.executescript("CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\nEND;\n")

    def bad(db):
        db.execute("CREATE TABLE b (y)")
        db.execute("INSERT INTO nowhere VALUES (1)")

    path = tmp_path / "x.db"
    open_database(path, [good], "test database").close()
    with pytest.raises(HearthError, match="cannot open the test database"):
        open_database(path, [good, bad], "test database")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchone() is None
