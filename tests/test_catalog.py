"""Catalogues without a cluster: what `publish build` gathers from folders, patterns and
catalog.yaml files, how a catalogue's shared settings reach each book (never through its folder),
where each book's editions go and which books may not share a place, how many books a machine
builds at once, and the closing table and exit code. The runs on Dask are in
test_catalog_cluster.py.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from bookfolder import snapshot, write_book
from conftest import EPOCH, NS, Epub, Pdf
from lxml import etree
from rich.console import Console

from publish import catalog, catalog_build
from publish.build import build
from publish.catalog import CatalogBook, gather, read_catalog
from publish.catalog_build import BookJob, BookOutcome, Located, Validation, exit_worthy, local_workers, plan
from publish.catalog_cli import _summary, table
from publish.config import Overlay
from publish.diagnostics import Severity, error, warning
from publish.manuscript import load_manuscript


def _books(root: Path, *names: str) -> list[Path]:
    return [write_book(root / name, config=f"title: Book {name}\n") for name in names]


def _catalog(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _codes(diagnostics: tuple) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in diagnostics]


# -- gathering the books ------------------------------------------------------------------------


def test_folders_patterns_and_catalogues_are_gathered_each_book_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _books(tmp_path / "books", "a", "b", "c")
    (tmp_path / "books" / "not-a-book").mkdir()  # no book.yaml: a pattern does not count it
    (tmp_path / "books" / "notes.txt").write_text("x")
    _catalog(tmp_path / "press" / "catalog.yaml", "books:\n  - ../books/a\n  - ../books/c\n")
    found = gather(["books/*", "press/catalog.yaml", "books/b"])
    assert [b.folder.as_posix() for b in found.books] == ["books/a", "books/b", "books/c"]
    # Named twice (a pattern, then a catalogue, then by hand): a warning for each repeat, not a second build.
    assert [d.code for d in found.diagnostics] == ["catalog-twice"] * 3
    assert all(d.severity is Severity.WARNING for d in found.diagnostics)


def test_a_pattern_that_matches_no_book_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "books" / "empty").mkdir(parents=True)
    found = gather(["books/*"])
    assert found.books == () and [d.code for d in found.diagnostics] == ["catalog-no-match"]
    assert found.diagnostics[0].severity is Severity.ERROR and found.diagnostics[0].hint


def test_a_catalogue_names_books_relative_to_itself_with_its_settings(tmp_path: Path) -> None:
    _books(tmp_path / "press" / "books", "one", "two")
    (tmp_path / "press" / "house.css").write_text("h1 { letter-spacing: 0.1em; }\n")
    path = _catalog(tmp_path / "press" / "catalog.yaml", """\
books:
  - books/*
output: "{folder}"
defaults:
  publisher: Tempo Press
  trim: 5.5x8.5
stylesheets: house.css
""")
    found = read_catalog(path)
    assert found.diagnostics == ()
    assert [b.folder for b in found.books] == [tmp_path / "press" / "books" / "one", tmp_path / "press" / "books" / "two"]
    book = found.books[0]
    assert book.layout == "{folder}" and book.catalog == path
    assert book.overlay == Overlay(defaults=(("publisher", "Tempo Press"), ("trim", "5.5x8.5")),
                                   css="/* house.css */\nh1 { letter-spacing: 0.1em; }\n")


def test_every_problem_in_a_catalogue_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.css").write_text('@import "other.css";\np { background: url(paper.png) }\nq { color: red }\n')
    path = _catalog(tmp_path / "catalog.yaml", """\
books:
  - nowhere/*
output: ../outside
defaults:
  title: Shared
  trim: 7x7
  publisher: Tempo Press
  publsher: typo
stylesheets:
  - missing.css
  - bad.css
bokks: []
""")
    found = read_catalog(path)
    assert found.books == ()  # a catalogue with errors builds nothing
    assert sorted(_codes(found.diagnostics)) == sorted([
        ("catalog-no-match", 1), ("catalog-value", 3), ("catalog-per-book-key", 5), ("config-value", 6),
        ("catalog-unknown-key", 8), ("catalog-stylesheet", 9), ("catalog-css-url", 1), ("catalog-css-url", 2),
        ("catalog-unknown-key", 12)])
    by_code = {d.code: d for d in found.diagnostics}
    assert "'defaults.trim'" in by_code["config-value"].message and by_code["config-value"].file == path
    assert by_code["catalog-unknown-key"].hint in {"did you mean 'publisher'?", "did you mean 'books'?"}
    css = [d for d in found.diagnostics if d.code == "catalog-css-url"]
    assert {d.file for d in css} == {tmp_path / "bad.css"} and all(d.severity is Severity.WARNING for d in css)


