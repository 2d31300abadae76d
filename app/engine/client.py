"""Start, talk to, restart and stop the inference worker.

``Engine`` is what the CLI and the GUI use. It is thread-safe in the ways
they need: one thread iterates a reply while another cancels it. A reader
thread routes the worker's events to whoever waits for them; when the worker
dies, everyone waiting gets a ``WorkerCrashed`` naming the signal or exit
code, and the next request starts a fresh worker.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import app
from app import paths
from app.engine import protocol as p
from app.engine.base import CONTEXT, CRASH, LOAD, EngineError, WorkerCrashed

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60
# Loading a large model from a slow disk can take minutes; a hung load cannot
# take longer than this before the caller hears about it.
LOAD_TIMEOUT_S = 600


_CRASH = object()


def worker_command() -> list[str]:
    """The same program with the worker sub-command, frozen or not."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "worker"]
    return [sys.executable, "-m", "app", "worker"]


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {code}"


class ChatStream:
    """One reply being generated: iterate it for text pieces.

    After iteration ``text`` holds the whole reply and ``stats`` its
    ``ReplyStats``. A worker error raises ``EngineError`` and a worker death
    ``WorkerCrashed``; in both cases ``text`` keeps what had arrived and
    ``stats.stop_reason`` is "error".
    """

    def __init__(self, engine: "Engine", request_id: str, events: queue.Queue):
        self.engine = engine
        self.id = request_id
        self._events = events
        self.text = ""
        self.stats: p.ReplyStats | None = None
        self.error: str | None = None
        self.error_kind: str | None = None
        self.finished = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.finished:
            raise StopIteration
        while True:
            event = self._events.get()
            if isinstance(event, p.Token):
                self.text += event.text
                return event.text
            if isinstance(event, p.Error):
                self.error, self.error_kind = event.message, event.kind
                continue
            self.finished = True
            self.engine._forget(self.id)
            if event is _CRASH:
                self.stats = p.ReplyStats(stop_reason=p.STOP_ERROR)
                raise WorkerCrashed(self.engine.crash_message or "the model worker stopped")
            if isinstance(event, p.Done):
                self.stats = event.stats
                if self.error:
                    raise EngineError(self.error, CONTEXT if self.error_kind == "context" else None)
                raise StopIteration
            raise EngineError(f"unexpected message from the worker: {event!r}")

    def cancel(self) -> None:
        self.engine.cancel(self.id)

    def consume(self) -> str:
        """Read the reply to the end and return its text."""
        for _ in self:
            pass
        return self.text


