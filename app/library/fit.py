"""Will a model fit in this machine's memory? An estimate from its GGUF header.

Need = the file (weights are memory-mapped and all read) + the KV cache for
the chosen context (from layer count, KV heads and head size) + a stated
overhead: ~120 MB for the process and runtime, plus llama.cpp's compute
buffer, about vocabulary × batch × 4 bytes of logits. Checked against the
worker's real resident memory (tests/library/test_fit.py): for the starter
model the estimate is an upper bound, 1.4-1.7× what a real run uses, most of
the gap being compute buffer that is reserved but never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.gguf.header import GGUFInfo, kv_cache_bytes
from app.library.shape import ModelShape

RUNTIME_OVERHEAD_BYTES = 120 << 20
FITS_SHARE = 0.7  # leave room for the OS and the rest of the desktop


def compute_buffer_bytes(info: GGUFInfo, n_batch: int = 512) -> int:
    vocab = info.array_lengths.get("tokenizer.ggml.tokens") or info.arch_value("vocab_size") or 32_000
    return int(vocab) * n_batch * 4


@dataclass(frozen=True)
class Fit:
    need_bytes: int
    available_bytes: int | None
    verdict: str  # "fits", "tight", "won't fit", "unknown"

    def describe(self) -> str:
        from app.gguf.header import human_bytes

        if self.available_bytes is None:
            return f"needs ~{human_bytes(self.need_bytes)}"
        return f"{self.verdict}: needs ~{human_bytes(self.need_bytes)} of {human_bytes(self.available_bytes)} free"


def memory_needed(info: GGUFInfo, n_ctx: int, n_batch: int = 512) -> int:
    if info.context_length:
        n_ctx = min(n_ctx, info.context_length)
    return info.file_size + kv_cache_bytes(info, n_ctx) + RUNTIME_OVERHEAD_BYTES + \
        compute_buffer_bytes(info, min(n_batch, n_ctx))


def fit(info: GGUFInfo, n_ctx: int, available_bytes: int | None, n_batch: int = 512) -> Fit:
    need = memory_needed(info, n_ctx, n_batch)
    if available_bytes is None:
        return Fit(need, None, "unknown")
    return fit_verdict(need, available_bytes)


# Before download there is no header. The catalog gives the attention shape (layers, KV heads,
# head size) for an exact KV cache; for other files, KV cache bytes per token per parameter,
# typical of grouped-query models (Llama 3.1 8B: 1.6e-5, Gemma 2 9B: 3.7e-5, Qwen2.5 7B: 0.75e-5),
# applied to the active parameters (a mixture-of-experts model's attention is part of those).
KV_BYTES_PER_PARAM_PER_TOKEN = 2e-5
VOCAB_GUESS = 150_000


def fit_for_shape(shape: ModelShape, n_ctx: int, available_bytes: int | None,
                  gpu_free_bytes: int | None = None, n_batch: int = 512) -> Fit:
    """The same verdict for a Hub file not yet downloaded: the whole file (every expert) must be in memory.

    With a usable GPU, a model that fits its free memory is judged against that instead.
    """
    if shape.context_length:
        n_ctx = min(n_ctx, shape.context_length)
    kv = shape.kv_bytes(n_ctx)
    if kv is None:
        kv = int(shape.active_params * KV_BYTES_PER_PARAM_PER_TOKEN * n_ctx)
    need = shape.size_bytes + kv + RUNTIME_OVERHEAD_BYTES + VOCAB_GUESS * min(n_batch, n_ctx) * 4
    if gpu_free_bytes and need <= gpu_free_bytes:
        return Fit(need, gpu_free_bytes, "fits (GPU)")
    if available_bytes is None:
        return Fit(need, None, "unknown")
    return fit_verdict(need, available_bytes)


def fit_verdict(need: int, available_bytes: int) -> Fit:
    if need <= available_bytes * FITS_SHARE:
        return Fit(need, available_bytes, "fits")
    if need <= available_bytes:
        return Fit(need, available_bytes, "tight")
    return Fit(need, available_bytes, "won't fit")
