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
