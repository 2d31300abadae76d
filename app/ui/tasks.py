"""All background work of the window, in lanes: one way to run something off the GUI thread.

Lanes:
- ``DB``: one thread, in order. It owns the window's chat-store and tally
  connections, so SQLite writes are serialised without locks.
- ``MODEL``: one thread for the conversation service (loading, turns). A turn
  may wait on the model for minutes; nothing else waits behind it.
- ``NETWORK``: a few threads for the Hub and downloads' bookkeeping.
- ``CPU``: a few threads for long local work: document indexing runs, folder
  walks, measurements.

Results come back on the GUI thread through a ``TaskScope``, a QObject that
belongs to the widget that asked: when that widget is gone, its results are
dropped instead of touching a deleted window. Jobs get what they need as
arguments (a settings snapshot, never the live object).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from app.chats.store import ChatStore
from app.errors import HearthError
from app.ui.qt import QObject, Signal

log = logging.getLogger(__name__)

DB, MODEL, NETWORK, CPU = "db", "model", "network", "cpu"
_WORKERS = {DB: 1, MODEL: 1, NETWORK: 4, CPU: 2}


class TaskManager:
    """Owned by the main window; dialogs get scopes on it, never threads of their own."""

    def __init__(self, store_factory: Callable[[], ChatStore] = ChatStore):
        self._pools = {lane: ThreadPoolExecutor(max_workers=n, thread_name_prefix=f"hearth-{lane}")
                       for lane, n in _WORKERS.items()}
        self._store_factory = store_factory
        self._store: ChatStore | None = None
        self._savings = None
        self.closed = False

    def submit(self, lane: str, fn: Callable[..., Any], *args) -> Future | None:
        if self.closed:
            return None
        return self._pools[lane].submit(fn, *args)

    def scope(self, owner: QObject) -> "TaskScope":
        return TaskScope(self, owner)

    # --- the DB lane's connections (use inside DB-lane jobs only) -------------------------------
    def current_store(self) -> ChatStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def savings_store(self):
        if self._savings is None:
            from app.savings.tally import SavingsStore

            self._savings = SavingsStore()
        return self._savings

    def wait_idle(self, *lanes: str) -> None:
        """Block until every job submitted so far on these lanes ran (tests and shutdown only)."""
        for lane in lanes or (DB,):
            self._pools[lane].submit(lambda: None).result()

    def shutdown(self) -> None:
        """Finish the DB lane's writes and close its stores; network and CPU jobs finish unseen."""
        if self.closed:
            return
        self.closed = True

        def close_stores():
            if self._store is not None:
                self._store.purge_deleted()
                self._store.close()
            if self._savings is not None:
                self._savings.close()

        self._pools[DB].submit(close_stores)
        for lane, pool in self._pools.items():
            pool.shutdown(wait=lane in (DB, MODEL), cancel_futures=lane in (NETWORK, CPU))


class TaskScope(QObject):
    """Runs jobs on a lane and delivers results to its owner on the GUI thread.

    ``failed(str)`` carries errors that have no handler of their own. An error
    that is not a ``HearthError`` is a bug: it is logged with its traceback,
    handled or not.
    """

    _done = Signal(object, object, object)
    failed = Signal(str)

    def __init__(self, tasks: TaskManager, owner: QObject):
        super().__init__(owner)
        self.tasks = tasks
        self._done.connect(self._deliver)

    def run(self, fn: Callable[..., Any], *args, lane: str = DB, on_done=None, on_error=None) -> None:
        def job():
            try:
                result, error = fn(*args), None
            except Exception as exc:  # delivered to the GUI thread, never lost
                result, error = None, exc
            try:
                self._done.emit((on_done, on_error), result, error)
            except RuntimeError:  # the owner was deleted meanwhile: nobody to tell
                pass

        self.tasks.submit(lane, job)

    def store(self, method: str, *args, on_done=None, on_error=None) -> None:
        """Call ``ChatStore.<method>(*args)`` on the DB lane."""
        self.run(lambda: getattr(self.tasks.current_store(), method)(*args), on_done=on_done, on_error=on_error)

    def wait_idle(self, *lanes: str) -> None:
        self.tasks.wait_idle(*lanes)

    def _deliver(self, callbacks, result, error) -> None:
        if self.tasks.closed:
            return
        on_done, on_error = callbacks
        if error is not None:
            if not isinstance(error, HearthError):
                log.error("background job failed", exc_info=error)
            if on_error is not None:
                on_error(error)
            else:
                self.failed.emit(str(error))
        elif on_done is not None:
            on_done(result)
