"""Print covers: the services' figures, the cover sheet's geometry, ISBNs, and the PDFs themselves.

The expected numbers are worked out by hand from each service's published formula (see
docs/covers.md for the pages they come from), never by the code under test.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import EPOCH, REPO, parse, png
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from publish.config import for_edition, parse_config
from publish.diagnostics import Severity
from publish.isbn import parse_isbn
from publish.printers import SERVICES, SOURCES, Box, geometry, leaves, spine_width
from publish.wrap import render_wrap
from publish.wrapcheck import check_wrap, fonts_not_embedded, glyphs, placed_images

PT = 72

# (service, paper, pages) -> the spine in inches, by the service's own formula:
#   KDP (CreateSpace cover guide): pages × 0.002252 (white), × 0.0025 (cream), to the thousandth.
#   IngramSpark (no published formula; figures in docs/covers.md): × 0.00211 (white), × 0.0025 (crème).
#   Lulu (Spine Width Calculator): pages / 444 + 0.06, whatever the paper.
SPINES = {
    ("kdp", "white", 60): 0.135,  # the guide's own worked example: 60 × 0.002252 = 0.135"
    ("kdp", "white", 120): 0.270,  # 0.27024
    ("kdp", "white", 416): 0.937,  # 0.936832
    ("kdp", "cream", 60): 0.150,
    ("kdp", "cream", 120): 0.300,
    ("kdp", "cream", 416): 1.040,
    ("ingram", "white", 60): 0.127,  # 0.1266
    ("ingram", "white", 120): 0.253,  # 0.2532
    ("ingram", "white", 416): 0.878,  # 0.87776
    ("ingram", "cream", 60): 0.150,
    ("ingram", "cream", 120): 0.300,
    ("ingram", "cream", 416): 1.040,
    ("lulu", "white", 60): 0.195,  # 60/444 + 0.06 = 0.19514
    ("lulu", "white", 120): 0.330,  # 0.33027
    ("lulu", "white", 416): 0.997,  # 0.99694
    ("lulu", "cream", 60): 0.195,
    ("lulu", "cream", 120): 0.330,
    ("lulu", "cream", 416): 0.997,
}


@pytest.mark.parametrize(("service", "paper", "pages"), sorted(SPINES))
def test_spine_widths_follow_each_services_formula(service: str, paper: str, pages: int) -> None:
    assert spine_width(SERVICES[service], paper, pages) == SPINES[service, paper, pages]


def test_the_kdp_guides_worked_example() -> None:
    """CreateSpace: "0.125" + 6" + 0.135" + 6" + .125" = 12.385"" and "0.125" + 9" + .125" = 9.25"."""
    shape = geometry(SERVICES["kdp"], binding="paperback", paper="white", pages=60, trim_width=6, trim_height=9)
    assert (shape.width, shape.height, shape.spine) == (12.385, 9.25, 0.135)
    assert shape.trim == Box(0.125, 0.125, 12.135, 9.0)


def test_an_odd_page_count_is_printed_with_a_blank_page() -> None:
    assert leaves(415) == 416
    kdp = SERVICES["kdp"]
    assert spine_width(kdp, "cream", 415) == spine_width(kdp, "cream", 416) == 1.04


def test_rounding_is_half_up_in_exact_arithmetic() -> None:
    # 200 × 0.0040625 = 0.8125 exactly, which rounds half up to 0.813; Python's round() of the
    # float rounds half to even, to 0.812.
    assert round(200 * 0.0040625, 3) == 0.812
    assert spine_width(SERVICES["kdp"], "white", 200, caliper="0.0040625") == 0.813


@given(st.sampled_from(sorted(SERVICES)), st.sampled_from(("white", "cream", "color")), st.integers(2, 1200))
def test_the_spine_is_the_formula_rounded_to_a_thousandth(service: str, paper: str, pages: int) -> None:
    figures = SERVICES[service]
    exact = Fraction(figures.caliper[paper]) * leaves(pages) + Fraction(figures.spine_offset)
    width = spine_width(figures, paper, pages)
    assert abs(Fraction(str(width)) - exact) <= Fraction(1, 2000)
    assert spine_width(figures, paper, pages + 2) >= width


