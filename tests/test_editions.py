"""Editions from one source: `editions:` in book.yaml built into every edition, or one, each with
its own identifier, its own print settings and its own cover; and a book without `editions:`
built exactly as before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pdfplumber
import pytest
from conftest import EPOCH, NS, Epub
from pypdf import PdfReader
from validators import run_ace, run_epubcheck

from publish.build import build
from publish.check import check_book
from publish.cli import main
from publish.diagnostics import BuildFailed, Severity
from publish.printcheck import check_print_outputs, print_configs
from publish.write import RECORD

CHAPTER = """\
# Chapter {n}

{text}
"""
# Long enough (90 pages of the paperback) for every service's least page count and for spine text.
PARAGRAPH = " ".join(["The keeper climbed the stair at dusk and lit the lamp, and the light went out over the water."] * 8)
TEXT = "\n\n".join([PARAGRAPH] * 20)
CONFIG = """\
title: The Lighthouse Keeper
author: Ada Marsh
publisher: Lantern Press
lang: en
description: A year on the Point, with the light and the weather.
editions:
  ebook:
    isbn: 978-1-4028-9462-6
  paperback:
    isbn: 978-0-306-40615-7
    trim: 5.5x8.5
    paper: cream
  hardcover:
    isbn: 979-10-323-0569-0
    service: ingram
  large-print:
    isbn: 0-8044-2957-X
"""
STEM = "the-lighthouse-keeper"
FILES = {f"{STEM}-{name}" for name in ("paperback.pdf", "paperback-cover.pdf", "hardcover.pdf", "hardcover-cover.pdf",
                                       "large-print.pdf", "large-print-cover.pdf", "ebook.epub")} | {STEM, RECORD}


@pytest.fixture(scope="module")
def keeper(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The book, built once into every edition: (book folder, output folder)."""
    root = tmp_path_factory.mktemp("editions") / "book"
    root.mkdir()
    (root / "book.yaml").write_text(CONFIG, encoding="utf-8")
    for n in range(1, 9):
        (root / f"{n:02d}-chapter.md").write_text(CHAPTER.format(n=n, text=TEXT), encoding="utf-8")
    out = root.parent / "out"
    build(root, out, source_date_epoch=EPOCH)
    return root, out


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def test_every_edition_is_built_with_its_own_files(keeper: tuple[Path, Path]) -> None:
    _, out = keeper
    assert {p.name for p in out.iterdir()} == FILES


def test_each_edition_carries_its_own_identifier_and_names_the_others(keeper: tuple[Path, Path]) -> None:
    _, out = keeper
    epub = Epub((out / f"{STEM}-ebook.epub").read_bytes())
    assert epub.opf_xpath("//dc:identifier/text()") == ["urn:isbn:9781402894626"]
    copyright_page = "".join(epub.doc("copyright.xhtml").itertext())
    for line in ("ISBN 978-1-4028-9462-6 (ebook)", "ISBN 978-0-306-40615-7 (paperback)",
                 "ISBN 979-10-323-0569-0 (hardcover)", "ISBN 978-0-8044-2957-3 (large print)"):
        assert line in copyright_page
    # The ebook carries the paperback's page numbers, named by the paperback's ISBN.
    assert epub.meta("pageBreakSource") == ["urn:isbn:9780306406157"]
    assert epub.nav.xpath("//x:nav[@epub:type='page-list']//x:a", namespaces=NS)
    for name in ("paperback", "hardcover", "large-print"):
        text = _text(out / f"{STEM}-{name}.pdf")
        assert "ISBN 978-0-306-40615-7 (paperback)" in text and "ISBN 978-1-4028-9462-6 (ebook)" in text


