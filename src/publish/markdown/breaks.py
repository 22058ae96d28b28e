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


class HardBreak(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element, int, int]:
        return etree.Element("br"), m.start(), m.end()


class NoBreakSpace(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str, int, int]:
        return "\u00a0", m.start(), m.end()


class BackslashBreaksExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Above Python-Markdown's escapes (180), which would otherwise keep the backslash; below
        # math (185), where "\ " is TeX's own space.
        md.inlinePatterns.register(HardBreak(r"(?<!\\)\\\n"), "backslash_break", 184)
        md.inlinePatterns.register(NoBreakSpace(r"(?<!\\)\\ "), "escaped_space", 184)
