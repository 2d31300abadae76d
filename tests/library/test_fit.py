"""Memory-fit estimates from the GGUF header, checked against a real run."""

import pytest

from app.engine import protocol as p
from app.engine.client import Engine
from app.gguf.header import kv_cache_bytes
from app.library.fit import RUNTIME_OVERHEAD_BYTES, compute_buffer_bytes, fit, memory_needed
from app.gguf.header import read_gguf


@pytest.fixture(scope="module")
def info(starter_path):
    return read_gguf(starter_path)


def test_need_is_file_plus_kv_cache_plus_stated_overhead(info):
    need = memory_needed(info, 2048)
    assert need == info.file_size + kv_cache_bytes(info, 2048) + RUNTIME_OVERHEAD_BYTES + 49152 * 512 * 4
    assert compute_buffer_bytes(info) == 49152 * 512 * 4
    # The context is capped at what the model was trained for (8192).
    assert memory_needed(info, 100_000) == memory_needed(info, 8192)


def test_verdicts(info):
    need = memory_needed(info, 4096)
    assert fit(info, 4096, need * 2).verdict == "fits"
    assert fit(info, 4096, int(need * 1.2)).verdict == "tight"
    assert fit(info, 4096, need // 2).verdict == "won't fit"
    assert fit(info, 4096, None).verdict == "unknown"
    assert "won't fit: needs ~" in fit(info, 4096, need // 2).describe()


@pytest.mark.parametrize("n_ctx", [2048, 8192])
def test_estimate_is_an_upper_bound_close_to_a_real_run(info, starter_path, tmp_path, n_ctx):
    with Engine(log_file=tmp_path / "worker.log") as engine:
        engine.load(p.LoadModel(path=str(starter_path), n_ctx=n_ctx, n_gpu_layers=0, n_threads=1,
                                n_threads_batch=2))
        engine.chat([{"role": "user", "content": "word " * 300}], max_tokens=20).consume()
        used = engine.stats().rss_bytes
    estimate = memory_needed(info, n_ctx)
    print(f"\nctx {n_ctx}: estimate {estimate >> 20} MiB, real resident {used >> 20} MiB")
    assert used <= estimate <= 2 * used
