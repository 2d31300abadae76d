import pytest

from app.gguf.header import GGUFError, read_gguf


def test_reads_starter_metadata_without_loading_weights(starter_path):
    info = read_gguf(starter_path)
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.block_count == 30
    assert info.quantization == "Q4_1"
    assert info.size_label == "135M"
    assert 130e6 < info.parameter_count < 140e6
    assert info.array_lengths["tokenizer.ggml.tokens"] == 49152
    assert "<|im_start|>" in info.chat_template
    assert not info.is_embedding_model


@pytest.mark.parametrize("case, message", [
    ("not_gguf", "not a GGUF model file"),
    ("empty", "too small"),
    ("absurd_tensors", "claims 4611686018427387904 tensors"),
    ("absurd_kv", "claims 1099511627776 metadata entries"),
    ("absurd_string", "truncated or corrupt"),
    ("bad_version", "unsupported GGUF version 99"),
    ("truncated_data", "file is truncated"),
    ("truncated_header", "truncated or corrupt"),
])
def test_malformed_files_get_one_readable_line(bad_models, case, message):
    with pytest.raises(GGUFError) as err:
        read_gguf(bad_models[case])
    text = str(err.value)
    assert message in text
    assert "\n" not in text
    assert bad_models[case].name in text


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GGUFError, match="no such file"):
        read_gguf(tmp_path / "nope.gguf")
    with pytest.raises(GGUFError, match="is a folder"):
        read_gguf(tmp_path)


def test_unknown_architecture_still_parses(bad_models):
    # The header is valid: rejecting the architecture is llama.cpp's call, tested in the engine.
    assert read_gguf(bad_models["unknown_arch"]).architecture == "hearthnonsense"
