import json

import pytest

from app import paths
from app.config import SCHEMA, Settings, load_settings
from app.errors import HearthError


def test_defaults_and_data_folder_from_hearth_home(hearth_home):
    settings = load_settings()
    assert settings.context_length == 4096 and settings.gpu_layers == "auto"
    assert paths.settings_file() == hearth_home / "settings.json"
    assert all(s.description for s in SCHEMA)


def test_save_and_reload_round_trip():
    settings = load_settings()
    settings.set("temperature", 0.2)
    settings.set("gpu_layers", 12)
    settings.save()
    raw = json.loads(paths.settings_file().read_text())
    assert raw["version"] == 1
    again = load_settings()
    assert again.temperature == 0.2 and again.gpu_layers == 12


def test_invalid_values_fall_back_to_defaults_without_failing():
    paths.settings_file().write_text(json.dumps(
        {"version": 1, "settings": {"temperature": "hot", "context_length": -5, "no_such_setting": 1,
                                    "top_p": 0.5}}))
    settings = load_settings()
    assert settings.temperature == 0.7 and settings.context_length == 4096 and settings.top_p == 0.5


def test_unreadable_file_is_kept_aside_not_lost():
    paths.settings_file().write_text("{ not json")
    settings = load_settings()
    assert settings.max_tokens == 1024
    assert paths.settings_file().with_suffix(".json.broken").read_text() == "{ not json"


def test_setting_a_bad_value_is_a_readable_error():
    with pytest.raises(HearthError, match="invalid value -1 for temperature"):
        Settings().set("temperature", -1)
    with pytest.raises(HearthError, match="unknown setting"):
        Settings().set("colour", "red")


def test_changes_are_announced_once_and_snapshots_stay_quiet():
    settings, heard = Settings(), []
    settings.subscribe(heard.append)
    settings.update({"temperature": 0.2, "top_p": 0.5, "max_tokens": 1024})  # max_tokens is unchanged
    assert heard == [frozenset({"temperature", "top_p"})]
    snapshot = settings.copy()
    snapshot.set("temperature", 1.0)
    assert heard == [frozenset({"temperature", "top_p"})] and settings.temperature == 0.2
    with pytest.raises(HearthError):
        settings.update({"top_k": 5, "temperature": 99})  # one bad value: nothing changes
    assert settings.top_k == 40 and len(heard) == 1
    settings.set("top_k", 40)  # same value: no news
    assert len(heard) == 1


def test_every_number_setting_states_its_range():
    from app.config import setting

    for name in ("temperature", "top_p", "max_tokens", "context_length", "batch_size", "threads"):
        low, high = setting(name).bounds
        assert setting(name).valid(type(setting(name).default)(low) if setting(name).default != "auto" else int(low))
        assert not setting(name).valid(high * 2 if isinstance(high, int) else high + 1)


@pytest.mark.parametrize("content, reset", [
    ({"version": 1, "settings": {"electricity_usd_per_kwh": "1E+999999", "threads": 100000, "top_p": 0.5}},
     "electricity_usd_per_kwh, threads"),
    ({"version": -3, "settings": {"top_p": 0.5}}, "unknown format version -3"),
    ({"version": 10 ** 30, "settings": {}}, None),  # a newer Hearth's file: read what is understood
    ('{"version": 1, "settings": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON"),
    ([1, 2], "not a JSON object"),
])
def test_damaged_settings_reset_per_setting_keep_a_copy_and_say_which(content, reset):
    file = paths.settings_file()
    text = content if isinstance(content, str) else json.dumps(content)
    file.write_text(text)
    settings = load_settings()
    assert settings.threads == "auto" and settings.electricity_usd_per_kwh == "0.17"
    if reset is None:
        assert settings.note is None
        return
    assert reset in settings.note and "settings.json.broken" in settings.note
    assert file.with_suffix(".json.broken").read_text() == text
    assert load_settings().note is None  # repaired: said once
    if "threads" in reset:
        assert load_settings().top_p == 0.5  # the valid setting kept


def test_the_cli_says_which_settings_were_reset(hearth_home):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    paths.settings_file().write_text(json.dumps({"version": 1, "settings": {"device_watts": "9e99"}}))
    run = lambda: subprocess.run([sys.executable, "-m", "app", "savings", "--json"], capture_output=True,  # noqa: E731
                                 text=True, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), timeout=60)
    first, second = run(), run()
    assert first.returncode == 0 and second.returncode == 0
    assert first.stderr.strip().startswith("hearth: settings: device_watts were not valid")
    assert second.stderr == ""


def test_thread_settings_above_the_cpu_count_are_used_as_the_cpu_count():
    import os

    from app.engine.params import load_request

    request = load_request("/m.gguf", Settings({"threads": 512, "batch_threads": 300}))
    assert request.n_threads == request.n_threads_batch == os.cpu_count()


def test_prompt_lookup_is_on_by_default_and_the_setting_reaches_the_worker():
    from app.engine.base import LOAD_SETTINGS
    from app.engine.params import load_request

    assert load_request("/m.gguf", Settings()).prompt_lookup is True
    assert load_request("/m.gguf", Settings({"prompt_lookup": False})).prompt_lookup is False
    assert "prompt_lookup" in LOAD_SETTINGS  # changing it reloads the model with it
