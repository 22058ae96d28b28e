"""The print edition's page numbers in the EPUB: a page-list, page-break markers where the PDF's
pages begin, and pageBreakSource. Checked against the PDF itself: the text right after the EPUB's
`page-N` marker is the first text on the PDF page labelled N."""

from __future__ import annotations

import zipfile

import pytest
from lxml import etree
from printed import PrintedPdf, built, normalise, printed
from validators import run_ace, run_epubcheck

pytestmark = pytest.mark.e2e

NS = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
      "opf": "http://www.idpf.org/2007/opf"}
COMPARED = 24  # letters and digits compared at each page start
BOOKS = ("sample", "features", "pride", "roles")


class Epub:
    def __init__(self, path) -> None:  # noqa: ANN001
        with zipfile.ZipFile(path) as z:
            self.files = {name: z.read(name) for name in z.namelist()}

    def xml(self, name: str) -> etree._Element:
        return etree.fromstring(self.files[f"EPUB/{name}"])

    def page_list(self) -> list[tuple[str, str]]:
        """(label, href) for each entry of the nav's page-list."""
        nav = self.xml("nav.xhtml")
        (page_list,) = nav.xpath("//x:nav[@epub:type='page-list']", namespaces=NS)
        return [(a.text, a.get("href")) for a in page_list.xpath(".//x:a", namespaces=NS)]

    def text_after(self, href: str) -> str:
        """The chapter's text from the element `href` names to the end, normalised."""
        name, anchor = href.split("#")
        document = self.xml(name)
        (marker,) = document.xpath(f"//*[@id='{anchor}']")
        found, text = False, []
        for event, element in etree.iterwalk(document, events=("start", "end")):
            if element is marker and event == "start":
                found = True
            if found and event == "end" and element.tail and element is not document:
                text.append(element.tail)
            if found and event == "start" and element.text and element is not marker:
                text.append(element.text)
            if found and sum(len(t) for t in text) > 400:
                break
        return normalise(" ".join(text))


@pytest.fixture(scope="module", params=BOOKS)
def pair(request: pytest.FixtureRequest) -> tuple[Epub, PrintedPdf]:
    return Epub(built(request.param).epub), printed(request.param)


def test_the_page_list_names_every_page_of_the_text(pair: tuple[Epub, PrintedPdf]) -> None:
    epub, pdf = pair
    entries = epub.page_list()
    arabic = [label for label in pdf.labels if label.isdigit()]
    assert [label for label, _ in entries] == arabic
    for label, href in entries:
        name, anchor = href.split("#")
        assert anchor == f"page-{label}"
        (marker,) = epub.xml(name).xpath(f"//*[@id='{anchor}']")
        assert marker.get(f"{{{NS['epub']}}}type") == "pagebreak"
        assert marker.get("role") == "doc-pagebreak"
        assert marker.get("aria-label") == label
        assert not (marker.text or "").strip() and not len(marker)


def test_page_break_source_names_the_print_edition(pair: tuple[Epub, PrintedPdf]) -> None:
    epub, pdf = pair
    opf = epub.xml("content.opf")
    (source,) = opf.xpath("//opf:meta[@property='pageBreakSource']/text()", namespaces=NS)
    assert pdf.book.config.title in source and "print" in source
    features = opf.xpath("//opf:meta[@property='schema:accessibilityFeature']/text()", namespaces=NS)
    assert "printPageNumbers" in features


def test_each_page_marker_is_where_the_pdf_page_begins(pair: tuple[Epub, PrintedPdf]) -> None:
    epub, pdf = pair
    entries = dict(epub.page_list())
    first = pdf.labels.index("1")  # the text's first page: the front matter has no page markers
    step = 1 if len(pdf) < 60 else 7  # a sample of a novel's pages; all of a short book's
    checked = 0
    for index in range(first, len(pdf), step):
        page = pdf.page(index)
        label = pdf.labels[index]
        after = epub.text_after(entries[label])
        if page.blank:
            # A blank verso before a chapter: its marker stands where the next page begins.
            assert after == epub.text_after(entries[pdf.labels[index + 1]]), f"page {label}"
            continue
        previous = pdf.page(index - 1)
        lines = [line.text for line in page.text]
        if lines[0] in {line.text for line in previous.text}:
            lines = lines[1:]  # a table's header, repeated by the print edition only
        printed_start = normalise(" ".join(lines))[:COMPARED]
        if previous.text and previous.text[-1].text.endswith(("-", "\u2010", "\u00ad")):
            # The page begins inside a hyphenated word; the EPUB marks the start of that word.
            printed_start = normalise(previous.text[-1].text.split()[-1]) + printed_start
        assert after[:len(printed_start)] == printed_start, f"page {label}: EPUB {after[:40]!r}, PDF {printed_start!r}"
        checked += 1
    assert checked >= min(5, len(pdf) - first)  # the essay, run on, has 3 pages of text


@pytest.mark.parametrize("name", ["features", "pride"])
def test_books_with_page_lists_pass_epubcheck_and_ace(name: str) -> None:
    path = built(name).epub
    report = run_epubcheck(path)
    assert report.ok, report.summary()
    ace = run_ace(path)
    assert ace.violations == (), ace.summary()
