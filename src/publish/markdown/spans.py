"""Pandoc's bracketed spans, `[text]{#id .class}`, with the two classes Pandoc gives an element.

pymdown-extensions' `bracketspan` reads the syntax as Pandoc does (nested spans, links and
emphasis inside, attributes as `attr_list` writes them). Pandoc then writes `[x]{.underline}` as
`<u>` and `[x]{.mark}` as `<mark>`, which readers and screen readers know without a stylesheet;
every other class (`.smallcaps`, or any the book's CSS names) stays a class on the `<span>`.
A `key=value` attribute is dropped by the sanitiser, as any attribute a book cannot use.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from pymdownx.bracketspan import BracketSpanExtension

# Pandoc's own elements for a span whose only attribute is one of these classes.
_ELEMENTS = {"underline": "u", "mark": "mark"}


class SpanElements(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for span in root.iter("span"):
            element = _ELEMENTS.get(span.get("class", ""))
            if element and set(span.attrib) <= {"class", "id"}:
                span.tag = element
                del span.attrib["class"]


class BracketedSpansExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        self.spans = BracketSpanExtension()
        self.spans.extendMarkdown(md)
        # After inline markup (20), when the spans exist.
        md.treeprocessors.register(SpanElements(md), "span_elements", 18)

    def reset(self) -> None:
        self.spans.reset()
