"""How many threads generate each token: as many as the machine can spare right now.

llama.cpp's threads spin while they wait for each other, so a thread on
every core is the fastest choice on an idle machine and the slowest as soon
as anything else wants a core: one descheduled thread stalls the others at
every step. Measured on 2 cores (scripts/bench_threads.py): idle, 2 threads
generate ~1.5x faster than 1; beside one busy process, 2 threads fall below
1 thread's speed.

So the worker asks, before each reply, how much CPU other processes used
over the last 0.3 s (``/proc/stat`` minus this process's own time) and
starts with the cores left over; while generating it watches the time per
token and steps down the moment a neighbour appears (tokens slow down, or the
load reading says a core is taken), and steps back up once the machine has
been quiet for a while, keeping the faster of the two if a try goes badly.
Prompt evaluation keeps every core: the user is waiting, and the app is idle.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque


class CpuLoad:
    """CPU used by other processes, in cores, over the last fraction of a second.

    Read from ``/proc/stat`` (Linux only; elsewhere ``others()`` is None and
    the governor relies on the time per token alone). A thread takes a
    reading every ``interval`` while the worker is idle; while it generates,
    the governor takes them itself between tokens (``sample()``), so no
    thread competes with generation for the interpreter.
    """

    SPAN = 0.3  # seconds a reading covers, at least

    def __init__(self, interval: float = 0.15):
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._interval = interval
        self._readings: deque[tuple[float, float, float]] = deque(maxlen=16)
        self._lock = threading.Lock()
        self.busy = threading.Event()  # set while generating: the thread pauses
        self.available = self._read() is not None
        if self.available:
            threading.Thread(target=self._run, daemon=True, name="cpu-load").start()

    def _read(self) -> tuple[float, float, float] | None:
        """(wall seconds, busy CPU seconds of the whole machine, this process's CPU seconds)."""
        try:
            with open("/proc/stat", "rb") as handle:
                fields = handle.readline().split()
        except OSError:
            return None
        if not fields or fields[0] != b"cpu" or len(fields) < 5:
            return None
        values = [int(v) for v in fields[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        busy = (sum(values[:8]) - idle) / self._tick  # guest time is already in user
        own = os.times()
        return time.monotonic(), busy, own.user + own.system

    def _run(self) -> None:
        while True:
            if not self.busy.is_set():
                self.sample()
            time.sleep(self._interval)

    def sample(self) -> None:
        reading = self._read()
        if reading is not None:
            with self._lock:
                self._readings.append(reading)

    def others(self) -> float | None:
        """Cores' worth of CPU other processes used since the newest reading at least SPAN old."""
        with self._lock:
            if len(self._readings) < 2:
                return None
            newest = self._readings[-1]
            start = self._readings[0]
            for reading in reversed(self._readings):
                if newest[0] - reading[0] >= self.SPAN:
                    start = reading
                    break
        (t0, busy0, own0), (t1, busy1, own1) = start, newest
        if t1 - t0 <= 0:
            return None
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / (t1 - t0))


class ThreadGovernor:
    """Chooses the generation thread count per reply and adjusts it between tokens.

    ``apply(n)`` sets the count in llama.cpp (``llama_set_n_threads``); it is
    called only when the count changes.
    """

    WINDOW = 8           # single-token steps per timing window
    SLOWER = 1.3         # a window this much slower than usual at this count: a neighbour appeared
    BUSY = 0.35          # cores used by others that rule out a thread on every core
    RETRY_S = (0.3, 1.0, 2.0, 4.0, 8.0)  # waits before trying more threads again, growing after failures

    def __init__(self, most: int, apply, load: CpuLoad | None = None, clock=time.monotonic):
        self.most = max(1, most)
        self._apply = apply
        self._load = load
        self._clock = clock
        self.threads = self.most
        self._usual: dict[int, float] = {}  # typical seconds per token at each count (fastest windows)
        self._window: list[float] = []
        self._trying: int | None = None  # the count we stepped up from, while a try is judged
        self._failures = 0
        self._down_at = 0.0
        self.changes = 0

    def _set(self, threads: int) -> None:
        threads = max(1, min(self.most, threads))
        if threads != self.threads:
            self.threads = threads
            self.changes += 1
            self._window.clear()
            self._apply(threads)

    def _crowded(self, threads: int, others: float | None) -> bool:
        """Would ``threads`` spinning threads leave the other processes less than the cores they use?"""
        return others is not None and threads + others > self.most + self.BUSY

    def _others(self, fresh: bool = False) -> float | None:
        if self._load is None:
            return None
        if fresh:
            self._load.sample()
        return self._load.others()

    def start_reply(self) -> int:
        """The count for a new reply, from the load just before it."""
        others = self._others(fresh=True)
        if others is not None:
            self._set(int(self.most + self.BUSY - others))  # the most that leave others their cores
            if self.threads < self.most:
                self._down_at = self._clock()
        self._window.clear()
        self._trying = None
        return self.threads

    def step(self, batch: int, seconds: float) -> None:
        """Told after every generation step; only single-token steps are timed."""
        if batch != 1:
            return
        self._window.append(seconds)
        if len(self._window) < self.WINDOW:
            return
        typical = statistics.median(self._window)
        self._window.clear()
        n = self.threads
        usual = self._usual.get(n)
        if self._trying is not None:
            lower = self._usual.get(self._trying)
            came_from, self._trying = self._trying, None
            if lower is not None and typical > lower:  # more threads made it slower: go back
                self._failures = min(self._failures + 1, len(self.RETRY_S) - 1)
                self._set(came_from)
                self._down_at = self._clock()
                return
            self._failures = 0
        if usual is None or typical < usual:
            self._usual[n] = typical
        else:
            self._usual[n] = usual + 0.1 * (typical - usual)  # drifts up slowly (a longer context)
        others = self._others(fresh=True)
        if n > 1:
            if typical > self.SLOWER * (usual or typical) or self._crowded(n, others):
                self._set(n - 1)
                self._down_at = self._clock()
                return
        self._maybe_step_up(others)

    def _maybe_step_up(self, others: float | None) -> None:
        if self.threads >= self.most:
            return
        if self._crowded(self.threads + 1, others):
            self._down_at = self._clock()  # quiet means quiet for a while
            return
        if self._clock() - self._down_at < self.RETRY_S[self._failures]:
            return
        self._trying = self.threads
        self._set(self.threads + 1)