@pytest.mark.parametrize("text", ["- a\n- b\n", "books: 3\n", "books: []\n", ": [\n"])
def test_a_catalogue_that_is_not_a_mapping_of_books(tmp_path: Path, text: str) -> None:
    found = read_catalog(_catalog(tmp_path / "catalog.yaml", text))
    assert found.books == () and found.diagnostics and all(d.hint for d in found.diagnostics)
    assert found.diagnostics[0].severity is Severity.ERROR


@pytest.mark.parametrize(("layout", "ok"), [("{slug}", True), ("{folder}", True), (".", False), ("press/{slug}", True),
                                            ("{title}", False), ("/abs/{slug}", False), ("../{slug}", False),
                                            ("{slug", False)])
def test_layouts(layout: str, ok: bool) -> None:
    assert catalog._layout_ok(layout) is ok


# -- the overlay: shared settings reach the books, never through their folders ---------------------


def test_defaults_fill_what_a_book_leaves_out_and_its_own_keys_win(tmp_path: Path) -> None:
    plain = write_book(tmp_path / "plain", config="title: Plain\n")
    own = write_book(tmp_path / "own", config="title: Own\npublisher: Self-Published\n")
    overlay = Overlay(defaults=(("publisher", "Tempo Press"), ("trim", "5x8"), ("lang", "de")), css="p { color: red }")
    first = load_manuscript(plain, overlay=overlay).config
    assert (first.publisher, first.trim.name, first.lang, first.css) == ("Tempo Press", "5x8", "de", "p { color: red }")
    assert load_manuscript(own, overlay=overlay).config.publisher == "Self-Published"
    assert load_manuscript(plain).config.publisher is None  # and nothing of it stays behind


