"""The print edition's pages, carried into the EPUB: where each printed page begins in the text.

The positions come from WeasyPrint's own layout of the print edition, not from an estimate. Each
top-level block of a chapter is tagged (`data-pb`) in the print HTML; after layout, the first
line of text on every page names its block and how far into that block it starts. That offset is
counted in letters and digits only, so line-end hyphens, collapsed spaces and typographic
differences between the editions cannot shift it; the EPUB marker then goes at the start of the
word holding that letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import lxml.html
from lxml import etree

from .model import Chapter
from .sanitize import keep_open

TITLE = "title"  # the block key of a chapter's heading: the page starts with the chapter
PART = "part"  # the block key of the title page of the part a chapter opens (publish.roles)


@dataclass(frozen=True, slots=True)
class PageStart:
    label: str  # the printed folio, e.g. "42"
    chapter_id: str
    block: str  # index of the chapter's top-level block, or TITLE
    offset: int  # letters and digits of the block before the page begins


@dataclass(frozen=True, slots=True)
class PageMap:
    source: str  # names the print edition, for the EPUB's pageBreakSource
    first_text_page: int  # 0-based index of the PDF page where the text (arabic 1) begins
    starts: tuple[PageStart, ...]

    def for_chapter(self, chapter_id: str) -> tuple[PageStart, ...]:
        return tuple(s for s in self.starts if s.chapter_id == chapter_id)


def _fragment(html: str) -> etree._Element:
    return lxml.html.fragment_fromstring(html, create_parent="div")


# Empty by definition, so the only elements written <br/>: an HTML parser (the print edition's)
# reads <a id="x"/> as an anchor that swallows the rest of the chapter.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _serialise(container: etree._Element) -> str:
    keep_open(container)
    text = (container.text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text + "".join(etree.tostring(child, encoding="unicode", method="xml", with_tail=True) for child in container)


def tag_blocks(chapter: Chapter) -> str:
    """The chapter's HTML with each top-level block tagged for `page_map` (print edition only)."""
    container = _fragment(chapter.html)
    for n, block in enumerate(container):
        block.set("data-pb", f"{chapter.id} {n}")
    return _serialise(container)


