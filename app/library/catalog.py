"""The curated catalog (resources/catalog.json) and estimates for files not yet downloaded.

The catalog is data, made by hand on the date it carries from the
best-known quantizers' repositories, each entry naming the stored Hub page
that confirms it. Beyond file names and sizes it carries what the estimates
need before any header can be read: the mixture-of-experts shape (total and
active parameters, expert counts) and the attention shape for the KV cache.
Each file says the smallest machine memory it suits (8, 16 or 32 GB), so the
library can recommend the right quantization for this machine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from app import hardware
from app.errors import HearthError
from app.library.fit import Fit, fit_for_shape
from app.library.offload import GPU, OffloadPlan, plan_offload
from app.library.shape import MoE, ModelShape, params_of_model, shape_for_file
from app.library.speed import MachineProfile, describe_speed
from app.resources import resource

CATALOG_VERSION = 2
USES = ("coding", "chat", "reasoning", "small", "long-documents", "embedding")
USE_LABELS = {"coding": "coding", "chat": "general chat", "reasoning": "reasoning", "small": "small / laptop",
              "long-documents": "long documents", "embedding": "embeddings"}
RAM_TIERS = (8, 16, 32)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CatalogFile:
    file: str
    quantization: str
    size_bytes: int
    for_ram_gb: int
    sha256: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Reasoning:
    """How a model marks its reasoning: between tags in the text, or in a separate template channel."""
    style: str  # "tags" or "channel"
    open: str | None = None
    close: str | None = None
    channel: str | None = None

    def describe(self) -> str:
        if self.style == "tags":
            return f"reasons between {self.open} and {self.close}"
        return f"reasons in its template's {self.channel!r} channel"


@dataclass(frozen=True)
class CatalogModel:
    id: str
    name: str
    uses: tuple[str, ...]
    repo: str
    license: str
    why: str
    context_length: int
    template: str | None
    reasoning: Reasoning | None
    moe: MoE | None
    attention: dict | None
    source: str
    files: tuple[CatalogFile, ...]

    @property
    def purpose(self) -> str:
        """The first use: the one the model is listed under."""
        return self.uses[0]

    @property
    def is_embedding(self) -> bool:
        return "embedding" in self.uses

    def uses_label(self) -> str:
        return ", ".join(USE_LABELS[u] for u in self.uses)

    def recommended_file(self, total_ram_bytes: int | None) -> CatalogFile:
        """The largest quantization meant for this much memory (the smallest one if none is)."""
        gb = (total_ram_bytes or 8 << 30) / (1 << 30)
        suitable = [f for f in self.files if f.for_ram_gb <= gb + 0.5]
        return max(suitable, key=lambda f: f.size_bytes) if suitable else min(self.files, key=lambda f: f.size_bytes)

    def shape(self, file: CatalogFile) -> ModelShape:
        params = params_of_model([(f.size_bytes, f.quantization) for f in self.files])
        return shape_for_file(file.size_bytes, file.quantization, self.moe, self.attention, self.context_length,
                              params)

    def facts(self) -> str:
        """One line for the Discover tab: uses, context, template, reasoning and MoE shape."""
        parts = [self.uses_label(), f"{self.context_length:,}-token context", f"license {self.license}"]
        if self.reasoning:
            parts.append(self.reasoning.describe())
        if self.moe:
            parts.append(self.moe.describe())
        return " · ".join(parts)


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
        models = tuple(_model(m) for m in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HearthError(f"the model catalog {path} is damaged ({exc}); reinstall Hearth") from None
    return Catalog(made=data["made"], models=models)


def _model(m: dict) -> CatalogModel:
    uses = tuple(m["uses"])
    if not uses or any(u not in USES for u in uses):
        raise ValueError(f"{m['id']}: uses {uses!r}")
    moe = MoE(**m["moe"]) if m.get("moe") else None
    if moe and not (0 < moe.active_params < moe.total_params and 0 < moe.experts_used < moe.experts):
        raise ValueError(f"{m['id']}: MoE shape {m['moe']!r}")
    files = tuple(CatalogFile(**f) for f in m["files"])
    for f in files:
        if f.sha256 is not None and not _SHA256.fullmatch(f.sha256):
            raise ValueError(f"{f.file}: sha256 {f.sha256!r}")
        if f.for_ram_gb not in RAM_TIERS or f.size_bytes <= 0:
            raise ValueError(f"{f.file}: size or memory tier")
    if not files:
        raise ValueError(f"{m['id']}: no files")
    return CatalogModel(id=m["id"], name=m["name"], uses=uses, repo=m["repo"], license=m["license"], why=m["why"],
                        context_length=int(m["context_length"]), template=m.get("template"),
                        reasoning=Reasoning(**m["reasoning"]) if m.get("reasoning") else None, moe=moe,
                        attention=m.get("attention"), source=m["source"], files=files)


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
        best = max(gpus, key=lambda g: g["memory_free"], default=None)
        self.gpu = GPU(best["name"], best["memory_free"]) if best else None

    @property
    def gpu_free(self) -> int | None:
        return self.gpu.free_bytes if self.gpu else None

    def for_file(self, size_bytes: int, quantization: str, embedding: bool = False,
                 params: int | None = None) -> FileEstimate:
        """A Hub file known only by its size and quantization (and its repository's parameter count)."""
        return self.for_shape(shape_for_file(size_bytes, quantization, params=params), embedding)

    def for_shape(self, shape: ModelShape, embedding: bool = False) -> FileEstimate:
        estimate = fit_for_shape(shape, self.n_ctx, self.available, self.gpu_free)
        tps = None if (self.profile is None or embedding) else self.profile.shape_tokens_per_s(shape)
        return FileEstimate(estimate, tps)

    def offload(self, shape: ModelShape, embedding: bool = False) -> OffloadPlan | None:
        """How the model would split between the GPU and the CPU (None without a GPU or a layer count)."""
        if self.gpu is None or embedding:
            return None
        return plan_offload(shape, self.n_ctx, self.gpu, self.profile)


def pin_catalog(path: Path) -> list[str]:
    """Replace the catalog's rounded sizes with the Hub's exact ones and fill in every SHA-256.

    A maintainer's step, run where the Hub is reachable (scripts/pin_catalog.py):
    the stored page copies the catalog was checked against show sizes to three
    figures and few hashes. A file the Hub no longer has, or whose hash changed
    from a pinned one, is reported and left as it was. Returns one line per file.
    """
    import os
    import tempfile

    from app.library import hub

    data = json.loads(path.read_text(encoding="utf-8"))
    report = []
    for m in data["models"]:
        try:
            listed = {f.name: (f.size, f.sha256[0]) for f in hub.repo_details(m["repo"]).files
                      if len(f.parts) == 1}  # the catalog names single-file models only
        except HearthError as exc:
            report.append(f"{m['repo']}: not checked ({exc})")
            continue
        for f in m["files"]:
            size, sha = listed.get(f["file"], (None, None))
            if size is None:
                report.append(f"{m['repo']}/{f['file']}: not on the Hub any more")
            elif f.get("sha256") and sha and f["sha256"] != sha:
                report.append(f"{m['repo']}/{f['file']}: changed on the Hub (pinned {f['sha256'][:12]}…, now "
                              f"{sha[:12]}…); left as it was")
            else:
                f["size_bytes"], f["sha256"] = int(size), sha or f.get("sha256")
                report.append(f"{m['repo']}/{f['file']}: {size} bytes, sha256 {sha}")
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:  # the file's own key order, for a readable diff
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)
    return report


