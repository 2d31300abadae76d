"""Bringing a collection's index in line with its folders.

A sync walks the collection's folders (never following a symlinked folder,
never reading a file whose real path lies outside them, nor anything but a
regular file), compares each file with what the index holds (size and mtime
first, the content hash when those changed) and re-indexes only what
changed; files that disappeared lose their passages. Everything skipped is
listed with its reason. All reading, hashing included, happens in the reader
process under its time and memory limits: a named pipe or a slow disk
costs one file, never the collection. Reading, embedding and storing overlap: the next file
is parsed while the embedding process works on the last one's passages.
"""

from __future__ import annotations

import logging
import os
import stat as stat_mode
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from app.config import Settings
from app.docs.chunking import Chunk
from app.docs.parsers import Skip, supported
from app.docs.store import CollectionStore
from app.docs.workers import EmbedProcess, ParseProcess, file_kind
from app.errors import HearthError
from app.library.registry import InstalledModel, ModelRegistry

log = logging.getLogger(__name__)

BATCH = 32
IN_FLIGHT = 2
MAX_DEPTH = 40
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox", ".mypy_cache"}


class IndexStopped(HearthError):
    """Paused or cancelled on request; what was indexed is kept and the next sync goes on."""


@dataclass
class IndexProgress:
    files_done: int
    files_total: int
    chunks_done: int
    started: float
    current: str = ""
    # Bytes of the files to index and of those done: the time left follows the work, not the file
    # count (a count-based estimate said "24 s left" for a run that took 811 s: small files first).
    bytes_total: int = 0
    bytes_done: int = 0
    _estimate: tuple[float, float] | None = None  # (seconds left, when)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.chunks_done / elapsed if elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Passages still to come (the bytes left at the passages per byte seen so far) at the
        passage rate seen so far, smoothed; nothing until there is something to go on."""
        if not self.chunks_done or not self.bytes_done or self.files_done >= self.files_total:
            return None
        passages_left = (self.bytes_total - self.bytes_done) * self.chunks_done / self.bytes_done
        fresh = passages_left / max(self.rate, 1e-9)
        now = time.monotonic()
        if self._estimate is not None:  # the last estimate, aged by the time since, blended with this one
            previous, at = self._estimate
            fresh = 0.7 * max(0.0, previous - (now - at)) + 0.3 * fresh
        self._estimate = (fresh, now)
        return fresh

    def describe(self) -> str:
        left = self.seconds_left
        eta = f", about {_duration(left)} left" if left is not None else ""
        from app.display import count

        return (f"{self.files_done:,} of {count(self.files_total, 'file')}, {count(self.chunks_done, 'passage')} "
                f"({self.rate:.1f}/s{eta})")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class SyncResult:
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    removed: int = 0
    chunks: int = 0
    embedded_text: str = ""
    seconds: float = 0.0


def embedding_model(settings: Settings) -> InstalledModel:
    """The model that embeds: the setting, else an installed embedding model, else the starter."""
    registry = ModelRegistry()
    if settings.embedding_model != "auto":
        return registry.resolve(settings.embedding_model)
    models = [m for m in registry.models() if m.problem is None and m.info is not None]
    dedicated = [m for m in models if m.info.is_embedding_model]
    if dedicated:
        return dedicated[0]
    starter = next((m for m in models if m.is_starter), None)
    if starter is None:
        raise HearthError("no model can embed documents: install one from the catalog "
                          "(hearth models catalog), e.g. nomic-embed-text-v1.5")
    return starter


def embedding_threads() -> int:
    from app.engine.params import default_threads

    return default_threads()[0]


def _inside(path: Path, roots: list[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in roots)


OUTSIDE = "a link to something outside the collection's folders (never read)"


def walk(roots: list[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file under the roots, with the reason it must not be read (or None); symlinked
    folders are not followed."""
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    seen: set[str] = set()
    for root in roots:
        if not root.is_dir():
            if str(root) not in seen:
                seen.add(str(root))
                yield root, None if _inside(root, real_roots) else OUTSIDE
            continue
        for folder, dirs, files in os.walk(root, followlinks=False):
            depth = Path(folder).relative_to(root).parts
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                             and len(depth) < MAX_DEPTH)
            for name in sorted(files):
                path = Path(folder) / name
                if name.startswith(".") or str(path) in seen:
                    continue
                seen.add(str(path))
                yield path, OUTSIDE if path.is_symlink() and not _inside(path, real_roots) else None


