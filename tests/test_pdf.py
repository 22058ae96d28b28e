"""The print edition, read back with pypdf: page order, bookmarks, metadata, tags and fonts."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeBook, Pdf, parse, png

from publish.model import Book
from publish.pdf import _fetcher, gutter_for, render_pdf

SPOILED = {
    "00-opening.md": "An opening without a heading, under the book's title.\n",
    "01-method.md": "# The Method\n\nRushing or dragging?[^t]\n\n## Tempo\n\nMore text.\n\n![A dot](dot.png)\n\n"
                    "[^t]: Not quite my tempo.\n",
    "02-coda.md": "# Coda\n\nThe end. See [the method](01-method.md#tempo).\n",
}
CONFIG = "title: A Test of Print\nauthor: Ann Example\nlang: en-GB\nspoiler:\n  heading: Spoiler Alert\n  text: It ends.\n"


def render(book: Book) -> Pdf:
    edition = render_pdf(book)
    assert edition.diagnostics == (), edition.diagnostics  # WeasyPrint had nothing to complain about
    pdf = Pdf(edition.data)
    assert edition.pages == len(pdf.reader.pages)
    return pdf


@pytest.fixture(scope="module")
def spoiled_book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    root = tmp_path_factory.mktemp("pdf") / "book"
    root.mkdir()
    (root / "book.yaml").write_text(CONFIG, encoding="utf-8")
    for name, text in SPOILED.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "dot.png").write_bytes(png(40, 30))
    return parse(root)


@pytest.fixture(scope="module")
def spoiled(spoiled_book: Book) -> Pdf:
    return render(spoiled_book)


def test_the_notice_is_a_right_hand_page_before_the_text(spoiled: Pdf) -> None:
    [notice] = spoiled.pages_with("Spoiler Alert It ends.")
    [opening] = spoiled.pages_with("An opening without a heading")
    assert notice < opening
    assert notice % 2 == 0, f"the notice is on physical page {notice + 1}, a left-hand page"
    assert spoiled.pages_with("The Method Rushing")[0] > notice


def test_the_notice_stays_on_a_right_hand_page_after_a_long_copyright_page(make_book: MakeBook) -> None:
    rights = " ".join(["All rights reserved; no part of this book may be copied without permission."] * 90)
    pdf = render(parse(make_book({"01-a.md": "# A\n\nText.\n"}, config=f"title: T\nrights: {rights}\nspoiler: It ends.\n")))
    [notice] = pdf.pages_with("It ends.")
    assert pdf.pages_with("All rights reserved")[-1] > 1  # the copyright page ran over
    assert notice % 2 == 0, f"the notice is on physical page {notice + 1}, a left-hand page"


def test_the_notice_has_a_bookmark(spoiled: Pdf) -> None:
    [notice] = spoiled.pages_with("Spoiler Alert It ends.")
    assert (1, "Spoiler Alert", notice) in spoiled.bookmarks
    titles = [title for _, title, _ in spoiled.bookmarks]
    assert titles.index("Spoiler Alert") < titles.index("A Test of Print")


def test_every_chapter_has_a_bookmark_at_its_first_page(spoiled: Pdf, spoiled_book: Book) -> None:
    chapters = [(level, title, page) for level, title, page in spoiled.bookmarks
                if title in {c.title.text for c in spoiled_book.chapters}]
    assert [title for _, title, _ in chapters] == [c.title.text for c in spoiled_book.chapters]
    titled = {c.title.text: c.titled for c in spoiled_book.chapters}
    for level, title, page in chapters:
        assert level == 1, (title, page)
        if titled[title]:
            assert spoiled.texts[page].startswith(title), (title, page)
        else:  # an opening the author wrote no heading for prints none, not the book's title again
            assert spoiled.texts[page].startswith("An opening without a heading"), (title, page)


def test_sections_are_bookmarked_under_their_chapter(spoiled: Pdf) -> None:
    levels = [(level, title) for level, title, _ in spoiled.bookmarks]
    assert levels[levels.index((1, "The Method")) + 1] == (2, "Tempo")


def test_chapters_start_on_right_hand_pages(spoiled: Pdf, spoiled_book: Book) -> None:
    for chapter in spoiled_book.chapters:
        page = next(p for _, title, p in spoiled.bookmarks if title == chapter.title.text)
        assert page % 2 == 0, f"{chapter.title.text} starts on physical page {page + 1}"


def test_title_author_language_and_tags(spoiled: Pdf) -> None:
    meta = spoiled.reader.metadata
    assert meta is not None and meta.title == "A Test of Print" and meta.author == "Ann Example"
    root = spoiled.reader.trailer["/Root"]
    assert root["/Lang"] == "en-GB"
    assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
    assert meta.creation_date is not None and meta.creation_date.year == 2023  # from SOURCE_DATE_EPOCH


def test_the_title_page_comes_first(spoiled: Pdf) -> None:
    assert spoiled.texts[0].startswith("A Test of Print") and "Ann Example" in spoiled.texts[0]


def test_page_labels_are_roman_in_the_front_matter_and_arabic_from_the_text(spoiled: Pdf) -> None:
    labels = spoiled.reader.page_labels
    [notice] = spoiled.pages_with("Spoiler Alert It ends.")
    [opening] = spoiled.pages_with("An opening without a heading")
    assert labels[:opening] == ["i", "ii", "iii", "iv", "v", "vi"][:opening]
    assert labels[notice] == "iii" and labels[opening] == "1"
    assert labels[opening:] == [str(n) for n in range(1, len(labels) - opening + 1)]


def test_a_footnote_sits_on_the_page_that_calls_it(spoiled: Pdf) -> None:
    [page] = spoiled.pages_with("Rushing or dragging?")
    assert "Not quite my tempo." in spoiled.texts[page]


def test_the_trim_size_is_the_page_size(spoiled: Pdf, make_book: MakeBook) -> None:
    assert {tuple(map(float, p.mediabox[2:])) for p in spoiled.reader.pages} == {(432.0, 648.0)}  # 6x9 in
    small = render(parse(make_book(config="title: Small\ntrim: 5x8\n")))
    assert {tuple(map(float, p.mediabox[2:])) for p in small.reader.pages} == {(360.0, 576.0)}


def test_fonts_are_embedded_and_only_the_shipped_typeface(spoiled: Pdf) -> None:
    names = set()
    for page in spoiled.reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for font in fonts.values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]
                names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert names and all(name.startswith("Gentium-Book-Plus") for name in names), names
    assert "Gentium-Book-Plus-Italic" in names  # the notice and the note's emphasis are set in italic


def test_no_notice_page_without_a_spoiler_key(make_book: MakeBook) -> None:
    pdf = render(parse(make_book({"01-a.md": "# First\n\nText.\n", "02-b.md": "# Second\n\nMore.\n"})))
    assert not pdf.pages_with("Spoiler")
    assert [title for _, title, _ in pdf.bookmarks] == ["Contents", "First", "Second"]


def test_the_same_book_gives_the_same_bytes(spoiled_book: Book, spoiled: Pdf) -> None:
    assert render(spoiled_book).data == spoiled.data


def test_the_fetcher_reads_only_the_book_folder_and_styles(spoiled_book: Book, tmp_path: Path) -> None:
    fetch = _fetcher(spoiled_book.root).fetch
    assert fetch((spoiled_book.root / "dot.png").as_uri())
    for url in ("file:///etc/passwd", (spoiled_book.root / ".." / "x.png").as_uri(), "https://example.org/x.png"):
        with pytest.raises(ValueError, match="refused"):
            fetch(url)


@pytest.mark.parametrize(("pages", "gutter"), [(24, 0.5), (150, 0.5), (151, 0.625), (300, 0.625), (500, 0.75),
                                              (700, 0.875), (900, 1.0)])
def test_the_gutter_grows_with_the_page_count(pages: int, gutter: float) -> None:
    assert gutter_for(pages) == gutter


def test_code_longer_than_the_line_stays_inside_the_text_block(make_book: MakeBook) -> None:
    """A file name in code longer than the line (Learn Go with Tests has them in list items) turns
    inside the text block: nothing stands further right than the justified prose's line ends."""
    import io

    import pdfplumber

    name = "renderer_test.TestRender.it_converts_a_single_post_into_HTML.received.txt"
    prose = " ".join(["The band plays on, and the drummer keeps the time as the bars go by."] * 6)
    text = f"# A\n\n{prose}\n\n- `{name}`\n- `{name}`\n\nA paragraph with `{name}` inside it.\n"
    pdf = render(parse(make_book({"01-a.md": text})))
    with pdfplumber.open(io.BytesIO(pdf.data)) as document:
        (page,) = (p for p in document.pages if "plays on" in (p.extract_text() or ""))
        monospaced = [c for c in page.chars if "JetBrains" in c["fontname"]]
        edge = max(c["x1"] for c in page.chars if "Gentium" in c["fontname"] and c["top"] < monospaced[0]["top"])
        assert len(monospaced) >= 3 * len(name) - 3  # every copy set (a break takes no character)
        assert max(c["x1"] for c in monospaced) <= edge + 0.5
