"""One SQLite file per collection: its folders, files, passages, full-text index and vectors.

A file's passages and vectors are written in one transaction after the whole
file is embedded, so an index killed mid-way (SIGKILL, power cut) holds
only whole files and the next sync goes on with the rest. Vectors are
float32 blobs beside their passage; searches use a NumPy matrix built from
them once per change (brute force: measured fast enough at 100,000
passages, see scripts/bench_docs.py, and no SQLite extension to load).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from app import paths
from app.docs.chunking import Chunk
from app.errors import HearthError
from app.storage import open_database

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def _v1(db: sqlite3.Connection) -> None:
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE roots (path TEXT PRIMARY KEY);
        CREATE TABLE files (
            id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT UNIQUE NOT NULL, size INTEGER, mtime REAL,
            sha256 TEXT, status TEXT NOT NULL, reason TEXT, chunks INTEGER DEFAULT 0, pages INTEGER,
            indexed_at REAL);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            ord INTEGER, text TEXT NOT NULL, page INTEGER, line_start INTEGER, line_end INTEGER, heading TEXT,
            vector BLOB NOT NULL);
        CREATE INDEX chunks_file ON chunks(file_id);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks', content_rowid='id',
                                                   tokenize='porter unicode61');
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, old.heading);
        END;
    """)


MIGRATIONS = (_v1,)


def _stored(path: str):
    """A file's key as stored: its text, or for a name that is not valid UTF-8 (Python keeps
    its undecodable bytes as surrogates, which SQLite text cannot hold) its exact bytes."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def _loaded(value) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def docs_dir() -> Path:
    return paths.docs_dir()


def check_name(name: str) -> str:
    if not _NAME.match(name or "") or name.endswith((".", " ")):
        raise HearthError(f"{name!r} is not a usable collection name: use letters, digits, spaces, '.', '_' "
                          "or '-' (64 at most)")
    return name


def collection_names() -> list[str]:
    return sorted(p.stem for p in docs_dir().glob("*.db"))


@dataclass
class FileRow:
    id: int
    path: str
    size: int | None
    mtime: float | None
    sha256: str | None
    status: str  # "indexed" or "skipped"
    reason: str | None
    chunks: int
    pages: int | None


class CollectionStore:
    def __init__(self, name: str, create: bool = False):
        self.name = check_name(name)
        self.path = docs_dir() / f"{name}.db"
        if not create and not self.path.exists():
            raise HearthError(f"no collection named {name!r} (see 'hearth docs ls')")
        self.db = open_database(self.path, MIGRATIONS, "document index")
        self._matrix = None
        self._matrix_key = None

    def close(self) -> None:
        self.db.close()

    # --- settings of the collection ---------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def roots(self) -> list[Path]:
        return sorted(Path(_loaded(r[0])) for r in self.db.execute("SELECT path FROM roots"))

    def add_root(self, path: Path) -> None:
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO roots (path) VALUES (?)", (_stored(str(path)),))

    # --- files ------------------------------------------------------------------------------
    def files(self) -> dict[str, FileRow]:
        rows = self.db.execute("SELECT id, path, size, mtime, sha256, status, reason, chunks, pages FROM files")
        return {_loaded(r[1]): FileRow(r[0], _loaded(r[1]), *r[2:]) for r in rows}

    def record_skip(self, path: str, size: int | None, mtime: float | None, reason: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM files WHERE path = ?", (_stored(path),))
            self.db.execute("INSERT INTO files (path, size, mtime, status, reason, indexed_at) "
                            "VALUES (?, ?, ?, 'skipped', ?, ?)", (_stored(path), size, mtime, reason, time.time()))

    def touch(self, path: str, size: int, mtime: float) -> None:
        """The content hash matched: only the time changed, nothing to re-embed."""
        with self.db:
            self.db.execute("UPDATE files SET size = ?, mtime = ? WHERE path = ?", (size, mtime, _stored(path)))

    def replace_file(self, path: str, size: int, mtime: float, sha256: str, chunks: list[Chunk], vectors,
                     note: str | None = None) -> None:
        """Swap a file's passages for new ones, all or nothing. ``note``: why only part of it is indexed."""
        pages = max((c.page for c in chunks if c.page), default=None)
        with self.db:
            self.db.execute("DELETE FROM files WHERE path = ?", (_stored(path),))
            cur = self.db.execute(
                "INSERT INTO files (path, size, mtime, sha256, status, reason, chunks, pages, indexed_at) "
                "VALUES (?, ?, ?, ?, 'indexed', ?, ?, ?, ?)",
                (_stored(path), size, mtime, sha256, note, len(chunks), pages, time.time()))
            file_id = cur.lastrowid
            self.db.executemany(
                "INSERT INTO chunks (file_id, ord, text, page, line_start, line_end, heading, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(file_id, i, c.text, c.page, c.line_start, c.line_end, c.heading, vectors[i].tobytes())
                 for i, c in enumerate(chunks)])

    def remove_file(self, path: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM files WHERE path = ?", (_stored(path),))

    def counts(self) -> dict:
        files = dict(self.db.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall())
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        pages = self.db.execute("SELECT coalesce(sum(pages), 0) FROM files").fetchone()[0]
        return {"indexed_files": files.get("indexed", 0), "skipped_files": files.get("skipped", 0),
                "chunks": chunks, "pages": pages}

    # --- search -----------------------------------------------------------------------------
    def matrix(self):
        """(chunk ids, unit vectors as rows), rebuilt only after the index changed."""
        import numpy as np

        key = self.db.execute("SELECT count(*), coalesce(max(id), 0) FROM chunks").fetchone()
        if self._matrix is None or key != self._matrix_key:
            rows = self.db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            dim = int(self.meta("dim") or 0)
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            matrix = matrix.reshape(len(rows), dim) if dim and len(rows) else np.zeros((0, max(dim, 1)), np.float32)
            self._matrix, self._matrix_key = (ids, matrix), key
        return self._matrix

    def full_text(self, match: str, limit: int) -> list[int]:
        try:
            rows = self.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) "
                                   "LIMIT ?", (match, limit)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [r[0] for r in rows]

    def chunks_by_id(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT c.id, f.path, c.page, c.line_start, c.line_end, c.heading, c.text FROM chunks c "
            f"JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})", ids).fetchall()
        return {r[0]: {"file": _loaded(r[1]), "page": r[2], "lines": [r[3], r[4]] if r[3] is not None else None,
                       "heading": r[5] or "", "text": r[6]} for r in rows}
