"""Reading documents into sections of text that remember where they came from.

One small parser per format, chosen by file extension. A parser returns
``Section`` objects (text + page for PDFs, or first and last line for text
and code, + the heading path) or raises ``Skip`` with a reason the user can
read. Parsers run in a separate process with a time limit (see
``workers.py``), so a PDF that makes a library hang or crash costs one
file, never the collection.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

MAX_TEXT_BYTES = 20 << 20  # a text file larger than this is a log or a dump, not a document
MAX_BINARY_DOC_BYTES = 300 << 20  # PDFs and Office files
SNIFF_BYTES = 8192
MAX_PDF_PAGES = 5000
# An Office file is a zip: its declared sizes are checked before any XML is parsed, because
# the parsers' memory follows the expanded size (a 1 MB DOCX bomb peaked at 2.3 GB).
MAX_OFFICE_EXPANDED_BYTES = 200 << 20
MAX_OFFICE_RATIO = 200  # a part that claims to expand more than this is a bomb, not a document
MAX_OFFICE_PARTS = 20_000


class Skip(Exception):
    """This file is not indexed; the message says why."""


class Sections(list):
    """A parser's sections, with a note when only part of the file was read (shown in the status)."""

    note: str | None = None


@dataclass
class Section:
    text: str
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    heading: str = ""
    kind: str = "text"  # "text" or "code": code is split on definitions, text on paragraphs
    extra: dict = field(default_factory=dict)


