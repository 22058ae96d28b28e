"""The manuscript lint: each rule finds its fault at the right line, and a clean book has none."""

from __future__ import annotations

from pathlib import Path

import pytest
from bookfolder import PNG  # a real one: images' headers are read (their pixels are limited)
from conftest import PRIDE

from publish.diagnostics import Severity
from publish.lint import lint_manuscript
from publish.manuscript import load_manuscript

REPO = Path(__file__).resolve().parents[1]


def make_book(folder: Path, chapters: dict[str, str], *, images: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "book.yaml").write_text("title: Lint Fixture\n", encoding="utf-8")
    for name, text in chapters.items():
        (folder / name).write_text(text, encoding="utf-8")
    for image in images:
        (folder / image).parent.mkdir(parents=True, exist_ok=True)
        (folder / image).write_bytes(PNG)
    return folder


def findings(folder: Path) -> list[tuple[str, str, int | None]]:
    return [(d.code, d.file.name if d.file else "", d.line) for d in lint_manuscript(load_manuscript(folder))]


CLEAN_SECOND = "# Second\n\n## A Section {#section}\n\nText.\n"


def test_the_sample_book_and_a_new_book_have_no_findings(tmp_path: Path) -> None:
    from publish.scaffold import new_book

    new_book(tmp_path / "new")
    assert findings(REPO / "manuscript") == []
    assert findings(tmp_path / "new") == []


def test_broken_links_and_anchors_are_reported_with_their_lines(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {
        "01-one.md": "# One\n\nSee [two](02-two.md#section).\n\nSee [gone](02-two.md#gone).\n\n[Nowhere](03-none.md) and [here](#nope).\n",
        "02-two.md": CLEAN_SECOND,
    })
    assert findings(book) == [("broken-anchor", "01-one.md", 5), ("broken-anchor", "01-one.md", 7),
                              ("broken-link", "01-one.md", 7)]


def test_missing_images_and_images_without_alt_text(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {
        "01-one.md": "# One\n\n![A drum](images/drum.png)\n\n![](images/drum.png)\n\n![Gone](images/gone.png)\n\n"
                     '<p><img src="images/drum.png"></p>\n',
    }, images=("images/drum.png",))
    assert findings(book) == [("image-alt", "01-one.md", 5), ("image-missing", "01-one.md", 7),
                              ("image-alt", "01-one.md", 9)]


def test_skipped_heading_levels(tmp_path: Path) -> None:
    # A second '#' is no fault: it starts the file's next chapter (docs/manuscripts.md).
    book = make_book(tmp_path / "b", {
        "01-one.md": "# One\n\nText.\n\n### Too deep\n\nText.\n\n```\n# not a heading\n```\n\n## Fine\n\n"
                     "#### Too deep again\n\nText.\n\n# Another chapter\n\n### Deep again\n",
    })
    assert findings(book) == [("heading-skip", "01-one.md", 5), ("heading-skip", "01-one.md", 15),
                              ("heading-skip", "01-one.md", 21)]


def test_heading_levels_count_from_the_books_chapter_level(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {"01-one.md": "## One\n\n### A section\n\nText.\n\n##### Too deep\n\nx\n",
                                      "02-two.md": "## Two\n\nText.\n"})
    assert findings(book) == [("heading-skip", "01-one.md", 7)]


def test_an_untitled_opening_may_start_its_sections_at_two_hashes(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {"01-opening.md": "Text first.\n\n## A section\n\nMore.\n", "02-two.md": CLEAN_SECOND})
    assert findings(book) == []


def test_straight_quotes_left_in_raw_html_but_not_in_code(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {
        "01-one.md": '# One\n\nShe said "go" and it\'s fine here.\n\n<div>A "raw" block</div>\n\n'
                     'Code `"quoted"` is left alone.\n\n```\nprint("hello")\n```\n',
    })
    assert findings(book) == [("straight-quotes", "01-one.md", 5)]


def test_quotes_turned_the_wrong_way_by_smart_punctuation(tmp_path: Path) -> None:
    # Python-Markdown's smarty makes the closing quote after a link at the end of a paragraph an opening one.
    book = make_book(tmp_path / "b", {
        "01-one.md": '# One\n\nRight: "[two](02-two.md)" here.\n\nWrong at the end: "[two](02-two.md)"\n',
        "02-two.md": CLEAN_SECOND,
    })
    assert findings(book) == [("quote-direction", "01-one.md", 5)]


def test_empty_chapters(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {"01-one.md": "# One\n\nText.\n", "02-blank.md": "\n\n", "03-title.md": "# Only a title\n",
                                      "04-picture.md": "# A picture\n\n![A drum](images/drum.png)\n"},
                     images=("images/drum.png",))
    assert findings(book) == [("chapter-empty", "02-blank.md", 1), ("chapter-empty", "03-title.md", 1)]


def test_everything_is_reported_at_once_errors_and_warnings_together(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b", {
        "01-one.md": "# One\n\n[Gone](#gone)\n\n![](images/none.png)\n\n### Deep\n\n<p>\"raw\"</p>\n",
        "02-empty.md": "",
    })
    found = lint_manuscript(load_manuscript(book))
    assert {d.code for d in found} == {"broken-anchor", "image-missing", "image-alt", "heading-skip", "straight-quotes",
                                       "chapter-empty"}
    assert {d.severity for d in found} == {Severity.ERROR, Severity.WARNING}
    assert all(d.hint and d.file and d.line for d in found)


@pytest.mark.e2e
def test_a_long_novel_lints_clean() -> None:
    pride = PRIDE
    if not pride.is_dir():
        pytest.skip("the Pride and Prejudice corpus is not here")
    assert findings(pride) == []
