"""How many layers to put on the GPU when the user leaves it on 'auto'.

llama.cpp needs the layer count up front and fails (or thrashes) when it
overshoots, so 'auto' estimates from the model's own header: weights per
layer plus the KV cache for the chosen context, against the GPU's free
memory. Where free memory cannot be read (Vulkan, ROCm without tools) it
offloads everything and the worker falls back to the CPU if loading fails.
"""

from __future__ import annotations

import sys

from app import hardware
from app.gguf.header import GGUFInfo, kv_cache_bytes

# Compute buffers and driver overhead that are not weights or KV cache.
GPU_OVERHEAD_BYTES = 600 << 20
ALL_LAYERS = -1


# The names llama.cpp's system info gives the GPU backends a build was compiled with.
_BACKENDS = (("CUDA", "CUDA"), ("METAL", "Metal"), ("VULKAN", "Vulkan"), ("HIP", "ROCm"), ("SYCL", "SYCL"))


def backend_name(system_info: str, gpu_offload: bool) -> str:
    """Which backend this llama.cpp build runs on: "CPU", or the GPU backend it was built with."""
    if gpu_offload:
        upper = system_info.upper()
        for token, name in _BACKENDS:
            if f"{token} :" in upper or f"{token}:" in upper:
                return name
        return "GPU"
    return "CPU"


def resolve_gpu_layers(setting: int | str, info: GGUFInfo, n_ctx: int, offload_supported: bool) -> int:
    if not offload_supported:
        return 0
    if setting != "auto":
        return int(setting)
    if sys.platform == "darwin":  # Metal shares system memory: offload everything
        return ALL_LAYERS
    gpus = hardware.nvidia_gpus()
    if not gpus:
        return ALL_LAYERS
    free = max(gpu["memory_free"] for gpu in gpus)
    layers = info.block_count or 0
    if layers <= 0:
        return ALL_LAYERS
    budget = free - GPU_OVERHEAD_BYTES - kv_cache_bytes(info, n_ctx)
    per_layer = info.file_size / (layers + 1)  # +1: output layer and embeddings
    fitting = int(budget // per_layer) if per_layer > 0 else 0
    if fitting >= layers + 1:
        return ALL_LAYERS
    return max(0, fitting)
