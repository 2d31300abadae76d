"""The curated catalog's data and the pre-download fit and speed estimates."""

import json
from datetime import date

import pytest

from app.errors import HearthError
from app.library import download, hub, speed
from app.library.catalog import USES, Estimator, load_catalog
from app.library.offload import GPU


def test_catalog_entries_are_well_formed_current_and_sourced():
    catalog = load_catalog()
    assert date.fromisoformat(catalog.made) <= date.today()
    assert {u for m in catalog.models for u in m.uses} == set(USES)  # every use has a model
    for m in catalog.models:
        hub.check_repo_id(m.repo)
        assert m.source.startswith("https://huggingface.co/"), m.id  # the stored page that confirms it
        assert m.files and m.context_length >= 2048, m.id
        assert m.facts()  # the Discover tab's line
        if m.moe:
            assert m.moe.active_params < m.moe.total_params and m.moe.experts_used < m.moe.experts
        assert m.attention is None or m.attention["layers"] > 0
        for f in m.files:
            assert download.local_name(f.file) == f.file  # downloads land under the same name
            assert hub.quantization_from_name(f.file) == f.quantization, f.file
            assert f.for_ram_gb in (8, 16, 32) and f.size_bytes > 10_000_000
            assert f.sha256 is None or len(f.sha256) == 64
    ids = [m.id for m in catalog.models]
    assert len(ids) == len(set(ids))
    # The current generation, not 2024's: MoE and reasoning models are there, the old default chat models are not.
    assert {"qwen3-coder-30b-a3b-instruct", "gpt-oss-20b", "gemma-3-12b-it"} <= set(ids)
    assert not {"meta-llama-3.1-8b-instruct", "gemma-2-9b-it", "mistral-nemo-instruct-2407"} & set(ids)
    reasoning = {m.id: m.reasoning for m in catalog.models if m.reasoning}
    assert reasoning["gpt-oss-20b"].style == "channel" and reasoning["deepseek-r1-0528-qwen3-8b"].open == "<think>"


def test_recommendations_follow_machine_memory():
    coder = next(m for m in load_catalog().models if m.id == "qwen2.5-coder-7b-instruct")
    assert coder.recommended_file(8 << 30).quantization == "Q4_K_M"
    assert coder.recommended_file(16 << 30).quantization == "Q8_0"
    oss = next(m for m in load_catalog().models if m.id == "gpt-oss-20b")
    assert oss.recommended_file(16 << 30).quantization == "Q4_K_M"
    assert oss.recommended_file(64 << 30).quantization == "F16"
    big = next(m for m in load_catalog().models if m.id == "qwen3-coder-30b-a3b-instruct")
    assert big.recommended_file(4 << 30).quantization == "Q4_K_M"  # the smallest when none suits


def test_moe_catalog_models_are_estimated_by_their_active_parameters():
    p = profile(bandwidth_gbs=40.0, starter_tps=300.0)
    catalog = {m.id: m for m in load_catalog().models}
    moe, dense = catalog["qwen3-coder-30b-a3b-instruct"], catalog["mistral-small-3.2-24b-instruct"]
    moe_tps = p.shape_tokens_per_s(moe.shape(moe.files[0]))
    dense_tps = p.shape_tokens_per_s(dense.shape(dense.files[0]))
    # 18.6 GB with 3.3B active runs several times faster than a 14.3 GB dense model, not slower.
    assert moe_tps > 4 * dense_tps
    assert moe_tps > 4 * p.tokens_per_s(moe.files[0].size_bytes, "Q4_K_M")  # what the size alone said


def test_damaged_catalog_fields_are_one_readable_error(tmp_path):
    good = json.loads(load_catalog.__globals__["resource"]("catalog.json").read_text())
    for breaker in (lambda m: m.update(uses=["astrology"]), lambda m: m["files"][0].update(sha256="xyz"),
                    lambda m: m.update(moe={"total_params": 1, "active_params": 2, "experts": 4, "experts_used": 2})):
        data = json.loads(json.dumps(good))
        breaker(data["models"][0])
        bad = tmp_path / "catalog.json"
        bad.write_text(json.dumps(data))
        with pytest.raises(HearthError, match="catalog .* is damaged"):
            load_catalog(bad)


def test_a_damaged_catalog_is_one_readable_error(tmp_path):
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps({"version": 2, "made": "2026-01-01", "models": [{"id": "x"}]}))
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
    e.available, e.gpu = 16 << 30, None
    small = e.for_file(2_020_000_000, "Q4_K_M")
    assert small.fit.verdict == "fits" and small.tokens_per_s > 0
    assert e.for_file(13_000_000_000, "Q6_K").fit.verdict == "tight"
    assert e.for_file(40_000_000_000, "Q8_0").fit.verdict == "won't fit"
    assert e.for_file(84_000_000, "Q4_K_M", embedding=True).tokens_per_s is None
    # A usable GPU with room for the model: judged against its memory (nvidia-smi cannot run here).
    e.gpu = GPU("NVIDIA GeForce RTX 3090", 24 << 30)
    assert e.for_file(13_000_000_000, "Q6_K").fit.verdict == "fits (GPU)"