def _alnum(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _text_boxes(box, key: str | None = None, header: bool = False) -> Iterator[tuple[str | None, str, bool]]:  # noqa: ANN001
    """(block key, text, in a table header) for every line fragment of the page's flow, in reading order."""
    name = type(box).__name__
    if name in {"MarginBox", "FootnoteAreaBox"}:
        return
    header = header or bool(getattr(box, "is_header", False))
    element = getattr(box, "element", None)
    if element is not None and hasattr(element, "get"):
        if element.get("data-pb"):
            key = element.get("data-pb")
        elif "chapter-title" in (element.get("class") or "") and element.get("id", "").endswith("-title"):
            key = f"{element.get('id')[: -len('-title')]} {TITLE}"
    text = getattr(box, "text", None)
    if text is not None:
        yield key, text, header
    for child in getattr(box, "children", ()):
        yield from _text_boxes(child, key, header)


def page_starts(document, *, front: frozenset[str] = frozenset()) -> tuple[PageStart | None, ...]:  # noqa: ANN001 - a laid-out weasyprint.Document
    """Where each page of a laid-out document begins: the block and offset of its first line of
    text (the label left empty: `numbered` gives it), None for a page with no text of the book's
    own (front matter, the chapters in `front`; a blank page). A run of chapters laid out on its
    own gives its pages' starts, as no block crosses from one run into the next."""
    flows = [list(_text_boxes(page._page_box)) for page in document.pages]
    if front:
        flows = [[(None if key is None or key.rsplit(" ", 1)[0] in front else key, text, header)
                  for key, text, header in flow] for flow in flows]
    seen: dict[str, int] = {}
    starts: list[PageStart | None] = []
    for flow in flows:
        start = None
        earlier = set(seen)  # blocks begun on an earlier page
        for key, text, header in flow:
            if key is None or (header and key in earlier):
                continue  # a table's header repeated on a later page is not in the text again
            if start is None:
                chapter_id, block = key.rsplit(" ", 1)
                start = PageStart("", chapter_id, block, 0 if block in {TITLE, PART} else seen.get(key, 0))
            seen[key] = seen.get(key, 0) + _alnum(text)
        starts.append(start)
    return tuple(starts)


def numbered(starts: tuple[PageStart | None, ...], *, source: str) -> PageMap:
    """The page map of a whole book from its pages' starts (`page_starts`): the pages before the
    first that starts in the text are front matter (numbered in roman, not listed); the text's
    are numbered from 1, as the print stylesheet numbers them."""
    first = next((n for n, start in enumerate(starts) if start is not None), len(starts))
    text = starts[first:]
    # A blank page (left before a chapter that opens on the right) is found where the next page begins.
    resolved: list[PageStart] = []
    following: PageStart | None = None
    for number in range(len(text), 0, -1):
        start = text[number - 1]
        if start is not None:
            following = start
        if following is not None:
            resolved.append(PageStart(str(number), following.chapter_id, following.block, following.offset))
    return PageMap(source, first, tuple(reversed(resolved)))


def page_map(document, *, source: str, front: frozenset[str] = frozenset()) -> PageMap:  # noqa: ANN001 - a laid-out weasyprint.Document
    """Read where each page of the text starts from the laid-out print edition.

    Pages before the first chapter of the text are front matter (numbered in roman, not listed),
    the chapters in `front` (their ids) among them; the text's pages are numbered from 1, as the
    print stylesheet numbers them.
    """
    return numbered(page_starts(document, front=front), source=source)


def _text_slots(element: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """Each piece of text inside `element` as (node, "text" | "tail"), in reading order."""
    yield element, "text"
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != "math":  # a formula is drawn, not set, in print: no letters to count, no marker inside
            yield from _text_slots(child)
        yield child, "tail"


def _marker(label: str) -> etree._Element:
    return etree.Element("span", {"id": f"page-{label}", "class": "pagebreak", "role": "doc-pagebreak",
                                  "aria-label": label})


# Blocks that may hold a <span> as their first child; a list or a table may not.
_HOLDS_PHRASING = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "div", "figure", "section", "aside",
                   "pre", "figcaption", "address", "details"}


def _insert(block: etree._Element, offset: int, marker: etree._Element) -> None:
    if offset == 0 and block.tag in _HOLDS_PHRASING:
        # The page begins with the block: mark it before any opening quotation mark, too.
        marker.tail, block.text = block.text, None
        block.insert(0, marker)
        return
    count = 0
    for node, slot in _text_slots(block):
        if slot == "tail" and node is block:
            continue
        text = (node.text if slot == "text" else node.tail) or ""
        for index, char in enumerate(text):
            if not char.isalnum():
                continue
            if count == offset:
                while index > 0 and text[index - 1].isalnum():
                    index -= 1  # to the start of the word the page begins in
                before, after = text[:index], text[index:]
                if slot == "text":
                    node.text = before
                    node.insert(0, marker)
                else:
                    node.tail = before
                    node.addnext(marker)
                marker.tail = after
                return
            count += 1
    # No letter to hold on to (a scene break, an image): the page begins just before the block.
    block.addprevious(marker)


def mark_pages(chapter: Chapter, starts: tuple[PageStart, ...]) -> str:
    """The chapter's HTML with a page-break marker where each of `starts` begins (title starts excepted)."""
    inside = [s for s in starts if s.block not in {TITLE, PART}]
    if not inside:
        return chapter.html
    container = _fragment(chapter.html)
    blocks = list(container)
    for start in inside:
        index = int(start.block)
        if index < len(blocks):
            _insert(blocks[index], start.offset, _marker(start.label))
    return _serialise(container)
