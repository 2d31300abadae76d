"""The curated catalog (resources/catalog.json) and estimates for files not yet downloaded.

The catalog is data, made by hand on the date it carries; it only names
repositories and files believed to exist on the Hub. Each file says the
smallest machine memory it suits (8, 16 or 32 GB), so the library can
recommend the right quantization for this machine without a search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app import hardware
from app.errors import HearthError
from app.library.fit import Fit, fit_for_file
from app.library.speed import BITS_PER_WEIGHT, MachineProfile, describe_speed
from app.resources import resource

CATALOG_VERSION = 1
PURPOSES = ("chat", "coding", "embedding")


@dataclass(frozen=True)
class CatalogFile:
    file: str
    quantization: str
    size_bytes: int
    for_ram_gb: int


@dataclass(frozen=True)
class CatalogModel:
    id: str
    name: str
    purpose: str
    repo: str
    license: str
    why: str
    files: tuple[CatalogFile, ...]

    def recommended_file(self, total_ram_bytes: int | None) -> CatalogFile:
        """The largest quantization meant for this much memory (the smallest one if none is)."""
        gb = (total_ram_bytes or 8 << 30) / (1 << 30)
        suitable = [f for f in self.files if f.for_ram_gb <= gb + 0.5]
        return max(suitable, key=lambda f: f.size_bytes) if suitable else min(self.files, key=lambda f: f.size_bytes)


@dataclass(frozen=True)
class Catalog:
    made: str
    models: tuple[CatalogModel, ...]


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or resource("catalog.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CATALOG_VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        models = tuple(
            CatalogModel(id=m["id"], name=m["name"], purpose=m["purpose"], repo=m["repo"], license=m["license"],
                         why=m["why"], files=tuple(CatalogFile(**f) for f in m["files"]))
            for m in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HearthError(f"the model catalog {path} is damaged ({exc}); reinstall Hearth") from None
    return Catalog(made=data["made"], models=models)


@dataclass(frozen=True)
class FileEstimate:
    fit: Fit
    tokens_per_s: float | None

    def describe(self) -> str:
        return f"{self.fit.describe()}; {describe_speed(self.tokens_per_s)}"


class Estimator:
    """Fit and speed for files by size and quantization, with this machine's numbers read once."""

    def __init__(self, n_ctx: int, profile: MachineProfile | None):
        self.n_ctx = n_ctx
        self.profile = profile
        self.available = hardware.memory_bytes()[1]
        gpus = hardware.nvidia_gpus()
        self.gpu_free = max((g["memory_free"] for g in gpus), default=None)

    def for_file(self, size_bytes: int, quantization: str, embedding: bool = False) -> FileEstimate:
        params = int(size_bytes * 8 / BITS_PER_WEIGHT.get(quantization.upper(), 5.0))
        estimate = fit_for_file(size_bytes, params, self.n_ctx, self.available, self.gpu_free)
        tps = None if (self.profile is None or embedding) else self.profile.tokens_per_s(size_bytes, quantization)
        return FileEstimate(estimate, tps)