def test_pinning_fills_exact_sizes_and_hashes_from_the_hub(loopback, tmp_path):
    """The real huggingface_hub client against the loopback Hub (the internet cannot be reached here)."""
    import hashlib

    from app.library.catalog import pin_catalog

    body = loopback.repos["tester/tiny-GGUF"]["files"]["tiny.Q4_0.gguf"]
    data = json.loads(load_catalog.__globals__["resource"]("catalog.json").read_text())
    entry = data["models"][0]
    entry["repo"] = "tester/tiny-GGUF"
    entry["files"] = [
        {"file": "tiny.Q4_0.gguf", "quantization": "Q4_0", "size_bytes": 300_000, "for_ram_gb": 8, "sha256": None},
        {"file": "gone.Q4_0.gguf", "quantization": "Q4_0", "size_bytes": 300_000, "for_ram_gb": 8, "sha256": None},
        {"file": "notes.Q4_0.gguf", "quantization": "Q4_0", "size_bytes": 300_000, "for_ram_gb": 8,
         "sha256": "0" * 64},
    ]
    data["models"] = [entry]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    report = "\n".join(pin_catalog(path))
    pinned = load_catalog(path).models[0].files
    assert pinned[0].size_bytes == len(body) and pinned[0].sha256 == hashlib.sha256(body).hexdigest()
    assert "gone.Q4_0.gguf: not on the Hub any more" in report
    assert "notes.Q4_0.gguf: changed on the Hub" in report and pinned[2].sha256 == "0" * 64


def test_a_profile_measured_beside_a_busy_neighbour_is_taken_again_when_quiet_and_keeps_the_best(
        hearth_home, monkeypatch):
    """The CLI and the window once cached profiles 2x apart, measured at different busy moments."""
    runs = iter([(14.9, 40.0, 0.95), (30.6, 80.0, 0.40), (20.0, 60.0, 0.40)])  # (GB/s, tok/s, machine busy share)
    state = {}

    def fake_bandwidth(_threads):
        state["bandwidth"], state["tps"], state["share"] = next(runs)
        return state["bandwidth"]

    monkeypatch.setattr(speed, "measure_bandwidth", fake_bandwidth)
    monkeypatch.setattr(speed, "measure_starter", lambda _starter, _threads: state["tps"])
    monkeypatch.setattr(speed.hardware, "usable_cores", lambda: 2)
    monkeypatch.setattr("app.engine.params.default_threads", lambda: (1, 2))
    monkeypatch.setattr(speed.hardware, "busy_share", lambda *_: state["share"])
    quiet = {"now": False}
    monkeypatch.setattr(speed, "_quiet_now", lambda: quiet["now"])
    first = speed.machine_profile()
    assert first.busy and first.bandwidth_gbs == 14.9  # 95% busy with one of two cores ours: a neighbour
    assert speed.machine_profile() == first  # still busy now: the cache stands
    quiet["now"] = True
    second = speed.machine_profile()
    assert (second.bandwidth_gbs, second.starter_tps, second.busy) == (30.6, 80.0, False)
    assert speed.machine_profile(measure=False) == second
    assert speed.machine_profile() == second  # quiet, not busy: no third measurement
    merged = speed.merge_profiles(second, speed.MachineProfile(**{**second.__dict__, "bandwidth_gbs": 20.0}))
    assert merged.bandwidth_gbs == 30.6  # a slower moment never lowers the profile


def test_the_best_model_for_this_machine_fits_runs_at_a_usable_pace_and_codes():
    from app.library.catalog import USABLE_TOKENS_PER_S, best_for_this_machine, load_catalog

    catalog = load_catalog()
    slow, fast = profile(bandwidth_gbs=10.0), profile(bandwidth_gbs=400.0, starter_tps=2000.0)
    for machine, ram in ((slow, 16 << 30), (fast, 64 << 30)):
        e = Estimator(4096, machine)
        e.available, e.gpu = ram, None
        pick = best_for_this_machine(catalog, e, ram)
        assert pick.estimate.fit.verdict == "fits" and pick.estimate.tokens_per_s >= USABLE_TOKENS_PER_S
        assert "coding" in pick.model.uses
    e = Estimator(4096, None)  # not measured yet: nothing larger than a laptop runs well
    e.available, e.gpu = 32 << 30, None
    unmeasured = best_for_this_machine(catalog, e, 32 << 30)
    assert unmeasured.file.size_bytes <= 5 << 30 and "coding" in unmeasured.model.uses
