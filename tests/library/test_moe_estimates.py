"""Fit and speed for mixture-of-experts models: from headers the ``gguf`` package writes, checked by hand.

Each model here is small (float32 tensors, a few hundred KB), but its shape is
the real one: routed expert tensors ``blk.N.ffn_{gate,up,down}_exps`` holding
every expert, a router, attention, and ``expert_count`` / ``expert_used_count``
in the header, as llama.cpp's converter writes them for Qwen3-MoE.
"""

from pathlib import Path

import numpy as np
import pytest

from app.gguf.header import read_gguf
from app.library import speed
from app.library.catalog import Estimator
from app.library.fit import RUNTIME_OVERHEAD_BYTES, VOCAB_GUESS, fit_for_shape
from app.library.offload import GPU, GPU_BANDWIDTH_SHARE, GPU_RESERVE_BYTES, plan_offload
from app.library.shape import MoE, shape_for_file, shape_from_header

EMBD, FF, VOCAB, LAYERS, HEADS, KV_HEADS = 64, 96, 32, 2, 4, 2
HEAD_DIM = EMBD // HEADS
F32 = 4


def write_model(path: Path, experts: int = 8, used: int = 2, tied: bool = False) -> dict:
    """A tiny Qwen3-MoE-shaped GGUF; returns the byte counts a hand calculation needs."""
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch="qwen3moe")
    writer.add_block_count(LAYERS)
    writer.add_context_length(4096)
    writer.add_embedding_length(EMBD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    if experts:
        writer.add_expert_count(experts)
        writer.add_expert_used_count(used)
    counts = {"embedding": VOCAB * EMBD, "experts": 0, "other": 0}

    def tensor(name: str, *shape: int, kind: str = "other") -> None:
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
        counts[kind] += int(np.prod(shape))

    writer.add_tensor("token_embd.weight", np.zeros((VOCAB, EMBD), dtype=np.float32))
    if not tied:
        tensor("output.weight", VOCAB, EMBD)
    tensor("output_norm.weight", EMBD)
    for i in range(LAYERS):
        tensor(f"blk.{i}.attn_norm.weight", EMBD)
        tensor(f"blk.{i}.attn_q.weight", EMBD, EMBD)
        tensor(f"blk.{i}.attn_k.weight", KV_HEADS * HEAD_DIM, EMBD)
        tensor(f"blk.{i}.attn_v.weight", KV_HEADS * HEAD_DIM, EMBD)
        tensor(f"blk.{i}.attn_output.weight", EMBD, EMBD)
        tensor(f"blk.{i}.ffn_norm.weight", EMBD)
        if experts:
            tensor(f"blk.{i}.ffn_gate_inp.weight", experts, EMBD)
            tensor(f"blk.{i}.ffn_gate_exps.weight", experts, FF, EMBD, kind="experts")
            tensor(f"blk.{i}.ffn_up_exps.weight", experts, FF, EMBD, kind="experts")
            tensor(f"blk.{i}.ffn_down_exps.weight", experts, EMBD, FF, kind="experts")
        else:
            tensor(f"blk.{i}.ffn_gate.weight", FF, EMBD)
            tensor(f"blk.{i}.ffn_up.weight", FF, EMBD)
            tensor(f"blk.{i}.ffn_down.weight", EMBD, FF)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return counts


def profile(bandwidth_gbs=20.0, starter_tps=80.0, starter_params=135_000_000):
    return speed.MachineProfile(speed.PROFILE_VERSION, "cpu", 1, bandwidth_gbs, starter_tps, starter_params, "now")


def test_header_reads_the_expert_shape_and_the_bytes_a_token_reads(tmp_path):
    counts = write_model(tmp_path / "moe.gguf", experts=8, used=2)
    info = read_gguf(tmp_path / "moe.gguf")
    assert (info.expert_count, info.expert_used_count, info.is_moe) == (8, 2, True)
    assert info.expert_bytes == counts["experts"] * F32
    shape = shape_from_header(info)
    # By hand: every tensor except the embedding table (a separate output matrix exists) and 6 of 8 experts.
    expected_read = (counts["other"] + counts["experts"] * 2 // 8) * F32
    assert shape.read_bytes == expected_read
    assert shape.active_params == counts["other"] + counts["experts"] * 2 // 8
    assert shape.params == counts["other"] + counts["experts"] + counts["embedding"]
    assert shape.moe.experts == 8 and shape.moe.experts_used == 2
    # The KV cache from the header's attention shape: layers x KV heads x (K + V head size) x f16.
    assert shape.kv_bytes(1000) == LAYERS * 1000 * KV_HEADS * 2 * HEAD_DIM * 2


def test_moe_speed_uses_active_bytes_and_fit_uses_the_whole_file(tmp_path):
    counts = write_model(tmp_path / "moe.gguf", experts=8, used=2)
    shape = shape_from_header(read_gguf(tmp_path / "moe.gguf"))
    p = profile(bandwidth_gbs=20.0, starter_tps=80.0, starter_params=135_000_000)
    memory_s = shape.read_bytes / (20.0e9 * speed.ENGINE_BANDWIDTH_SHARE)
    compute_s = shape.active_params / (80.0 * 135_000_000)
    assert p.shape_tokens_per_s(shape) == pytest.approx(1 / max(memory_s, compute_s))
    # A dense reading of the same file (every byte, every parameter) is the slower, wrong answer.
    assert p.tokens_per_s(shape.size_bytes, params=shape.params) < p.shape_tokens_per_s(shape) / 2
    # Memory holds every expert: the fit starts from the whole file.
    fit = fit_for_shape(shape, 1000, available_bytes=64 << 30)
    assert fit.need_bytes == (shape.size_bytes + shape.kv_bytes(1000) + RUNTIME_OVERHEAD_BYTES
                              + VOCAB_GUESS * 512 * 4)
    assert shape.size_bytes > (counts["other"] + counts["experts"]) * F32


def test_tied_embeddings_are_read_whole_and_dense_models_read_everything(tmp_path):
    counts = write_model(tmp_path / "dense.gguf", experts=0, tied=True)
    info = read_gguf(tmp_path / "dense.gguf")
    shape = shape_from_header(info)
    assert not info.is_moe and shape.moe is None
    # No output matrix: the embedding table doubles as one and is read in full for each token.
    assert shape.read_bytes == (counts["other"] + counts["embedding"]) * F32 == info.tensor_bytes


def test_catalog_moe_fields_stand_in_for_the_header_before_download(tmp_path):
    counts = write_model(tmp_path / "moe.gguf", experts=8, used=2, tied=True)
    from_header = shape_from_header(read_gguf(tmp_path / "moe.gguf"))
    moe = MoE(total_params=from_header.params, active_params=from_header.active_params, experts=8, experts_used=2)
    before = shape_for_file(from_header.size_bytes, "F32", moe, {"layers": LAYERS, "kv_heads": KV_HEADS,
                                                                   "head_dim": HEAD_DIM}, 4096)
    # Same parameters, same bytes per token within the file's header and alignment padding.
    assert before.active_params == from_header.active_params
    assert before.read_bytes == pytest.approx(from_header.read_bytes, rel=0.05)
    assert before.kv_bytes(1000) == from_header.kv_bytes(1000)
    # The hand calculation for a real catalog model: Qwen3-30B-A3B at Q4_K_M, 18.6 GB, 3.3B of 30.5B active.
    qwen = shape_for_file(18_600_000_000, "Q4_K_M", MoE(30_500_000_000, 3_300_000_000, 128, 8))
    experts_all = (30.5e9 - 3.3e9) / (1 - 8 / 128)  # total = shared + E, active = shared + E x 8/128
    expected_read = 18.6e9 * (1 - experts_all / 30.5e9) + 18.6e9 * experts_all / 30.5e9 * 8 / 128
    assert qwen.read_bytes == pytest.approx(expected_read, rel=1e-6)
    assert qwen.read_bytes / qwen.size_bytes == pytest.approx(3.3 / 30.5, rel=1e-6)
    assert counts["experts"] > 0


def test_partial_offload_arithmetic_with_a_stated_gpu(tmp_path):
    """No GPU exists on this machine: the GPU is described by hand, as nvidia-smi would report it."""
    p = profile(bandwidth_gbs=20.0)
    qwen = shape_for_file(18_600_000_000, "Q4_K_M", MoE(30_500_000_000, 3_300_000_000, 128, 8),
                          {"layers": 48, "kv_heads": 4, "head_dim": 128}, 262_144)
    gpu = GPU("NVIDIA GeForce RTX 4070", 12 << 30)  # 504 GB/s rated
    plan = plan_offload(qwen, 8192, gpu, p)
    kv = 48 * 4 * 128 * 2 * 2 * 8192
    per_layer = (18.6e9 + kv) / 48
    assert plan.layers_on_gpu == int(((12 << 30) - GPU_RESERVE_BYTES) // per_layer) < 48
    share = plan.layers_on_gpu / 48
    gpu_rate = 504e9 * GPU_BANDWIDTH_SHARE
    expected = 1 / (qwen.read_bytes * share / gpu_rate
                    + p.cpu_seconds_per_token(qwen.read_bytes * (1 - share), qwen.active_params * (1 - share)))
    assert plan.tokens_per_s == pytest.approx(expected)
    # Experts on the CPU: the GPU holds the shared weights and the KV cache, and the CPU reads only active experts.
    assert plan.experts_on_cpu_fits is True
    expert_params = qwen.active_params * qwen.active_expert_bytes / qwen.read_bytes
    assert plan.experts_on_cpu_tokens_per_s == pytest.approx(
        1 / (qwen.shared_read_bytes / gpu_rate + p.cpu_seconds_per_token(qwen.active_expert_bytes, expert_params)))
    # On a small card, keeping experts on the CPU beats splitting by layers (the everyday llama.cpp choice).
    small = plan_offload(qwen, 8192, GPU("NVIDIA GeForce RTX 4060", 6 << 30), p)
    assert small.layers_on_gpu < 20 and small.experts_on_cpu_tokens_per_s > small.tokens_per_s
    text = plan.describe()
    assert "of 48 layers fit the GPU" in text and "experts on the CPU" in text and "estimate" in text
    # A GPU that holds everything runs every layer there.
    big = plan_offload(qwen, 8192, GPU("NVIDIA H100 80GB HBM3", 79 << 30), p)
    assert big.layers_on_gpu == 48 and "all 48 layers fit the GPU" in big.describe()
    # An unknown card is assumed at the stated default bandwidth, and says so in the JSON.
    assert plan_offload(qwen, 8192, GPU("Some Future Card", 8 << 30), p).as_dict()["gpu_bandwidth_known"] is False


def test_estimator_offers_offload_only_with_a_gpu():
    e = Estimator(4096, profile())
    e.gpu = None
    shape = shape_for_file(8_000_000_000, "Q4_K_M")
    assert e.offload(shape) is None
    e.gpu = GPU("NVIDIA GeForce RTX 3060", 6 << 30)  # stated by hand: nvidia-smi cannot run here
    assert e.offload(shape) is None  # no layer count from a size alone: no split to estimate
    dense = shape_for_file(8_000_000_000, "Q4_K_M", attention={"layers": 32, "kv_heads": 8, "head_dim": 128})
    assert 0 < e.offload(dense).layers_on_gpu < 32


def test_speed_falls_as_files_of_one_model_grow():
    """The starter's own quantizations, by size and type alone: per-file guesses once put Q8_0 ahead of Q4_1."""
    from app.library.shape import params_of_model

    p = profile(bandwidth_gbs=14.0, starter_tps=70.0)
    files = [(98_400_000, "Q4_1"), (144_800_000, "Q8_0"), (270_900_000, "F16")]
    assert p.tokens_per_s(144_800_000, "Q8_0") > p.tokens_per_s(98_400_000, "Q4_1")  # the old, wrong order
    params = params_of_model(files)
    speeds = [p.shape_tokens_per_s(shape_for_file(size, quant, params=params)) for size, quant in files]
    assert speeds == sorted(speeds, reverse=True) and speeds[0] > speeds[-1]
    e = Estimator(4096, p)
    assert e.for_file(98_400_000, "Q4_1", params=params).tokens_per_s >= \
        e.for_file(144_800_000, "Q8_0", params=params).tokens_per_s
