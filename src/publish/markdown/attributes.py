"""Attribute lists (`{#id .class key=value}`), taken as attributes only where they are valid syntax.

Python-Markdown's `attr_list` takes any `{…}` that ends a heading or a paragraph's last line, so
`## Using {braces}` loses a word and a last line `{a, b, c}` vanishes. This is the same
treeprocessor with Pandoc's attribute syntax as its pattern: a list of `#id`, `.class`,
`key=value` (the value bare or quoted) and `-` (Pandoc's short form of `.unnumbered`), with
Python-Markdown's optional leading colon (`{: #id}`). Anything else between braces is text.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from markdown import Markdown
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListTreeprocessor

_ID = r"#[^\s{}#]+"
_CLASS = r"\.[^\s{}#.=\"']+"
_KEY_VALUE = r"[A-Za-z_][\w:.-]*=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s{}\"'=]+)"
_UNNUMBERED = r"-"
_ATTRIBUTE = f"(?:{_ID}|{_CLASS}|{_KEY_VALUE}|{_UNNUMBERED})"
_LIST = rf"\{{:?[ ]*({_ATTRIBUTE}(?:[ ]+{_ATTRIBUTE})*)[ ]*\}}"


class StrictAttributes(AttrListTreeprocessor):
    BASE_RE = _LIST
    HEADER_RE = re.compile(rf"[ ]+{_LIST}[ ]*$")
    BLOCK_RE = re.compile(rf"\n[ ]*{_LIST}[ ]*$")
    INLINE_RE = re.compile(rf"^{_LIST}")

    def assign_attrs(self, elem: Element, attrs_string: str, *, strict: bool = False) -> str:
        spelled = " ".join(".unnumbered" if token == "-" else token for token in attrs_string.split(" "))
        if elem.tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            # Pandoc's way to give a section its role ({epub:type=dedication}): read as a class of
            # the heading, as `{.dedication}` is (publish.roles); XHTML keeps no epub:type of an author's.
            spelled = re.sub(r"(?<!\S)epub:type=([\"']?)([\w-]+)\1(?!\S)", r".\2", spelled)
        return super().assign_attrs(elem, spelled, strict=strict)


class AttributesExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        # Python-Markdown's own priority for attr_list: after inline patterns, before the rest.
        md.treeprocessors.register(StrictAttributes(md), "attr_list", 8)
        md.registerExtension(self)
