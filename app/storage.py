"""Opening Hearth's SQLite files: WAL, a schema version in PRAGMA user_version, ordered migrations.

Every database (chats, the savings tally, later document indexes) opens through
here, so each one upgrades the same way and refuses a file from a newer Hearth
with the same readable message.

Damage found later, by any query (a corrupt page in the middle of the file, a
full or read-only disk), becomes a ``StoreError`` naming the file and what to do,
wherever it surfaces: connections and cursors are our own subclasses that
translate SQLite's error codes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

from app.errors import HearthError

Migration = Callable[[sqlite3.Connection], None]

# SQLite's primary result codes (the low byte of an extended code) that mean the file, not the query.
_CORRUPT, _NOTADB, _FULL, _READONLY, _IOERR, _CANTOPEN = 11, 26, 13, 8, 10, 14


class StoreError(HearthError):
    """A database file that is damaged or cannot be written; ``path`` names it."""

    def __init__(self, message: str, path: Path | None = None, damaged: bool = False):
        super().__init__(message)
        self.path, self.damaged = path, damaged


def _translate(exc: sqlite3.Error, connection) -> Exception:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    path, what = getattr(connection, "store_path", None), getattr(connection, "store_what", "database")
    if code in (_CORRUPT, _NOTADB):
        return StoreError(f"the {what} {path} is damaged ({exc}); 'hearth doctor --repair' salvages what it can",
                          path, damaged=True)
    if code == _FULL:
        return StoreError(f"the disk holding the {what} {path} is full: nothing more can be saved", path)
    if code == _READONLY:
        return StoreError(f"the {what} {path} is read-only: nothing can be saved", path)
    if code in (_IOERR, _CANTOPEN):
        return StoreError(f"the {what} {path} cannot be read or written ({exc})", path)
    return exc


def _translating(method):
    def translated(self, *args):
        try:
            return method(self, *args)
        except sqlite3.Error as exc:
            raise _translate(exc, self if isinstance(self, sqlite3.Connection) else self.connection) from None
    return translated


class _Cursor(sqlite3.Cursor):
    execute = _translating(sqlite3.Cursor.execute)
    executemany = _translating(sqlite3.Cursor.executemany)
    fetchone = _translating(sqlite3.Cursor.fetchone)
    fetchmany = _translating(sqlite3.Cursor.fetchmany)
    fetchall = _translating(sqlite3.Cursor.fetchall)
    __next__ = _translating(sqlite3.Cursor.__next__)


class _Connection(sqlite3.Connection):
    store_path: Path | None = None
    store_what = "database"

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, *args):
        return self.cursor().execute(*args)

    def executemany(self, *args):
        return self.cursor().executemany(*args)

    commit = _translating(sqlite3.Connection.commit)
    __exit__ = _translating(sqlite3.Connection.__exit__)


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
        db = sqlite3.connect(path, timeout=30, check_same_thread=False, factory=_Connection)
        db.store_path, db.store_what = path, what
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            db.close()
            raise HearthError(f"the {what} {path} was written by a newer Hearth (format {version})")
        if version < len(migrations):
            _migrate(db, migrations)
    except StoreError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the {what} {path}: {exc}", path) from None
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