@given(st.sampled_from(sorted(SERVICES)), st.sampled_from(("paperback", "hardcover")), st.integers(2, 900),
       st.sampled_from([(5, 8), (5.5, 8.5), (6, 9), (8.5, 11)]), st.booleans())
def test_every_box_lies_on_the_sheet(service: str, binding: str, pages: int, trim: tuple[float, float],
                                     rtl: bool) -> None:
    shape = geometry(SERVICES[service], binding=binding, paper="white", pages=pages, trim_width=trim[0],
                     trim_height=trim[1], right_to_left=rtl)
    sheet = Box(0, 0, shape.width, shape.height)
    for box in (shape.trim, *shape.panels, shape.back_safe, shape.front_safe, shape.barcode):
        assert sheet.contains(box, slack=1e-9)
    assert shape.trim.contains(shape.back_safe) and shape.trim.contains(shape.front_safe)
    assert shape.back.contains(shape.barcode)
    assert (shape.front.x < shape.back.x) == rtl
    assert round(shape.back.width + shape.front.width + shape.spine, 4) <= round(shape.trim.width, 4)


# -- hardcovers --------------------------------------------------------------------------------


def test_a_kdp_case_laminate_has_its_own_wrap_geometry() -> None:
    """Trim × 2 + spine + 1.776 in wide, trim + 1.654 in tall (KDP's constants, docs/covers.md); the
    spine is the pages' thickness and two 2 mm boards."""
    shape = geometry(SERVICES["kdp"], binding="hardcover", paper="white", pages=300, trim_width=6, trim_height=9)
    boards = 2 * 2 / 25.4
    assert shape.spine == round(0.676 + boards, 4)
    assert shape.width == round(2 * 6 + shape.spine + 1.776, 4)
    assert shape.height == round(9 + 1.654, 4)
    # The TrimBox is the boards' outer edges: the turn-over folds inside.
    assert shape.trim == Box(0.591, 0.591, round(shape.width - 2 * 0.591, 4), round(9 + 2 * 0.236, 4))
    paperback = geometry(SERVICES["kdp"], binding="paperback", paper="white", pages=300, trim_width=6, trim_height=9)
    assert shape.width > paperback.width + 1.5


# -- spine text --------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "thinnest"), [("kdp", 80), ("ingram", 48), ("lulu", 80)])
def test_the_spine_carries_text_only_from_the_services_least_page_count(service: str, thinnest: int) -> None:
    # On thick paper, so that the page count alone decides (48 pages of IngramSpark's white make
    # a spine too thin for text between its folds anyway).
    def shape(pages: int):  # noqa: ANN202
        return geometry(SERVICES[service], binding="paperback", paper="white", pages=pages, trim_width=6,
                        trim_height=9, caliper="0.006")

    assert shape(thinnest - 2).spine_safe is None
    spine = shape(thinnest).spine_safe
    assert spine is not None
    whole = shape(thinnest).spine_box
    assert spine.x == pytest.approx(whole.x + 0.0625) and spine.right == pytest.approx(whole.right - 0.0625)


# -- ISBNs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ean"), [
    ("978-0-306-40615-7", "9780306406157"), ("0-306-40615-2", "9780306406157"), ("ISBN 978 0 306 40615 7", "9780306406157"),
    ("urn:isbn:9791032305690", "9791032305690"), ("080442957X", "9780804429573"), ("isbn-10: 0-8044-2957-x", "9780804429573"),
])
def test_isbns_are_read_as_authors_write_them(text: str, ean: str) -> None:
    isbn, why = parse_isbn(text)
    assert why is None and isbn is not None and isbn.ean == ean


@pytest.mark.parametrize(("text", "says"), [
    ("978-0-306-40615-8", "would end in 7"), ("0-306-40615-3", "would end in 2"), ("978030640615", "12 digits"),
    ("978-0-306-4O615-7", "not an ISBN"), ("1234567890123", "check digit"),
])
def test_a_wrong_isbn_says_what_is_wrong(text: str, says: str) -> None:
    isbn, why = parse_isbn(text)
    assert isbn is None and why is not None and says in why


