"""What fit and speed need to know about a model, from its header or, before download, from the catalog.

Fit and speed ask different questions. Memory holds the whole file: every
expert of a mixture-of-experts (MoE) model must be loaded. Generating one
token reads only part of it: the shared weights (attention, norms, the output
matrix) and, in each layer, the few experts the router picks. A 30B model
with 3B active parameters reads about a tenth of its file per token, so an
estimate from file size alone calls it 5-10x slower than it is.

From a GGUF header the split is exact: the reader sums the bytes of the
routed expert tensors (``*_exps``) and of the token embedding table, which
costs one row per token when the model has a separate output matrix. Before
download the catalog's MoE fields (total and active parameters, expert
counts) stand in, on the stated assumption that experts and shared weights
are quantized alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.gguf.header import GGUFInfo, human_count, kv_cache_bytes

# Average bits per weight of whole files per quantization type (mixes keep some tensors wider).
BITS_PER_WEIGHT = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.6, "Q5_K_M": 5.7, "Q5_K_S": 5.5,
    "Q5_1": 6.0, "Q5_0": 5.5, "Q4_K_M": 4.85, "Q4_K_S": 4.6, "Q4_1": 5.0, "Q4_0": 4.5, "IQ4_XS": 4.25,
    "IQ4_NL": 4.5, "MXFP4": 4.25, "Q3_K_L": 4.3, "Q3_K_M": 3.9, "Q3_K_S": 3.5, "IQ3_M": 3.7, "IQ3_XS": 3.3,
    "IQ3_XXS": 3.1, "Q2_K": 2.96, "IQ2_M": 2.7, "IQ2_XS": 2.3, "IQ2_XXS": 2.06, "IQ1_M": 1.75, "IQ1_S": 1.56,
}


def params_from_size(size_bytes: int, quantization: str | None) -> int:
    return int(size_bytes * 8 / BITS_PER_WEIGHT.get((quantization or "").upper(), 5.0))


def params_of_model(files: list[tuple[int, str | None]]) -> int | None:
    """One parameter count for every quantization of one model: the median of what each file implies.

    Each file's own guess errs differently (small models keep their embeddings at 8 bits in every
    quantization), and per-file guesses made a Q8_0 look faster than the Q4 of the same model.
    With one count the compute term is shared and speed falls as files grow, as it does when run.
    """
    guesses = sorted(params_from_size(size, quant) for size, quant in files if size)
    return guesses[len(guesses) // 2] if guesses else None


@dataclass(frozen=True)
class MoE:
    total_params: int
    active_params: int
    experts: int
    experts_used: int

    def describe(self) -> str:
        return (f"mixture of experts: {human_count(self.total_params)} parameters, "
                f"{human_count(self.active_params)} active per token ({self.experts_used} of {self.experts} experts)")

    def as_dict(self) -> dict:
        return {"total_params": self.total_params, "active_params": self.active_params,
                "experts": self.experts, "experts_used": self.experts_used}


@dataclass(frozen=True)
class ModelShape:
    size_bytes: int
    params: int
    active_params: int  # parameters used per generated token (the compute term)
    read_bytes: int  # bytes of weights read per generated token (the memory term)
    expert_bytes: int  # bytes of routed experts in the file (all of them; 0 for dense models)
    active_expert_bytes: int  # the part of read_bytes that is experts
    layers: int | None
    kv_bytes_per_token: int | None  # f16 K and V across all layers
    context_length: int | None
    moe: MoE | None = None

    @property
    def shared_bytes(self) -> int:
        """The file without its routed experts: what a GPU holds when the experts stay on the CPU."""
        return self.size_bytes - self.expert_bytes

    @property
    def shared_read_bytes(self) -> int:
        """Weights every token reads whatever the router picks (all that is read, for a dense model)."""
        return self.read_bytes - self.active_expert_bytes

    def kv_bytes(self, n_ctx: int) -> int | None:
        if self.kv_bytes_per_token is None:
            return None
        if self.context_length:
            n_ctx = min(n_ctx, self.context_length)
        return self.kv_bytes_per_token * n_ctx


def shape_from_header(info: GGUFInfo) -> ModelShape:
    skipped_embedding = info.embedding_bytes if info.has_output_tensor else 0
    skipped_embedding_params = info.embedding_params if info.has_output_tensor else 0
    read, active, moe = info.tensor_bytes - skipped_embedding, info.parameter_count - skipped_embedding_params, None
    expert_bytes = active_expert_bytes = 0
    if info.is_moe:
        unused = 1 - info.expert_used_count / info.expert_count
        read -= int(info.expert_bytes * unused)
        active -= int(info.expert_params * unused)
        expert_bytes = info.expert_bytes
        active_expert_bytes = info.expert_bytes - int(info.expert_bytes * unused)
        moe = MoE(info.parameter_count, active, info.expert_count, info.expert_used_count)
    # Header and alignment bytes are part of the file, not of the weights read per token.
    return ModelShape(size_bytes=info.file_size, params=info.parameter_count, active_params=active,
                      read_bytes=read, expert_bytes=expert_bytes, active_expert_bytes=active_expert_bytes,
                      layers=info.block_count,
                      kv_bytes_per_token=kv_cache_bytes(info, 1) or None, context_length=info.context_length,
                      moe=moe)


def shape_for_file(size_bytes: int, quantization: str | None, moe: MoE | None = None,
                   attention: dict | None = None, context_length: int | None = None,
                   params: int | None = None) -> ModelShape:
    """The same shape before download: from the file size, its quantization and the catalog's fields."""
    layers = kv = None
    if attention:
        layers = attention["layers"]
        kv = layers * attention["kv_heads"] * attention["head_dim"] * 2 * 2
    if moe is None:
        params = params or params_from_size(size_bytes, quantization)
        return ModelShape(size_bytes, params, params, size_bytes, 0, 0, layers, kv, context_length)
    # total = shared + all experts; active = shared + all experts x used/experts
    used_share = moe.experts_used / moe.experts
    expert_params = (moe.total_params - moe.active_params) / (1 - used_share) if used_share < 1 else 0
    expert_bytes = int(size_bytes * expert_params / moe.total_params)
    active_expert_bytes = int(expert_bytes * used_share)
    read = size_bytes - expert_bytes + active_expert_bytes
    return ModelShape(size_bytes, moe.total_params, moe.active_params, read, expert_bytes, active_expert_bytes,
                      layers, kv, context_length, moe)
