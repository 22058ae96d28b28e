"""The load stage: which chapter files are read, in what order, and what is wrong with a folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE, MakeBook

from publish.diagnostics import BuildFailed, Diagnostic, Severity
from publish.manuscript import Manuscript, load_manuscript


def failure(root: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(BuildFailed) as caught:
        load_manuscript(root)
    problems = caught.value.diagnostics
    assert problems and all(p.severity is Severity.ERROR and p.hint for p in problems)
    return problems


def names(manuscript: Manuscript) -> list[str]:
    return [s.path.as_posix() for s in manuscript.sources]


def test_chapters_are_read_in_file_name_order(make_book: MakeBook) -> None:
    root = make_book({"10-ten.md": "ten", "02-two.md": "two", "01-one.md": "one", "03-three.markdown": "three"})
    manuscript = load_manuscript(root)
    assert names(manuscript) == ["01-one.md", "02-two.md", "03-three.markdown", "10-ten.md"]
    assert [s.text for s in manuscript.sources] == ["one", "two", "three", "ten"]
    assert manuscript.root == root.resolve() and manuscript.config.title == "A Small Book"


def test_only_markdown_chapters_are_read(make_book: MakeBook) -> None:
    root = make_book({"01-one.md": "one", "README.md": "how to edit", "notes.txt": "no", ".02-hidden.md": "no",
                      "sub/03-nested.md": "no", "04-UPPER.MD": "upper"})
    assert names(load_manuscript(root)) == ["01-one.md", "04-UPPER.MD"]


def test_chapters_key_sets_the_order_and_the_selection(make_book: MakeBook) -> None:
    root = make_book({"a.md": "a", "b.md": "b", "c.md": "c", "parts/d.md": "d"},
                     config="title: T\nchapters:\n  - c.md\n  - parts/d.md\n  - a.md\n")
    assert names(load_manuscript(root)) == ["c.md", "parts/d.md", "a.md"]


def test_chapters_that_do_not_exist_are_all_reported(make_book: MakeBook) -> None:
    root = make_book({"a.md": "a"}, config="title: T\nchapters: [a.md, b.md, c.md]\n")
    problems = failure(root)
    assert [p.code for p in problems] == ["chapter-missing", "chapter-missing"]
    assert "'b.md'" in problems[0].message and "'c.md'" in problems[1].message
    assert all(p.file == root / "book.yaml" for p in problems)


def test_a_chapter_outside_the_book_folder_is_refused(make_book: MakeBook, tmp_path: Path) -> None:
    (tmp_path / "secret.md").write_text("# Secret\n")
    root = make_book({"a.md": "a"}, config="title: T\nchapters: [a.md, ../secret.md]\n")
    [problem] = failure(root)
    assert problem.code == "chapter-outside" and "'../secret.md'" in problem.message


def test_a_chapter_that_is_not_utf8_says_where(make_book: MakeBook) -> None:
    root = make_book({"01-one.md": "# One\n", "02-two.md": "ok"})
    bad = "# Two\n\nfine line\nna\u00efve\n".encode("latin-1")  # ï is 0xef in Latin-1
    (root / "02-two.md").write_bytes(bad)
    [problem] = failure(root)
    assert problem.code == "encoding" and problem.file == root / "02-two.md"
    assert problem.line == 4
    offset = bad.index(0xEF)
    assert f"offset {offset}" in problem.message and "0xef" in problem.message
    assert "UTF-8" in (problem.hint or "")


def test_every_undecodable_chapter_is_reported_at_once(make_book: MakeBook) -> None:
    root = make_book({"01-one.md": "", "02-two.md": ""})
    (root / "01-one.md").write_bytes(b"\xff\xfe")
    (root / "02-two.md").write_bytes(b"a\nb\nc\x80")
    problems = failure(root)
    assert [(p.file.name, p.line) for p in problems if p.file] == [("01-one.md", 1), ("02-two.md", 3)]


def test_book_yaml_that_is_not_utf8(make_book: MakeBook) -> None:
    root = make_book(config=None)
    (root / "book.yaml").write_bytes("title: Caf\u00e9\n".encode("latin-1"))
    [problem] = failure(root)
    assert problem.code == "encoding" and problem.file == root / "book.yaml" and problem.line == 1


def test_a_byte_order_mark_and_windows_line_ends_are_accepted(make_book: MakeBook) -> None:
    root = make_book({"01-one.md": ""}, config=None)
    (root / "book.yaml").write_bytes("\ufefftitle: T\r\n".encode())
    (root / "01-one.md").write_bytes(b"\xef\xbb\xbf# One\r\n\r\nText.\rMore.\r\n")
    manuscript = load_manuscript(root)
    assert manuscript.config.title == "T"
    assert manuscript.sources[0].text == "# One\n\nText.\nMore.\n"


def test_no_chapters(make_book: MakeBook) -> None:
    root = make_book({}, files={"notes.txt": "not a chapter"})
    [problem] = failure(root)
    assert problem.code == "no-chapters" and problem.file == root and "01-first-chapter.md" in (problem.hint or "")


def test_no_book_yaml(make_book: MakeBook) -> None:
    root = make_book(config=None)
    [problem] = failure(root)
    assert problem.code == "config-missing" and problem.file == root / "book.yaml"
    assert "title:" in (problem.hint or "")


def test_no_book_folder(tmp_path: Path) -> None:
    [problem] = failure(tmp_path / "nowhere")
    assert problem.code == "book-missing" and str(tmp_path / "nowhere") in problem.message


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text("# A\n")
    [problem] = failure(tmp_path / "book.md")
    assert problem.code == "book-not-folder"


def test_config_errors_stop_the_load_with_every_problem(make_book: MakeBook) -> None:
    root = make_book(config="lang: nope-nope-nope\ntrim: huge\n")
    problems = failure(root)
    assert {p.code for p in problems} == {"config-title", "config-value"} and len(problems) == 3
    assert all(p.file == root / "book.yaml" for p in problems)


def test_config_warnings_travel_with_the_manuscript(make_book: MakeBook) -> None:
    manuscript = load_manuscript(make_book(config="title: T\nautor: Me\n"))
    [warning] = manuscript.warnings
    assert warning.severity is Severity.WARNING and warning.hint == "did you mean 'author'?"


def test_the_sample_manuscript() -> None:
    manuscript = load_manuscript(SAMPLE)
    assert names(manuscript) == ["00-opening.md", "01-leadership.md", "02-power-games.md", "03-the-comeback.md",
                                 "04-the-core-message.md", "05-final-thoughts.md"]
    assert manuscript.warnings == ()
    # The spoiler line is the book's notice, not body text.
    assert not any("Spoiler Alert" in s.text for s in manuscript.sources)
