"""How many spreads of a print edition end on different lines: the measure behind docs/print.md's
facing-pages numbers.

A spread is a verso and the recto facing it (physical pages 2-3, 4-5, ...). It is counted when
both pages are full pages of text: neither blank, nor the last page of a chapter (which ends where
its text ends), nor a part or display page. Its pages end unequal when the last line of the text
block (footnotes apart) sits lower on one page than on the other by more than 2 pt.

    .venv/bin/python benchmarks/facing_pages.py PDF BOOK_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from printed import PrintedPdf

from publish.manuscript import load_manuscript
from publish.parse import parse_book

TOLERANCE = 2.0  # pt


def unequal_spreads(pdf: PrintedPdf) -> tuple[int, int, list[tuple[str, str, float]]]:
    """(spreads counted, spreads whose pages end unequal, (verso, recto, difference in pt) for each)."""
    openings = set(pdf.chapter_openings().values())
    first = min(openings)

    def full(index: int) -> bool:
        if index >= len(pdf) or index < first:
            return False
        page = pdf.page(index)
        ends_chapter = index + 1 >= len(pdf) or index + 1 in openings or pdf.page(index + 1).blank
        return bool(page.text) and not page.blank and not ends_chapter

    counted, unequal = 0, []
    for verso in range(1, len(pdf) - 1, 2):  # 0-based odd index: an even physical page, a verso
        recto = verso + 1
        if not (full(verso) and full(recto)):
            continue
        counted += 1
        a, b = (max(line.bottom for line in pdf.page(i).text) for i in (verso, recto))
        if abs(a - b) > TOLERANCE:
            unequal.append((pdf.labels[verso], pdf.labels[recto], round(a - b, 1)))
    return counted, len(unequal), unequal


def main(pdf_path: str, folder: str) -> None:
    book = parse_book(load_manuscript(Path(folder)))
    pdf = PrintedPdf(Path(pdf_path), book)
    counted, count, unequal = unequal_spreads(pdf)
    print(f"{pdf_path}: {len(pdf)} pages, {counted} spreads of full text pages, {count} end unequal "
          f"({100 * count / max(counted, 1):.1f} %)")
    lines = {}
    for _, _, diff in unequal:
        lines[diff] = lines.get(diff, 0) + 1
    print("differences (pt, verso minus recto):", dict(sorted(lines.items())))
    print("first:", unequal[:12])


if __name__ == "__main__":
    main(*sys.argv[1:3])
