"""Property-based tests: whatever an author writes, the build does not crash and the XHTML is well-formed.

Random chapters mix Markdown syntax, raw HTML fragments (hostile, misnested, invalid) and any Unicode
text, control characters and noncharacters included. A build may refuse a book (an image that is
missing, say), but only with diagnostics, never with another exception.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from bookfolder import PNG, TINY_COVER, write_book
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree
from validators import run_epubcheck

from publish.diagnostics import BuildFailed
from publish.epub import render_epub
from publish.html import render_html
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import parse_book

RAW_HTML = st.sampled_from([
    "<script>alert(1)</script>", '<span onclick="steal()" onmouseover=x>hover</span>',
    '<iframe src="https://example.com/"></iframe>', "<form action=/x><input name=a><button>Go</button></form>",
    "<style>body { display: none }</style>", '<p style="display:none">hidden</p>', "<p hidden>secret</p>",
    "<b><i>misnested</b></i>", "<div><p>unclosed", "</div></span></p>", "<table><tr><td>cell</table>",
    '<a href="javascript:alert(1)">js</a>', '<img src="data:image/png;base64,AAAA" alt="x">', "<img>",
    "<!-- a comment -- with dashes -->", "&#1;&#0;&#xFFFE;&#x80;&bogus; &amp; &nbsp;", "<svg><circle r='1'/></svg>",
    "<math><mi>x</mi></math>", '<p dir="sideways" lang="!!">odd attributes</p>', '<span id="1 bad:id">id</span>',
    '<span id="dup">a</span><span id="dup">b</span>', '<ol start="-3"><li>x</li></ol>', "<td>stray cell</td>",
    "<details><summary>s</summary>d</details>", "<br><hr><wbr>",
    "<![CDATA[ x ]]>", "<?php echo 1 ?>", "<x-custom>custom</x-custom>", '<a href="https://example.com/">web</a>',
    '<object data="x.swf"><embed src="y.swf"></object>', "<link rel=stylesheet href=evil.css><meta charset=x>",
    '<p role="nonsense" title="t">roles</p>', '<video src="v.mp4" controls></video>', "<textarea>typed</textarea>",
    # Content models an HTML parser keeps but XHTML refuses (EPUBCheck's RSC-005), each repaired.
    '<figure><img src="images/pixel.png" alt="p"><figcaption>C</figcaption><br></figure>',
    '<figure><figcaption>one</figcaption><img src="images/pixel.png" alt="p"><figcaption>two</figcaption></figure>',
    "<span><div>a block in an inline</div></span>", "<em><blockquote>quoted</blockquote></em>",
    '<a href="https://example.com/">outer <span><a href="https://example.org/">inner</a></span></a>',
    "<li>a stray item</li>", "<tr><td>a stray row</td></tr>", "<ul>text in a list<li>item</li></ul>",
    "<dl><p>not a term</p><dd>d</dd></dl>", "<table><caption>c</caption><tr><td>x</td></tr><caption>again</caption></table>",
    "<h2><p>a paragraph in a heading</p></h2>", "<figcaption>a stray caption</figcaption>", "<dt>a stray term</dt>",
    '<a name="anchor-name">named</a>', '<a name="1 bad name">badly named</a>', "<caption>a stray caption</caption>",
])
MARKDOWN = st.sampled_from([
    "# ", "## ", "### ", "\n", "\n\n", "* ", "1. ", "> ", "```\n", "`", "*", "**", "_", "[^1]", "\n\n[^1]: a note\n\n",
    "| a | b |\n|---|---|\n| c | d |\n", " {#custom-id}", "\n{: .cls}\n", "\n---\n", "<", ">", "&", "\t",
    "\n    indented code\n", "Term\n: definition\n", "--", "...", '"', "'", "![](images/pixel.png)",
    "![a pixel](images/pixel.png)", "[the first chapter](01-chapter.md)", "[web](https://example.com/a?b=c&d)",
])
# Links that may point nowhere: a book that has one is refused, with diagnostics.
LINKS = st.sampled_from(["[to the top](#top)", "[next](02-chapter.md)", "[to a heading](#custom-id)",
                         "[outside](../x.md)", "![missing](images/none.png)",
                         "<sup><a href='#nowhere'>1</a></sup>"])
ODD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
SCRIPTS = st.sampled_from(["مرحبا", "שלום", "中文", "日本語", "한국어", "Ελληνικά", "Кириллица", "e\u0301", "👍🏽", "\u200f",
                           "\u202e", "\ufeff", "\u00ad", "\ufdd0", "\U0010ffff", "\x85", "\x0c"])
CHAPTER = st.lists(st.one_of(RAW_HTML, MARKDOWN, ODD_TEXT, SCRIPTS, LINKS), max_size=30).map("".join)
BOOK = st.lists(CHAPTER, min_size=1, max_size=3)
# For EPUBCheck: books that build, and long enough to hold something of everything.
# Each opens with a line of prose: a book of nothing but removed HTML is refused, rightly ('no-text').
FULL_CHAPTER = st.lists(st.one_of(RAW_HTML, MARKDOWN, ODD_TEXT, SCRIPTS), min_size=20, max_size=40).map(
    lambda parts: "The band plays on.\n\n" + "".join(parts))
FULL_BOOK = st.lists(FULL_CHAPTER, min_size=2, max_size=3)


def _build(folder: Path, chapters: list[str]) -> Book | None:
    write_book(folder, chapters={f"{n:02d}-chapter.md": text for n, text in enumerate(chapters, start=1)},
               files={"images/pixel.png": PNG})
    try:
        return parse_book(load_manuscript(folder))
    except BuildFailed as failure:
        assert failure.diagnostics and all(d.file is not None for d in failure.diagnostics)
        return None


def _xml_documents(epub: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.endswith((".xhtml", ".opf", ".ncx", ".xml"))}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BOOK)
def test_random_books_never_crash_and_give_well_formed_xhtml(chapters: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        book = _build(Path(folder) / "book", chapters)
        if book is None:
            return
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        for chapter in book.chapters:
            etree.fromstring(f"<div>{chapter.html}</div>".encode(), parser)
            for note in chapter.notes:
                etree.fromstring(f"<div>{note.html}</div>".encode(), parser)
        epub = render_epub(book, cover=TINY_COVER)
        documents = _xml_documents(epub)
        for name, data in documents.items():
            etree.fromstring(data, parser)  # raises on anything not well-formed
            if name.endswith(".xhtml"):
                assert b"<script" not in data and b" onclick" not in data and b"<iframe" not in data
                assert b"<style" not in data and b" style=" not in data
        assert b"scripted" not in documents["EPUB/content.opf"]
        page = render_html(book)["index.html"]
        assert b"alert(" not in page and b"onclick" not in page and b"display: none" not in page


@pytest.mark.e2e
# No shrinking: each example costs an EPUBCheck run; a failure is reported as generated.
@settings(max_examples=4, deadline=None, database=None, phases=(Phase.generate,),
          suppress_health_check=[HealthCheck.too_slow])
@given(FULL_BOOK)
def test_sampled_random_books_pass_epubcheck(chapters: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        book = _build(Path(folder) / "book", chapters)
        assert book is not None, "a book with no broken links must build"
        path = Path(folder) / "book.epub"
        path.write_bytes(render_epub(book, cover=TINY_COVER))
        report = run_epubcheck(path)
        assert report.ok, report.summary()
