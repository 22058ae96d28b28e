"""End to end, with the real tools and no mocks: the sample and the Pride and Prejudice corpus are
built once per session with the installed `publish` command, then graded by EPUBCheck, DAISY Ace,
poppler and qpdf, and read back for the spoiler notice's place in every edition.

Each book is built once and each validator runs once per book (session-scoped fixtures), since a
novel takes a while to lay out and Ace drives a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import pytest
from conftest import EPOCH, NS, PRIDE, SAMPLE, Epub, Pdf, build_corpus_book
from validators import (
    AceReport,
    EpubcheckReport,
    pdf_fonts,
    pdf_info,
    run_ace,
    run_epubcheck,
)

pytestmark = pytest.mark.e2e

PUBLISH = Path(sys.executable).with_name("publish")
TYPEFACE_PREFIX = "Gentium-Book-Plus"  # the PostScript names of the shipped "Gentium Book Plus" family


@dataclass(frozen=True)
class Built:
    name: str
    epub: Path
    pdf: Path
    html: Path
    stderr: str
    seconds: float
    spoiler: str | None  # the notice's heading, when the book has one
    chapters: tuple[str, ...]  # chapter titles, in reading order


def _publish(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    started = time.perf_counter()
    proc = subprocess.run([str(PUBLISH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL, check=False)
    return proc, time.perf_counter() - started


def _build(name: str, tmp: Path, factory: pytest.TempPathFactory) -> Built:
    from publish.manuscript import load_manuscript
    from publish.parse import parse_book

    if name == "sample":
        # The README's command exactly: `publish build` with no arguments, in a copy of the project
        # layout, builds manuscript/ into output/.
        shutil.copytree(SAMPLE, tmp / "manuscript")
        proc, seconds = _publish(["build"], cwd=tmp)
        book_dir, out = tmp / "manuscript", tmp / "output"
    else:
        # The same build as the corpus tests' (tests/test_corpus.py), made once per session.
        corpus = build_corpus_book(PRIDE.name, factory)
        proc = subprocess.CompletedProcess([], corpus.returncode, corpus.stdout, corpus.stderr)
        seconds, book_dir, out, tmp = corpus.seconds, PRIDE, corpus.out, corpus.out.parent
    assert proc.returncode == 0, f"publish build {name} failed:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    book = parse_book(load_manuscript(book_dir))
    written = {tmp / line.removeprefix("wrote ") for line in proc.stdout.splitlines() if line.startswith("wrote ")}
    built = Built(name, out / f"{book.slug}.epub", out / f"{book.slug}.pdf", out / book.slug, proc.stderr, seconds,
                  book.config.spoiler.heading if book.config.spoiler else None,
                  tuple(c.title.text for c in book.chapters))
    assert written == {built.epub, built.pdf, built.html}
    return built


@pytest.fixture(scope="session", params=["sample", "pride"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}"), tmp_path_factory)


@pytest.fixture(scope="session")
def epubcheck(built: Built) -> EpubcheckReport:
    return run_epubcheck(built.epub, usage=True)


@pytest.fixture(scope="session")
def ace(built: Built) -> AceReport:
    return run_ace(built.epub)


@pytest.fixture(scope="session")
def epub(built: Built) -> Epub:
    return Epub(built.epub.read_bytes())


@pytest.fixture(scope="session")
def pdf(built: Built) -> Pdf:
    return Pdf(built.pdf.read_bytes())


def test_the_build_is_clean_and_says_what_it_does(built: Built) -> None:
    stages = [line for line in built.stderr.splitlines() if line.startswith("· ")]
    assert [s.split(":")[0] for s in stages] == ["· load", "· parse", "· render", "· render", "· render", "· write"]
    problems = [line for line in built.stderr.splitlines() if not line.startswith("· ")]
    assert problems == [], "\n".join(problems)
    print(f"{built.name}: built in {built.seconds:.1f} s")


# --- EPUB ---------------------------------------------------------------------------------------------


def test_epubcheck_finds_nothing(epubcheck: EpubcheckReport) -> None:
    assert (epubcheck.fatal, epubcheck.error, epubcheck.warning) == (0, 0, 0), epubcheck.summary()
    assert epubcheck.version.startswith("5.3")


# EPUBCheck notes every @font-face rule (CSS-028, "Use of Font-face declaration") as a USAGE message:
# it is informational and cannot be avoided by a book that embeds its typeface, as this one must.
UNAVOIDABLE_USAGE = {"CSS-028"}


def test_epubcheck_usage_notes_are_only_the_unavoidable_font_face_one(epubcheck: EpubcheckReport) -> None:
    usage = [m for m in epubcheck.messages if m.severity == "USAGE"]
    assert [m for m in usage if m.id not in UNAVOIDABLE_USAGE] == [], epubcheck.summary()
    assert all(loc.startswith("EPUB/styles/fonts.css:") for m in usage for loc in m.locations)


def test_ace_finds_no_violations(ace: AceReport) -> None:
    assert ace.violations == (), ace.summary()
    assert ace.outcome == "pass" and ace.version.startswith("1.4")


def test_the_notice_opens_the_reading_order(built: Built, epub: Epub) -> None:
    first_chapter = "chapter-001.xhtml"
    if built.spoiler:
        assert epub.spine[:4] == ["cover.xhtml", "titlepage.xhtml", "notice.xhtml", "contents.xhtml"]
        assert epub.spine.index("notice.xhtml") < epub.spine.index(first_chapter)
        assert epub.landmark("bodymatter") == ["notice.xhtml"] and epub.guide("text") == ["notice.xhtml"]
        [notice] = epub.doc("notice.xhtml").xpath("//x:section[@epub:type='notice']", namespaces=NS)
        assert notice.get("role") == "doc-notice"
        toc = epub.nav.xpath("//x:nav[@epub:type='toc']/x:ol/x:li/x:a", namespaces=NS)
        assert (toc[0].get("href"), toc[0].text) == ("notice.xhtml", built.spoiler)
    else:
        assert "notice.xhtml" not in epub.spine and "EPUB/notice.xhtml" not in epub.zip.namelist()
        assert epub.landmark("bodymatter") == [first_chapter] and epub.guide("text") == [first_chapter]


def test_every_chapter_is_in_the_contents_and_the_ncx(built: Built, epub: Epub) -> None:
    labels = ["".join(a.itertext()) for a in epub.nav.xpath("//x:nav[@epub:type='toc']/x:ol/x:li/x:a", namespaces=NS)]
    expected = [*([built.spoiler] if built.spoiler else []), *built.chapters, "Copyright"]
    assert labels == expected
    [ncx] = epub.opf_xpath("//opf:item[@media-type='application/x-dtbncx+xml']/@href")
    top = "/ncx:ncx/ncx:navMap/ncx:navPoint/ncx:navLabel/ncx:text/text()"
    assert epub.doc(ncx).xpath(top, namespaces=NS) == expected


def test_the_epub_page_list_follows_the_printed_pages(epub: Epub, pdf: Pdf) -> None:
    listed = epub.nav.xpath("//x:nav[@epub:type='page-list']/x:ol/x:li/x:a/text()", namespaces=NS)
    printed = pdf.reader.page_labels
    assert listed == printed[printed.index("1"):]
    assert epub.meta("pageBreakSource") and "printPageNumbers" in epub.meta("schema:accessibilityFeature")


# --- PDF ----------------------------------------------------------------------------------------------


def test_pdf_page_order_notice_on_a_right_hand_page_before_chapter_one(built: Built, pdf: Pdf) -> None:
    pages = {title: page for level, title, page in pdf.bookmarks if level == 1}
    first = pages[built.chapters[0]]
    # The essay's opening has no heading of its own, and prints none (not the book's title again).
    assert (built.chapters[0] in pdf.text(first)) == (built.name != "sample")
    if built.spoiler:
        notice = pages[built.spoiler]
        assert notice < first and notice % 2 == 0, f"notice on physical page {notice + 1}"
        assert pdf.text(notice).startswith(built.spoiler)
        assert all(built.spoiler not in pdf.text(p) for p in range(notice))  # nothing gives it away earlier
    else:
        assert not any("Spoiler" in title for _, title, _ in pdf.bookmarks)


def test_pdf_bookmarks_every_chapter(built: Built, pdf: Pdf) -> None:
    titles = [title for level, title, _ in pdf.bookmarks if level == 1]
    assert [t for t in titles if t in set(built.chapters)] == list(built.chapters)
    pages = [page for level, title, page in pdf.bookmarks if level == 1 and title in set(built.chapters)]
    assert pages == sorted(pages)
    if built.name != "sample":  # the essay's sections run on, two to a page at times
        assert len(set(pages)) == len(pages)


def test_pdf_fonts_are_embedded_and_only_the_shipped_typeface(built: Built) -> None:
    fonts = pdf_fonts(built.pdf)
    assert fonts
    assert [f.name for f in fonts if not f.embedded] == []
    assert [f.name for f in fonts if not f.name.split("+", 1)[-1].startswith(TYPEFACE_PREFIX)] == []
    assert all(f.unicode for f in fonts)  # text can be searched and read aloud


def test_pdf_metadata_and_tags(built: Built, epub: Epub, pdf: Pdf) -> None:
    info = pdf_info(built.pdf)
    assert info["Title"] == epub.opf_xpath("//dc:title[@id='title']/text()")[0]
    assert info["Tagged"] == "yes"
    assert info["Page size"].startswith("432 x 648 pts")
    lang = pdf.reader.trailer["/Root"]["/Lang"]
    assert lang == epub.opf_xpath("//dc:language/text()")[0]


def test_qpdf_finds_the_pdf_sound(built: Built) -> None:
    qpdf = shutil.which("qpdf")
    assert qpdf, "qpdf is not installed: run make test"
    proc = subprocess.run([qpdf, "--check", str(built.pdf)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


# --- web edition -----------------------------------------------------------------------------------------


def test_the_web_edition_opens_with_the_notice(built: Built) -> None:
    index = built.html / "index.html"
    assert index.is_file() and (built.html / "styles" / "fonts" / "OFL.txt").is_file()
    root = lxml.html.parse(str(index)).getroot()
    chapters = root.xpath("//main//section[contains(concat(' ', @class, ' '), ' chapter ')]")
    assert len(chapters) == len(built.chapters)
    elements = list(root.iter())
    if built.spoiler:
        notice = root.get_element_by_id("spoiler-notice")
        assert notice.get("role") == "doc-notice" and elements.index(notice) < elements.index(chapters[0])
        assert root.xpath("//a[contains(@class, 'skip-link')]/@href") == ["#spoiler-notice"]
    else:
        assert not root.xpath("//*[@role='doc-notice']")
    for ref in root.xpath("//link/@href | //img/@src"):
        assert (built.html / ref).is_file(), ref

