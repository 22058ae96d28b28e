"""The web edition: one page that opens with the spoiler notice, with its styles, fonts and images beside it."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
from conftest import REPO, MakeBook, parse, png

from publish.html import render_html

CHAPTERS = {
    "01-opening.md": "An opening without a heading.\n",
    "02-method.md": "# The Method\n\nRushing.[^t] See [the coda](03-coda.md#end).\n\n![A dot](images/dot.png)\n\n"
                    "[^t]: Not quite my tempo.\n",
    "03-coda.md": "# Coda\n\n## End\n\nThe end.\n",
}
CONFIG = "title: A Web Test\nlang: en-GB\nspoiler:\n  heading: Spoiler Alert\n  text: It ends.\n"


def page(files: dict[str, bytes]) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(files["index.html"].decode())


@pytest.fixture
def files(make_book: MakeBook) -> dict[str, bytes]:
    return render_html(parse(make_book(CHAPTERS, config=CONFIG, files={"images/dot.png": png()})))


def position(root: lxml.html.HtmlElement, element: lxml.html.HtmlElement) -> int:
    return list(root.iter()).index(element)


def test_the_notice_comes_before_the_text(files: dict[str, bytes]) -> None:
    root = page(files)
    [notice] = root.xpath("//section[@role='doc-notice']")
    assert notice.get("id") == "spoiler-notice" and "notice" in notice.get("class", "").split()
    assert notice.xpath("h2/text()") == ["Spoiler Alert"] and notice.xpath("p[1]/text()") == ["It ends."]
    chapters = root.xpath("//main//section[contains(concat(' ', @class, ' '), ' chapter ')]")
    assert len(chapters) == 3
    assert position(root, notice) < position(root, chapters[0])
    assert notice.getparent().tag == "main"


def test_the_skip_link_leads_to_the_notice_and_the_notice_on_to_the_text(files: dict[str, bytes]) -> None:
    root = page(files)
    body = root.body
    skip = next(body.iterchildren())
    assert skip.tag == "a" and "skip-link" in skip.get("class", "")  # the first thing a keyboard reaches
    assert skip.get("href") == "#spoiler-notice" and root.get_element_by_id("spoiler-notice") is not None
    [cont] = root.xpath("//section[@id='spoiler-notice']//a")
    target = root.get_element_by_id(cont.get("href").removeprefix("#"))
    assert target is root.xpath("//main//section[contains(@class, 'chapter')]")[0]
    assert "Continue" in cont.text_content()


def test_without_a_spoiler_key_the_skip_link_goes_to_the_first_chapter(make_book: MakeBook) -> None:
    root = page(render_html(parse(make_book({"01-a.md": "# First\n\nText.\n"}))))
    assert not root.xpath("//*[@role='doc-notice']") and "Spoiler" not in root.text_content()
    skip = root.xpath("//a[contains(@class, 'skip-link')]")[0]
    assert skip.get("href") == "#first" and root.get_element_by_id("first").tag == "section"


def test_the_contents_list_the_notice_then_every_chapter_with_its_sections(files: dict[str, bytes]) -> None:
    root = page(files)
    top = root.xpath("//nav[@id='contents']//ol[not(ancestor::ol)]/li/a")
    assert [(a.get("href"), a.text_content()) for a in top] == [
        ("#spoiler-notice", "Spoiler Alert"), ("#a-web-test", "A Web Test"), ("#the-method", "The Method"),
        ("#coda", "Coda")]
    nested = root.xpath("//nav[@id='contents']//li[a[@href='#coda']]/ol/li/a")
    assert [(a.get("href"), a.text_content()) for a in nested] == [("#end", "End")]


def test_every_link_and_file_reference_resolves(files: dict[str, bytes]) -> None:
    root = page(files)
    ids = set(root.xpath("//@id"))
    references = root.xpath("//a/@href | //link/@href | //img/@src")
    for ref in references:
        parts = urlsplit(ref)
        assert not parts.scheme, ref
        if parts.path:
            assert unquote(parts.path) in files, ref
        else:
            assert parts.fragment in ids, ref
    assert "#end" in references  # the cross-chapter link became an in-page one
    assert len(ids) == len(root.xpath("//@id"))  # and every id is used once


def test_the_page_carries_its_styles_fonts_licence_and_images(files: dict[str, bytes]) -> None:
    css = files["styles/fonts.css"].decode()
    fonts = {str(PurePosixPath("styles") / url) for url in re.findall(r'url\("([^"]+)"\)', css)}
    assert {"index.html", "styles/fonts.css", "styles/book.css", "styles/web.css", "styles/web.js", "styles/fonts/OFL.txt",
            "images/dot.png", *fonts} == set(files)
    # The faces the page is set in (its headings' small capitals and emphasis: regular, italic;
    # the contents' bold), each a subset much smaller than the shipped file.
    assert 2 <= len(fonts) <= 4
    for name in fonts:
        assert len(files[name]) < (REPO / "styles" / "fonts" / "GentiumBookPlus-Regular.ttf").stat().st_size / 5
    head = root_links(files)
    assert head.index("styles/book.css") < head.index("styles/fonts.css")


def root_links(files: dict[str, bytes]) -> list[str]:
    return page(files).xpath("//head/link[@rel='stylesheet']/@href")


def test_page_language_title_and_no_epub_markup(files: dict[str, bytes]) -> None:
    root = page(files)
    assert root.get("lang") == "en-GB" and root.get("dir") == "ltr"
    assert root.findtext(".//title") == "A Web Test"
    assert "epub:" not in files["index.html"].decode()


def test_notes_sit_at_the_end_of_their_chapter_with_links_both_ways(files: dict[str, bytes]) -> None:
    root = page(files)
    [ref] = root.xpath("//a[@role='doc-noteref']")
    note = root.get_element_by_id(ref.get("href").removeprefix("#"))
    assert "Not quite my tempo." in note.text_content()
    assert note.xpath(".//a[@role='doc-backlink']/@href") == [f"#{ref.get('id')}"]
    assert note.xpath("ancestor::section[contains(@class, 'chapter')]/@id") == ["the-method"]


def test_the_sample_web_edition() -> None:
    files = render_html(parse(REPO / "manuscript"))
    root = page(files)
    notice = root.get_element_by_id("spoiler-notice")
    first = root.xpath("//main//section[contains(@class, 'chapter')]")[0]
    assert position(root, notice) < position(root, first)
    assert "This article contains key plot details from Whiplash (2014)" in notice.text_content()
    assert not root.xpath("//meta[@name='author']")  # the seed names no author: none is invented