def test_an_isbn_is_hyphenated_where_the_agency_splits_it() -> None:
    assert parse_isbn("9780306406157")[0].hyphenated == "978-0-306-40615-7"  # type: ignore[union-attr]
    assert parse_isbn("9791032305690")[0].hyphenated == "979-10-323-0569-0"  # type: ignore[union-attr]


# -- book.yaml ------------------------------------------------------------------------------------

CONFIG = """\
title: Pride and Prejudice
author: Jane Austen
paper: cream
editions:
  ebook:
    isbn: 978-1-4028-9462-6
  paperback:
    isbn: 978-0-306-40615-7
    trim: 5.5x8.5
  hardcover: {isbn: 979-10-323-0569-0, service: ingram, paper: white}
  large-print: {isbn: 0-8044-2957-X}
"""


def test_editions_are_read_with_their_own_settings() -> None:
    config, problems = parse_config(CONFIG, Path("book.yaml"))
    assert problems == [] and config is not None
    ebook, paperback, hardcover, large = config.editions
    assert (ebook.binding, paperback.binding, hardcover.binding, large.binding) == ("ebook", "paperback", "hardcover",
                                                                                   "paperback")
    assert large.font_size == 16.0 and large.label == "large print"
    made = for_edition(config, paperback)
    assert (made.identifier, made.trim.name, made.paper, made.pdf_profile, made.print_service) == (
        "urn:isbn:9780306406157", "5.5x8.5", "cream", "print", "kdp")
    made = for_edition(config, hardcover)
    assert (made.binding, made.paper, made.print_service, made.trim.name) == ("hardcover", "white", "ingram", "6x9")
    assert for_edition(config, ebook).pdf_profile == "default"


@pytest.mark.parametrize(("line", "text", "message"), [
    (6, "    isbn: 978-0-306-40615-8\n", "'editions → ebook → isbn': '978-0-306-40615-8' is not a valid ISBN: its "
                                       "check digit is wrong; with these digits it would end in 7"),
    (9, "    paper: glossy\n", "'editions → paperback → paper': 'glossy' is not one of white, cream, color"),
    (9, "    service: createspace\n", "is not one of kdp, lulu, ingram"),
    (9, "    font-size: huge\n", "is not a type size"),
    (9, "    caliper: 3mm\n", "is not a paper thickness per page"),
    (6, "    trim: 6x9\n", "'editions → ebook → trim': is a print setting, and this edition is an ebook"),
])
def test_a_bad_edition_setting_is_an_error_on_its_own_line(line: int, text: str, message: str) -> None:
    lines = CONFIG.replace("    isbn: 978-1-4028-9462-6\n", "").splitlines(keepends=True) if line == 6 else \
        CONFIG.splitlines(keepends=True)
    lines.insert(line - 1, text)
    config, problems = parse_config("".join(lines), Path("book.yaml"))
    assert config is None
    [problem] = [p for p in problems if p.severity is Severity.ERROR]
    assert message in problem.message and problem.line == line


def test_two_editions_with_one_isbn_are_an_error() -> None:
    config, problems = parse_config(CONFIG.replace("0-8044-2957-X", "978-0-306-40615-7"), Path("book.yaml"))
    assert config is None
    assert any("is the ISBN of the 'paperback' edition too" in p.message and p.line == 11 for p in problems)


def test_a_small_large_print_and_an_unknown_setting_are_warnings() -> None:
    text = CONFIG.replace("{isbn: 0-8044-2957-X}", "{isbn: 0-8044-2957-X, font-size: 14pt, colour: red}")
    config, problems = parse_config(text, Path("book.yaml"))
    assert config is not None
    assert sorted(p.message.split(": ", 1)[1] for p in problems) == [
        "14 pt is too small for large print", "is not an edition setting, and is ignored"]
    assert all(p.severity is Severity.WARNING for p in problems)


# -- the cover PDF --------------------------------------------------------------------------------

