"""GPU layer choice for 'auto'. No GPU exists on the test machines, so the GPU's
free memory (nvidia-smi) is the one thing mocked here; the model header is real."""

import pytest

from app import hardware
from app.engine.gpu import ALL_LAYERS, resolve_gpu_layers
from app.gguf.header import kv_cache_bytes
from app.gguf.header import read_gguf


@pytest.fixture(scope="module")
def info(starter_path):
    return read_gguf(starter_path)


def fake_gpu(monkeypatch, free_bytes):
    monkeypatch.setattr(hardware, "nvidia_gpus",
                        lambda: [{"name": "Fake GPU", "memory_total": 8 << 30, "memory_free": free_bytes}])


def test_kv_cache_size_from_header(info):
    # SmolLM2-135M: 30 layers, 3 KV heads, head size 64, f16 K and V.
    assert kv_cache_bytes(info, 4096) == 30 * 4096 * 3 * (64 + 64) * 2


def test_cpu_only_build_offloads_nothing(info):
    assert resolve_gpu_layers("auto", info, 4096, offload_supported=False) == 0
    assert resolve_gpu_layers(20, info, 4096, offload_supported=False) == 0


def test_explicit_count_is_respected(info):
    assert resolve_gpu_layers(7, info, 4096, offload_supported=True) == 7


def test_auto_offloads_everything_when_it_fits(monkeypatch, info):
    fake_gpu(monkeypatch, 4 << 30)
    assert resolve_gpu_layers("auto", info, 4096, offload_supported=True) == ALL_LAYERS


def test_auto_offloads_part_when_vram_is_short(monkeypatch, info):
    per_layer = info.file_size / 31
    fake_gpu(monkeypatch, int(600 * 2**20 + kv_cache_bytes(info, 4096) + per_layer * 10.5))
    assert resolve_gpu_layers("auto", info, 4096, offload_supported=True) == 10


def test_auto_with_no_free_vram_uses_the_cpu(monkeypatch, info):
    fake_gpu(monkeypatch, 100 << 20)
    assert resolve_gpu_layers("auto", info, 4096, offload_supported=True) == 0
