"""Bad input: every malformed book gets a clear message (file, line, hint), a non-zero exit code, no
traceback, and leaves the output folder exactly as it was."""

from __future__ import annotations

import pathlib
import re
from pathlib import Path

import pytest
from bookfolder import PNG, snapshot, write_book

from publish.cli import EXIT_BOOK, EXIT_OK, main
from publish.manuscript import load_manuscript
from publish.parse import parse_book


def run(capsys: pytest.CaptureFixture[str], book: Path, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["build", str(book), "-o", str(out), "--format", "epub,html", "-q", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return code, err


def failing(capsys: pytest.CaptureFixture[str], book: Path, out: Path) -> str:
    """Build `book` into an output folder that already holds files; it must fail and touch none of them."""
    out.mkdir(exist_ok=True)
    (out / "keep.epub").write_bytes(b"a previous good output")
    before = snapshot(out)
    code, err = run(capsys, book, out)
    assert code == EXIT_BOOK
    assert "build failed" in err and "hint:" in err
    assert snapshot(out) == before
    return err


def test_a_missing_book_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = failing(capsys, tmp_path / "nowhere", tmp_path / "out")
    assert "error book-missing" in err and "nowhere" in err


def test_a_file_instead_of_a_book_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text("# A chapter\n")
    assert "error book-not-folder" in failing(capsys, tmp_path / "book.md", tmp_path / "out")


def test_an_unreadable_book_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    book = write_book(tmp_path / "book")
    real = pathlib.Path.iterdir

    def denied(self: Path):  # noqa: ANN202 - tests run as root, where chmod 000 does not stop reading
        if self == book.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", denied)
    err = failing(capsys, book, tmp_path / "out")
    assert "error book-unreadable" in err and "Permission denied" in err


def test_an_unreadable_book_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    book = write_book(tmp_path / "book")
    real = pathlib.Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "book.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", denied)
    err = failing(capsys, book, tmp_path / "out")
    assert re.search(r"book\.yaml: error read: cannot read the file: Permission denied", err)


def test_book_yaml_that_is_not_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nlang: en\nauthor: [Jane\n")
    err = failing(capsys, book, tmp_path / "out")
    assert re.search(r"book\.yaml:\d+: error config-yaml", err)


def test_book_yaml_that_is_not_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="- title: A Book\n- lang: en\n")
    assert re.search(r"book\.yaml:1: error config-not-mapping: .* not a list", failing(capsys, book, tmp_path / "out"))


def test_wrong_types_are_all_reported_together_with_their_lines(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    config = "title: A Book\nauthor: {nome: Jane}\ntrim: huge\nchapters: 01-one.md\nremote-images: maybe\n"
    err = failing(capsys, write_book(tmp_path / "book", config=config), tmp_path / "out")
    for line, key in ((2, "author"), (3, "trim"), (4, "chapters"), (5, "remote-images")):
        assert re.search(rf"book\.yaml:{line}: error config-value: '{key}'", err), key


def test_a_title_that_is_not_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: [A, B]\n")
    assert "book.yaml:1: error config-title: 'title': ['A', 'B'] is not a single line of text" in failing(
        capsys, book, tmp_path / "out")


def test_a_missing_title(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="lang: en\n")
    assert "error config-title: the book has no title" in failing(capsys, book, tmp_path / "out")


@pytest.mark.parametrize("tag", ["english", "zz", "en-", "12"])
def test_a_language_tag_that_is_not_bcp_47(capsys: pytest.CaptureFixture[str], tmp_path: Path, tag: str) -> None:
    book = write_book(tmp_path / "book", config=f"title: A Book\nlang: '{tag}'\n")
    err = failing(capsys, book, tmp_path / "out")
    assert "book.yaml:2: error config-value: 'lang'" in err and "not a valid BCP 47 language tag" in err


def test_an_unknown_key_is_a_warning_with_a_suggestion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nlang: en\nautor: Jane\n")
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert "book.yaml:3: warning config-unknown-key: unknown key 'autor' is ignored" in err
    assert "did you mean 'author'?" in err
    code, _ = run(capsys, book, tmp_path / "out", "--strict")
    assert code == EXIT_BOOK


def test_a_missing_cover(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\ncover-image: images/cover.jpg\n")
    err = failing(capsys, book, tmp_path / "out")
    assert "book.yaml:2: error image-missing: the image 'images/cover.jpg' does not exist" in err


def test_a_missing_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\nText.\n\n![A drum](images/drum.png)\n"})
    err = failing(capsys, book, tmp_path / "out")
    assert "01-one.md:5: error image-missing: the image 'images/drum.png' does not exist" in err
    assert "hint: put the file at book/images/drum.png" in err


def test_an_image_of_an_unknown_type(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n![A drum](drum.bmp)\n"},
                      files={"drum.bmp": b"BM"})
    assert "01-one.md:3: error image-type" in failing(capsys, book, tmp_path / "out")


def test_a_chapter_that_is_not_utf_8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    latin1 = "# Un\n\nLe café.\n\nÀ bientôt.\n".encode("latin-1")
    book = write_book(tmp_path / "book", chapters={"01-un.md": latin1})
    err = failing(capsys, book, tmp_path / "out")
    offset = latin1.index("é".encode("latin-1"))
    assert f"01-un.md:3: error encoding: not UTF-8: byte 0xe9 at offset {offset} cannot be decoded" in err
    assert "save the file as UTF-8" in err


def test_no_chapters_at_all(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={})
    assert "error no-chapters: the book folder has no chapter files" in failing(capsys, book, tmp_path / "out")


def test_an_empty_chapter_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nchapters: []\n")
    assert "error no-chapters" in failing(capsys, book, tmp_path / "out")


def test_a_listed_chapter_that_does_not_exist_or_is_listed_twice(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    config = "title: A Book\nchapters:\n  - 01-one.md\n  - 03-three.md\n  - 01-one.md\n"
    err = failing(capsys, write_book(tmp_path / "book", config=config), tmp_path / "out")
    assert "error chapter-missing: chapter '03-three.md' listed in 'chapters' does not exist" in err
    assert "error chapter-twice: chapter '01-one.md' is listed twice" in err


def test_duplicate_chapter_and_heading_titles_keep_ids_unique(tmp_path: Path) -> None:
    chapters = {
        "01-a.md": "# Interlude\n\n## Notes\n\nSee [the other notes](02-b.md#notes).\n\n## Notes\n\n[Below](#notes-1).\n",
        "02-b.md": "# Interlude\n\n## Notes\n\nBack to [the first](01-a.md#notes).\n",
    }
    book = parse_book(load_manuscript(write_book(tmp_path / "book", chapters=chapters)))
    ids = [c.id for c in book.chapters] + [h.id for c in book.chapters for h in c.headings]
    assert len(ids) == len(set(ids)) == 5
    first, second = book.chapters
    assert [h.id for h in first.headings] == ["notes", "notes-1"]  # Pandoc numbers repeats from 1
    assert 'href="#notes-1"' in first.html
    # A link to another chapter's heading, as written for that file alone, follows it to its book-wide id.
    assert f'href="#{second.headings[0].id}"' in first.html and second.headings[0].id == "notes-2"
    assert 'href="#notes"' in second.html
    assert not [d for d in book.diagnostics if d.code == "duplicate-id"]  # headings are renamed quietly


def test_duplicate_custom_ids_are_renamed_with_a_warning(tmp_path: Path) -> None:
    chapters = {"01-a.md": "# A\n\nOne\n{: #here}\n", "02-b.md": "# B\n\nTwo\n{: #here}\n\nThree\n{: #here}\n\n[Mine](#here)\n"}
    book = parse_book(load_manuscript(write_book(tmp_path / "book", chapters=chapters)))
    # The same id in two files is renamed quietly (each file's links find their own); twice in one file is a fault.
    [warning] = [d for d in book.diagnostics if d.code == "duplicate-id"]
    assert warning.file.parts[-2:] == ("book", "02-b.md") and warning.line == 4
    assert 'id="here-2"' in book.chapters[1].html and 'href="#here-2"' in book.chapters[1].html


@pytest.mark.parametrize(("markdown", "code", "line"), [
    ("# One\n\nSee [the end](03-end.md).\n", "broken-link", 3),
    ("# One\n\n\nSee [two](02-two.md#nowhere).\n", "broken-anchor", 4),
    ("# One\n\nSee [below](#nowhere).\n", "broken-anchor", 3),
])
def test_links_to_chapters_or_anchors_that_do_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        markdown: str, code: str, line: int) -> None:
    # A link that leads nowhere never stops the build: a warning, and its text stays, as plain text.
    book = write_book(tmp_path / "book", chapters={"01-one.md": markdown, "02-two.md": "# Two\n\nText.\n"})
    code_, err = run(capsys, book, tmp_path / "out")
    assert code_ == EXIT_OK and re.search(rf"01-one\.md:{line}: warning {code}", err)
    page = (tmp_path / "out" / "a-test-book" / "index.html").read_text()
    assert re.search(r"See (the end|two|below)\.", page)
    assert run(capsys, book, tmp_path / "strict", "--strict")[0] == EXIT_BOOK


def test_a_near_miss_anchor_gets_a_suggestion(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n## The Storm\n\n[Storm](#the-strom)\n"})
    [problem] = [d for d in parse_book(load_manuscript(book)).diagnostics if d.code == "broken-anchor"]
    assert problem.hint == "did you mean '#the-storm'?"


def test_every_problem_is_reported_at_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chapters = {"01-one.md": "# One\n\n![x](missing.png)\n\n[y](#nowhere)\n",
                "02-two.md": "# Two\n\n[z](09.md)\n\n![w](gone.png)\n"}
    err = failing(capsys, write_book(tmp_path / "book", chapters=chapters), tmp_path / "out")
    assert "build failed: 2 error(s)" in err and err.count("warning broken-") == 2


def test_an_output_path_that_cannot_be_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book")
    (tmp_path / "out").write_text("a file where the output folder should be")
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_BOOK and "error write: cannot write" in err
    assert (tmp_path / "out").read_text() == "a file where the output folder should be"


def test_a_failed_build_leaves_a_previous_good_output_untouched(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", files={"images/pixel.png": PNG})
    out = tmp_path / "out"
    assert run(capsys, book, out)[0] == EXIT_OK
    before = snapshot(out)
    assert {"a-test-book.epub", "a-test-book/index.html"} <= set(before)
    (book / "02-two.md").write_text("# Two\n\n![gone](images/missing.png)\n")
    code, _ = run(capsys, book, out)
    assert code == EXIT_BOOK and snapshot(out) == before
