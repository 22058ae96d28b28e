"""The print edition laid out in runs of chapters at once and bound into one PDF (publish.pdf_runs,
publish.bind) cannot be told from the same book laid out in one piece.

Each book is rendered both ways and compared page by page: every word at its place, every page
at 72 dpi, the page labels, the bookmarks (title, level, page and point), the links (rectangle
and target), the named destinations, the structure tree (element types in order, down to each
marked-content reference) with its ParentTree, the page map the EPUB carries, and what the
layout complained of. The bound PDF passes `qpdf --check`, embeds every font, and is the same
bytes every time.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
from conftest import parse
from printed import BOOKS
from pypdf import PdfReader

from publish import pdf_runs
from publish.model import Book
from publish.pdf import PdfEdition, render_pdf


@pytest.fixture(autouse=True)
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel path taken; and the test books are short: laid out in runs all the same."""
    monkeypatch.setenv(pdf_runs.SWITCH, "1")
    monkeypatch.setenv("PUBLISH_RUN_WORDS", "1")


def _openings(book: Book, openings: str) -> Book:
    return dataclasses.replace(book, config=dataclasses.replace(book.config, chapter_openings=openings))


def _words(data: bytes) -> list[list[tuple[str, float, float, float]]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [[(w["text"], round(w["x0"], 3), round(w["top"], 3), round(w["x1"], 3)) for w in page.extract_words()]
                for page in pdf.pages]


def _outline(reader: PdfReader) -> list[tuple]:
    found: list[tuple] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                found.append((str(item.title), level, reader.get_destination_page_number(item),
                              round(float(item.left), 3), round(float(item.top), 3)))

    walk(reader.outline, 1)
    return found


def _links(reader: PdfReader) -> list[list[tuple]]:
    pages = []
    for page in reader.pages:
        here = []
        for annotation in page.get("/Annots") or ():
            annotation = annotation.get_object()
            action = annotation.get("/A")
            here.append((tuple(round(float(v), 3) for v in annotation["/Rect"]), str(annotation.get("/Dest")),
                         str(action.get("/URI")) if action else None, str(annotation.get("/Contents"))))
        pages.append(here)
    return pages


def _destinations(reader: PdfReader) -> list[tuple]:
    return sorted((name, reader.get_destination_page_number(dest), round(float(dest.left), 3), round(float(dest.top), 3))
                  for name, dest in reader.named_destinations.items())


def _structure(data: bytes) -> tuple[list[tuple], list[list[tuple]]]:
    """The structure tree's shape (depth, type, page of each element; marked content and
    annotations as leaves) and, for each page, what its ParentTree entry maps its marked
    content to (the type of each element), then each annotation's element."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
        shape: list[tuple] = []

        def walk(element: pikepdf.Object, depth: int) -> None:
            if isinstance(element, int):
                shape.append((depth, "MCID", element))
                return
            if element.get("/Type") == "/OBJR":
                shape.append((depth, "OBJR", str(element.Obj.get("/Dest"))))
                return
            page = pages.get(element.Pg.objgen) if "/Pg" in element else None
            shape.append((depth, str(element.S), page, str(element.get("/Alt", ""))))
            kids = element.get("/K")
            for kid in kids if isinstance(kids, pikepdf.Array) else [] if kids is None else [kids]:
                walk(kid, depth + 1)

        root = pdf.Root.StructTreeRoot
        assert len(root.K) == 1 and root.K[0].S == "/Document"
        walk(root.K[0], 0)
        nums = root.ParentTree.Nums
        tree = dict((int(nums[i]), nums[i + 1]) for i in range(0, len(nums), 2))
        parents = []
        for n, page in enumerate(pdf.pages):
            assert int(page.obj.StructParents) == n
            parents.append([str(element.S) for element in tree[n]])
        for page in pdf.pages:
            for annotation in page.obj.get("/Annots") or ():
                parents.append([str(tree[int(annotation.StructParent)].S)])
        assert len(tree) == len(parents)
    return shape, parents


def _pixels(data: bytes, folder: Path) -> list[bytes]:
    folder.mkdir()
    (folder / "x.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "72", "-gray", str(folder / "x.pdf"), str(folder / "page")], check=True)
    return [p.read_bytes() for p in sorted(folder.glob("page*.pgm"))]


def _fonts(data: bytes, folder: Path) -> list[list[str]]:
    (folder / "fonts.pdf").write_bytes(data)
    listed = subprocess.run(["pdffonts", str(folder / "fonts.pdf")], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in listed.splitlines()[2:]]


def assert_same_book(whole: PdfEdition, bound: PdfEdition, tmp_path: Path) -> None:
    assert bound.pages == whole.pages
    assert bound.page_map == whole.page_map
    assert bound.diagnostics == whole.diagnostics
    one, other = PdfReader(io.BytesIO(whole.data)), PdfReader(io.BytesIO(bound.data))
    assert len(other.pages) == len(one.pages) == whole.pages
    assert list(other.page_labels) == list(one.page_labels)
    assert _outline(other) == _outline(one)
    assert _links(other) == _links(one)
    assert _destinations(other) == _destinations(one)
    assert [tuple(p.mediabox) for p in other.pages] == [tuple(p.mediabox) for p in one.pages]
    assert [tuple(p.trimbox) for p in other.pages] == [tuple(p.trimbox) for p in one.pages]
    assert other.metadata == one.metadata
    assert other.trailer["/ID"][0] == one.trailer["/ID"][0]
    assert other.trailer["/Root"]["/Lang"] == one.trailer["/Root"]["/Lang"]
    assert other.xmp_metadata.stream.get_data() == one.xmp_metadata.stream.get_data()
    assert _structure(bound.data) == _structure(whole.data)
    assert _words(bound.data) == _words(whole.data)
    assert _pixels(bound.data, tmp_path / "bound") == _pixels(whole.data, tmp_path / "whole")
    checked = subprocess.run(["qpdf", "--check", str(tmp_path / "bound" / "x.pdf")], capture_output=True, text=True)
    assert checked.returncode == 0 and "No syntax or stream encoding errors" in checked.stdout, checked.stdout
    fonts, single = _fonts(bound.data, tmp_path), _fonts(whole.data, tmp_path)
    assert fonts and all(row[-5] == "yes" for row in fonts), fonts  # every font embedded
    assert len({row[0] for row in fonts}) == len(fonts), fonts  # each once
    assert [(row[0], row[-5:-2]) for row in fonts] == [(row[0], row[-5:-2]) for row in single]  # the same, subset or not


def _both(book: Book, tmp_path: Path, *, jobs: int = 2, profile: str | None = None) -> tuple[PdfEdition, PdfEdition]:
    runs = pdf_runs.plan(book, jobs)
    assert runs is not None and len(runs) == jobs + 1, "the front matter and a run per job"
    return render_pdf(book, jobs=1, profile=profile), render_pdf(book, jobs=jobs, profile=profile)


@pytest.mark.parametrize(("name", "jobs"), [("sample", 2), ("features", 3), ("roles", 3), ("roles", 5), ("tables", 2)])
def test_the_bound_pdf_is_the_single_layout(name: str, jobs: int, tmp_path: Path) -> None:
    book = parse(BOOKS[name])
    if name == "sample":  # an essay, whose sections run on: here each opens a recto, so it has runs
        book = _openings(book, "right")
    whole, bound = _both(book, tmp_path, jobs=jobs)
    assert_same_book(whole, bound, tmp_path)


def test_the_print_profile_bound_is_the_single_layout(tmp_path: Path) -> None:
    """Bleed on the pages, fonts whole."""
    whole, bound = _both(parse(BOOKS["features"]), tmp_path, profile="print")
    assert_same_book(whole, bound, tmp_path)


def test_a_bound_pdf_is_the_same_bytes_every_time() -> None:
    book = parse(BOOKS["roles"])
    assert render_pdf(book, jobs=3).data == render_pdf(book, jobs=3).data


@pytest.mark.e2e
def test_pride_and_prejudice_bound_is_its_single_layout(tmp_path: Path) -> None:
    if not BOOKS["pride"].is_dir():
        pytest.skip("the corpus is not beside this checkout")
    whole, bound = _both(parse(BOOKS["pride"]), tmp_path)
    assert_same_book(whole, bound, tmp_path)


def test_a_short_book_is_one_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLISH_RUN_WORDS")
    roles = parse(BOOKS["roles"])
    assert pdf_runs.plan(roles, 4) is None
    assert pdf_runs.plan(roles, 4, words=200) is not None
    text = sum(c.words for c, m in zip(roles.chapters, roles.matter, strict=True) if m != "front")
    assert len(pdf_runs.plan(roles, 4, words=200) or ()) == 1 + text // 200 < 1 + 4  # the front, and the text's runs


def test_the_parallel_path_is_taken_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pdf_runs.enabled()
    monkeypatch.delenv(pdf_runs.SWITCH)
    assert not pdf_runs.enabled()


def test_only_books_with_chapters_on_rectos_are_laid_out_in_runs() -> None:
    sample = parse(BOOKS["sample"])
    assert sample.config.chapter_openings == "continuous"
    assert pdf_runs.plan(sample, 4) is None
    assert pdf_runs.plan(_openings(sample, "any"), 4) is None
    assert pdf_runs.plan(_openings(sample, "right"), 1) is None  # one core, one layout
    runs = pdf_runs.plan(_openings(sample, "right"), 2)
    assert runs is not None and runs[0].front and not any(run.front for run in runs[1:])
    assert [run.last for run in runs] == [False] * (len(runs) - 1) + [True]


def test_a_book_with_one_chapter_is_one_layout(tmp_path: Path) -> None:
    root = tmp_path / "book"
    root.mkdir()
    (root / "book.yaml").write_text("title: One\nlang: en\n", encoding="utf-8")
    (root / "01-only.md").write_text("# Only\n\nText.\n", encoding="utf-8")
    assert pdf_runs.plan(parse(root), 4) is None


def test_runs_are_balanced_by_words() -> None:
    assert pdf_runs.balance([10, 10, 10, 10], 2) == (2,)
    assert pdf_runs.balance([30, 5, 5, 5, 5, 10], 2) == (1,)
    assert pdf_runs.balance([1, 1, 1, 1, 1, 1], 3) == (2, 4)
    assert pdf_runs.balance([5, 100, 5], 3) == (1, 2)
    cuts = pdf_runs.balance(list(range(1, 40)), 4)
    assert len(cuts) == 3 and list(cuts) == sorted(set(cuts))


def test_parallel_jobs_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from publish.pdf import parallel_jobs

    monkeypatch.setenv("PUBLISH_JOBS", "3")
    assert parallel_jobs() == 3
    monkeypatch.setenv("PUBLISH_JOBS", "no")
    assert parallel_jobs() >= 1


def test_an_edited_chapter_lays_out_its_run_again_and_no_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The incremental PDF: each run's PDF is kept in the build's cache under its inputs, so a
    rebuild after an edit lays out only the run of the edited chapter, and binds the same bytes
    as a clean build of the edited book."""
    import shutil

    from conftest import EPOCH

    from publish.build import build
    from publish.workers import Worker

    monkeypatch.setenv("PUBLISH_JOBS", "3")  # the roles book: the front, then three runs, the last from "the-relief"
    book = tmp_path / "book"
    shutil.copytree(BOOKS["roles"], book)
    laid_out: list[int] = []
    submit = Worker.submit

    def counted(worker: Worker, function: str, *args: object) -> None:
        if function.endswith(":layout_job"):
            laid_out.append(args[0].run.index)  # type: ignore[attr-defined]
        submit(worker, function, *args)

    monkeypatch.setattr(Worker, "submit", counted)

    def pdf(out: str, cache: str) -> bytes:
        build(book, tmp_path / out, source_date_epoch=EPOCH, cache_dir=tmp_path / cache, formats=("pdf",))
        return next((tmp_path / out).glob("*.pdf")).read_bytes()

    pdf("first", "cache")
    assert sorted(laid_out) == [0, 1, 2, 3]
    laid_out.clear()
    edited = book / "10-the-relief.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("tinned peaches", "tinned pears"), encoding="utf-8")
    again = pdf("again", "cache")
    assert laid_out == [3], "only the edited chapter's run"
    laid_out.clear()
    assert again == pdf("clean", "clean-cache")
    assert sorted(laid_out) == [0, 1, 2, 3]
