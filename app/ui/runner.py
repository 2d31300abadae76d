"""Short jobs off the GUI thread: the chat store's calls, file reads, registry scans.

Everything runs in order on one background thread, so SQLite writes are
serialised and the store needs no locking. Results and exceptions come back
on the GUI thread through a queued signal; a result that arrives after
shutdown is dropped instead of touching a closed window.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from app.chats.store import ChatStore
from app.errors import HearthError
from app.ui.qt import QObject, Signal

log = logging.getLogger(__name__)


class BackgroundRunner(QObject):
    """Emits ``failed(str)`` for errors that have no handler of their own."""

    _done = Signal(object, object, object)
    failed = Signal(str)

    def __init__(self, parent=None, store_factory: Callable[[], ChatStore] = ChatStore):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-db")
        self._store_factory = store_factory
        self._store: ChatStore | None = None
        self._savings = None
        self._closed = False
        self._done.connect(self._deliver)

    def current_store(self) -> ChatStore:
        """The store, for use inside a job only (it belongs to the background thread)."""
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def run(self, fn: Callable[..., Any], *args, on_done=None, on_error=None) -> None:
        if self._closed:
            return

        def job():
            try:
                result = fn(*args)
            except Exception as exc:  # delivered to the GUI thread, never lost
                self._done.emit((on_done, on_error), None, exc)
                return
            self._done.emit((on_done, on_error), result, None)

        self._pool.submit(job)

    def savings_store(self):
        """The savings tally, for use inside a job only."""
        if self._savings is None:
            from app.savings.tally import SavingsStore

            self._savings = SavingsStore()
        return self._savings

    def store(self, method: str, *args, on_done=None, on_error=None) -> None:
        """Call ``ChatStore.<method>(*args)`` on the background thread."""
        self.run(lambda: getattr(self.current_store(), method)(*args), on_done=on_done, on_error=on_error)

    def _deliver(self, callbacks, result, error) -> None:
        if self._closed:
            return
        on_done, on_error = callbacks
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                if not isinstance(error, HearthError):
                    log.error("background job failed", exc_info=error)
                self.failed.emit(str(error))
        elif on_done is not None:
            on_done(result)

    def wait_idle(self) -> None:
        """Block until every submitted job ran (tests and shutdown only)."""
        self._pool.submit(lambda: None).result()

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; ``wait=False`` lets a slow running job (a network call) finish unseen."""
        self._closed = True

        def close_store():
            if self._store is not None:
                self._store.purge_deleted()
                self._store.close()
            if self._savings is not None:
                self._savings.close()

        self._pool.submit(close_store)
        self._pool.shutdown(wait=wait)
