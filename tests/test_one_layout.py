"""The print edition is laid out once, whatever the book's length.

The gutter grows with the page count, which is known only after the layout; the text block's
width does not (`pdf.side_margins`), so the laid-out pages are moved to their gutter instead of
being laid out again. These tests count the layouts and compare the moved pages with pages laid
out with the final gutter from the start: the same words at the same places, the same pixels,
links, bookmarks and page labels.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
from pathlib import Path

import pdfplumber
import pytest
from conftest import Pdf, parse
from printed import BOOKS

import publish.pdf
from publish.config import parse_trim
from publish.pdf import INSIDE_MAX, OUTSIDE_MIN, gutter_for, margins_for, render_pdf, side_margins


def test_the_text_block_is_as_wide_for_every_page_count() -> None:
    book = parse(BOOKS["sample"])
    for trim in ("5x8", "a5", "6x9", "letter"):
        config = dataclasses.replace(book.config, trim=parse_trim(trim))
        widths = set()
        for pages in (1, 150, 151, 300, 301, 500, 501, 700, 701, 1200):
            margins = margins_for(config, pages)
            widths.add(round(margins.gutter + margins.outside, 6))
            assert margins.gutter >= gutter_for(pages) - 0.125, "at least KDP's inside margin"
            assert margins.outside >= OUTSIDE_MIN
        assert widths == {side_margins(config)}
    assert side_margins(config) >= INSIDE_MAX + OUTSIDE_MIN


def _words(data: bytes) -> list[list[tuple[str, float, float]]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [[(w["text"], round(w["x0"], 2), round(w["top"], 2)) for w in page.extract_words()]
                for page in pdf.pages]


def _links(pdf: Pdf) -> list[list[tuple]]:
    found = []
    for page in pdf.reader.pages:
        here = []
        for annotation in page.get("/Annots") or ():
            annotation = annotation.get_object()
            action = annotation.get("/A")
            here.append((tuple(round(float(v), 2) for v in annotation["/Rect"]),
                         str(annotation.get("/Dest")), str(action.get("/URI")) if action else None))
        found.append(here)
    return found


def _pixels(data: bytes, tmp: Path) -> list[bytes]:
    (tmp / "x.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "72", "-gray", str(tmp / "x.pdf"), str(tmp / "page")], check=True)
    return [p.read_bytes() for p in sorted(tmp.glob("page*.pgm"))]


@pytest.fixture
def early_gutter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wider gutter from the second page on, so that a short book's pages have to be moved."""
    monkeypatch.setattr(publish.pdf, "gutter_for", lambda pages: 0.5 if pages <= 1 else 0.875)


@pytest.mark.parametrize("name", ["sample", "features"])
def test_moved_pages_are_the_pages_laid_out_with_their_gutter(name: str, early_gutter: None, tmp_path: Path) -> None:
    book = parse(BOOKS[name])
    moved = render_pdf(book)
    final = margins_for(book.config, moved.pages)
    assert final.gutter != margins_for(book.config, 1).gutter, "the pages were moved"
    direct = render_pdf(book, laid_out_with=final)
    assert moved.pages == direct.pages > 1
    assert moved.page_map == direct.page_map
    assert _words(moved.data) == _words(direct.data)
    one, other = Pdf(moved.data), Pdf(direct.data)
    assert one.bookmarks == other.bookmarks
    assert _links(one) == _links(other)
    assert one.reader.trailer["/Root"]["/PageLabels"] == other.reader.trailer["/Root"]["/PageLabels"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _pixels(moved.data, tmp_path / "a") == _pixels(direct.data, tmp_path / "b")


def test_one_layout_whatever_the_density(early_gutter: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The features book (a 5 x 8 in page, notes, tables, code) lands in another gutter bracket
    than its first layout's: it is laid out once all the same."""
    import weasyprint

    layouts = []
    render = weasyprint.HTML.render
    monkeypatch.setattr(weasyprint.HTML, "render", lambda self, *a, **k: layouts.append(1) or render(self, *a, **k))
    edition = render_pdf(parse(BOOKS["features"]))
    assert edition.pages > 1
    assert len(layouts) == 1
