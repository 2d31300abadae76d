"""Opening Hearth's SQLite files: WAL, a schema version in PRAGMA user_version, ordered migrations.

Every database (chats, the savings tally, later document indexes) opens through
here, so each one upgrades the same way and refuses a file from a newer Hearth
with the same readable message.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

from app.errors import HearthError

Migration = Callable[[sqlite3.Connection], None]


class _Migrating:
    """The connection as migrations see it: ``executescript`` runs statement by statement, because
    sqlite3's own would commit the transaction that holds the migration lock."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def execute(self, *args):
        return self._db.execute(*args)

    def executemany(self, *args):
        return self._db.executemany(*args)

    def __getattr__(self, name):
        return getattr(self._db, name)

    def executescript(self, script: str) -> None:
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self._db.execute(statement)
                statement = ""
        if statement.strip():
            self._db.execute(statement)


def open_database(path: Path, migrations: Sequence[Migration], what: str) -> sqlite3.Connection:
    """Connect and bring the schema up to ``len(migrations)``; ``what`` names it in errors.

    The version is read and the migrations run inside one ``BEGIN IMMEDIATE``
    transaction: several processes opening a brand-new file at once (the CLI
    beside the window) migrate it once, instead of racing to create its tables."""
    try:
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            db.close()
            raise HearthError(f"the {what} {path} was written by a newer Hearth (format {version})")
        if version < len(migrations):
            _migrate(db, migrations)
    except sqlite3.DatabaseError as exc:
        raise HearthError(f"cannot open the {what} {path}: {exc}") from None
    return db


def _migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    level = db.isolation_level
    db.isolation_level = None  # transactions by hand
    try:
        db.execute("BEGIN IMMEDIATE")  # the write lock, held until the last step is in
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            for step in range(version, len(migrations)):
                migrations[step](_Migrating(db))
                db.execute(f"PRAGMA user_version = {step + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.isolation_level = level
