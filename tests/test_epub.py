"""The EPUB edition, read back with zipfile and lxml and checked with XPath on the OPF, nav and NCX."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
from conftest import (
    EPOCH_ISO,
    NS,
    REPO,
    XML_LANG,
    Epub,
    MakeBook,
    parse,
    png,
)

from publish.epub import Cover, render_epub
from publish.model import Book

FONTS = REPO / "styles" / "fonts"

CHAPTERS = {
    "01-opening.md": "An opening without a heading.[^1]\n\n[^1]: A note in the opening.\n",
    "02-method.md": "# The Method\n\n## Tempo\n\nRushing or dragging.[^t]\n\n![A drum kit](images/kit.png)\n\n"
                    "[^t]: Not quite my tempo.\n",
    "03-coda.md": "# Coda\n\nBack to [the tempo](02-method.md#tempo) and [the opening](01-opening.md).\n",
}
SPOILED = """
    title: "Whiplash: A Test"
    subtitle: Lessons in Testing
    author: [Ann Example, Bo Other]
    lang: en-GB
    spoiler:
      heading: Spoiler Alert
      text: This book reveals the ending.
"""


@pytest.fixture(scope="module")
def spoiled_book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    root = tmp_path_factory.mktemp("epub") / "book"
    root.mkdir()
    (root / "book.yaml").write_text(re.sub(r"(?m)^    ", "", SPOILED).lstrip(), encoding="utf-8")
    for name, text in CHAPTERS.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "images").mkdir()
    (root / "images" / "kit.png").write_bytes(png())
    return parse(root)


@pytest.fixture(scope="module")
def spoiled(spoiled_book: Book, small_cover: Cover) -> Epub:
    return Epub(render_epub(spoiled_book, cover=small_cover))


@pytest.fixture
def plain(make_book: MakeBook, small_cover: Cover) -> Epub:
    """A book without a spoiler key (and without images)."""
    book = parse(make_book({"01-a.md": "# A\n\nText.\n", "02-b.md": "# B\n\nMore.\n"}, config="title: Plain\nlang: fr\n"))
    return Epub(render_epub(book, cover=small_cover))


# --- the container ----------------------------------------------------------------------------------


def test_mimetype_is_the_first_entry_and_stored(spoiled: Epub) -> None:
    first = spoiled.zip.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and not first.extra
    assert spoiled.zip.read(first) == b"application/epub+zip"
    assert spoiled.data[30:38] == b"mimetype"  # readers sniff these bytes
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in spoiled.zip.infolist()[1:])


def test_zip_entries_carry_the_source_date(spoiled: Epub) -> None:
    assert {i.date_time for i in spoiled.zip.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_the_same_book_gives_the_same_bytes(spoiled_book: Book, small_cover: Cover, spoiled: Epub) -> None:
    assert render_epub(spoiled_book, cover=small_cover) == spoiled.data


def test_manifest_and_zip_agree(spoiled: Epub) -> None:
    manifest = {spoiled.path(h) for h in spoiled.opf_xpath("//opf:manifest/opf:item/@href")}
    files = {n for n in spoiled.zip.namelist() if n != "mimetype" and not n.startswith("META-INF/")}
    assert manifest == files - {spoiled.opf_path}
    ids = spoiled.opf_xpath("//opf:manifest/opf:item/@id")
    assert len(ids) == len(set(ids))


# --- reading order, contents, landmarks -------------------------------------------------------------


def test_spine_opens_with_cover_title_page_then_the_notice(spoiled: Epub) -> None:
    assert spoiled.spine == ["cover.xhtml", "titlepage.xhtml", "notice.xhtml", "contents.xhtml", "chapter-001.xhtml",
                             "chapter-002.xhtml", "chapter-003.xhtml", "copyright.xhtml"]
    assert spoiled.opf_xpath("//opf:spine/opf:itemref[@linear='no']") == []


def test_the_navigation_document_is_not_a_page_of_the_book(spoiled: Epub) -> None:
    """Engines that honour less of EPUB 3 show every spine document, `hidden` navs included: the
    reader's contents is a plain page, the navigation document stays out of the reading order."""
    assert spoiled.opf_xpath("//opf:item[@properties='nav']/@href") == ["nav.xhtml"]
    assert "nav.xhtml" not in spoiled.spine
    page = spoiled.doc("contents.xhtml")
    assert page.xpath("//x:nav", namespaces=NS)[0].get("role") == "doc-toc"
    assert page.xpath("//x:nav//x:a/@href", namespaces=NS) == \
        spoiled.nav.xpath("//x:nav[@epub:type='toc']//x:a/@href", namespaces=NS)
    assert not page.xpath("//*[@epub:type='landmarks' or @epub:type='page-list']", namespaces=NS)


