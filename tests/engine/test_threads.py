"""The generation thread count follows the machine's load.

The governor's rules run against a scripted clock, load and token times (the
point is the decisions, and a real neighbour cannot be timed exactly); the
last test runs the real worker beside a real busy process.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from app import hardware
from app.engine import protocol as p
from app.engine.client import Engine
from app.engine.threads import CpuLoad, ThreadGovernor


class Load:
    def __init__(self, others):
        self.value = others

    def others(self):
        return self.value

    def sample(self):
        pass


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def governor(most=2, others=0.0):
    applied = []
    clock, load = Clock(), Load(others)
    g = ThreadGovernor(most, applied.append, load, clock=clock)
    return g, applied, clock, load


def tokens(g, clock, seconds, count=8):
    for _ in range(count):
        clock.now += seconds
        g.step(1, seconds)


def test_a_reply_starts_with_the_cores_other_programs_leave():
    g, applied, _clock, load = governor(most=2, others=0.05)
    assert g.start_reply() == 2 and applied == []
    load.value = 1.0
    assert g.start_reply() == 1 and applied == [1]
    g, _applied, _clock, _load = governor(most=8, others=1.0)  # one busy neighbour on 8 cores
    assert g.start_reply() == 7


def test_steps_down_the_moment_tokens_slow_down_and_back_up_when_quiet():
    g, applied, clock, load = governor()
    g.start_reply()
    tokens(g, clock, 0.008)          # usual speed with 2 threads
    tokens(g, clock, 0.020)          # a neighbour appeared: 2.5x slower
    assert g.threads == 1 and applied == [1]
    load.value = 1.0
    tokens(g, clock, 0.012, count=200)  # still busy: stays down however long
    assert g.threads == 1
    load.value = 0.0                 # the neighbour left: tries 2 again once it has been quiet 0.3 s
    tokens(g, clock, 0.012, count=24)
    assert g.threads == 1
    tokens(g, clock, 0.012, count=8)
    assert g.threads == 2 and applied == [1, 2]
    tokens(g, clock, 0.008)          # faster: kept
    tokens(g, clock, 0.008)
    assert g.threads == 2


def test_a_try_that_is_slower_goes_back_and_waits_longer_before_the_next():
    g, applied, clock, _load = governor(others=None)  # no load reading (not Linux): token times only
    g.start_reply()
    tokens(g, clock, 0.008)
    tokens(g, clock, 0.030)
    assert g.threads == 1
    tokens(g, clock, 0.012, count=32)  # 0.38 s later: tries 2
    assert g.threads == 2
    tokens(g, clock, 0.025)           # worse than 1 thread's 12 ms: back to 1
    assert g.threads == 1
    tokens(g, clock, 0.012, count=48)  # 0.58 s: the next try waits at least 1 s now
    assert g.threads == 1
    tokens(g, clock, 0.012, count=40)
    assert g.threads == 2
    assert applied == [1, 2, 1, 2]


def test_draft_batches_are_not_timed_as_tokens():
    g, _applied, clock, _load = governor()
    g.start_reply()
    tokens(g, clock, 0.008)
    for _ in range(20):
        g.step(9, 0.05)  # a prompt-lookup batch of 9 tokens
    assert g.threads == 2


def test_cpu_load_counts_other_processes_not_this_one():
    load = CpuLoad(interval=0.1)
    if not load.available:
        pytest.skip("no /proc/stat here")
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # this process is busy: not counted
        pass
    assert load.others() < 0.5
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=_burn, args=(stop,), daemon=True)
    proc.start()
    try:
        time.sleep(0.8)
        assert load.others() > 0.7
    finally:
        stop.set()
        proc.join()


def _burn(stop) -> None:
    while not stop.is_set():
        pass


@pytest.mark.skipif(hardware.physical_cores() < 2, reason="needs two cores to have a choice")
def test_the_worker_generates_with_fewer_threads_beside_a_busy_process(starter_path, tmp_path):
    cores = hardware.physical_cores()
    with Engine(log_file=tmp_path / "worker.log") as engine:
        engine.load(p.LoadModel(path=str(starter_path), n_ctx=2048, n_gpu_layers=0, n_threads=cores,
                                n_threads_batch=cores, adaptive_threads=True))
        ask = [{"role": "user", "content": "Write a long story about a lighthouse."}]
        stop = multiprocessing.Event()
        burners = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(1)]
        for proc in burners:
            proc.start()
        try:
            time.sleep(0.8)  # the worker's load reading sees it
            stream = engine.chat(ask, max_tokens=48, temperature=0)
            stream.consume()
        finally:
            stop.set()
            for proc in burners:
                proc.join()
        assert stream.stats.threads == cores - 1, stream.stats
        assert os.cpu_count()
