"""The token loop the worker generates with, and prompt-lookup drafts for it.

Asked to change code, a model mostly writes back text that is already in the
prompt. Prompt lookup turns that into speed: when the last few tokens also
occur earlier in the context, the tokens that followed them there are a cheap
guess (a *draft*) of what comes next. The draft is decoded in one batch with
the real token; every draft token the sampler then picks anyway is accepted,
and the first it does not pick ends the draft (its cache entries are removed).
Every token is still chosen by the same sampler from the same logits, so the
output is the model's own: identical under greedy decoding, up to the last-bit
differences llama.cpp's batched and single-token kernels may have.

A batch is not free on a CPU: here, a batch of 8 costs about four single
tokens (the starter model on 2 cores), so a wrong draft is a loss.
Drafts are therefore made only from matches of several tokens, and their
length follows how many of the recent draft tokens were accepted: long while
the model copies, nothing at all while it writes something new.

This module runs inside the worker; it talks to llama-cpp-python's context,
batch and sampler objects (``Llama._ctx``, ``._batch``), the same ones
``Llama.generate`` uses, because that method can only draft with
``logits_all=True``, which computes and copies the logits of every prompt
token (about 3x slower prompt evaluation here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

# Longest n-gram looked up first; shorter matches are more often wrong.
NGRAM_SIZES = (4, 3)
MAX_DRAFT = 12


class PromptLookup:
    """Drafts from earlier occurrences of the context's last few tokens."""

    def __init__(self, tokens: list[int], max_draft: int = MAX_DRAFT):
        self.history: list[int] = []
        # n-gram -> index of the token that followed its latest occurrence.
        self._follows: dict[tuple[int, ...], int] = {}
        self.max_draft = max_draft
        # Expected share of draft tokens accepted, from recent drafts; starts hopeful.
        self._rate = 0.8
        self._idle = 0  # tokens since drafting paused
        self.drafted = 0
        self.accepted = 0
        for token in tokens:
            self.push(token)

    def push(self, token: int) -> None:
        history = self.history
        end = len(history)
        follows = self._follows
        for n in NGRAM_SIZES:
            if end >= n:
                follows[tuple(history[end - n:end])] = end
        history.append(token)

    def draft(self, room: int) -> list[int]:
        """Up to ``room`` tokens that may come next, or none when guessing costs more than it saves."""
        length = self._length()
        if length == 0:
            self._idle += 1
            return []
        history = self.history
        for n in NGRAM_SIZES:
            if len(history) < n:
                continue
            start = self._follows.get(tuple(history[-n:]))
            if start is not None:
                return history[start:start + min(length, room)]
        return []

    def _length(self) -> int:
        # A batch of 1 + k tokens costs about 1 + 0.45k single decodes on a CPU, so a draft pays
        # when the expected accepted run beats that. Paused drafting retries now and then.
        rate = self._rate
        if rate < 0.55:
            if self._idle < 16:
                return 0
            self._idle = 0
            return 2
        if rate < 0.7:
            return 3
        if rate < 0.85:
            return 6
        return self.max_draft

    def record(self, drafted: int, accepted: int) -> None:
        if drafted <= 0:
            return
        self.drafted += drafted
        self.accepted += accepted
        # A draft's first rejection says more than its length: weigh by tokens offered.
        share = accepted / drafted
        weight = min(0.6, 0.15 * drafted)
        self._rate += weight * (share - self._rate)


def _decode(llm, tokens: list[int], all_logits: bool) -> None:
    batch = llm._batch
    for start in range(0, len(tokens), llm.n_batch):
        chunk = tokens[start:start + llm.n_batch]
        n_past = llm.n_tokens
        batch.set_batch(chunk, n_past, all_logits)
        llm._ctx.decode(batch)
        llm.input_ids[n_past:n_past + len(chunk)] = chunk
        llm.n_tokens = n_past + len(chunk)


def _prefill(llm, tokens: list[int]) -> int:
    """Evaluate the prompt, reusing the cache for the prefix it shares with the last one.
    Returns how many prompt tokens came from the cache."""
    same = 0
    limit = min(llm.n_tokens, len(tokens) - 1)  # the last prompt token is always decoded: its logits are needed
    ids = llm.input_ids
    while same < limit and ids[same] == tokens[same]:
        same += 1
    if same == 0 or not llm._ctx.kv_cache_seq_rm(-1, same, -1):
        llm.reset()
        same = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    llm.n_tokens = same
    _decode(llm, tokens[same:], all_logits=False)
    return same


def can_draft(llm) -> bool:
    """Rolling back rejected draft tokens needs a cache that can forget its tail."""
    return not (getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False))


def generate(llm, tokens: list[int], sampler, lookup: PromptLookup | None = None,
             on_decode: Callable[[int, float], None] | None = None,
             on_prefilled: Callable[[int], None] | None = None) -> Iterator[int]:
    """Yield sampled tokens after ``tokens``; close the generator to stop.

    ``on_prefilled(cached)`` is called once the prompt is in, with how many of
    its tokens the cache already held; ``on_decode(batch size, seconds)``
    after each generation step (the thread governor watches it).
    """
    cached = _prefill(llm, tokens)
    if on_prefilled is not None:
        on_prefilled(cached)
    n_ctx = llm.n_ctx()
    index = -1  # which of the last batch's logits to sample from
    draft: list[int] = []
    checked = 0  # draft tokens the sampler has confirmed so far

    def forget_unchecked() -> None:
        # The cache holds the last batch: the real token, then the draft; drop what was not confirmed.
        unchecked = len(draft) - checked
        if unchecked > 0:
            keep = llm.n_tokens - unchecked
            llm._ctx.kv_cache_seq_rm(-1, keep, -1)
            llm.n_tokens = keep

    try:
        while True:
            token = sampler.sample(llm._ctx, index)
            yield token
            if checked < len(draft) and token == draft[checked]:
                checked += 1
                index = checked
                continue
            if draft:
                lookup.record(len(draft), checked)
                forget_unchecked()
            guess: list[int] = []
            if lookup is not None:
                for confirmed in draft[:checked]:
                    lookup.push(confirmed)
                lookup.push(token)
                room = n_ctx - llm.n_tokens - 2
                guess = lookup.draft(room) if room > 0 else []
            draft, checked = [], 0  # nothing unconfirmed in the cache until the batch is in
            started = time.perf_counter()
            _decode(llm, [token, *guess], all_logits=bool(guess))
            if on_decode is not None:
                on_decode(1 + len(guess), time.perf_counter() - started)
            draft = guess
            index = 0 if draft else -1
    finally:
        forget_unchecked()
