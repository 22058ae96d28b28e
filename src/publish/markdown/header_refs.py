"""Pandoc's implicit header references: `[Heading]`, `[text][Heading]` link to that heading.

Written here: Python-Markdown has no such extension. Before inline markup is read, every
heading's text becomes a link reference (lower-cased, as Python-Markdown keys them), unless the
author defined that reference: theirs wins, as in Pandoc. Such a link first points at a
placeholder; once attribute lists have set the ids authors wrote, it is pointed at the heading's
id: the author's, or the one Pandoc gives its text within the file. Headings without an id keep
none here: `resolve` gives them Pandoc's ids book-wide, and maps the file's own names to them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from ..identifiers import pandoc_identifier

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_ATTRIBUTES = re.compile(r"\s*\{:?[^}\n]*\}\s*$")  # a heading's trailing {#id .class}
_MARKUP = re.compile(r"[*_`]")
_PLACEHOLDER = "#publish-implicit-heading-{}"


def heading_id(text: str) -> str:
    """The name Pandoc gives a heading with this text, which `resolve` maps to its book-wide id."""
    return pandoc_identifier(text)


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


class HeadingReferences(Treeprocessor):
    """Make each heading's text a link reference, unless the author defined it."""

    def run(self, root: etree.Element) -> None:
        self.md.implicit_headings = []  # type: ignore[attr-defined]
        for heading in (e for e in root.iter() if e.tag in _HEADINGS):
            text = _ATTRIBUTES.sub("", heading.text or "")
            if not text.strip():
                continue
            placeholder = _PLACEHOLDER.format(len(self.md.implicit_headings))  # type: ignore[attr-defined]
            added = False
            for key in {_key(text), _key(_MARKUP.sub("", text))}:
                if key and key not in self.md.references:
                    self.md.references[key] = (placeholder, None)
                    added = True
            if added:
                self.md.implicit_headings.append((placeholder, heading, _MARKUP.sub("", text)))  # type: ignore[attr-defined]


class HeadingLinks(Treeprocessor):
    """Point the links made from heading references at the headings' ids."""

    def run(self, root: etree.Element) -> None:
        targets = {}
        for placeholder, heading, text in getattr(self.md, "implicit_headings", []):
            targets[placeholder] = "#" + (heading.get("id") or heading_id(text))
        if targets:
            for link in root.iter("a"):
                if link.get("href") in targets:
                    link.set("href", targets[link.get("href")])


class HeaderReferencesExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # After the block parser has read the author's references, before inline markup (20).
        md.treeprocessors.register(HeadingReferences(md), "heading_references", 25)
        # After attribute lists (8) and heading ids (5) have set the ids.
        md.treeprocessors.register(HeadingLinks(md), "heading_links", 4)
