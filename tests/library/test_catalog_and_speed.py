"""The curated catalog's data and the pre-download fit and speed estimates."""

import json
from datetime import date

import pytest

from app.errors import HearthError
from app.library import download, hub, speed
from app.library.catalog import PURPOSES, Estimator, load_catalog


def test_catalog_entries_are_well_formed_and_dated():
    catalog = load_catalog()
    assert date.fromisoformat(catalog.made) <= date.today()
    assert {m.purpose for m in catalog.models} == set(PURPOSES)
    for m in catalog.models:
        hub.check_repo_id(m.repo)
        assert m.files, m.id
        for f in m.files:
            assert download.local_name(f.file) == f.file  # downloads land under the same name
            assert hub.quantization_from_name(f.file) == f.quantization, f.file
            assert f.for_ram_gb in (8, 16, 32) and f.size_bytes > 10_000_000


def test_recommendations_follow_machine_memory():
    coder = next(m for m in load_catalog().models if m.id == "qwen2.5-coder-7b-instruct")
    assert coder.recommended_file(8 << 30).quantization == "Q4_K_M"
    assert coder.recommended_file(16 << 30).quantization == "Q6_K"
    assert coder.recommended_file(64 << 30).quantization == "Q8_0"
    big = next(m for m in load_catalog().models if m.id == "qwen2.5-coder-14b-instruct")
    assert big.recommended_file(4 << 30).quantization == "Q4_K_M"  # the smallest when none suits


def test_a_damaged_catalog_is_one_readable_error(tmp_path):
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps({"version": 1, "made": "2026-01-01", "models": [{"id": "x"}]}))
    with pytest.raises(HearthError, match="catalog .* is damaged"):
        load_catalog(bad)


def profile(bandwidth_gbs=20.0, starter_tps=80.0, starter_params=135_000_000):
    return speed.MachineProfile(speed.PROFILE_VERSION, "cpu", 1, bandwidth_gbs, starter_tps, starter_params, "now")


def test_speed_is_memory_bound_for_big_files_and_compute_bound_for_small_ones():
    p = profile()
    big = p.tokens_per_s(4_680_000_000, "Q4_K_M")
    assert big < p.tokens_per_s(2_020_000_000, "Q4_K_M") < p.tokens_per_s(986_000_000, "Q4_K_M")
    # the starter itself: its own measured speed, from its real parameter count
    assert p.tokens_per_s(98_000_000, params=135_000_000) == pytest.approx(80.0)
    # twice the bandwidth helps a model whose weights dominate
    faster = profile(bandwidth_gbs=40.0)
    assert faster.tokens_per_s(8_100_000_000, "F16") > p.tokens_per_s(8_100_000_000, "F16")


def test_machine_profile_is_measured_once_with_the_real_engine_and_cached(hearth_home):
    assert speed.cached_profile() is None
    measured = speed.machine_profile()
    assert measured.bandwidth_gbs > 0.5 and measured.starter_tps > 1 and measured.starter_params > 100_000_000
    assert (hearth_home / "machine-profile.json").exists()
    assert speed.machine_profile(measure=False) == measured
    (hearth_home / "machine-profile.json").write_text("{broken")
    assert speed.machine_profile(measure=False) is None  # damaged cache: measure again, never crash


def test_estimates_for_files_not_yet_downloaded():
    e = Estimator(4096, profile())
    e.available, e.gpu_free = 16 << 30, None
    small = e.for_file(2_020_000_000, "Q4_K_M")
    assert small.fit.verdict == "fits" and small.tokens_per_s > 0
    assert e.for_file(13_000_000_000, "Q6_K").fit.verdict == "tight"
    assert e.for_file(40_000_000_000, "Q8_0").fit.verdict == "won't fit"
    assert e.for_file(84_000_000, "Q4_K_M", embedding=True).tokens_per_s is None
    # A usable GPU with room for the model: judged against its memory (nvidia-smi cannot run here).
    e.gpu_free = 24 << 30
    assert e.for_file(13_000_000_000, "Q6_K").fit.verdict == "fits (GPU)"
