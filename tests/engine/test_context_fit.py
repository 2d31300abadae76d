"""The rule for dropping old turns, with an exact stand-in tokenizer (one token per word)."""

import pytest

from app.engine.worker import fit_to_context


def words(messages):
    return " ".join(m["content"] for m in messages).split()


def convo(turns: int):
    msgs = [{"role": "system", "content": "sys prompt"}]
    for i in range(turns):
        msgs += [{"role": "user", "content": f"u{i} " * 10}, {"role": "assistant", "content": f"a{i} " * 10}]
    return msgs + [{"role": "user", "content": "newest question"}]


def test_keeps_everything_when_it_fits():
    tokens, dropped = fit_to_context(convo(2), words, n_ctx=100, room=10)
    assert dropped == 0 and len(tokens) == 2 + 40 + 2


def test_drops_oldest_pairs_and_keeps_system_and_newest():
    kept = []
    tokens, dropped = fit_to_context(convo(5), lambda m: kept.append(m) or words(m), n_ctx=60, room=10)
    final = kept[-1]
    assert dropped == 6  # three user/assistant pairs
    assert final[0]["content"] == "sys prompt"
    assert final[-1]["content"] == "newest question"
    assert final[1]["content"].startswith("u3")  # oldest kept turn is a user turn
    assert len(tokens) + 10 <= 60


def test_newest_message_alone_too_big_is_an_error():
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "w " * 200}]
    with pytest.raises(ValueError, match="more than this model's context window of 100 tokens"):
        fit_to_context(msgs, words, n_ctx=100, room=10)
