"""What this machine offers: cores, memory, CPU features.

Read from the OS without extra dependencies; each probe degrades to
``None`` rather than failing, because ``hearth doctor`` must work on a
machine we have never seen.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

_INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni",
                      "amx_tile", "neon", "asimd", "sve")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores this process may use; hyper-threads do not speed up llama.cpp."""
    usable = usable_cores()
    siblings = set()
    try:
        cpus = os.sched_getaffinity(0)
        for cpu in cpus:
            text = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text()
            siblings.add(text.strip())
    except (AttributeError, OSError):
        return max(1, usable)
    return max(1, min(usable, len(siblings) or usable))


def memory_bytes() -> tuple[int | None, int | None]:
    """(total, available) RAM in bytes."""
    try:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
        return info.get("MemTotal"), info.get("MemAvailable", info.get("MemFree"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None, None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Hardware", "Processor")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    match = re.search(r"^(flags|Features)\s*:\s*(.*)$", text, re.MULTILINE)
    present = set(match.group(2).split()) if match else set()
    return [flag for flag in _INTERESTING_FLAGS if flag in present]


def nvidia_gpus() -> list[dict]:
    """NVIDIA GPUs with total and free memory, via nvidia-smi when installed."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append({"name": parts[0], "memory_total": int(parts[1]) << 20,
                         "memory_free": int(parts[2]) << 20})
    return gpus


# --- the CPU package energy counter (RAPL), read by the chat worker around each reply ---
RAPL_ROOT = Path("/sys/class/powercap")


def rapl_root() -> Path:
    return Path(os.environ.get("HEARTH_RAPL_ROOT", RAPL_ROOT))


def _package_zones(root: Path) -> list[Path]:
    zones = []
    for zone in sorted(root.glob("intel-rapl:*")):
        if zone.name.count(":") == 1 and (zone / "energy_uj").exists():  # packages, not sub-zones
            zones.append(zone)
    return zones


def read_energy_uj(root: Path | None = None) -> dict[str, tuple[int, int]] | None:
    """Counter and wrap range of every CPU package, or None when unreadable."""
    root = root or rapl_root()
    readings = {}
    try:
        for zone in _package_zones(root):
            counter = int((zone / "energy_uj").read_text())
            try:
                wrap = int((zone / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                wrap = 0
            readings[zone.name] = (counter, wrap)
    except (OSError, ValueError):
        return None
    return readings or None


def joules_between(before: dict | None, after: dict | None) -> float | None:
    if not before or not after:
        return None
    total = 0
    for zone, (start, wrap) in before.items():
        if zone not in after:
            return None
        end = after[zone][0]
        delta = end - start if end >= start else end + wrap - start
        total += delta
    return total / 1_000_000


def cpu_times() -> tuple[float, float] | None:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (Linux); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [float(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def busy_share(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    """The share of the machine's CPU time that was busy between two ``cpu_times()`` readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
