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