def test_the_notice_is_marked_as_a_notice(spoiled: Epub) -> None:
    notice = spoiled.doc("notice.xhtml")
    [section] = notice.xpath("//x:section[@epub:type='notice']", namespaces=NS)
    assert section.get("role") == "doc-notice"
    assert section.xpath("x:h2/text()", namespaces=NS) == ["Spoiler Alert"]
    assert section.xpath("x:p/text()", namespaces=NS) == ["This book reveals the ending."]
    assert section.get("aria-labelledby") == section.xpath("x:h2/@id", namespaces=NS)[0]
    assert notice.xpath("/x:html/x:head/x:title/text()", namespaces=NS) == ["Spoiler Alert"]


def test_the_notice_opens_the_contents(spoiled: Epub) -> None:
    toc = spoiled.nav.xpath("//x:nav[@epub:type='toc']/x:ol/x:li/x:a", namespaces=NS)
    assert [(a.get("href"), a.text) for a in toc] == [
        ("notice.xhtml", "Spoiler Alert"), ("chapter-001.xhtml", "Whiplash: A Test"),
        ("chapter-002.xhtml", "The Method"), ("chapter-003.xhtml", "Coda"), ("copyright.xhtml", "Copyright")]
    [nav] = spoiled.nav.xpath("//x:nav[@epub:type='toc']", namespaces=NS)
    assert nav.get("role") == "doc-toc" and spoiled.nav.xpath(f"//*[@id='{nav.get('aria-labelledby')}']",
                                                                 namespaces=NS)


def test_start_reading_lands_on_the_notice(spoiled: Epub) -> None:
    assert spoiled.landmark("bodymatter") == ["notice.xhtml"]
    assert spoiled.guide("text") == ["notice.xhtml"]
    assert spoiled.doc("notice.xhtml").xpath("/x:html/x:body/@epub:type", namespaces=NS) == ["bodymatter"]


def test_landmarks_are_hidden_and_complete(spoiled: Epub) -> None:
    [landmarks] = spoiled.nav.xpath("//x:nav[@epub:type='landmarks']", namespaces=NS)
    assert landmarks.get("hidden") is not None
    assert [(a.get("{%s}type" % NS["epub"]), a.get("href")) for a in landmarks.iter("{%s}a" % NS["x"])] == [
        ("cover", "cover.xhtml"), ("titlepage", "titlepage.xhtml"), ("toc", "contents.xhtml"),
        ("bodymatter", "notice.xhtml"), ("copyright-page", "copyright.xhtml")]
    assert [(r.get("type"), r.get("href")) for r in spoiled.opf_xpath("//opf:guide/opf:reference")] == [
        ("cover", "cover.xhtml"), ("title-page", "titlepage.xhtml"), ("toc", "contents.xhtml"),
        ("text", "notice.xhtml")]


def test_the_ncx_mirrors_the_contents(spoiled: Epub) -> None:
    [ncx_href] = spoiled.opf_xpath("//opf:manifest/opf:item[@media-type='application/x-dtbncx+xml']/@href")
    assert spoiled.opf_xpath("//opf:spine/@toc") == spoiled.opf_xpath(
        "//opf:manifest/opf:item[@media-type='application/x-dtbncx+xml']/@id")
    ncx = spoiled.doc(ncx_href)
    assert ncx.xpath("//ncx:navMap/ncx:navPoint/ncx:content/@src", namespaces=NS) == \
        spoiled.nav.xpath("//x:nav[@epub:type='toc']/x:ol/x:li/x:a/@href", namespaces=NS)
    assert ncx.xpath("//ncx:navMap/ncx:navPoint[1]/ncx:navLabel/ncx:text/text()", namespaces=NS) == ["Spoiler Alert"]
    assert ncx.xpath("//ncx:meta[@name='dtb:uid']/@content", namespaces=NS) == spoiled.opf_xpath("//dc:identifier/text()")
    assert ncx.xpath("//ncx:docTitle/ncx:text/text()", namespaces=NS) == ["Whiplash: A Test"]


