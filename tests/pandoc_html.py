"""What Pandoc makes of a piece of Markdown, and ours, reduced to what they mean.

Both are parsed into a tree of (element, attributes, text); what only says how the HTML was
written is left out: whitespace between and inside elements, Pandoc's `type="1"` (every list's
default), `data-` attributes (which a book drops), the ids and levels of headings (chapters start
a level down here, and ids are issue 10's), and the markup of notes (compared separately).
Tests assert `ours(x) == pandoc(x)` per construct, so a failure shows both trees.
"""

from __future__ import annotations

import functools
import re

import lxml.html
import pypandoc
from lxml import etree

from publish.parse import chapter_html

Tree = tuple[str, tuple[tuple[str, str], ...], str, tuple["Tree", ...], str]


def _text(value: str | None) -> str:
    return re.sub(r"\s+", " ", (value or "").replace("\u00a0", "\x00")).replace("\x00", "\u00a0")


def _reduce(element: etree._Element) -> Tree:
    tag = element.tag
    attributes = dict(element.attrib)
    if re.fullmatch(r"h[1-6]", tag):
        tag = "h"
        attributes.pop("id", None)
    if tag == "ol" and attributes.get("type") == "1":
        del attributes["type"]
    attributes = {k: v for k, v in attributes.items() if not k.startswith("data-")}
    children = tuple(_reduce(child) for child in element if isinstance(child.tag, str))
    return (tag, tuple(sorted(attributes.items())), _text(element.text), children, _text(element.tail))


def _tree(html: str) -> Tree:
    root = lxml.html.fragment_fromstring(html or "<p></p>", create_parent="div")
    # A code block's lines are a <span> each here (publish.markdown.code, for print's wrap marks);
    # Pandoc writes an unhighlighted block as one text, which the lines joined again are.
    for line in root.xpath("//pre/code/span[not(@class) or @class='long']"):
        line.drop_tag()
    _strip(root)
    return _reduce(root)


def _strip(root: etree._Element) -> None:
    """Whitespace at the edges of block elements is how the HTML was written, not what it says."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "code" and element.getparent() is not None and element.getparent().tag == "pre":
            element.text = (element.text or "").rstrip("\n") or None
        if element.tag in {"div", "li", "ol", "ul", "blockquote", "p", "dd", "dt", "dl", "section", "td", "th"}:
            element.text = (element.text or "").lstrip() or None
            if len(element):
                last = element[-1]
                last.tail = (last.tail or "").rstrip() or None
            else:
                element.text = (element.text or "").rstrip() or None
        if element.getparent() is not None and element.tag in {"div", "p", "ol", "ul", "blockquote", "dl", "pre",
                                                                "hr", "h1", "h2", "h3", "h4", "h5", "h6", "table"}:
            element.tail = (element.tail or "").strip() or None
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "").rstrip() or None
            else:
                parent = element.getparent()
                parent.text = (parent.text or "").rstrip() or None


@functools.cache
def pandoc(markdown: str) -> Tree:
    return _tree(pypandoc.convert_text(markdown, "html5", format="markdown", extra_args=["--wrap=none"]))


def ours(markdown: str) -> Tree:
    return _tree(chapter_html(markdown))
