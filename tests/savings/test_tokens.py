"""Token counts with the paid APIs' own tokenizers, offline."""

import socket
from decimal import Decimal

import pytest

from app.savings import tokens


def test_known_strings():
    assert tokens.encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert tokens.encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert tokens.count_text("The quick brown fox jumps over the lazy dog.", "o200k_base") == 10
    assert tokens.count_text("Ünïcödé 日本語 🔥", "o200k_base") == 9
    assert tokens.count_text("Ünïcödé 日本語 🔥", "cl100k_base") == 13


def test_chat_overhead_per_message_name_and_priming():
    # 3 priming + (3 + "user" 1 + "hello world" 2)
    assert tokens.count_chat([{"role": "user", "content": "hello world"}]) == 9
    # + (3 + "system" 1 + "You are helpful." 4) and a name: its token + 1
    assert tokens.count_chat([{"role": "system", "content": "You are helpful."},
                              {"role": "user", "content": "hello world", "name": "ann"}]) == 19


def test_special_token_text_is_counted_not_refused():
    assert tokens.count_text("<|endoftext|>") > 1


def test_scaled_estimate_for_providers_without_a_public_tokenizer():
    assert tokens.scaled(100, Decimal("1.25")) == 125
    assert tokens.scaled(3, Decimal("1.25")) == 4  # 3.75 rounds half up
    assert tokens.scaled(7, Decimal(1)) == 7


def test_works_with_the_network_cut(monkeypatch):
    import tiktoken.registry

    def refuse(*args, **kwargs):
        raise AssertionError("a tokenizer tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokens.encoding.cache_clear()
    assert tokens.count_text("offline", "cl100k_base") > 0
    tokens.encoding.cache_clear()


def test_missing_tokenizer_data_is_an_error_not_a_download(monkeypatch, tmp_path):
    from app.errors import HearthError

    monkeypatch.setattr(tokens, "tokenizer_dir", lambda: tmp_path)
    tokens.encoding.cache_clear()
    with pytest.raises(HearthError, match="tokenizer data for o200k_base is missing"):
        tokens.encoding("o200k_base")
    tokens.encoding.cache_clear()
