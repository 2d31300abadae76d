"""``hearth doctor --repair``: check every database in the data folder and mend the damaged ones.

A damaged chat or savings database is salvaged: a fresh file with the current
schema receives every row SQLite can still read, table by table in rowid
order, skipping past unreadable pages; the full-text indexes refill through
their triggers. A damaged document collection is rebuilt from its files
(its folders and embedding model are read from the old index when they can
be; otherwise its rows are salvaged like the others). The damaged file is
never deleted: it is kept beside the new one as ``NAME.damaged-TIME``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from app import paths
from app.storage import Migration, open_database

_MIN_ROWID = -(1 << 63)
_BATCH = 200
_MAX_SKIP = 1 << 24


@dataclass
class Checked:
    what: str
    path: Path
    ok: bool
    problem: str = ""
    action: str = ""
    rows: dict = field(default_factory=dict)  # table -> rows kept

    def describe(self) -> str:
        if self.ok:
            return f"{self.what} {self.path.name}: ok"
        return f"{self.what} {self.path.name}: DAMAGED ({self.problem}); {self.action}"


def integrity_problem(path: Path) -> str | None:
    """None if SQLite finds the file sound, else its first complaint."""
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == [("ok",)]:
        return None
    return "; ".join(str(r[0]) for r in rows[:3])


def _stores() -> list[tuple[str, Path, Migration | None]]:
    from app.chats import store as chats
    from app.docs import store as docs
    from app.savings import tally

    found = [("chat database", paths.database_file(), chats._MIGRATIONS),
             ("savings database", paths.savings_file(), tally._MIGRATIONS)]
    for name in docs.collection_names():
        found.append((f"collection {name!r}", docs.docs_dir() / f"{name}.db", None))
    return [(what, path, migrations) for what, path, migrations in found if path.exists()]


def check_all(repair: bool, settings=None, on_progress: Callable[[str], None] | None = None) -> list[Checked]:
    results = []
    for what, path, migrations in _stores():
        problem = integrity_problem(path)
        if problem is None:
            results.append(Checked(what, path, True))
            continue
        checked = Checked(what, path, False, problem, "run 'hearth doctor --repair' to mend it")
        if repair:
            if on_progress:
                on_progress(f"repairing the {what}…")
            if migrations is None:
                checked.action, checked.rows = _rebuild_collection(path, settings)
            else:
                checked.rows, kept_as = salvage(path, migrations, what)
                shown = ", ".join(f"{n:,} {table}" for table, n in checked.rows.items())
                checked.action = f"salvaged {shown or 'nothing'}; the damaged file is kept as {kept_as.name}"
        results.append(checked)
    return results


def _tables(db: sqlite3.Connection) -> list[str]:
    """Ordinary tables in creation order (parents before children), without full-text shadows."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return [name for name, _sql in rows if name not in virtual and not name.startswith("sqlite_")
            and not any(name.startswith(v + "_") for v in virtual)]


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")').fetchall()]


def salvage(path: Path, migrations, what: str) -> tuple[dict, Path]:
    """Copy what can be read into a fresh file, swap it in; returns (rows kept per table, damaged copy)."""
    fresh = path.with_name(path.name + ".salvaging")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
        leftover.unlink(missing_ok=True)
    target = open_database(fresh, migrations, what)
    kept: dict[str, int] = {}
    try:
        target.execute("PRAGMA foreign_keys=OFF")  # a message whose conversation was lost is still kept
        source = sqlite3.connect(path, timeout=30)
        try:
            for table in _tables(target):
                try:
                    shared = [c for c in _columns(target, table) if c in set(_columns(source, table))]
                except sqlite3.DatabaseError:
                    continue
                if shared:
                    kept[table] = _copy_table(source, target, table, shared)
        finally:
            source.close()
        target.commit()
    finally:
        target.close()
    kept_as = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, kept_as)
    for suffix in ("-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            os.replace(old, Path(f"{kept_as}{suffix}"))
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    os.replace(fresh, path)
    return kept, kept_as


def _copy_table(source: sqlite3.Connection, target, table: str, columns: list[str]) -> int:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * (len(columns) + 1))
    last, step, batch, copied = _MIN_ROWID, 1, _BATCH, 0
    while True:
        try:
            rows = source.execute(f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?',
                                  (last, batch)).fetchall()
        except sqlite3.DatabaseError:
            if batch > 1:  # read one row at a time up to the damage, keeping every row before it
                batch = 1
                continue
            # The next row is on an unreadable page: jump past it, further each time, until rows read again.
            last = (0 if last == _MIN_ROWID else last) + step
            step *= 2
            if step > _MAX_SKIP:
                return copied
            continue
        if not rows:
            return copied
        step, batch = 1, _BATCH
        for row in rows:
            try:
                target.execute(f'INSERT OR IGNORE INTO "{table}" (rowid, {names}) VALUES ({marks})', row)
                copied += 1
            except Exception:  # noqa: BLE001 (one row the new schema refuses: the rest still count)
                continue
        last = rows[-1][0]


def _rebuild_collection(path: Path, settings) -> tuple[str, dict]:
    """Read the collection's folders and model from the damaged index if possible, then index again."""
    from app.docs import service
    from app.docs.store import CollectionStore

    name = path.stem
    roots, meta = [], {}
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            roots = [r[0] for r in db.execute("SELECT path FROM roots").fetchall()]
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        finally:
            db.close()
    except sqlite3.DatabaseError:
        pass
    if not roots:
        from app.docs.store import MIGRATIONS

        kept, kept_as = salvage(path, MIGRATIONS, f"collection {name!r}")
        return f"its folders could not be read: salvaged what was readable; the damaged file is kept as " \
               f"{kept_as.name}", kept
    kept_as = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, kept_as)
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(Path(f"{path}{suffix}"), Path(f"{kept_as}{suffix}"))
    store = CollectionStore(name, create=True)
    try:
        for root in roots:
            store.add_root(Path(os.fsdecode(root)) if isinstance(root, bytes) else Path(root))
        for key in ("embed_model", "embed_model_id", "embedding_native"):
            if key in meta:
                store.set_meta(key, meta[key])
    finally:
        store.close()
    if settings is None:
        from app.config import load_settings

        settings = load_settings()
    result = service.sync(name, settings)
    return (f"rebuilt from its files: {result.indexed} indexed, {result.skipped} skipped; the damaged index is "
            f"kept as {kept_as.name}"), {"files": result.indexed, "passages": result.chunks}
