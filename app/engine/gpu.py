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
from app.library.gguf_header import GGUFInfo

# Compute buffers and driver overhead that are not weights or KV cache.
GPU_OVERHEAD_BYTES = 600 << 20
ALL_LAYERS = -1


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, bytes_per_value: int = 2) -> int:
    """K and V for every layer at ``n_ctx`` tokens (f16 by default)."""
    layers = info.block_count or 0
    heads = info.arch_value("attention.head_count") or 0
    if isinstance(heads, list):  # per-layer head counts in some architectures
        heads = max(heads) if heads else 0
    kv_heads = info.arch_value("attention.head_count_kv", heads) or heads
    if isinstance(kv_heads, list):
        kv_heads = max(kv_heads) if kv_heads else 0
    embedding = info.arch_value("embedding_length") or 0
    head_dim_k = info.arch_value("attention.key_length") or (embedding // heads if heads else 0)
    head_dim_v = info.arch_value("attention.value_length") or head_dim_k
    return layers * n_ctx * kv_heads * (head_dim_k + head_dim_v) * bytes_per_value


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