class Engine:
    """Owns one worker process and the model loaded in it."""

    def __init__(self, log_file: Path | None = None):
        self._log_file = log_file
        self._proc: subprocess.Popen | None = None
        self._write_lock = threading.Lock()
        self._control: queue.Queue = queue.Queue()
        self._streams: dict[str, queue.Queue] = {}
        self._streams_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.ready: p.Ready | None = None
        self.loaded: p.Loaded | None = None
        self._load_request: p.LoadModel | None = None
        self.crash_message: str | None = None

    # --- process -------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> p.Ready:
        if self.alive:
            assert self.ready is not None
            return self.ready
        log_path = self._log_file or paths.worker_log_file()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        package_root = str(Path(app.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with open(log_path, "ab") as stderr:
            self._proc = subprocess.Popen(
                worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env=env, bufsize=0, start_new_session=True,  # Ctrl-C reaches us, not the worker
            )
        self._control = queue.Queue()
        self.loaded = None
        self.crash_message = None
        threading.Thread(target=self._read_events, args=(self._proc,), daemon=True,
                         name="engine-reader").start()
        try:
            event = self._wait_control(START_TIMEOUT_S, "start")
        except WorkerCrashed:
            code = self._proc.wait() if self._proc else None
            raise EngineError(f"the model worker could not start (it {_describe_exit(code)}); "
                              f"see {log_path}", CRASH) from None
        if not isinstance(event, p.Ready) or event.protocol != p.PROTOCOL_VERSION:
            self.close()
            raise EngineError(f"the model worker did not start properly (got {event!r}); see {log_path}", CRASH)
        self.ready = event
        return event

    def _read_events(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = p.decode(line)
            except p.ProtocolError:
                log.warning("unreadable line from worker: %r", line[:200])
                continue
            request_id = getattr(event, "id", None)
            target = None
            if request_id is not None:
                with self._streams_lock:
                    target = self._streams.get(request_id)
            (target or self._control).put(event)
        code = proc.wait()
        proc.stdout.close()
        with self._write_lock:
            if proc.stdin and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        if proc is self._proc:
            self.crash_message = f"the model worker {_describe_exit(code)}; it will restart on the next request"
            self.loaded = None
            with self._streams_lock:
                waiting = list(self._streams.values())
            for events in waiting:
                events.put(_CRASH)
            self._control.put(_CRASH)

    def _send(self, message) -> None:
        if not self.alive:
            raise WorkerCrashed(self.crash_message or "the model worker is not running")
        data = p.encode(message)
        try:
            with self._write_lock:
                assert self._proc is not None and self._proc.stdin is not None
                self._proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            raise WorkerCrashed(self.crash_message or "the model worker stopped") from None

    def _wait_control(self, timeout: float, what: str):
        try:
            event = self._control.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise EngineError(f"the model worker did not answer ({what} took over {timeout:.0f} s)", CRASH) from None
        if event is _CRASH:
            raise WorkerCrashed(self.crash_message or "the model worker stopped")
        return event

    def kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        """Stop the worker politely, then firmly."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._send(p.Shutdown())
                with self._write_lock:
                    proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=5)
            except (EngineError, OSError, subprocess.TimeoutExpired):
                self.kill()
        self._proc = None
        self.loaded = None

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- requests ------------------------------------------------------------
    def load(self, request: p.LoadModel, on_progress=None) -> p.Loaded:
        """Load a model; ``on_progress(fraction)`` hears how much of it is read."""
        self.start()
        self._send(request)
        event = self._wait_control(LOAD_TIMEOUT_S, "loading the model")
        while isinstance(event, p.LoadProgress):
            if on_progress is not None:
                on_progress(event.fraction)
            event = self._wait_control(LOAD_TIMEOUT_S, "loading the model")
        if isinstance(event, p.Error):
            self.loaded = None
            raise EngineError(event.message, LOAD)
        if not isinstance(event, p.Loaded):
            raise EngineError(f"unexpected answer to load: {event!r}")
        self.loaded = event
        self._load_request = request
        return event

    def is_loaded(self, request: p.LoadModel) -> bool:
        return self.alive and self.loaded is not None and self._load_request is not None \
            and asdict(self._load_request) == asdict(request)

    def ensure_loaded(self, request: p.LoadModel, on_progress=None) -> p.Loaded:
        """Load unless this exact model and settings are already loaded (restarts a dead worker)."""
        if self.is_loaded(request):
            return self.loaded
        return self.load(request, on_progress)

    def chat(self, messages: list[dict], **sampling) -> ChatStream:
        if not self.alive or self.loaded is None:
            raise EngineError(self.crash_message or "no model is loaded", CRASH if self.crash_message else LOAD)
        request_id = f"r{next(self._ids)}"
        events: queue.Queue = queue.Queue()
        with self._streams_lock:
            self._streams[request_id] = events
        try:
            self._send(p.Chat(id=request_id, messages=messages, **sampling))
        except EngineError:
            self._forget(request_id)
            raise
        return ChatStream(self, request_id, events)

    def cancel(self, request_id: str) -> None:
        try:
            self._send(p.Cancel(request_id))
        except WorkerCrashed:
            pass  # nothing left to cancel

    def _forget(self, request_id: str) -> None:
        with self._streams_lock:
            self._streams.pop(request_id, None)

    def stats(self) -> p.WorkerStats:
        self._send(p.GetStats())
        event = self._wait_control(30, "stats")
        if not isinstance(event, p.WorkerStats):
            raise EngineError(f"unexpected answer to stats: {event!r}")
        return event

    def unload(self) -> None:
        if not self.alive:
            return
        self._send(p.Unload())
        self._wait_control(60, "unload")
        self.loaded = None
        self._load_request = None