def test_no_notice_page_without_a_spoiler_key(plain: Epub) -> None:
    assert "EPUB/notice.xhtml" not in plain.zip.namelist()
    assert "notice.xhtml" not in plain.spine and not plain.opf_xpath("//opf:item[@href='notice.xhtml']")
    assert plain.spine[:3] == ["cover.xhtml", "titlepage.xhtml", "contents.xhtml"]
    assert plain.landmark("bodymatter") == ["chapter-001.xhtml"] and plain.guide("text") == ["chapter-001.xhtml"]
    assert plain.doc("chapter-001.xhtml").xpath("/x:html/x:body/@epub:type", namespaces=NS) == ["bodymatter"]
    assert plain.doc("chapter-002.xhtml").xpath("/x:html/x:body/@epub:type", namespaces=NS) == []
    assert b"doc-notice" not in b"".join(plain.zip.read(n) for n in plain.zip.namelist() if n.endswith(".xhtml"))
    assert "spoiler" not in " ".join(plain.meta("schema:accessibilitySummary")).lower()


# --- metadata -------------------------------------------------------------------------------------


def test_package_language(spoiled: Epub, plain: Epub) -> None:
    assert spoiled.opf.get(XML_LANG) == "en-GB" and spoiled.opf_xpath("//dc:language/text()") == ["en-GB"]
    assert plain.opf.get(XML_LANG) == "fr" and plain.opf_xpath("//dc:language/text()") == ["fr"]
    for href in spoiled.xhtml():
        root = spoiled.doc(href)
        assert (root.get("lang"), root.get(XML_LANG)) == ("en-GB", "en-GB"), href


def test_modified_comes_from_source_date_epoch(spoiled: Epub) -> None:
    assert spoiled.meta("dcterms:modified") == [EPOCH_ISO]


def test_identifier_titles_and_creators(spoiled: Epub, spoiled_book: Book) -> None:
    unique = spoiled.opf.get("unique-identifier")
    assert spoiled.opf_xpath(f"//dc:identifier[@id='{unique}']/text()") == [spoiled_book.identifier]
    assert spoiled.opf_xpath("//dc:title/text()") == ["Whiplash: A Test", "Lessons in Testing"]
    assert spoiled.opf_xpath("//opf:meta[@refines='#subtitle'][@property='title-type']/text()") == ["subtitle"]
    creators = spoiled.opf_xpath("//dc:creator")
    assert [c.text for c in creators] == ["Ann Example", "Bo Other"]
    for creator in creators:
        assert spoiled.opf_xpath(f"//opf:meta[@refines='#{creator.get('id')}'][@property='role']/text()") == ["aut"]


def test_accessibility_metadata(spoiled: Epub, plain: Epub) -> None:
    assert spoiled.meta("schema:accessMode") == ["textual", "visual"]
    assert plain.meta("schema:accessMode") == ["textual"]
    for epub in (spoiled, plain):
        assert epub.meta("schema:accessModeSufficient") == ["textual"]
        assert {"tableOfContents", "readingOrder", "structuralNavigation"} <= set(epub.meta("schema:accessibilityFeature"))
        assert epub.meta("schema:accessibilityHazard") == ["none"]
        assert epub.meta("dcterms:conformsTo") == ["EPUB Accessibility 1.1 - WCAG 2.2 Level AA"]
        [summary] = epub.meta("schema:accessibilitySummary")
        assert len(summary) > 100
    assert "alternativeText" in spoiled.meta("schema:accessibilityFeature")
    assert "alternativeText" not in plain.meta("schema:accessibilityFeature")
    assert "spoiler notice" in spoiled.meta("schema:accessibilitySummary")[0]


def test_apple_display_options_let_embedded_fonts_be_used(spoiled: Epub) -> None:
    options = spoiled.xml("META-INF/com.apple.ibooks.display-options.xml")
    assert options.xpath("//platform/option[@name='specified-fonts']/text()") == ["true"]


