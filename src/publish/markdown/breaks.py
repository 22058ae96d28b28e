"""Pandoc's backslash escapes that Python-Markdown lacks: `\\` at the end of a line is a line break,
`\\ ` (backslash, space) a no-break space.

Written here: Python-Markdown keeps the backslash as text, and pymdown-extensions has no such
extension. Code spans come first (190), so a backslash in code stays as written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor


class BackslashBreak(InlineProcessor):
    """One pattern for both (each inline pattern is one more pass over every paragraph's text)."""

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element | str, int, int]:
        return (etree.Element("br") if m[1] == "\n" else "\u00a0"), m.start(), m.end()


class BackslashBreaksExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Above Python-Markdown's escapes (180), which would otherwise keep the backslash; below
        # math (185), where a backslash and a space is TeX's own space.
        md.inlinePatterns.register(BackslashBreak(r"(?<!\\)\\([\n ])"), "backslash_break", 184)
