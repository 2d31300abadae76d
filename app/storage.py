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


def open_database(path: Path, migrations: Sequence[Migration], what: str) -> sqlite3.Connection:
    """Connect and bring the schema up to ``len(migrations)``; ``what`` names it in errors."""
    try:
        db = sqlite3.connect(path, timeout=10, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            db.close()
            raise HearthError(f"the {what} {path} was written by a newer Hearth (format {version})")
        for step in range(version, len(migrations)):
            with db:
                migrations[step](db)
                db.execute(f"PRAGMA user_version = {step + 1}")
    except sqlite3.DatabaseError as exc:
        raise HearthError(f"cannot open the {what} {path}: {exc}") from None
    return db
