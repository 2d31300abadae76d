"""Several downloads, one at a time, that survive pauses, errors and restarts.

The queue is plain Python (the GUI watches it through ``on_change``, called
from the download thread). Its state is a small versioned JSON file in the
data folder; the bytes themselves live in the ``.incomplete`` files that
``download.pull`` resumes with HTTP Range requests. A download that was
running when the app closed comes back paused, so nothing starts on the
network without the user asking.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from app import paths
from app.config import read_json_rows, write_json_atomic
from app.errors import HearthError
from app.library import download

log = logging.getLogger(__name__)

QUEUE_VERSION = 1
QUEUED, RUNNING, PAUSED, FAILED, DONE, CANCELLED = "queued", "downloading", "paused", "failed", "done", "cancelled"
FINISHED = (DONE, CANCELLED)


@dataclass
class Job:
    id: int
    repo: str
    file: str
    size: int = 0
    state: str = QUEUED
    done_bytes: int = 0
    bytes_per_s: float = 0.0
    error: str | None = None
    path: str | None = None
    _stop: bool = field(default=False, repr=False, compare=False)

    def describe(self) -> str:
        if self.state == RUNNING and self.size:
            return download.Progress(self.done_bytes, self.size, self.bytes_per_s).describe()
        if self.state == FAILED:
            return f"failed: {self.error}"
        if self.state == DONE:
            return "installed"
        if self.state == PAUSED and self.size:
            return f"paused at {self.done_bytes * 100 // max(1, self.size)}%"
        return self.state

    def as_row(self) -> dict:
        row = asdict(self)
        row.pop("_stop")
        return row


def _queue_file() -> Path:
    return paths.downloads_file()


class DownloadQueue:
    def __init__(self, offline: Callable[[], bool] = lambda: False,
                 on_change: Callable[[Job], None] | None = None):
        self._offline = offline
        self._on_change = on_change or (lambda job: None)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self.jobs: list[Job] = []
        for row in read_json_rows(_queue_file(), "jobs"):
            try:
                job = Job(**{k: v for k, v in row.items() if k in Job.__dataclass_fields__ and k != "_stop"})
            except TypeError:
                continue
            if job.state in (RUNNING, QUEUED):
                job.state = PAUSED  # never start network traffic on launch unasked
            if job.state not in FINISHED:
                self.jobs.append(job)
        self._ids = itertools.count(max((j.id for j in self.jobs), default=0) + 1)
        self._thread = threading.Thread(target=self._run, name="hearth-downloads", daemon=True)
        self._thread.start()

    # --- what the user does ------------------------------------------------------------
    def add(self, repo: str, file: str, size: int = 0) -> Job:
        download.local_name(file)  # refuse hostile names before they reach the queue
        with self._lock:
            for job in self.jobs:
                if job.repo == repo and job.file == file and job.state not in FINISHED:
                    if job.state in (PAUSED, FAILED):
                        job.state, job.error = QUEUED, None
                    self._changed(job)
                    return job
            job = Job(next(self._ids), repo, file, size)
            self.jobs.append(job)
            self._changed(job)
            return job

    def pause(self, job_id: int) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state == RUNNING:
                job._stop = True  # the thread marks it paused when the transfer stops
            elif job.state == QUEUED:
                job.state = PAUSED
                self._changed(job)

    def resume(self, job_id: int) -> None:
        """Resume a paused download, or retry a failed one; it continues from the bytes on disk."""
        with self._lock:
            job = self._job(job_id)
            if job.state in (PAUSED, FAILED):
                job.state, job.error, job._stop = QUEUED, None, False
                self._changed(job)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state == RUNNING:
                job._stop = True
                job.state = CANCELLED  # the thread removes the partial files once the transfer stops
                return
            if job.state not in FINISHED:
                job.state = CANCELLED
                self._remove_partial(job)
                self._changed(job)

    def clear_finished(self) -> None:
        with self._lock:
            self.jobs = [j for j in self.jobs if j.state not in FINISHED]
            self._save()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the running transfer (it stays resumable) and the thread."""
        with self._lock:
            self._closed = True
            for job in self.jobs:
                if job.state == RUNNING:
                    job._stop = True
            self._wake.notify_all()
        self._thread.join(timeout)

    def snapshot(self) -> list[Job]:
        with self._lock:
            return [Job(**j.as_row()) for j in self.jobs]

    # --- the download thread -------------------------------------------------------------
    def _job(self, job_id: int) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise HearthError(f"no download {job_id} in the queue")

    def _changed(self, job: Job) -> None:
        """Save and report; called with the lock held."""
        self._save()
        self._wake.notify_all()
        try:
            self._on_change(Job(**job.as_row()))
        except Exception:  # a broken observer must not stop downloads
            log.exception("download observer failed")

    def _save(self) -> None:
        try:
            write_json_atomic(_queue_file(), {"version": QUEUE_VERSION, "jobs": [j.as_row() for j in self.jobs]})
        except OSError as exc:
            log.warning("could not save the download queue: %s", exc)

    def _remove_partial(self, job: Job) -> None:
        for name in download.part_names(job.file):
            try:
                partial = paths.models_dir() / (download.local_name(name) + ".incomplete")
                partial.unlink(missing_ok=True)
            except (HearthError, OSError) as exc:
                log.warning("could not remove the partial download of %s: %s", name, exc)

    def _next(self) -> Job | None:
        with self._lock:
            while not self._closed:
                job = next((j for j in self.jobs if j.state == QUEUED), None)
                if job is not None:
                    job.state, job._stop = RUNNING, False
                    self._changed(job)
                    return job
                self._wake.wait()
        return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            self._transfer(job)

    def _transfer(self, job: Job) -> None:
        def progress(p: download.Progress) -> None:
            with self._lock:
                job.done_bytes, job.size, job.bytes_per_s = p.done, p.total, p.bytes_per_s
                self._changed(job)

        try:
            path = download.pull(job.repo, job.file, on_progress=progress, should_stop=lambda: job._stop,
                                 offline=self._offline())
        except download.DownloadStopped:
            with self._lock:
                if job.state == CANCELLED:
                    self._remove_partial(job)
                else:
                    job.state = PAUSED
                job.bytes_per_s = 0.0
                self._changed(job)
            return
        except HearthError as exc:
            with self._lock:
                if job.state != CANCELLED:
                    job.state, job.error = FAILED, str(exc)
                job.bytes_per_s = 0.0
                self._changed(job)
            return
        except Exception as exc:  # a bug: keep the queue alive, say what happened
            log.exception("download of %s/%s failed", job.repo, job.file)
            with self._lock:
                job.state, job.error = FAILED, f"internal error: {exc}"
                self._changed(job)
            return
        with self._lock:
            if job.state == CANCELLED:  # cancelled in the last instant: the user does not want it
                for name in download.part_names(job.file):
                    (path.parent / download.local_name(name)).unlink(missing_ok=True)
            else:
                job.state, job.path, job.bytes_per_s = DONE, str(path), 0.0
                job.done_bytes = job.size = max(job.size, path.stat().st_size)
            self._changed(job)
