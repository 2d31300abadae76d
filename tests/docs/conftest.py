"""Real documents of every supported kind, made by the tests so every fact in them is known."""

from __future__ import annotations

from pathlib import Path

import pytest

FACTS = {
    1: "The reactor cooling pump must be inspected every 90 days by a certified engineer.",
    2: "Invoices from Northwind Traders are paid within 45 days of receipt.",
    3: "The emergency generator runs on diesel and holds fuel for 72 hours.",
}


def make_pdf(path: Path, pages: dict[int, str], password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in sorted(pages):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Page {number} of the facilities handbook.\n\n{pages[number]}")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Travel policy", level=1)
    document.add_heading("Flights", level=2)
    document.add_paragraph("Economy class is required for flights shorter than six hours.")
    document.add_heading("Hotels", level=2)
    document.add_paragraph("Hotel stays are reimbursed up to 180 euros per night.")
    document.save(str(path))
    return path


@pytest.fixture
def documents(tmp_path) -> Path:
    folder = tmp_path / "documents"
    (folder / "sub").mkdir(parents=True)
    make_pdf(folder / "handbook.pdf", FACTS)
    make_docx(folder / "travel.docx")
    (folder / "notes.md").write_text(
        "# Team notes\n\nGeneral remarks.\n\n## Backups\n\nBackups run every night at 2 am and keep 30 days.\n\n"
        "## Holidays\n\nThe office closes between Christmas and New Year.\n", encoding="utf-8")
    (folder / "sub" / "billing.py").write_text(
        "import math\n\n\ndef late_fee(amount, days):\n    \"\"\"Late fee: two percent per week overdue.\"\"\"\n"
        "    return amount * 0.02 * math.ceil(days / 7)\n\n\nclass Invoice:\n    def __init__(self, total):\n"
        "        self.total = total\n", encoding="utf-8")
    (folder / "corrupt.pdf").write_bytes((folder / "handbook.pdf").read_bytes()[:400])
    make_pdf(folder / "secret.pdf", {1: "Nothing to see."}, password="hunter2")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 4)
    return folder
