"""How much a remote engine serves: concurrent streams at a few levels, bounded in time and count.

Only ever aimed at a server the user configured (``hearth engines bench``).
Each level starts N streams at once, each asking for the same number of
tokens, and stops them all at the level's deadline; throughput is all tokens
received over the level's wall time. The result is saved for the at-scale
calculator, which turns it into a cost per million tokens for self-hosting.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from app import paths
from app.config import Settings, read_json_rows, write_json_atomic
from app.engine.base import EngineError, ModelTarget
from app.engine.remote import RemoteEngine
from app.engine.remotes import RemoteConfig

PROMPT = "Write a detailed explanation of how a hash map works, with an example in Python."
MAX_STREAMS = 64


@dataclass
class Level:
    streams: int
    tokens: int
    seconds: float
    tokens_per_s: float
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    failures: int
    first_failure: str | None = None


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run_level(config: RemoteConfig, model: str, streams: int, max_tokens: int, max_seconds: float) -> Level:
    results: list[tuple[int, float | None, str | None]] = []
    lock = threading.Lock()
    engines = []
    deadline = time.monotonic() + max_seconds

    def one() -> None:
        engine = RemoteEngine(config)
        engine.model = model
        with lock:
            engines.append(engine)
        started, ttft, error = time.perf_counter(), None, None
        stream = engine.chat([{"role": "user", "content": PROMPT}], max_tokens=max_tokens, temperature=0.7)
        with lock:
            streams_open.append(stream)
        try:
            for _piece in stream:
                if ttft is None:
                    ttft = time.perf_counter() - started
        except EngineError as exc:
            error = str(exc)
        tokens = stream.stats.completion_tokens if stream.stats else 0
        with lock:
            results.append((tokens, ttft, error if stream.stats and stream.stats.stop_reason == "error" else None))

    streams_open: list = []
    started = time.monotonic()
    threads = [threading.Thread(target=one, daemon=True) for _ in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):  # the level's time is up: stop what still runs
        with lock:
            for stream in streams_open:
                stream.cancel()
        for t in threads:
            t.join(10)
    seconds = time.monotonic() - started
    for engine in engines:
        engine.close()
    tokens = sum(r[0] for r in results)
    ttfts = [r[1] * 1000 for r in results if r[1] is not None]
    errors = [r[2] for r in results if r[2]]
    missing = streams - len(results)
    return Level(streams, tokens, round(seconds, 3), round(tokens / seconds, 2) if seconds else 0.0,
                 percentile(ttfts, 0.5), percentile(ttfts, 0.95), len(errors) + missing,
                 errors[0] if errors else None)


def bench(config: RemoteConfig, model: str, levels: list[int], max_tokens: int, max_seconds: float,
          on_level=lambda level: None) -> dict:
    levels = [n for n in levels if 1 <= n <= MAX_STREAMS]
    probe = RemoteEngine(config)
    try:
        probe.ensure_loaded(ModelTarget(f"{config.name}:{model}", None, Settings()))
    finally:
        probe.close()
    measured = []
    for n in levels:
        level = run_level(config, model, n, max_tokens, max_seconds)
        measured.append(level)
        on_level(level)
    result = {"engine": config.name, "base_url": config.base_url, "model": model, "max_tokens": max_tokens,
              "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "levels": [asdict(level) for level in measured],
              "best_tokens_per_s": max((level.tokens_per_s for level in measured), default=0.0)}
    rows = [r for r in read_json_rows(paths.engine_bench_file(), "results") if r.get("engine") != config.name]
    write_json_atomic(paths.engine_bench_file(), {"version": 1, "results": rows + [result]})
    return result


def saved_results() -> list[dict]:
    return read_json_rows(paths.engine_bench_file(), "results")
