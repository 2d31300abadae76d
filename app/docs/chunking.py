"""Cutting sections into passages small enough to embed and to quote.

A passage never crosses a section, so a heading stays with its text and a
function with its body where it fits; it grows paragraph by paragraph (or
definition by definition) up to ``MAX_CHARS`` and keeps its page or line
range for the citation.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.docs.parsers import Section

MAX_CHARS = 1200  # ~300 tokens: inside every embedding model's window (MiniLM: 512)


@dataclass
class Chunk:
    text: str
    page: int | None
    line_start: int | None
    line_end: int | None
    heading: str

    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def _pieces(section: Section) -> list[tuple[str, int, int]]:
    """(text, first line offset, last line offset) pieces: paragraphs, or blank-line blocks of code."""
    lines = section.text.split("\n")
    pieces, start = [], 0
    for i, line in enumerate(lines + [""]):
        if not line.strip():
            if i > start and any(x.strip() for x in lines[start:i]):
                pieces.append(("\n".join(lines[start:i]), start, i - 1))
            start = i + 1
    # A piece longer than a chunk is cut by lines, and a single huge line by characters.
    out = []
    for text, first, last in pieces:
        if len(text) <= MAX_CHARS:
            out.append((text, first, last))
            continue
        for offset, line in enumerate(text.split("\n")):
            for k in range(0, max(1, len(line)), MAX_CHARS):
                out.append((line[k:k + MAX_CHARS], first + offset, first + offset))
    return out


def chunk_sections(sections: list[Section]) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in sections:
        base = section.line_start
        buffer: list[str] = []
        first = last = 0
        size = 0

        def flush():
            if buffer:
                chunks.append(Chunk("\n\n".join(buffer), section.page,
                                    None if base is None else base + first, None if base is None else base + last,
                                    section.heading))

        for text, p_first, p_last in _pieces(section):
            if buffer and size + len(text) + 2 > MAX_CHARS:
                flush()
                buffer, size = [], 0
            if not buffer:
                first = p_first
            buffer.append(text)
            size += len(text) + 2
            last = p_last
        flush()
    return chunks
