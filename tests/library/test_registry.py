import shutil

import pytest

from app.errors import HearthError
from app.library.registry import ModelRegistry


def test_starter_model_is_installed_and_the_default(starter_path):
    registry = ModelRegistry()
    models = registry.models()
    assert models[0].is_starter and models[0].path == starter_path
    assert registry.resolve(None).is_starter
    assert registry.resolve("starter").path == starter_path


def test_a_downloaded_chat_model_becomes_the_default(hearth_home, starter_path):
    folder = hearth_home / "models"
    folder.mkdir(parents=True)
    shutil.copyfile(starter_path, folder / "Better-Model.Q8_0.gguf")
    chosen = ModelRegistry().resolve(None)
    assert chosen.id == "better-model-q8-0" and chosen.source == "models-folder"
    # An explicit setting wins.
    assert ModelRegistry().resolve(None, default_id="starter").is_starter


def test_import_by_reference_without_copying(tmp_path, starter_path, hearth_home):
    outside = tmp_path / "elsewhere" / "Mine.gguf"
    outside.parent.mkdir()
    shutil.copyfile(starter_path, outside)
    ModelRegistry().import_model(outside)
    ids = {m.id: m for m in ModelRegistry().models()}
    assert ids["mine"].path == outside and ids["mine"].source == "imported"
    assert not list((hearth_home / "models").glob("*.gguf"))


def test_unknown_id_is_a_readable_error():
    with pytest.raises(HearthError, match="no installed model called 'nope'"):
        ModelRegistry().resolve("nope")