CODE_EXTENSIONS = {
    ".py", ".js", ".jsx", ".ts", ".tsx", ".java", ".kt", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".go",
    ".rs", ".rb", ".php", ".swift", ".scala", ".sh", ".bash", ".sql", ".r", ".lua", ".pl", ".m", ".dart",
    ".css", ".scss", ".toml", ".yaml", ".yml", ".ini", ".cfg",
}
TEXT_EXTENSIONS = {".txt", ".text", ".log", ".rst", ".tex", ".org"}
MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdx"}


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size == 0:
        raise Skip("empty file")
    if size > MAX_TEXT_BYTES:
        raise Skip(f"too large to be a document ({size >> 20} MB; the limit for text is {MAX_TEXT_BYTES >> 20} MB)")
    with open(path, "rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1)
    if b"\0" in data[:SNIFF_BYTES]:
        raise Skip("binary file")
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise Skip("empty file")
    return text


def _binary_size_check(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise Skip("empty file")
    if size > MAX_BINARY_DOC_BYTES:
        raise Skip(f"too large ({size >> 20} MB; the limit is {MAX_BINARY_DOC_BYTES >> 20} MB)")


def parse_text(path: Path) -> list[Section]:
    lines = _read_text(path).splitlines()
    return [Section("\n".join(lines), line_start=1, line_end=len(lines))]


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def parse_markdown(path: Path) -> list[Section]:
    """One section per heading, carrying the path of headings above it."""
    lines = _read_text(path).splitlines()
    sections: list[Section] = []
    trail: list[str] = []
    start, body, in_fence = 1, [], False

    def close(end: int) -> None:
        if any(line.strip() for line in body):
            sections.append(Section("\n".join(body), line_start=start, line_end=end, heading=" > ".join(trail)))

    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            close(number - 1)
            level = len(match.group(1))
            trail = trail[: level - 1] + [match.group(2)]
            start, body = number, [line]
        else:
            body.append(line)
    close(len(lines))
    return sections


# A definition at the start of a line: where code is best split.
_DEFINITION = re.compile(
    r"^(?:async\s+def|def|class|function|func|fn|pub\s+fn|impl|struct|enum|interface|type|module|"
    r"(?:export\s+)?(?:default\s+)?(?:async\s+)?function|(?:export\s+)?class|"
    r"(?:public|private|protected|static)\b.*\(|[A-Za-z_][\w<>\[\]*&:\s]*\s+\**[A-Za-z_]\w*\s*\([^;]*$)")


def parse_code(path: Path) -> list[Section]:
    """Split before each top-level definition, so a chunk holds whole functions where possible."""
    lines = _read_text(path).splitlines()
    sections: list[Section] = []
    start = 1
    for number, line in enumerate(lines, 1):
        if number > start and _DEFINITION.match(line) and not line.startswith((" ", "\t")):
            sections.append(Section("\n".join(lines[start - 1:number - 1]), line_start=start, line_end=number - 1,
                                    kind="code"))
            start = number
    sections.append(Section("\n".join(lines[start - 1:]), line_start=start, line_end=len(lines), kind="code"))
    return [s for s in sections if s.text.strip()]


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg"}
    HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
    BLOCKS = {"p", "div", "li", "br", "tr", "section", "article", "pre", "blockquote", "table"} | HEADINGS

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.trail: list[str] = []
        self.buffer: list[str] = []
        self.heading_text: list[str] | None = None
        self.skipping = 0

    def flush(self) -> None:
        text = re.sub(r"\n{3,}", "\n\n", "".join(self.buffer)).strip()
        if text:
            self.sections.append(Section(text, heading=" > ".join(self.trail)))
        self.buffer = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.HEADINGS:
            self.flush()
            self.heading_text = []
        elif tag in self.BLOCKS:
            self.buffer.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.HEADINGS and self.heading_text is not None:
            title = " ".join("".join(self.heading_text).split())
            level = int(tag[1])
            self.trail = self.trail[: level - 1] + [title]
            self.buffer.append(title + "\n")
            self.heading_text = None
        elif tag in self.BLOCKS:
            self.buffer.append("\n")

    def handle_data(self, data):
        if self.skipping:
            return
        if self.heading_text is not None:
            self.heading_text.append(data)
        else:
            self.buffer.append(data)


def parse_html(path: Path) -> list[Section]:
    reader = _HTMLText()
    reader.feed(_read_text(path))
    reader.close()
    reader.flush()
    if not reader.sections:
        raise Skip("no text in this page")
    return reader.sections


def parse_csv(path: Path) -> list[Section]:
    """Rows as "column: value" lines, so a passage keeps its meaning without the header row."""
    text = _read_text(path)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise Skip(f"not readable as CSV ({exc})") from None
    if not rows:
        raise Skip("empty file")
    header, lines = rows[0], []
    for row in rows[1:]:
        lines.append("; ".join(f"{h}: {v}" for h, v in zip(header, row) if v.strip()))
    if not lines:
        lines = [", ".join(header)]
    return [Section("\n".join(lines), line_start=2, line_end=len(rows))]


def parse_json(path: Path) -> list[Section]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Skip(f"not valid JSON ({exc})") from None
    pretty = json.dumps(data, indent=1, ensure_ascii=False).splitlines()
    return [Section("\n".join(pretty), line_start=1, line_end=len(pretty))]


def parse_pdf(path: Path) -> list[Section]:
    import pypdfium2 as pdfium

    _binary_size_check(path)
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise Skip("encrypted PDF (needs a password)") from None
        raise Skip(f"damaged or not a PDF ({exc})") from None
    sections = Sections()
    pages = len(document)
    if pages > MAX_PDF_PAGES:
        sections.note = f"only its first {MAX_PDF_PAGES:,} pages are indexed (of {pages:,}; the limit per file)"
    try:
        for index in range(min(pages, MAX_PDF_PAGES)):
            page = document[index]
            try:
                text = page.get_textpage().get_text_range()
            finally:
                page.close()
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text.strip():
                sections.append(Section(text, page=index + 1))
    finally:
        document.close()
    if not sections:
        raise Skip("no text layer (a scanned PDF? OCR is not supported)")
    return sections


def check_archive(path: Path, what: str) -> None:
    """Refuse a zip whose parts would expand past the limits, from its directory alone."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, NotImplementedError) as exc:
        raise Skip(f"damaged {what} file ({exc})") from None
    if len(parts) > MAX_OFFICE_PARTS:
        raise Skip(f"not a {what} document: {len(parts):,} parts in its archive (the limit is {MAX_OFFICE_PARTS:,})")
    expanded = sum(p.file_size for p in parts)
    if expanded > MAX_OFFICE_EXPANDED_BYTES:
        raise Skip(f"expands to {expanded >> 20:,} MB (the limit for {what} files is "
                   f"{MAX_OFFICE_EXPANDED_BYTES >> 20} MB): a zip bomb, or not a document")
    for part in parts:
        if part.file_size > (1 << 20) and part.file_size > MAX_OFFICE_RATIO * max(part.compress_size, 1):
            raise Skip(f"its part {part.filename[:60]!r} expands {part.file_size // max(part.compress_size, 1):,}-fold"
                       f" (the limit is {MAX_OFFICE_RATIO}): a zip bomb, or not a document")


def _office(path: Path, reader: Callable[[Path], list[Section]], what: str) -> list[Section]:
    import zipfile

    _binary_size_check(path)
    if not zipfile.is_zipfile(path):
        raise Skip(f"damaged or not a {what} file (encrypted Office files are not supported)")
    check_archive(path, what)
    try:
        sections = reader(path)
    except Skip:
        raise
    except Exception as exc:  # the library's many ways of saying "broken file"
        raise Skip(f"damaged {what} file ({type(exc).__name__}: {exc})") from None
    if not sections:
        raise Skip("no text in this document")
    return sections


def _docx(path: Path) -> list[Section]:
    import docx

    document = docx.Document(str(path))
    sections: list[Section] = []
    trail: list[str] = []
    body: list[str] = []

    def close():
        if any(b.strip() for b in body):
            sections.append(Section("\n".join(body), heading=" > ".join(trail)))

    for paragraph in document.paragraphs:
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        match = re.match(r"Heading (\d)", style)
        if match and paragraph.text.strip():
            close()
            level = int(match.group(1))
            trail = trail[: level - 1] + [paragraph.text.strip()]
            body = [paragraph.text]
        else:
            body.append(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            body.append(" | ".join(cell.text for cell in row.cells))
    close()
    return sections


def _pptx(path: Path) -> list[Section]:
    import pptx

    deck = pptx.Presentation(str(path))
    sections = []
    for number, slide in enumerate(deck.slides, 1):
        texts = [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame and shape.text_frame.text]
        if texts:
            # A slide is the unit people cite; it is kept in the page field.
            sections.append(Section("\n".join(texts), page=number, heading=texts[0].splitlines()[0][:80]))
    return sections


def _xlsx(path: Path) -> list[Section]:
    import openpyxl

    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    sections = []
    try:
        for sheet in book.worksheets:
            lines = []
            for row in sheet.iter_rows(values_only=True):
                cells = [str(c) for c in row if c is not None]
                if cells:
                    lines.append(" | ".join(cells))
                if len(lines) > 100_000:
                    break
            if lines:
                sections.append(Section("\n".join(lines), heading=sheet.title, line_start=1, line_end=len(lines)))
    finally:
        book.close()
    return sections


PARSERS: dict[str, Callable[[Path], list[Section]]] = {
    ".pdf": parse_pdf,
    ".docx": lambda p: _office(p, _docx, "Word"),
    ".pptx": lambda p: _office(p, _pptx, "PowerPoint"),
    ".xlsx": lambda p: _office(p, _xlsx, "Excel"),
    ".html": parse_html, ".htm": parse_html,
    ".csv": parse_csv,
    ".json": parse_json,
    **{ext: parse_markdown for ext in MARKDOWN_EXTENSIONS},
    **{ext: parse_text for ext in TEXT_EXTENSIONS},
    **{ext: parse_code for ext in CODE_EXTENSIONS},
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in PARSERS


def parse(path: Path) -> list[Section]:
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise Skip(f"unsupported file type {path.suffix or '(none)'}")
    try:
        return parser(path)
    except Skip:
        raise
    except PermissionError:
        raise Skip("permission denied") from None
    except OSError as exc:
        raise Skip(f"unreadable ({exc.strerror or exc})") from None