def test_a_print_edition_has_its_own_trim_bleed_and_type(keeper: tuple[Path, Path]) -> None:
    _, out = keeper
    paperback = PdfReader(out / f"{STEM}-paperback.pdf")
    assert [float(v) for v in paperback.pages[0].trimbox][2:] == pytest.approx([5.5 * 72, 8.5 * 72])
    assert float(paperback.pages[0].mediabox.width) > 5.5 * 72  # the print profile's bleed
    hardcover = PdfReader(out / f"{STEM}-hardcover.pdf")
    assert [float(v) for v in hardcover.pages[0].trimbox][2:] == pytest.approx([6 * 72, 9 * 72])

    def body_size(name: str) -> float:
        with pdfplumber.open(out / f"{STEM}-{name}.pdf") as pdf:
            sizes = sorted(round(c["size"], 1) for page in pdf.pages[-6:] for c in page.chars)
        return sizes[len(sizes) // 2]

    assert body_size("paperback") == pytest.approx(10.5, abs=0.1)
    assert body_size("large-print") == pytest.approx(16, abs=0.1)
    assert len(PdfReader(out / f"{STEM}-large-print.pdf").pages) > len(hardcover.pages)


def test_each_cover_fits_its_own_interior(keeper: tuple[Path, Path]) -> None:
    root, out = keeper
    from publish.manuscript import load_manuscript
    from publish.parse import parse_book

    manuscript = load_manuscript(root)
    book = parse_book(manuscript, source_date_epoch=EPOCH)
    assert check_print_outputs(book, out, configs=print_configs(manuscript.config)) == []
    widths = {}
    for name in ("paperback", "hardcover", "large-print"):
        cover = PdfReader(out / f"{STEM}-{name}-cover.pdf").pages[0]
        widths[name] = float(cover.mediabox.width) / 72
    # The large print is longer, so its spine, and its sheet, are wider than the paperback's on the same trim.
    pages = {n: len(PdfReader(out / f"{STEM}-{n}.pdf").pages) for n in ("paperback", "large-print")}
    assert pages["large-print"] > pages["paperback"]
    assert widths["hardcover"] > widths["large-print"] > 12.25


def test_one_edition_alone(keeper: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = keeper
    assert main(["build", str(root), "-o", str(tmp_path / "one"), "--edition", "paperback", "-q"]) == 0
    assert {p.name for p in (tmp_path / "one").iterdir()} == {f"{STEM}-paperback.pdf", f"{STEM}-paperback-cover.pdf", RECORD}
    assert main(["build", str(root), "-o", str(tmp_path / "none"), "--edition", "audiobook", "-q"]) == 1
    err = capsys.readouterr().err
    assert "--edition audiobook: the book has no such edition" in err and "ebook, paperback, hardcover, large-print" in err
    assert not (tmp_path / "none").exists()


def test_edition_needs_editions(make_book, tmp_path: Path) -> None:  # noqa: ANN001
    root = make_book()
    with pytest.raises(BuildFailed, match="the book names no editions"):
        build(root, tmp_path / "out", edition="paperback", source_date_epoch=EPOCH)


def test_a_failing_edition_writes_nothing(keeper: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = keeper
    book = tmp_path / "book"
    book.mkdir()
    for path in root.iterdir():
        (book / path.name).write_bytes(path.read_bytes())
    (book / "book.yaml").write_text(CONFIG + "author-photo: ../elsewhere.png\n", encoding="utf-8")
    with pytest.raises(BuildFailed, match="outside the book folder"):
        build(book, tmp_path / "out", source_date_epoch=EPOCH)
    assert not (tmp_path / "out").exists()


def test_without_editions_there_is_no_cover_unless_for_print(make_book, tmp_path: Path) -> None:  # noqa: ANN001
    root = make_book(config="title: A Small Book\nisbn: 978-0-306-40615-7\n")
    default = build(root, tmp_path / "default", source_date_epoch=EPOCH)
    assert {p.name for p in default.outputs} == {"a-small-book.epub", "a-small-book.pdf", "a-small-book"}
    printed = build(root, tmp_path / "print", source_date_epoch=EPOCH, pdf_profile="print")
    assert {p.name for p in printed.outputs} == {"a-small-book.epub", "a-small-book.pdf", "a-small-book",
                                                 "a-small-book-cover.pdf"}
    assert "wrap" in printed.made
    # A rebuild takes the cover from the cache, the same bytes.
    cover = (tmp_path / "print" / "a-small-book-cover.pdf").read_bytes()
    again = build(root, tmp_path / "again", source_date_epoch=EPOCH, pdf_profile="print")
    assert "wrap" not in again.made and (tmp_path / "again" / "a-small-book-cover.pdf").read_bytes() == cover


def test_check_measures_the_covers(keeper: tuple[Path, Path]) -> None:
    root, _ = keeper
    report = check_book(root, tools=("covers",), source_date_epoch=EPOCH)
    assert "covers" in report.ran
    assert [d for d in report.diagnostics if d.severity >= Severity.WARNING] == []


@pytest.mark.e2e
def test_the_editions_pass_the_validators(keeper: tuple[Path, Path]) -> None:
    _, out = keeper
    epub = out / f"{STEM}-ebook.epub"
    report = run_epubcheck(epub)
    assert report.ok and report.messages == (), report
    ace = run_ace(epub)
    assert ace.violations == (), ace.summary()
    for pdf in sorted(out.glob("*.pdf")):
        proc = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in fonts.splitlines()[2:]]
        assert rows and all(row[-5] == "yes" for row in rows), fonts  # every font embedded