def test_a_stylesheet_addition_reaches_every_edition(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: Styled\nspoiler: It ends.\n")
    before = snapshot(book)
    css = "h2::after { content: ' PRESSMARK'; }\n"
    result = build(book, tmp_path / "out", source_date_epoch=EPOCH, cache_dir=tmp_path / "cache",
                   overlay=Overlay(defaults=(("publisher", "Tempo Press"),), css=css))
    assert snapshot(book) == before
    epub = Epub((tmp_path / "out" / "styled.epub").read_bytes())
    assert epub.opf_xpath("//dc:publisher/text()") == ["Tempo Press"]
    [href] = epub.opf_xpath("//opf:manifest/opf:item[@href='styles/extra.css']/@href")
    assert epub.zip.read(epub.path(href)).decode() == css
    for doc in epub.xhtml():
        links = epub.doc(doc).xpath("//x:link[@rel='stylesheet']/@href", namespaces=NS)
        assert links[-1] == "styles/extra.css", doc  # last: it overrides the house styles
    web = (tmp_path / "out" / "styled" / "index.html").read_text()
    assert web.index('href="styles/web.css"') < web.index('href="styles/extra.css"')
    assert (tmp_path / "out" / "styled" / "styles" / "extra.css").read_text() == css
    assert "Two PRESSMARK" in Pdf((tmp_path / "out" / "styled.pdf").read_bytes()).texts[-1]
    assert set(result.made) >= {"book", "pdf", "epub", "html"}


def test_a_changed_overlay_is_a_new_build_and_no_overlay_the_book_as_it_is(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: Keyed\n")
    kwargs = {"formats": ("epub",), "source_date_epoch": EPOCH, "cache_dir": tmp_path / "cache"}
    plain = build(book, tmp_path / "a", **kwargs)
    again = build(book, tmp_path / "b", overlay=Overlay(), **kwargs)
    assert again.made == () and (tmp_path / "a" / "keyed.epub").read_bytes() == (tmp_path / "b" / "keyed.epub").read_bytes()
    pressed = build(book, tmp_path / "c", overlay=Overlay(defaults=(("publisher", "Tempo Press"),)), **kwargs)
    assert "epub" in pressed.made and plain.made
    opf = zipfile.ZipFile(io.BytesIO((tmp_path / "c" / "keyed.epub").read_bytes())).read("EPUB/content.opf")
    assert etree.fromstring(opf).xpath("//dc:publisher/text()", namespaces=NS) == ["Tempo Press"]


# -- where the editions go ----------------------------------------------------------------------


def _jobs(tmp_path: Path, books: list[CatalogBook], out: Path) -> list[BookJob]:
    return plan(books, out, formats=("epub",), pdf_profile=None, source_date_epoch=EPOCH, clean=False, check=())


def test_each_book_goes_to_its_own_folder_named_after_its_title(tmp_path: Path) -> None:
    a, b = _books(tmp_path / "books", "a", "b")
    jobs = _jobs(tmp_path, [CatalogBook(a), CatalogBook(b, layout="{folder}"), CatalogBook(a, layout="press/{slug}")],
                 tmp_path / "out")
    assert [catalog_build.locate(job) for job in jobs] == [Located(tmp_path / "out" / "book-a", "book-a"),
                                                           Located(tmp_path / "out" / "b", "book-b"),
                                                           Located(tmp_path / "out" / "press" / "book-a", "book-a")]


def test_books_that_would_share_a_place_or_write_into_a_book_fail_before_anything_is_built(tmp_path: Path) -> None:
    twin = [write_book(tmp_path / "books" / n, config="title: Poems\n") for n in ("x", "y")]
    other = write_book(tmp_path / "books" / "z", config="title: Other\n")
    jobs = _jobs(tmp_path, [CatalogBook(twin[0]), CatalogBook(twin[1]), CatalogBook(other)], tmp_path / "out")
    located = [catalog_build.locate(job) for job in jobs]
    problems = catalog_build._collisions(jobs, located)
    assert sorted(problems) == [0, 1] and {p.code for p in problems.values()} == {"output-collision"}
    assert "'" + str(twin[0]) + "'" in problems[0].message and "{folder}" in (problems[0].hint or "")
    # By their folders' names they no longer collide.
    jobs = _jobs(tmp_path, [CatalogBook(twin[0], layout="{folder}"), CatalogBook(twin[1], layout="{folder}")],
                 tmp_path / "out")
    assert catalog_build._collisions(jobs, [catalog_build.locate(job) for job in jobs]) == {}
    # An output folder inside one of the books: that book's output is inside its own folder, the
    # others' inside a book that is not theirs.
    jobs = _jobs(tmp_path, [CatalogBook(other), CatalogBook(twin[0])], other / "out")
    problems = catalog_build._collisions(jobs, [catalog_build.locate(job) for job in jobs])
    assert {p.code for p in problems.values()} == {"output-in-book"} and sorted(problems) == [0, 1]


def test_a_worker_that_cannot_see_the_book_folder_says_so(tmp_path: Path) -> None:
    [book] = _books(tmp_path, "a")
    [job] = _jobs(tmp_path, [CatalogBook(book)], tmp_path / "out")
    # As a worker on a machine without the shared file system sees it: the folder is not there.
    unseen = catalog_build._seen_from_worker((error("book-missing", "x", file=book),), job)
    assert [d.code for d in unseen] == ["catalog-unseen"] and "file system" in (unseen[0].hint or "")


def test_a_relative_folder_is_built_by_the_name_the_user_gave_where_it_means_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _books(tmp_path / "books", "a")
    [job] = _jobs(tmp_path, [CatalogBook(Path("books/a"))], Path("out"))
    assert job.folder == tmp_path / "books" / "a" and job.out_root == tmp_path / "out"
    assert job.book_dir() == Path("books/a")  # the same cache keys and messages as 'publish build books/a'
    monkeypatch.chdir(tmp_path / "books")  # a worker elsewhere
    assert job.book_dir() == tmp_path / "books" / "a"


# -- the run's size, table and exit code ----------------------------------------------------------


def test_local_workers_follow_cores_memory_and_books(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    class Memory:
        available = 10 * catalog_build.MEMORY_PER_BOOK + 1

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory())
    monkeypatch.setattr(catalog_build.os, "sched_getaffinity", lambda _: set(range(16)))
    assert local_workers(100) == 10  # memory-bound
    assert local_workers(3) == 3  # never more workers than books
    monkeypatch.setattr(catalog_build.os, "sched_getaffinity", lambda _: {0, 1})
    assert local_workers(100) == 2  # core-bound
    Memory.available = catalog_build.MEMORY_PER_BOOK // 2
    assert local_workers(100) == 1  # one at least, however little memory is left


def _outcome(state: str = "built", **kwargs: object) -> BookOutcome:
    return BookOutcome(Path("books/x"), state, **kwargs)  # type: ignore[arg-type]


def test_what_makes_a_run_fail() -> None:
    noted = (warning("w", "a warning"),)
    assert not exit_worthy(_outcome(), strict=False) and not exit_worthy(_outcome("unchanged"), strict=True)
    assert all(exit_worthy(_outcome(state), strict=False) for state in ("failed", "error", "lost"))
    assert not exit_worthy(_outcome(diagnostics=noted), strict=False)
    assert exit_worthy(_outcome(diagnostics=noted), strict=True)
    assert exit_worthy(_outcome(checks=(Validation("epubcheck", 1, 0),)), strict=False)
    assert not exit_worthy(_outcome(checks=(Validation("ace", 0, 3),)), strict=False)


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_table_shows_each_books_state_time_pages_checks_and_first_problems() -> None:
    outcomes = [
        _outcome(seconds=12.34, pages=212, checks=(Validation("epubcheck", 0, 0), Validation("ace", 0, 0))),
        _outcome("failed", diagnostics=(error("image-missing", "the image 'x.png' does not exist", file=Path("b/01.md"),
                                              line=3), warning("w", "later"), warning("w", "later still"))),
        _outcome("lost", retried=3, diagnostics=(error("worker-died", "every worker that tried to build it died"),)),
        _outcome(seconds=75, pages=9, checks=(Validation("epubcheck", 2, 0), Validation("ace", 0, 0, ran=False))),
    ]
    text = _text(table(outcomes, checked=True, quiet=False))
    rows = [line for line in text.splitlines() if "books/x" in line]
    assert len(rows) == 4
    assert "built" in rows[0] and "12 s" in rows[0] and "212" in rows[0] and rows[0].count(" 0 ") >= 2
    assert "b/01.md:3: image-missing: the image 'x.png' does not exist" in text and "(+1 more)" in text
    assert "its worker died 3× and it was built again" in text
    assert "2 errors" in rows[3] and "did not run" in rows[3] and "1 min 15 s" in rows[3]
    console = Console(file=io.StringIO(), width=200)
    assert _summary(outcomes, console=console, strict=False, quiet=False, codes=(0, 1, 4)) == 1
    assert "4 books: 2 built, 1 failed, 1 lost; 3 failing" in console.file.getvalue()  # type: ignore[attr-defined]
    assert _summary(outcomes[:1], console=console, strict=False, quiet=False, codes=(0, 1, 4)) == 0
    missing = _outcome(checks=(Validation("ace", 0, 0, ran=False),))
    assert _summary([missing], console=console, strict=False, quiet=False, codes=(0, 1, 4)) == 4


# -- the command ----------------------------------------------------------------------------------


def test_one_folder_is_the_ordinary_build_and_anything_more_a_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from publish.cli import _is_catalogue, parser

    monkeypatch.chdir(tmp_path)
    _books(tmp_path / "books", "a", "b")
    _catalog(tmp_path / "catalog.yaml", "books: [books/*]\n")

    def catalogue(*argv: str) -> bool:
        return _is_catalogue(parser().parse_args(["build", *argv]))

    assert not catalogue() and not catalogue("books/a") and not catalogue("books/a", "-o", "x", "--format", "epub")
    assert catalogue("books/a", "books/b") and catalogue("books/*") and catalogue("catalog.yaml")
    assert catalogue("books/a", "--check") and catalogue("books/a", "--workers", "2")
    assert catalogue("books/a", "--scheduler", "local")
    assert not catalogue("no-such-folder")  # the ordinary build says it does not exist
    (tmp_path / "books" / "a" / "01-one.md").write_text("# One\n", encoding="utf-8")
    assert not catalogue("books/a/01-one.md") and not catalogue("books/a/book.yaml")  # "not a folder", as alone
    assert catalogue("press.yml")  # a catalogue that is not there says so as a catalogue


def test_a_catalogue_with_errors_builds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from publish.cli import EXIT_BOOK, main

    _books(tmp_path / "books", "a")
    catalog_file = _catalog(tmp_path / "catalog.yaml", "books: [books/*]\ndefaults:\n  trim: 7x7\n")
    assert main(["build", str(catalog_file), "-o", str(tmp_path / "out")]) == EXIT_BOOK
    err = capsys.readouterr().err
    assert f"{catalog_file}:3: error config-value: 'defaults.trim'" in err and "no book was built" in err
    assert not (tmp_path / "out").exists()


def test_workers_are_for_this_machine_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from publish.cli import EXIT_USAGE, main

    [book] = _books(tmp_path, "a")
    assert main(["build", str(book), "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == EXIT_USAGE
    assert "--workers is for this machine" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", str(book), "--workers", "0"])


@pytest.mark.e2e
def test_the_covers_check_reads_the_print_editions_a_book_built(tmp_path: Path) -> None:
    """`--check`'s covers column: the print edition's interior and cover checked as `publish check`
    checks them; a book with no print edition has nothing to check (shown as "–")."""
    printed = write_book(tmp_path / "printed", config="title: Printed\npdf-profile: print\n")
    out = tmp_path / "out"
    result = build(printed, out, formats=("pdf",), source_date_epoch=EPOCH)
    found: list = []
    assert catalog_build._check_covers(result.book, out, found) == Validation("covers", 0, 0) and found == []
    (out / "printed-cover.pdf").unlink()
    assert catalog_build._check_covers(result.book, out, found) == Validation("covers", 1, 0)
    assert [d.code for d in found] == ["print-missing"]
    plain = write_book(tmp_path / "plain", config="title: Plain\n")
    assert catalog_build._check_covers(build(plain, tmp_path / "out2", formats=("pdf",)).book, tmp_path / "out2", []) is None
