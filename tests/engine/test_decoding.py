"""Prompt-lookup drafts: the lookup itself, then the real starter model through the real worker."""

from __future__ import annotations

import pytest

from app.engine import protocol as p
from app.engine.client import Engine
from app.engine.decoding import PromptLookup

CODE = "\n".join(
    [
        "def tally(orders, cutoff):",
        "    totals = {}",
        "    for order in orders:",
        "        if order['date'] < cutoff:",
        "            continue",
        "        customer = order['customer']",
        "        totals[customer] = totals.get(customer, 0) + order['amount']",
        "    return sorted(totals.items(), key=lambda item: item[1], reverse=True)",
    ]
)
REPEAT_BACK = [{"role": "user", "content": "Repeat this code exactly, and nothing else:\n\n```python\n"
                + CODE + "\n```"}]


def test_draft_is_what_followed_the_latest_occurrence_of_the_last_tokens():
    lookup = PromptLookup([1, 2, 3, 4, 5, 6, 9, 2, 3, 4, 7, 8, 2, 3])
    assert lookup.draft(room=50) == []  # "2 3" alone is too short a match
    lookup.push(4)  # now "2 3 4": it last led to 7 8 2 3 4
    assert lookup.draft(room=50) == [7, 8, 2, 3, 4]
    assert lookup.draft(room=2) == [7, 8]


def test_drafting_pauses_while_drafts_are_rejected_and_retries_later():
    lookup = PromptLookup([5, 6, 7, 8, 1, 5, 6, 7])
    assert lookup.draft(room=50) == [8, 1, 5, 6, 7]
    for _ in range(4):
        lookup.record(drafted=6, accepted=0)
    paused = [lookup.draft(room=50) for _ in range(16)]
    assert paused == [[]] * 16
    assert lookup.draft(room=50) == [8, 1]  # a short retry now and then
    for _ in range(6):
        lookup.record(drafted=8, accepted=8)
    assert lookup.draft(room=50) == [8, 1, 5, 6, 7]


def _load(engine: Engine, path, lookup: bool) -> None:
    # Flash attention: llama.cpp's CPU kernels then give a token the same logits whether it is decoded
    # alone or in a batch, so greedy output must match to the token.
    engine.load(p.LoadModel(path=str(path), n_ctx=2048, n_gpu_layers=0, n_threads=1, n_threads_batch=2,
                            flash_attn=True, prompt_lookup=lookup))


@pytest.fixture(scope="module")
def engines(starter_path, tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    on, off = Engine(log_file=logs / "on.log"), Engine(log_file=logs / "off.log")
    _load(on, starter_path, True)
    _load(off, starter_path, False)
    yield on, off
    on.close()
    off.close()


def test_greedy_reply_is_identical_with_drafts_and_drafts_are_kept(engines):
    on, off = engines
    with_drafts = on.chat(REPEAT_BACK, max_tokens=120, temperature=0)
    text = with_drafts.consume()
    without = off.chat(REPEAT_BACK, max_tokens=120, temperature=0)
    assert text == without.consume()
    assert "totals" in text
    stats = with_drafts.stats
    assert stats.drafted_tokens >= 10 and stats.accepted_tokens >= 5, stats
    assert stats.completion_tokens == without.stats.completion_tokens
    assert without.stats.drafted_tokens == 0


def test_the_next_turn_after_rejected_drafts_matches_a_worker_without_them(engines):
    """Rejected drafts leave nothing behind in the cache the next turn reuses."""
    on, off = engines
    replies = []
    for engine in (on, off):
        history = list(REPEAT_BACK)
        first = engine.chat(history, max_tokens=60, temperature=0).consume()
        history += [{"role": "assistant", "content": first},
                    {"role": "user", "content": "Now rename totals to sums and show it again."}]
        second = engine.chat(history, max_tokens=60, temperature=0)
        replies.append(second.consume())
        assert second.stats.cached_tokens > 50  # the first turn's cache was reused
    assert replies[0] == replies[1]


def test_cancel_and_stop_strings_work_between_drafted_tokens(engines):
    on, _off = engines
    stream = on.chat(REPEAT_BACK, max_tokens=120, temperature=0, stop=["reverse"])
    text = stream.consume()
    assert "reverse" not in text and "sorted(totals" in text
    assert stream.stats.stop_reason == p.STOP_END
    stream = on.chat(REPEAT_BACK, max_tokens=200, temperature=0)
    for count, _piece in enumerate(stream):
        if count == 10:
            stream.cancel()
    assert stream.stats.stop_reason == p.STOP_CANCELLED
    assert stream.stats.completion_tokens < 60