class Indexer:
    def __init__(self, store: CollectionStore, settings: Settings, model: InstalledModel | None = None):
        self.store = store
        self.settings = settings
        self.model = model or embedding_model(settings)
        self._embedder: EmbedProcess | None = None
        self._parser: ParseProcess | None = None

    def embedder(self) -> EmbedProcess:
        if self._embedder is None:
            pool_mean = not (self.model.info and self.model.info.is_embedding_model)
            self._embedder = EmbedProcess(self.model.path, embedding_threads(), pool_mean)
            self._embedder.start()
        return self._embedder

    def close(self) -> None:
        for helper in (self._embedder, self._parser):
            if helper is not None:
                helper.close()
        self._embedder = self._parser = None

    def _check_model(self) -> None:
        """A collection keeps the model it was embedded with; vectors of two models do not mix."""
        used = self.store.meta("embed_model")
        if used is None:
            self.store.set_meta("embed_model", str(self.model.path))
            self.store.set_meta("embed_model_id", self.model.id)
            self.store.set_meta("embedding_native", "1" if self.model.info.is_embedding_model else "0")
        elif used != str(self.model.path):
            if Path(used).exists():
                self.model = ModelRegistry().resolve(used)
            else:
                raise HearthError(f"collection {self.store.name!r} was indexed with {Path(used).name}, which is "
                                  "gone; remove the collection and add its folders again")

    def sync(self, on_progress: Callable[[IndexProgress], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> SyncResult:
        self._check_model()
        started = time.monotonic()
        result = SyncResult()
        known = self.store.files()
        roots = self.store.roots()
        todo: list[tuple[Path, os.stat_result]] = []
        present: set[str] = set()
        for path, problem in walk(roots):
            key = str(path)
            present.add(key)
            row = known.get(key)
            try:
                stat = path.stat()
            except OSError as exc:
                problem = problem or f"unreadable ({exc.strerror or exc})"
                stat = None
            if problem is None and not stat_mode.S_ISREG(stat.st_mode):
                problem = f"not a regular file ({file_kind(stat.st_mode)})"
            if problem is None and not supported(path):
                problem = f"unsupported file type {path.suffix or '(none)'}"
            if problem is not None:
                if row is None or row.reason != problem or (stat and row.mtime != stat.st_mtime):
                    self.store.record_skip(key, stat.st_size if stat else None, stat.st_mtime if stat else None,
                                           problem)
                result.skipped += 1
                continue
            if row is not None and row.size == stat.st_size and row.mtime == stat.st_mtime:
                result.unchanged += 1
                continue
            todo.append((path, stat))
        for key in set(known) - present:
            self.store.remove_file(key)
            result.removed += 1
        progress = IndexProgress(0, len(todo), 0, started, bytes_total=sum(st.st_size for _p, st in todo))
        if on_progress:
            on_progress(progress)
        if todo:
            self._index(todo, known, progress, result, on_progress, should_stop)
        result.seconds = time.monotonic() - started
        return result

    def _prepare(self, todo, known, result) -> Iterator[tuple[Path, os.stat_result, str, list[Chunk] | None, str | None]]:
        """Read each changed file in the reader process, or learn that its content is unchanged."""
        if self._parser is None:
            self._parser = ParseProcess()
        for path, stat in todo:
            key = str(path)
            row = known.get(key)
            indexed_digest = row.sha256 if row is not None and row.status == "indexed" else None
            try:
                read = self._parser.read(path, indexed_digest)
            except Skip as exc:
                self.store.record_skip(key, stat.st_size, stat.st_mtime, str(exc))
                result.skipped += 1
                yield path, stat, getattr(exc, "digest", None) or "", None, None
                continue
            if read.chunks is None:  # same content, only the time changed
                self.store.touch(key, stat.st_size, stat.st_mtime)
                result.unchanged += 1
                yield path, stat, read.digest, None, None
                continue
            if not read.chunks:
                self.store.record_skip(key, stat.st_size, stat.st_mtime, "no text")
                result.skipped += 1
                yield path, stat, read.digest, None, None
                continue
            yield path, stat, read.digest, read.chunks, read.note

    def _index(self, todo, known, progress, result, on_progress, should_stop) -> None:
        import numpy as np

        embedder = self.embedder()
        if self.store.meta("dim") is None:
            self.store.set_meta("dim", str(embedder.dim))
        in_flight: deque = deque()  # (file state, number of texts) sent, not yet received
        embedded_parts: list[str] = []

        def receive_one() -> None:
            state, _count = in_flight.popleft()
            state["vectors"].append(embedder.receive())
            state["pending"] -= 1
            if state["pending"] == 0:
                vectors = np.vstack(state["vectors"])
                self.store.replace_file(str(state["path"]), state["stat"].st_size, state["stat"].st_mtime,
                                        state["digest"], state["chunks"], vectors, note=state["note"])
                result.indexed += 1
                result.chunks += len(state["chunks"])
                progress.files_done += 1
                progress.chunks_done += len(state["chunks"])
                progress.bytes_done += state["stat"].st_size
                if on_progress:
                    on_progress(progress)

        try:
            def stop_if_asked() -> None:
                if should_stop and should_stop():
                    raise IndexStopped(f"indexing of {self.store.name!r} paused; it goes on from here next time")

            for path, stat, digest, chunks, note in self._prepare(todo, known, result):
                stop_if_asked()
                progress.current = path.name
                if chunks is None:
                    progress.files_done += 1
                    progress.bytes_done += stat.st_size
                    if on_progress:
                        on_progress(progress)
                    continue
                texts = [c.embedding_text() for c in chunks]
                embedded_parts.extend(texts)
                state = {"path": path, "stat": stat, "digest": digest, "chunks": chunks, "vectors": [],
                         "pending": (len(texts) + BATCH - 1) // BATCH, "note": note}
                for i in range(0, len(texts), BATCH):
                    stop_if_asked()  # a long file pauses mid-way; it is read again next time
                    while len(in_flight) >= IN_FLIGHT:
                        receive_one()
                    embedder.send(texts[i:i + BATCH])
                    in_flight.append((state, len(texts[i:i + BATCH])))
            while in_flight:
                receive_one()
        except IndexStopped:
            self.close()  # drops what was in flight; those files are indexed next time
            raise
        finally:
            result.embedded_text = "\n".join(embedded_parts)
