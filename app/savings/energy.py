"""Electricity a reply used: measured package energy where the OS shows it, else watts x time.

Linux exposes the CPU package's energy counter under /sys/class/powercap
(RAPL); it counts microjoules and wraps at ``max_energy_range_uj``. It is the
whole package, idle draw and other programs included, so it overstates the
reply's share: the honest direction for a savings figure. Where it cannot
be read, the user's wattage (a default by device class) times the reply's
wall time, prompt processing included, stands in.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

JOULES_PER_KWH = Decimal(3_600_000)
# Typical draw while running a local model (shared/reference/api-prices.md: measured laptop
# inference 18-65 W above idle); the user can set their own.
DEFAULT_WATTS = {"laptop": Decimal(30), "desktop": Decimal(65), "gpu": Decimal(200)}


def device_class(gpu_layers: int = 0) -> str:
    if gpu_layers:
        return "gpu"
    has_battery = any(Path("/sys/class/power_supply").glob("BAT*")) if Path("/sys/class/power_supply").exists() else False
    return "laptop" if has_battery else "desktop"


def reply_kwh(measured_joules: float | None, wall_seconds: float, watts: Decimal) -> tuple[Decimal, str]:
    """Energy in kWh and where it came from ("rapl" or "estimate")."""
    if measured_joules is not None and measured_joules >= 0:
        return Decimal(str(measured_joules)) / JOULES_PER_KWH, "rapl"
    return watts * Decimal(str(max(wall_seconds, 0.0))) / JOULES_PER_KWH, "estimate"
