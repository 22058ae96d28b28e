"""The `print` PDF profile, for print-on-demand: bleed as the chosen service wants it, no crop
marks, whole fonts embedded, links in the text colour. Chosen with `--pdf-profile print` or with
`pdf-profile: print` (and `print-service`) in book.yaml."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pdfplumber
import pytest
from printed import BOOKS, POINTS
from pypdf import PdfReader
from validators import pdf_fonts, pdf_info

from publish.cli import main

pytestmark = pytest.mark.e2e

BLEED = 0.125 * POINTS
TRIM = (6 * POINTS, 9 * POINTS)  # the sample book: the default 6 x 9 in


def build_sample(tmp: Path, *, args: tuple[str, ...] = (), yaml: str = "") -> Path:
    """Build the sample's PDF through the command line, with extra book.yaml lines if given."""
    book = tmp / "book"
    shutil.copytree(BOOKS["sample"], book)
    if yaml:
        with (book / "book.yaml").open("a", encoding="utf-8") as config:
            config.write("\n" + yaml + "\n")
    out = tmp / "out"
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        assert main(["build", str(book), "-o", str(out), "--format", "pdf", *args]) == 0
    # The sample is shorter than any service prints as a paperback: that warning, and only it.
    warnings = [line for line in said.getvalue().splitlines() if ": warning " in line]
    printing = "print" in args or "pdf-profile: print" in yaml
    expected = ["cover-pages"] if printing else []
    assert [line.split(": warning ")[1].split(":")[0] for line in warnings] == expected, said.getvalue()
    (pdf,) = (made for made in out.glob("*.pdf") if not made.name.endswith("-cover.pdf"))  # the interior
    return pdf


@pytest.fixture(scope="module")
def kdp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample(tmp_path_factory.mktemp("kdp"), args=("--pdf-profile", "print"))


@pytest.fixture(scope="module")
def lulu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample(tmp_path_factory.mktemp("lulu"), yaml="pdf-profile: print\nprint-service: lulu")


def boxes(pdf: Path) -> list[dict[str, list[float]]]:
    return [{name: [float(v) for v in getattr(page, name)] for name in ("mediabox", "bleedbox", "trimbox")}
            for page in PdfReader(pdf).pages]


def test_kdp_bleeds_top_bottom_and_the_outside_edge_only(kdp: Path) -> None:
    width, height = TRIM
    pages = boxes(kdp)
    assert len(pages) > 4
    for number, page in enumerate(pages, start=1):
        assert page["trimbox"] == pytest.approx([0, 0, width, height])
        recto = number % 2 == 1  # the outside edge is the right one on a recto, the left one on a verso
        expected = [0, -BLEED, width + BLEED, height + BLEED] if recto else [-BLEED, -BLEED, width, height + BLEED]
        assert page["bleedbox"] == pytest.approx(expected), f"page {number}"
        assert page["mediabox"] == page["bleedbox"], "room beyond the bleed is room for printer's marks"


def test_lulu_bleeds_every_edge_from_book_yaml(lulu: Path) -> None:
    width, height = TRIM
    for number, page in enumerate(boxes(lulu), start=1):
        assert page["trimbox"] == pytest.approx([0, 0, width, height])
        assert page["bleedbox"] == pytest.approx([-BLEED, -BLEED, width + BLEED, height + BLEED]), f"page {number}"
        assert page["mediabox"] == page["bleedbox"]


def test_no_crop_marks_nothing_drawn_outside_the_trim(kdp: Path, lulu: Path) -> None:
    for pdf in (kdp, lulu):
        reader = PdfReader(pdf)
        with pdfplumber.open(pdf) as plumbed:
            for page, raw in zip(plumbed.pages, reader.pages, strict=True):
                left, top = trim_corner(page, raw)
                right, bottom = left + float(raw.trimbox.width), top + float(raw.trimbox.height)
                for shape in (*page.lines, *page.rects, *page.curves, *page.chars):
                    assert shape["x0"] >= left - 0.01 and shape["x1"] <= right + 0.01, shape
                    assert shape["top"] >= top - 0.01 and shape["bottom"] <= bottom + 0.01, shape


def test_whole_fonts_embedded_not_subsets(kdp: Path) -> None:
    fonts = pdf_fonts(kdp)
    assert fonts
    for font in fonts:
        assert font.name.split("+")[-1].startswith("Gentium-Book-Plus"), font
        assert font.embedded and not font.subset, font


def test_links_take_the_text_colour(kdp: Path) -> None:
    """The contents are links; in print they are black like the text around them."""
    reader = PdfReader(kdp)
    linked = [n for n, page in enumerate(reader.pages) if any(
        a.get_object().get("/Subtype") == "/Link" for a in page.get("/Annots", []))]
    assert linked, "the contents lost their links"
    with pdfplumber.open(kdp) as plumbed:
        for number in linked:
            colours = {tuple(c["non_stroking_color"] or (0,)) for c in plumbed.pages[number].chars}
            assert colours <= {(0,), (0, 0, 0), (0.0,), (0.0, 0.0, 0.0)}, colours


def test_the_print_profile_keeps_the_layout(kdp: Path, tmp_path: Path) -> None:
    """Bleed is added around the page; the pages themselves (count, labels, lines) do not change."""
    default = build_sample(tmp_path)
    assert pdf_info(default)["Pages"] == pdf_info(kdp)["Pages"]
    assert list(PdfReader(default).page_labels) == list(PdfReader(kdp).page_labels)
    with pdfplumber.open(default) as plain, pdfplumber.open(kdp) as bled:
        for a, b, raw_a, raw_b in zip(plain.pages, bled.pages, PdfReader(default).pages, PdfReader(kdp).pages,
                                      strict=True):
            here, there = on_the_trim(a, raw_a), on_the_trim(b, raw_b)
            assert len(here) == len(there)
            # The same glyphs in the same places (whole fonts round advance widths a hair differently).
            assert [x for xy in here for x in xy] == pytest.approx([x for xy in there for x in xy], abs=0.5)


def trim_corner(page: pdfplumber.page.Page, raw) -> tuple[float, float]:  # noqa: ANN001 - a pypdf page
    """Where the trim box's top-left corner is in pdfplumber's coordinates: x as in the PDF, y
    measured down from the top of the media box, which pdfplumber places at the box's bottom y."""
    return float(raw.trimbox.left), page.bbox[1] + float(raw.mediabox.top) - float(raw.trimbox.top)


def on_the_trim(page: pdfplumber.page.Page, raw) -> list[tuple[float, float]]:  # noqa: ANN001
    """Where each glyph is, measured from the trim box's corner."""
    left, top = trim_corner(page, raw)
    return [(c["x0"] - left, c["top"] - top) for c in page.chars]


def test_the_print_profile_keeps_the_text_extractable(kdp: Path, tmp_path: Path) -> None:
    """WeasyPrint 70 with full_fonts writes a ToUnicode map from the font's cmap only, where
    ligatures (fi, ff) and small-caps glyphs lose their text: `pdf_fonts.keep_set_text` puts it back."""
    default = build_sample(tmp_path)
    for plain, bled in zip(PdfReader(default).pages, PdfReader(kdp).pages, strict=True):
        assert plain.extract_text() == bled.extract_text()