BOOK = """\
title: "The Lighthouse Keeper: A Novel"
subtitle: Three Winters on the Point
author: Ada Marsh
publisher: Lantern Press
isbn: 978-0-306-40615-7
description: |
  For three winters Ada Marsh kept the light on the Point, alone with the weather, a logbook and
  the ships that never came close. *The Lighthouse Keeper* is her account of them.

  A book about solitude and *work*, and the strange company of the sea.
author-bio: Ada Marsh has kept lighthouses in Maine and Brittany.
"""


@pytest.fixture(scope="module")
def keeper(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a Book
    root = tmp_path_factory.mktemp("keeper") / "book"
    root.mkdir()
    (root / "book.yaml").write_text(BOOK, encoding="utf-8")
    (root / "01-one.md").write_text("# One\n\nThe light.\n", encoding="utf-8")
    return parse(root)


def _cover(book, *, service: str, paper: str, binding: str = "paperback", pages: int):  # noqa: ANN001, ANN202
    config = dataclasses.replace(book.config, print_service=service, paper=paper, binding=binding)
    return render_wrap(dataclasses.replace(book, config=config), pages=pages)


def _points(box: Box, height: float) -> list[float]:
    return [round(v, 2) for v in (box.x * PT, (height - box.bottom) * PT, box.right * PT, (height - box.y) * PT)]


# Three page counts × three services × two papers, each sheet's boxes against the formula above.
MATRIX = [(service, paper, pages) for service in ("kdp", "ingram", "lulu") for paper in ("white", "cream")
          for pages in (60, 120, 416)]


@pytest.mark.parametrize(("service", "paper", "pages"), MATRIX)
def test_the_cover_pdfs_boxes_follow_the_published_formulas(keeper, service: str, paper: str, pages: int) -> None:  # noqa: ANN001
    made = _cover(keeper, service=service, paper=paper, pages=pages)
    spine = SPINES[service, paper, pages]
    width, height = 0.125 + 6 + spine + 6 + 0.125, 0.125 + 9 + 0.125
    page = PdfReader(io.BytesIO(made.data)).pages[0]
    assert [float(v) for v in page.mediabox] == pytest.approx([0, 0, width * PT, height * PT], abs=0.01)
    assert [float(v) for v in page.bleedbox] == [float(v) for v in page.mediabox]
    assert [float(v) for v in page.trimbox] == pytest.approx([9, 9, (width - 0.125) * PT, (height - 0.125) * PT], abs=0.01)
    assert made.shape.spine == spine
    assert [d for d in made.diagnostics if d.severity is Severity.ERROR] == []
    # The preflight agrees: nothing outside the safe zone, every font embedded, the barcode's digits.
    assert check_wrap(made.data, made.shape, isbn="9780306406157", file=Path("c.pdf")) == []


def test_the_spine_text_sits_between_the_folds_and_reads_top_to_bottom(keeper) -> None:  # noqa: ANN001
    made = _cover(keeper, service="kdp", paper="cream", pages=416)
    room = made.shape.spine_safe
    assert room is not None
    on_spine = [g for g in glyphs(made.data) if made.shape.spine_box.overlaps(g.box)]
    text = "".join(g.char for g in on_spine)
    assert "TheLighthouseKeeper:ANovel" in text and "ADAMARSH" in text and "LANTERNPRESS" in text
    assert all(room.contains(g.box, slack=0.001) for g in on_spine)
    tops = [g.box.y for g in on_spine[:10]]
    assert tops == sorted(tops)  # each letter lower than the one before: top to bottom


def test_a_thin_book_has_a_plain_spine(keeper) -> None:  # noqa: ANN001
    made = _cover(keeper, service="kdp", paper="white", pages=60)
    assert made.shape.spine_safe is None
    assert not [g for g in glyphs(made.data) if made.shape.spine_box.overlaps(g.box)]
    assert [d.code for d in made.diagnostics] == ["cover-spine-blank"]


def test_a_french_spine_reads_bottom_to_top(keeper) -> None:  # noqa: ANN001
    book = dataclasses.replace(keeper, config=dataclasses.replace(keeper.config, lang="fr"))
    made = _cover(book, service="kdp", paper="cream", pages=416)
    on_spine = [g for g in glyphs(made.data) if made.shape.spine_box.overlaps(g.box)]
    tops = [g.box.y for g in on_spine[:10]]
    assert tops == sorted(tops, reverse=True)


def test_a_right_to_left_book_has_its_front_on_the_left(tmp_path: Path) -> None:
    root = tmp_path / "book"
    root.mkdir()
    (root / "book.yaml").write_text("title: כותרת הספר\nlang: he\nisbn: 978-0-306-40615-7\n", encoding="utf-8")
    (root / "01-one.md").write_text("# פרק\n\nטקסט.\n", encoding="utf-8")
    made = render_wrap(parse(root), pages=200)
    title = [g for g in glyphs(made.data) if g.char in "כותרת" and not made.shape.spine_box.overlaps(g.box)]
    assert title and all(g.box.right < made.shape.spine_box.x for g in title)
    assert made.shape.barcode.x > made.shape.spine_box.right  # the back, and its barcode, on the right


def test_the_barcode_decodes_to_the_isbn(keeper, tmp_path: Path) -> None:  # noqa: ANN001
    """Read back with a real decoder (zbarimg, Debian's zbar-tools), from the cover rendered at 600 dpi."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg is missing: `make setup-dev` installs zbar-tools"
    import pypdfium2 as pdfium

    for service, isbn in (("kdp", "978-0-306-40615-7"), ("lulu", "979-10-323-0569-0")):
        config = dataclasses.replace(keeper.config, print_service=service, isbn=parse_isbn(isbn)[0])
        made = render_wrap(dataclasses.replace(keeper, config=config), pages=200)
        bar = made.shape.barcode
        page = pdfium.PdfDocument(made.data)[0]
        image = page.render(scale=600 / PT).to_pil()
        crop = image.crop(tuple(round(v * 600) for v in (bar.x, bar.y, bar.right, bar.bottom)))
        crop.save(tmp_path / "barcode.png")
        out = subprocess.run([zbarimg, "--quiet", "--raw", str(tmp_path / "barcode.png")], capture_output=True,
                             text=True, check=True, timeout=60)
        assert out.stdout.split() == [parse_isbn(isbn)[0].ean]  # type: ignore[union-attr]


def test_without_an_isbn_the_barcode_box_is_left_white_and_empty(keeper) -> None:  # noqa: ANN001
    import pypdfium2 as pdfium

    made = render_wrap(dataclasses.replace(keeper, config=dataclasses.replace(keeper.config, isbn=None)), pages=200)
    bar = made.shape.barcode
    assert not [g for g in glyphs(made.data) if bar.overlaps(g.box)]
    image = pdfium.PdfDocument(made.data)[0].render(scale=100 / PT).to_pil().convert("L")
    inner = image.crop(tuple(round(v * 100) for v in (bar.x + 0.05, bar.y + 0.05, bar.right - 0.05, bar.bottom - 0.05)))
    assert inner.getextrema() == (255, 255)
    assert check_wrap(made.data, made.shape, isbn=None, file=Path("c.pdf")) == []


def test_the_generated_front_is_vector_type_and_only_shipped_fonts(keeper) -> None:  # noqa: ANN001
    made = _cover(keeper, service="kdp", paper="white", pages=200)
    assert placed_images(made.data) == []  # no raster: type and rules, drawn at any resolution
    front = "".join(g.char for g in glyphs(made.data) if made.shape.front.contains(g.box))
    assert "TheLighthouseKeeper" in front and "ThreeWintersonthePoint".upper() in front.upper()
    assert fonts_not_embedded(made.data) == []
    fonts = subprocess.run(["pdffonts", "-"], input=made.data, capture_output=True, check=True).stdout.decode()
    names = {re.sub(r"^[A-Z]{6}\+", "", line.split()[0]) for line in fonts.splitlines()[2:]}
    assert names and all(n.startswith("Gentium-Book-Plus") for n in names), names


def test_a_long_description_is_set_smaller_until_it_fits(keeper) -> None:  # noqa: ANN001
    long = keeper.config.description + "\n\n" + " ".join(["The sea came in and went out again."] * 40)
    book = dataclasses.replace(keeper, config=dataclasses.replace(keeper.config, description=long))
    made = _cover(book, service="kdp", paper="white", pages=200)
    assert check_wrap(made.data, made.shape, isbn="9780306406157", file=Path("c.pdf")) == []
    short = _cover(keeper, service="kdp", paper="white", pages=200)
    assert _back_letter_height(made) < 0.93 * _back_letter_height(short)


def test_a_description_that_cannot_fit_is_a_warning_in_the_build_and_an_error_in_check(keeper) -> None:  # noqa: ANN001
    long = " ".join(["The sea came in and went out again, and the light turned all night."] * 200)
    book = dataclasses.replace(keeper, config=dataclasses.replace(keeper.config, description=long))
    made = _cover(book, service="kdp", paper="white", pages=200)
    [warned] = [d for d in made.diagnostics if d.code == "cover-safe-zone"]
    assert warned.severity is Severity.WARNING and "shorten the description" in (warned.hint or "")
    [found] = [d for d in check_wrap(made.data, made.shape, isbn="9780306406157", file=Path("c.pdf"))]
    assert found.code == "cover-safe-zone" and found.severity is Severity.ERROR


def _back_letter_height(made) -> float:  # noqa: ANN001
    """The median height of the back cover's lower-case x-height letters: the type's size."""
    heights = sorted(g.box.height for g in glyphs(made.data) if g.char in "aceomnrsuvwxz"
                     and made.shape.back_safe.contains(g.box) and not made.shape.barcode.overlaps(g.box))
    return heights[len(heights) // 2]


def test_a_cover_for_another_page_count_is_caught(keeper) -> None:  # noqa: ANN001
    made = _cover(keeper, service="kdp", paper="cream", pages=300)
    interior_grew = geometry(SERVICES["kdp"], binding="paperback", paper="cream", pages=320, trim_width=6, trim_height=9)
    codes = {d.code for d in check_wrap(made.data, interior_grew, isbn="9780306406157", file=Path("c.pdf"))}
    assert {"cover-size", "cover-spine", "cover-trimbox"} <= codes


def test_a_wrong_isbn_on_a_cover_is_caught(keeper) -> None:  # noqa: ANN001
    made = _cover(keeper, service="kdp", paper="cream", pages=300)
    found = check_wrap(made.data, made.shape, isbn="978-0-306-40615-8", file=Path("c.pdf"))
    assert {d.code for d in found} == {"cover-isbn", "cover-barcode"}


def test_a_low_resolution_cover_image_is_named_with_its_size(make_book) -> None:  # noqa: ANN001
    image = io.BytesIO()
    Image.new("RGB", (900, 1400), (40, 70, 110)).save(image, format="JPEG")
    root = make_book(config="title: Blue\ncover-image: images/front.jpg\nisbn: 978-0-306-40615-7\n",
                     files={"images/front.jpg": image.getvalue()})
    made = render_wrap(parse(root), pages=200)
    [low] = [d for d in made.diagnostics if d.code == "cover-image-resolution"]
    assert "'images/front.jpg' is 900 × 1400 px: 147 dpi at 6.12 × 9.25 in" in low.message and low.line == 2
    assert "1838 × 2775 px" in (low.hint or "")
    # The preflight sees the same in the PDF itself.
    assert {d.code for d in check_wrap(made.data, made.shape, isbn="9780306406157", file=Path("c.pdf"))} == {
        "cover-image-resolution"}


def test_the_author_photo_must_be_inside_the_book_folder(make_book) -> None:  # noqa: ANN001
    from publish.diagnostics import BuildFailed

    root = make_book(config="title: Blue\nauthor-photo: ../me.png\n", files={"../me.png": png()})
    with pytest.raises(BuildFailed, match="outside the book folder"):
        render_wrap(parse(root), pages=200)


def test_every_source_in_the_figures_is_cited_in_the_docs() -> None:
    docs = (REPO / "docs" / "covers.md").read_text(encoding="utf-8")
    for service, urls in SOURCES.items():
        for url in urls:
            assert url in docs, (service, url)
    assert EPOCH  # the fixtures' fixed time
