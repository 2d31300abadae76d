"""Each reader on real files: text with its page or lines and headings, or a readable reason to skip."""

from __future__ import annotations

import os

import pytest

from app.docs import parsers
from app.docs.chunking import MAX_CHARS, chunk_sections
from app.docs.parsers import Skip, parse
from app.docs.workers import ParseProcess
from tests.docs.conftest import FACTS


def test_pdf_pages_keep_their_numbers(documents):
    sections = parse(documents / "handbook.pdf")
    assert [s.page for s in sections] == [1, 2, 3]
    assert FACTS[2].split(" are ")[0] in sections[1].text


def test_docx_headings_stay_with_their_sections(documents):
    sections = parse(documents / "travel.docx")
    hotels = next(s for s in sections if "180 euros" in s.text)
    assert hotels.heading == "Travel policy > Hotels"


def test_markdown_sections_carry_heading_path_and_lines(documents):
    chunks = chunk_sections(parse(documents / "notes.md"))
    backups = next(c for c in chunks if "2 am" in c.text)
    assert backups.heading == "Team notes > Backups" and (backups.line_start, backups.line_end) == (5, 7)


def test_code_splits_on_definitions_with_line_ranges(documents):
    chunks = chunk_sections(parse(documents / "sub" / "billing.py"))
    fee = next(c for c in chunks if "def late_fee" in c.text)
    assert "class Invoice" not in fee.text and fee.line_start == 4
    assert any(c.text.startswith("class Invoice") and c.line_start == 9 for c in chunks)


def test_html_csv_json_pptx_xlsx(tmp_path):
    import openpyxl
    import pptx

    (tmp_path / "page.html").write_text("<html><head><style>x{}</style><script>evil()</script></head><body>"
                                        "<h1>Guide</h1><p>Hello &amp; welcome.</p><h2>Parking</h2>"
                                        "<p>Park in zone B.</p></body></html>")
    html = parse(tmp_path / "page.html")
    assert any(s.heading == "Guide > Parking" and "zone B" in s.text for s in html)
    assert not any("evil" in s.text for s in html)
    (tmp_path / "t.csv").write_text("name,city\nAda,London\nLinus,Helsinki\n")
    assert "name: Linus; city: Helsinki" in parse(tmp_path / "t.csv")[0].text
    (tmp_path / "d.json").write_text('{"service": {"port": 8080}}')
    assert '"port": 8080' in parse(tmp_path / "d.json")[0].text
    deck = pptx.Presentation()
    for title in ("Roadmap", "Budget is 2 million"):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
    deck.save(str(tmp_path / "deck.pptx"))
    assert [(s.page, s.text) for s in parse(tmp_path / "deck.pptx")] == [(1, "Roadmap"), (2, "Budget is 2 million")]
    book = openpyxl.Workbook()
    book.active.title = "Costs"
    book.active.append(["item", "eur"])
    book.active.append(["laptop", 1200])
    book.save(str(tmp_path / "costs.xlsx"))
    [sheet] = parse(tmp_path / "costs.xlsx")
    assert sheet.heading == "Costs" and "laptop | 1200" in sheet.text


@pytest.mark.parametrize("name, reason", [
    ("corrupt.pdf", "damaged or not a PDF"),
    ("secret.pdf", "encrypted PDF"),
    ("empty.txt", "empty file"),
    ("image.txt", "binary file"),
])
def test_bad_files_are_skipped_with_a_reason(documents, name, reason):
    with pytest.raises(Skip, match=reason):
        parse(documents / name)


def test_unsupported_and_huge_files(tmp_path):
    (tmp_path / "x.exe").write_bytes(b"MZ")
    with pytest.raises(Skip, match="unsupported file type .exe"):
        parse(tmp_path / "x.exe")
    huge = tmp_path / "server.log"
    with open(huge, "wb") as handle:  # a sparse 2 GB log: never read whole
        handle.truncate(2 << 30)
    with pytest.raises(Skip, match="too large"):
        parse(huge)
    (tmp_path / "locked.md").write_text("secret")
    os.chmod(tmp_path / "locked.md", 0)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(Skip, match="permission denied"):
            parse(tmp_path / "locked.md")


def test_word_file_that_is_not_a_zip(tmp_path):
    (tmp_path / "fake.docx").write_text("not really a document")
    with pytest.raises(Skip, match="damaged or not a Word file"):
        parse(tmp_path / "fake.docx")


def test_long_sections_become_bounded_chunks(tmp_path):
    (tmp_path / "long.txt").write_text("\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(100)))
    chunks = chunk_sections(parse(tmp_path / "long.txt"))
    assert len(chunks) > 10 and all(len(c.text) <= MAX_CHARS for c in chunks)
    assert chunks[0].line_start == 1 and chunks[-1].line_end == 199


def test_a_file_that_takes_too_long_is_cut_off_and_the_reader_goes_on(tmp_path):
    slow = tmp_path / "slow.md"
    slow.write_text("\n".join(f"# H{i}\n\nline {i}" for i in range(200_000)))  # seconds of parsing
    quick = tmp_path / "quick.md"
    quick.write_text("# Quick\n\nfine")
    reader = ParseProcess(timeout_s=0.3)
    try:
        with pytest.raises(Skip, match="longer than 0.3 s"):
            reader.read(slow)
        reader.timeout_s = 60  # a fresh process starts: no tight limit on a busy machine
        assert reader.read(quick).chunks[0].text.endswith("fine")  # a fresh reader process took over
    finally:
        reader.close()


def test_parser_registry_covers_the_promised_formats():
    for ext in (".pdf", ".docx", ".pptx", ".xlsx", ".md", ".txt", ".html", ".csv", ".json", ".py", ".js", ".go",
                ".rs", ".java", ".c", ".ts"):
        assert ext in parsers.PARSERS