def test_fonts_are_the_subsets_the_text_is_set_in(spoiled: Epub) -> None:
    fonts = spoiled.opf_xpath("//opf:manifest/opf:item[@media-type='font/ttf']/@href")
    css_href = next(h for h in spoiled.opf_xpath("//opf:item[@media-type='text/css']/@href") if h.endswith("fonts.css"))
    css = spoiled.zip.read(spoiled.path(css_href)).decode()
    declared = {str(PurePosixPath(css_href).parent / url) for url in re.findall(r'url\("([^"]+)"\)', css)}
    assert declared == set(fonts)
    # Regular and italic (the titles' emphasis is italic); no bold text, so no bold face.
    faces = re.findall(r'font-style: (\w+); font-weight: (\d+)', css)
    assert sorted(faces) == [("italic", "400"), ("normal", "400")]
    [family] = set(re.findall(r'@font-face \{ font-family: "([^"]+)"', css))
    # book.css's font stack, restated with the subset's name (the fallbacks' names stay).
    assert "Gentium" not in css and re.search(rf'html, body \{{ font-family: "{family}", "JetBrains Mono", "Noto Naskh Arabic", ', css)
    for href in fonts:
        data = spoiled.zip.read(spoiled.path(href))
        name = PurePosixPath(href).name
        original = FONTS / ("GentiumBookPlus-Italic.ttf" if "Italic" in name else "GentiumBookPlus-Regular.ttf")
        assert len(data) < original.stat().st_size / 10
    for href in spoiled.xhtml():
        links = spoiled.doc(href).xpath("//x:link[@rel='stylesheet']/@href", namespaces=NS)
        assert links == ["styles/book.css", css_href, "styles/epub.css"], href


def test_cover_and_images(spoiled: Epub, small_cover: Cover) -> None:
    [cover] = spoiled.opf_xpath("//opf:item[contains(@properties, 'cover-image')]")
    assert (cover.get("href"), cover.get("media-type")) == ("images/cover.jpg", "image/jpeg")
    assert spoiled.zip.read(spoiled.path("images/cover.jpg")) == small_cover.data
    assert spoiled.opf_xpath("//opf:meta[@name='cover']/@content") == [cover.get("id")]
    assert spoiled.doc("cover.xhtml").xpath("//x:img/@src", namespaces=NS) == ["images/cover.jpg"]
    assert spoiled.opf_xpath("//opf:item[@href='images/kit.png']/@media-type") == ["image/png"]
    assert spoiled.doc("chapter-002.xhtml").xpath("//x:img/@alt", namespaces=NS) == ["A drum kit"]


# --- the documents ----------------------------------------------------------------------------------


def test_every_internal_link_reaches_its_target(spoiled: Epub) -> None:
    checked = 0
    for href in spoiled.xhtml():
        for link in spoiled.doc(href).xpath("//x:a/@href | //x:link/@href | //x:img/@src", namespaces=NS):
            parts = urlsplit(link)
            assert not parts.scheme, link
            target = str(PurePosixPath(href).parent / unquote(parts.path)) if parts.path else href
            assert spoiled.path(target) in spoiled.zip.namelist(), f"{href}: {link}"
            if parts.fragment:
                assert spoiled.doc(target).xpath(f"//*[@id='{parts.fragment}']"), f"{href}: {link}"
            checked += 1
    assert checked > 40


def test_cross_chapter_links_name_the_document(spoiled: Epub) -> None:
    links = spoiled.doc("chapter-003.xhtml").xpath("//x:section//x:p/x:a/@href", namespaces=NS)
    assert links == ["chapter-002.xhtml#tempo", "chapter-001.xhtml"]


def test_notes_are_footnotes_with_references_both_ways(spoiled: Epub) -> None:
    chapter = spoiled.doc("chapter-002.xhtml")
    [ref] = chapter.xpath("//x:a[@epub:type='noteref']", namespaces=NS)
    assert ref.get("role") == "doc-noteref" and ref.text == "1"
    [note] = chapter.xpath("//x:aside[@epub:type='footnote']", namespaces=NS)
    assert note.get("role") == "doc-footnote" and ref.get("href") == f"#{note.get('id')}"
    assert note.xpath(".//x:a[@role='doc-backlink']/@href", namespaces=NS) == [f"#{ref.get('id')}"]
    # Where no pop-up shows it, the note reads "1. Not quite my tempo.": its number, a link back, first.
    [paragraph] = note.xpath("x:p", namespaces=NS)
    assert " ".join("".join(paragraph.itertext()).split()) == "1. Not quite my tempo."
    assert paragraph[0].get("role") == "doc-backlink" and paragraph[0].text == "1"
    assert "notes-start" in note.get("class")


