"""How fast a model would generate on this machine, before it is downloaded.

Generating one token reads every weight once and does about two operations
per parameter, so the time per token is the larger of a memory term (bytes
of weights / the bandwidth the engine reaches) and a compute term
(parameters × this machine's cost per parameter). Two short measurements,
taken once and cached in the data folder, give both:

- the copy bandwidth of memory, with as many threads as generation uses
  (NumPy releases the GIL for copies) and buffers larger than the caches;
- the engine's own generation speed on the starter model through the real
  worker, which gives the compute cost per parameter.

A busy moment only ever makes a machine look slower, so the profile keeps the
best of every measurement taken (the window's and the CLI's merge in the one
file), and one taken while other programs kept the CPU busy is marked and
taken again the next time the machine is quiet.

A file not yet downloaded has no header to read, so its parameter count
comes from its size and the bits per weight of its quantization type.
Mixture-of-experts models read only their active experts per token: both
terms then use the bytes and parameters a token actually touches
(app/library/shape.py).
scripts/bench_speed.py checks the estimate against real runs of the starter
model re-quantized to larger types (figures in README). The memory term
matters most for the multi-GB models people download; the compute term for
small ones and few threads. The estimate is for the CPU: GPU offload is not
measured here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from app import hardware, paths
from app.config import write_json_atomic
from app.library.shape import ModelShape, params_from_size

PROFILE_VERSION = 1
# The part of copy bandwidth llama.cpp's kernels reach while streaming weights.
ENGINE_BANDWIDTH_SHARE = 0.85
_COPY_BYTES = 64 << 20
_MAX_PROBE_THREADS = 8
# Busy share of the whole machine beyond what the probe's own threads explain that marks a
# measurement as taken beside a busy neighbour.
_NEIGHBOUR_SHARE = 0.25


@dataclass
class MachineProfile:
    version: int
    cpu: str
    threads: int
    bandwidth_gbs: float
    starter_tps: float
    starter_params: int
    measured_at: str
    # Other programs kept the CPU busy while it was measured: worth measuring again when quiet.
    busy: bool = False

    @property
    def seconds_per_param(self) -> float:
        return 1.0 / self.starter_tps / self.starter_params

    @property
    def engine_bandwidth(self) -> float:
        """Bytes per second the engine streams weights from memory."""
        return self.bandwidth_gbs * 1e9 * ENGINE_BANDWIDTH_SHARE

    def tokens_per_s(self, model_bytes: int, quantization: str | None = None, params: int | None = None) -> float:
        """Estimated generation speed of a dense file of ``model_bytes`` (parameters from the header when known)."""
        if params is None:
            params = params_from_size(model_bytes, quantization)
        return self.cpu_seconds_per_token(model_bytes, params) ** -1

    def shape_tokens_per_s(self, shape: ModelShape) -> float:
        """The same for any model: only the weights a token reads count, which for MoE is a fraction of the file."""
        return self.cpu_seconds_per_token(shape.read_bytes, shape.active_params) ** -1

    def cpu_seconds_per_token(self, read_bytes: float, active_params: float) -> float:
        return max(read_bytes / self.engine_bandwidth, active_params * self.seconds_per_param)


def describe_speed(tps: float | None) -> str:
    if tps is None:
        return "unknown"
    if tps >= 10:
        return f"~{tps:.0f} tok/s"
    return f"~{tps:.1f} tok/s"


def measure_bandwidth(threads: int, rounds: int = 7) -> float:
    """Copy bandwidth in GB/s (bytes read + written), best of several short rounds spread out
    a little, so a neighbour's burst spoils some rounds, not the result."""
    import numpy as np

    threads = max(1, min(threads, _MAX_PROBE_THREADS))
    sources = [np.ones(_COPY_BYTES // 8) for _ in range(threads)]
    targets = [np.empty_like(s) for s in sources]
    best = 0.0
    for _ in range(rounds):
        workers = [threading.Thread(target=np.copyto, args=(t, s)) for t, s in zip(targets, sources)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
        best = max(best, 2 * _COPY_BYTES * threads / elapsed / 1e9)
        time.sleep(0.02)
    return best


def measure_starter(starter: Path, threads: int, tokens: int = 64) -> float:
    """Generation tokens/s of the starter model through the real worker."""
    from app.config import Settings
    from app.engine.client import Engine
    from app.engine.params import load_request

    settings = Settings()
    settings.set("context_length", 512)
    with Engine() as engine:
        engine.load(load_request(str(starter), settings))
        best = 0.0
        for _ in range(2):  # the first reply also warms caches; keep the better one
            stream = engine.chat([{"role": "user", "content": "Count from 1 to 200, separated by commas."}],
                                 max_tokens=tokens, temperature=0.0)
            stream.consume()
            if stream.stats and stream.stats.completion_tokens >= 8:
                best = max(best, stream.stats.tokens_per_s)
    return best


def _profile_file() -> Path:
    return paths.machine_profile_file()


def cached_profile() -> MachineProfile | None:
    """The stored measurement, if it was taken on this CPU with today's thread count."""
    from app.engine.params import default_threads

    try:
        data = json.loads(_profile_file().read_text(encoding="utf-8"))
        profile = MachineProfile(**data)
    except (OSError, ValueError, TypeError):
        return None
    if (profile.version != PROFILE_VERSION or profile.cpu != hardware.cpu_model()
            or profile.threads != default_threads()[0] or profile.bandwidth_gbs <= 0 or profile.starter_tps <= 0
            or profile.starter_params <= 0):
        return None
    return profile


def machine_profile(measure: bool = True) -> MachineProfile | None:
    """The cached profile, measuring it (a few seconds) when there is none and ``measure`` allows,
    or when the cached one was taken on a busy machine and the machine is quiet now."""
    profile = cached_profile()
    if not measure or (profile is not None and not (profile.busy and _quiet_now())):
        return profile
    from app.engine.params import default_threads
    from app.gguf.header import read_gguf
    from app.library.registry import starter_model_path

    starter = starter_model_path()
    if starter is None:
        return profile
    info = read_gguf(starter)
    threads = default_threads()[0]
    before = hardware.cpu_times()
    bandwidth = measure_bandwidth(threads)
    tps = measure_starter(starter, threads)
    busy = _neighbour_was_busy(hardware.busy_share(before, hardware.cpu_times()), threads)
    fresh = MachineProfile(
        version=PROFILE_VERSION, cpu=hardware.cpu_model(), threads=threads,
        bandwidth_gbs=round(bandwidth, 2), starter_tps=round(tps, 1),
        starter_params=info.parameter_count or int(starter.stat().st_size * 8 / 5.0),
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), busy=busy)
    merged = merge_profiles(cached_profile(), fresh)  # another process may have measured meanwhile
    if merged.starter_tps > 0:
        write_json_atomic(_profile_file(), asdict(merged))
    return merged


def merge_profiles(old: MachineProfile | None, new: MachineProfile) -> MachineProfile:
    """The best of two measurements of the same machine: a busy moment only makes it look slower."""
    if old is None:
        return new
    return MachineProfile(
        version=new.version, cpu=new.cpu, threads=new.threads,
        bandwidth_gbs=max(old.bandwidth_gbs, new.bandwidth_gbs), starter_tps=max(old.starter_tps, new.starter_tps),
        starter_params=new.starter_params, measured_at=new.measured_at, busy=old.busy and new.busy)


def _neighbour_was_busy(share: float | None, threads: int) -> bool:
    if share is None:
        return False
    own = threads / max(1, hardware.usable_cores())
    return share > own + _NEIGHBOUR_SHARE


def _quiet_now(seconds: float = 0.3) -> bool:
    before = hardware.cpu_times()
    time.sleep(seconds)
    share = hardware.busy_share(before, hardware.cpu_times())
    return share is not None and share < _NEIGHBOUR_SHARE
