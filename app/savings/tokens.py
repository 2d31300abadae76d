"""Count tokens the way the paid API would bill them, fully offline.

tiktoken's encoding files ship in resources/tokenizers; the cache variable is
pointed there before tiktoken is asked for an encoding, and a missing file is
an error rather than a silent download. Chat messages add OpenAI's documented
overhead: 3 tokens per message (1 more with a name) and 3 to prime the reply.
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from app.errors import HearthError
from app.resources import resource

def tokenizer_dir() -> Path:
    return resource("tokenizers")


_FILES = {"o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
          "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"}
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


@lru_cache(maxsize=4)
def encoding(name: str):
    if name not in _FILES:
        raise HearthError(f"unknown tokenizer {name!r}")
    folder = tokenizer_dir()
    if not (folder / _FILES[name]).is_file():
        raise HearthError(f"tokenizer data for {name} is missing from {folder}")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    import tiktoken

    return tiktoken.get_encoding(name)


def count_text(text: str, tokenizer: str = "o200k_base") -> int:
    return len(encoding(tokenizer).encode(text, disallowed_special=()))


def count_chat(messages: list[dict], tokenizer: str = "o200k_base") -> int:
    """Input tokens of a chat request: every message with its overhead, plus reply priming."""
    enc = encoding(tokenizer)
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += TOKENS_PER_NAME
    return total


def scaled(count: int, ratio: Decimal) -> int:
    """A count for a provider without a public tokenizer: the o200k count times a stated ratio."""
    if ratio == 1:
        return count
    return int((Decimal(count) * ratio).to_integral_value(rounding=ROUND_HALF_UP))


def warm_up() -> None:
    """Load both encodings ahead of the first count. Building tiktoken's tables
    holds the GIL for ~0.1 s at a time: the GUI does this at start-up, while the
    model loads, instead of stalling after the first reply."""
    for name in _FILES:
        encoding(name)