def test_chapters_are_sections_with_their_titles(spoiled: Epub) -> None:
    for n, title in enumerate(["Whiplash: A Test", "The Method", "Coda"], start=1):
        doc = spoiled.doc(f"chapter-{n:03d}.xhtml")
        [section] = doc.xpath("/x:html/x:body/x:section", namespaces=NS)
        assert section.get("{%s}type" % NS["epub"]) == "chapter" and section.get("role") == "doc-chapter"
        headings = section.xpath("x:h2", namespaces=NS)
        if n == 1:  # an untitled opening: no heading repeats the book's title; the section is named by it
            assert headings == [] and section.get("aria-label") == title
        else:
            assert "".join(headings[0].itertext()) == title
        assert doc.xpath("/x:html/x:head/x:title/text()", namespaces=NS) == [title]


def test_the_title_page_and_copyright_page(spoiled: Epub, spoiled_book: Book) -> None:
    title = spoiled.doc("titlepage.xhtml")
    assert title.xpath("//x:h1/text()", namespaces=NS) == ["Whiplash: A Test"]
    assert title.xpath("//*[@epub:type='subtitle']/text()", namespaces=NS) == ["Lessons in Testing"]
    assert title.xpath("//*[@class='book-author']/text()", namespaces=NS) == ["Ann Example, Bo Other"]
    text = "".join(spoiled.doc("copyright.xhtml").itertext())
    assert "Gentium Book Plus" in text
    assert spoiled_book.identifier not in text and "urn:" not in text  # the identifier is the metadata's


def test_text_from_book_yaml_is_escaped(make_book: MakeBook, small_cover: Cover) -> None:
    book = parse(make_book(config="title: '<b>Bold</b> & Co'\nspoiler: 'Ends <i>badly</i>'\n"))
    epub = Epub(render_epub(book, cover=small_cover))
    assert epub.doc("notice.xhtml").xpath("//x:section/x:p/text()", namespaces=NS) == ["Ends <i>badly</i>"]
    assert epub.opf_xpath("//dc:title/text()") == ["<b>Bold</b> & Co"]
    assert not epub.doc("titlepage.xhtml").xpath("//x:h1/x:b", namespaces=NS)


def test_a_right_to_left_book(make_book: MakeBook, small_cover: Cover) -> None:
    book = parse(make_book({"01-a.md": "# ألف\n\nنص.\n"}, config="title: كتاب\nlang: ar\n"))
    epub = Epub(render_epub(book, cover=small_cover))
    assert epub.opf.get("dir") == "rtl" and epub.opf_xpath("//opf:spine/@page-progression-direction") == ["rtl"]
    assert epub.doc("chapter-001.xhtml").get("dir") == "rtl"


def test_the_modified_date_falls_back_to_the_book_date(make_book: MakeBook, small_cover: Cover) -> None:
    from publish.manuscript import load_manuscript
    from publish.parse import parse_book

    book = parse_book(load_manuscript(make_book(config="title: T\ndate: 1999-12-31\n")))
    epub = Epub(render_epub(book, cover=small_cover))
    assert epub.meta("dcterms:modified") == ["1999-12-31T00:00:00Z"]
    assert {i.date_time for i in epub.zip.infolist()} == {(1999, 12, 31, 0, 0, 0)}
    assert book.modified == dt.datetime(1999, 12, 31, tzinfo=dt.timezone.utc)


def test_the_sample_opens_with_its_spoiler_notice(small_cover: Cover) -> None:
    epub = Epub(render_epub(parse(REPO / "manuscript"), cover=small_cover))
    assert epub.spine[2] == "notice.xhtml" and epub.landmark("bodymatter") == ["notice.xhtml"]
    assert epub.doc("notice.xhtml").xpath("//x:section[@role='doc-notice']/x:p/text()", namespaces=NS) == [
        "This article contains key plot details from Whiplash (2014)"]
    assert not epub.opf_xpath("//dc:creator")
    assert Path(epub.opf_path).name == "content.opf"
