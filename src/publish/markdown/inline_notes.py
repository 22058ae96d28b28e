"""Pandoc's inline notes, `^[a note written where it is called]`, as the very same notes as `[^1]`.

Written here: neither Python-Markdown nor pymdown-extensions reads them. The note becomes an
entry of the footnotes extension's list (`<div class="footnote"><ol><li id="fn:…">`) with a
reference (`<sup><a class="footnote-ref">`), so the rest of the pipeline, which turns those into
the book's notes, cannot tell the two kinds apart.

The footnotes extension builds its list before inline markup is read, so an inline note is found
by an inline pattern (code spans, which come first, hide any `]` they hold), carried inside its
reference, and moved into the list by a tree processor once inline markup is done. That processor
also numbers every note, of either kind, in the order of its first reference, as Pandoc does
(Python-Markdown's default is the order of the definitions).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.extensions.footnotes import (
    FN_BACKLINK_TEXT,
    NBSP_PLACEHOLDER,
    FootnoteExtension,
)
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from .scan import group_end

_CARRIER = "data-inline-note"  # the attribute of the element that carries a note to the list
_LABEL = "inline-note-{}"


class InlineNoteProcessor(InlineProcessor):
    """`^[…]`: a note reference that carries the note's text until the list is made."""

    def __init__(self, extension: InlineNotesExtension) -> None:
        super().__init__(r"\^\[")
        self.extension = extension

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element | None, int | None, int | None]:
        after = group_end(data, m.end() - 1, "[", "]")
        if after is None:
            return None, None, None
        end = after - 1
        label = self.extension.next_label()
        footnotes = self.extension.footnotes
        sup = etree.Element("sup", {"id": footnotes.makeFootnoteRefId(label, found=True)})
        link = etree.SubElement(sup, "a", {"href": "#" + footnotes.makeFootnoteId(label), "class": "footnote-ref"})
        link.text = "?"  # numbered with all the others once every note is known
        carrier = etree.SubElement(sup, "span", {_CARRIER: label})
        carrier.text = data[m.end():end].strip()
        return sup, m.start(), end + 1


class NoteListProcessor(Treeprocessor):
    """Move each carried note into the footnotes' list; number all notes by first reference."""

    def __init__(self, md: markdown.Markdown, extension: InlineNotesExtension) -> None:
        super().__init__(md)
        self.extension = extension

    def run(self, root: etree.Element) -> None:
        footnotes = self.extension.footnotes
        div = next((d for d in root.iter("div") if d.get("class") == "footnote"), None)
        carried = [(sup, carrier) for sup in root.iter("sup") for carrier in sup if carrier.get(_CARRIER)]
        if carried and div is None:
            div = etree.SubElement(root, "div", {"class": "footnote"})
            etree.SubElement(div, "hr")
            etree.SubElement(div, "ol")
        if div is None:
            return
        ol = div.find("ol")
        for sup, carrier in carried:
            sup.remove(carrier)
            label = carrier.get(_CARRIER)
            item = etree.SubElement(ol, "li", {"id": footnotes.makeFootnoteId(label)})
            paragraph = etree.SubElement(item, "p")
            paragraph.text, paragraph.tail = carrier.text, None
            paragraph.extend(carrier)
            if len(paragraph):
                paragraph[-1].tail = (paragraph[-1].tail or "") + NBSP_PLACEHOLDER
            else:
                paragraph.text = (paragraph.text or "") + NBSP_PLACEHOLDER
            backlink = etree.SubElement(paragraph, "a", {"href": "#" + footnotes.makeFootnoteRefId(label),
                                                          "class": "footnote-backref"})
            backlink.text = FN_BACKLINK_TEXT
        self._number(root, div, ol)

    def _number(self, root: etree.Element, div: etree.Element, ol: etree.Element) -> None:
        """Order the list by each note's first reference in the text (then in other notes)."""
        order: dict[str, int] = {}
        inside = set(div.iter())
        for element in [e for e in root.iter("a") if e not in inside] + list(div.iter("a")):
            if element.get("class") == "footnote-ref":
                order.setdefault(element.get("href", "")[1:], len(order))
        items = sorted(ol.findall("li"), key=lambda li: order.get(li.get("id", ""), len(order)))
        for li in list(ol):
            ol.remove(li)
        ol.extend(items)
        number = {li.get("id"): n for n, li in enumerate(items, start=1)}
        for element in root.iter("a"):
            target = element.get("href", "")[1:]
            if element.get("class") == "footnote-ref" and target in number:
                element.text = str(number[target])
            elif element.get("class") == "footnote-backref":
                note = target.replace("fnref", "fn", 1)
                if note in number:
                    element.set("title", self.extension.footnotes.getConfig("BACKLINK_TITLE").format(number[note]))


class InlineNotesExtension(Extension):
    """Reads `^[…]`; needs the footnotes extension, loaded before it."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.registerExtension(self)
        self.md = md
        # Above the escapes (180), so `\]` is still visible while the note's end is sought; below
        # code spans (190), so a `]` in code does not end it.
        md.inlinePatterns.register(InlineNoteProcessor(self), "inline_note", 185)
        # After inline markup (20), before the footnotes' own reordering (19) and duplicates (15).
        md.treeprocessors.register(NoteListProcessor(md, self), "inline_note_list", 19.5)
        self.reset()

    @property
    def footnotes(self) -> FootnoteExtension:
        for extension in self.md.registeredExtensions:
            if isinstance(extension, FootnoteExtension):
                return extension
        raise LookupError("inline notes need the footnotes extension")

    def next_label(self) -> str:
        self.count += 1
        label = _LABEL.format(self.count)
        while label in self.footnotes.footnotes:  # an author's own [^inline-note-1]
            self.count += 1
            label = _LABEL.format(self.count)
        return label

    def reset(self) -> None:
        self.count = 0