@dataclass
class Recommendation:
    model: CatalogModel
    file: CatalogFile
    estimate: FileEstimate

    def describe(self) -> str:
        from app.gguf.header import human_bytes

        speed = f", about {describe_speed(self.estimate.tokens_per_s)} here" if self.estimate.tokens_per_s else ""
        return f"{self.model.name} ({self.file.quantization}, {human_bytes(self.file.size_bytes)}{speed})"


USABLE_TOKENS_PER_S = 5.0  # slower than this and a chat feels broken
UNMEASURED_SIZE_LIMIT = 5 << 30  # ~a 7-8B model at Q4


def best_for_this_machine(catalog: Catalog, estimator: Estimator, total_ram: int | None) -> Recommendation | None:
    """The catalog's best chat model for this machine: among those that fit in memory and answer at a
    usable pace (where speed can be estimated), a coding model first (offline coding help is what
    Hearth is for), then the most capable (most active parameters); failing that, the fastest that fits."""
    candidates = []
    for model in catalog.models:
        if model.is_embedding:
            continue
        file = model.recommended_file(total_ram)
        if estimator.profile is None:  # speed unknown: the largest file a typical laptop CPU runs well
            small = [f for f in model.files if f.size_bytes <= UNMEASURED_SIZE_LIMIT]
            if not small:
                continue
            file = min(file, max(small, key=lambda f: f.size_bytes), key=lambda f: f.size_bytes)
        shape = model.shape(file)
        estimate = estimator.for_shape(shape)
        if estimate.fit.verdict != "fits":
            continue
        candidates.append((Recommendation(model, file, estimate), shape.active_params))
    if not candidates:
        return None
    usable = [(r, p) for r, p in candidates
              if r.estimate.tokens_per_s is None or r.estimate.tokens_per_s >= USABLE_TOKENS_PER_S]
    if usable:
        return max(usable, key=lambda rp: ("coding" in rp[0].model.uses, rp[1]))[0]
    return max(candidates, key=lambda rp: rp[0].estimate.tokens_per_s or 0)[0]
