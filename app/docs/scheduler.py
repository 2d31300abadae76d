"""Document indexing runs, one at a time, queued by collection: a plain object the app owns.

The window (and anything else) asks for syncs and hears back through
callbacks, on the thread that ran the sync; the window turns those into Qt
signals. The runs happen on whatever ``spawn`` gives (the window's CPU lane;
a plain thread by default), so a dialog that closes never stops indexing.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable

from app.config import Settings
from app.docs import service
from app.docs.indexer import IndexStopped
from app.errors import HearthError

log = logging.getLogger(__name__)
MAX_WATCHED_FOLDERS = 2000


@dataclass
class Listener:
    progress: Callable[[str, int, int, str], None] = lambda name, done, total, text: None
    finished: Callable[[str, str], None] = lambda name, summary: None
    failed: Callable[[str, str], None] = lambda name, message: None
    collections_changed: Callable[[], None] = lambda: None


def _thread(fn: Callable[[], None]) -> None:
    threading.Thread(target=fn, name="hearth-indexing", daemon=True).start()


class IndexScheduler:
    def __init__(self, settings: Callable[[], Settings], listener: Listener | None = None,
                 spawn: Callable[[Callable[[], None]], None] = _thread):
        self._settings = settings  # returns a snapshot for each run
        self.listener = listener or Listener()
        self._spawn = spawn
        self._queue: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = False
        self._done = threading.Event()
        self._done.set()
        self.current: str | None = None

    def sync(self, name: str) -> None:
        with self._lock:
            if name not in self._queue and name != self.current:
                self._queue.append(name)
            if self._running:
                return
            self._running = True
            self._stop.clear()
            self._done.clear()
        self._spawn(self._drain)

    def sync_all(self) -> None:
        for row in service.listing():
            self.sync(row["name"])

    def pause(self) -> None:
        """Stop after the current file; what is indexed stays, the next sync goes on from there."""
        with self._lock:
            self._queue.clear()
        self._stop.set()

    def shutdown(self, timeout: float = 10) -> None:
        self.pause()
        self._done.wait(timeout)

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self.current = None
                        self._running = False
                        return
                    name = self.current = self._queue.pop(0)
                self._run(name)
        finally:
            self._done.set()

    def _run(self, name: str) -> None:
        listener = self.listener
        try:
            result = service.sync(name, self._settings(),
                                  on_progress=lambda p: listener.progress(name, p.files_done, p.files_total,
                                                                          p.describe()),
                                  should_stop=self._stop.is_set)
        except (IndexStopped, HearthError) as exc:
            listener.failed(name, str(exc))
            return
        except Exception as exc:  # a bug: shown to the user, logged for us; the app goes on
            log.exception("indexing %s failed", name)
            listener.failed(name, f"{type(exc).__name__}: {exc}")
            return
        listener.finished(name, f"{result.indexed} indexed, {result.unchanged} unchanged, "
                                f"{result.skipped} skipped, {result.removed} removed")
        listener.collections_changed()


def watched_folders() -> list[str]:
    """Every folder of every collection, sub-folders included (hidden ones left out), for a watcher."""
    folders: list[str] = []
    for row in service.listing():
        for root in row.get("folders", []):
            for folder, dirs, _files in os.walk(root, followlinks=False):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                folders.append(folder)
                if len(folders) >= MAX_WATCHED_FOLDERS:
                    return folders
    return folders
