"""Partial GPU offload: how many layers would fit a GPU, and the speed to expect.

LM Studio and llama.cpp users choose this every day: a model too large for
the GPU runs with some layers there and the rest on the CPU, and a
mixture-of-experts model can keep all its shared weights on the GPU and only
the routed experts in system memory (llama.cpp's tensor override,
``-ot exps=CPU`` or ``--n-cpu-moe``). Hearth cannot measure a GPU here, so
this is arithmetic from the model's shape and stated assumptions, and the
app labels it as an estimate:

- the GPU keeps GPU_RESERVE_BYTES for its context and compute buffers;
- each layer costs an equal share of the file plus its share of the KV cache;
- generation reads weights at GPU_BANDWIDTH_SHARE of the card's rated memory
  bandwidth (a table of common cards; DEFAULT_GPU_BANDWIDTH_GBS otherwise),
  and the CPU part runs as this machine's profile says (app/library/speed.py);
- a token passes the GPU layers, then the CPU layers: the times add.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.gguf.header import human_bytes
from app.library.shape import ModelShape
from app.library.speed import MachineProfile, describe_speed

GPU_RESERVE_BYTES = 600 << 20
GPU_BANDWIDTH_SHARE = 0.7
DEFAULT_GPU_BANDWIDTH_GBS = 300.0
# Rated memory bandwidth (GB/s) by a fragment of the name nvidia-smi prints; longest match wins.
GPU_BANDWIDTH_GBS = {
    "H200": 4800, "H100": 3350, "A100": 1935, "L40S": 864, "L40": 864, "L4": 300, "T4": 320, "A10": 600,
    "RTX 5090": 1792, "RTX 5080": 960, "RTX 5070": 672, "RTX 4090": 1008, "RTX 4080": 717, "RTX 4070": 504,
    "RTX 4060": 272, "RTX 3090": 936, "RTX 3080": 760, "RTX 3070": 448, "RTX 3060": 360, "RTX A6000": 768,
}


@dataclass(frozen=True)
class GPU:
    name: str
    free_bytes: int

    @property
    def rated_bandwidth_gbs(self) -> float:
        matches = [k for k in GPU_BANDWIDTH_GBS if k.lower() in self.name.lower()]
        return float(GPU_BANDWIDTH_GBS[max(matches, key=len)]) if matches else DEFAULT_GPU_BANDWIDTH_GBS

    @property
    def bandwidth_known(self) -> bool:
        return any(k.lower() in self.name.lower() for k in GPU_BANDWIDTH_GBS)


@dataclass(frozen=True)
class OffloadPlan:
    gpu: GPU
    layers: int
    layers_on_gpu: int
    tokens_per_s: float | None
    experts_on_cpu_fits: bool | None  # None for dense models
    experts_on_cpu_tokens_per_s: float | None

    def describe(self) -> str:
        if self.layers_on_gpu >= self.layers:
            text = f"all {self.layers} layers fit the GPU"
        else:
            text = f"{self.layers_on_gpu} of {self.layers} layers fit the GPU ({human_bytes(self.gpu.free_bytes)} free)"
        text += f", {describe_speed(self.tokens_per_s)}"
        if self.experts_on_cpu_fits is not None and self.layers_on_gpu < self.layers:
            text += ("; experts on the CPU, the rest on the GPU: "
                     + (describe_speed(self.experts_on_cpu_tokens_per_s) if self.experts_on_cpu_fits
                        else "shared weights alone do not fit"))
        return text + " (estimate)"

    def as_dict(self) -> dict:
        def rounded(value):
            return round(value, 1) if value else None
        return {"gpu": self.gpu.name, "gpu_free_bytes": self.gpu.free_bytes, "layers": self.layers,
                "layers_on_gpu": self.layers_on_gpu, "tokens_per_s": rounded(self.tokens_per_s),
                "experts_on_cpu_fits": self.experts_on_cpu_fits,
                "experts_on_cpu_tokens_per_s": rounded(self.experts_on_cpu_tokens_per_s),
                "gpu_bandwidth_gbs": self.gpu.rated_bandwidth_gbs, "gpu_bandwidth_known": self.gpu.bandwidth_known,
                "estimate": True}


def plan_offload(shape: ModelShape, n_ctx: int, gpu: GPU, profile: MachineProfile | None) -> OffloadPlan | None:
    """How this model would split across ``gpu`` and the CPU; None when the shape has no layer count."""
    if not shape.layers:
        return None
    layers = shape.layers
    kv = shape.kv_bytes(n_ctx) or 0
    budget = gpu.free_bytes - GPU_RESERVE_BYTES
    per_layer = (shape.size_bytes + kv) / layers
    on_gpu = max(0, min(layers, int(budget // per_layer))) if budget > 0 else 0
    gpu_rate = gpu.rated_bandwidth_gbs * 1e9 * GPU_BANDWIDTH_SHARE

    def seconds(gpu_bytes: float, cpu_bytes: float, cpu_params: float) -> float | None:
        if cpu_bytes and profile is None:
            return None
        cpu = profile.cpu_seconds_per_token(cpu_bytes, cpu_params) if cpu_bytes else 0.0
        return gpu_bytes / gpu_rate + cpu

    share = on_gpu / layers
    split = seconds(shape.read_bytes * share, shape.read_bytes * (1 - share), shape.active_params * (1 - share))
    fits = experts_tps = None
    if shape.moe is not None and shape.expert_bytes:
        fits = shape.shared_bytes + kv <= budget
        expert_params = shape.active_params * shape.active_expert_bytes / max(1, shape.read_bytes)
        moe_split = seconds(shape.shared_read_bytes, shape.active_expert_bytes, expert_params) if fits else None
        experts_tps = 1 / moe_split if moe_split else None
    return OffloadPlan(gpu, layers, on_gpu, 1 / split if split else None, fits, experts_tps)
