"""Text that came from outside (file names, model metadata, model output) made safe to show.

A file name may hold bytes that are not UTF-8 (Python keeps them as lone
surrogates, which a terminal encoder rejects and Qt silently drops) and
control characters that clear a terminal or retitle its window. These
functions show both as something a person can read, without changing what
is stored.
"""

from __future__ import annotations

import re

_CONTROLS_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# In running text, line breaks, tabs and the carriage return of a progress line stay as they are.
_CONTROLS_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"  # an undecodable byte of a file name
    return f"\\x{ord(char):02x}"


def shown_name(name: str) -> str:
    """A file name or other one-line label: every control character escaped, bad bytes as U+FFFD."""
    return _CONTROLS_IN_NAMES.sub(_escape, name)


def shown_text(text: str) -> str:
    """Running text for a terminal: as ``shown_name`` but keeping newlines, tabs and carriage returns."""
    return _CONTROLS_IN_TEXT.sub(_escape, text)


class SafeStream:
    """Wraps a text stream so that nothing written through it can drive the terminal."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(shown_text(text))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 file', '2 files', '1,204 passages'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
