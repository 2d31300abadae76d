#!/usr/bin/env python3
"""Which generation thread count to use by default, measured through Hearth's engine.

llama.cpp's threads spin, so the right count depends on what else runs while
a reply streams. This script generates through the worker with each thread
count, first with the machine otherwise idle, then beside a neighbour
process that burns CPU part of the time (standing in for the GUI rendering
the reply), then beside a fully busy one, and prints tokens/s for each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-bench-"))

from app import hardware  # noqa: E402
from app.engine import protocol as p  # noqa: E402
from app.engine.client import Engine  # noqa: E402
from app.library.registry import starter_model_path  # noqa: E402


def neighbour(duty: float, stop) -> None:
    """Busy for ``duty`` of every 10 ms slice until stopped."""
    period = 0.010
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < period * duty:
            pass
        time.sleep(period * (1 - duty))


def generate(engine: Engine, run: int, tokens: int) -> float:
    msgs = [{"role": "system", "content": f"Run {run}."},
            {"role": "user", "content": "Explain in detail how a hash map works."}]
    stream = engine.chat(msgs, max_tokens=tokens, temperature=0.0)
    stream.consume()
    return stream.stats.tokens_per_s


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    args = parser.parse_args()
    cores = hardware.physical_cores()
    counts = sorted({1, max(1, cores - 1), cores})
    path = str(starter_model_path())
    scenarios = [("idle", 0.0), ("neighbour 30% busy", 0.3), ("neighbour 100% busy", 1.0)]
    engines = {}
    for n in counts:
        engine = Engine()
        engine.load(p.LoadModel(path=path, n_ctx=2048, n_gpu_layers=0, n_threads=n, n_threads_batch=cores))
        generate(engine, -1, 8)
        engines[n] = engine
    print(f"{cores} physical cores; generation tokens/s through Hearth, median of {args.rounds}")
    run = 0
    for label, duty in scenarios:
        stop = multiprocessing.Event()
        proc = None
        if duty:
            proc = multiprocessing.Process(target=neighbour, args=(duty, stop), daemon=True)
            proc.start()
        results = {n: [] for n in counts}
        for _ in range(args.rounds):
            for n in counts:
                run += 1
                results[n].append(generate(engines[n], run, args.tokens))
        if proc:
            stop.set()
            proc.join()
        line = "   ".join(f"{n} thread{'s' if n > 1 else ''}: {statistics.median(v):6.1f}" for n, v in results.items())
        print(f"  {label:22s} {line}")
    for engine in engines.values():
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
