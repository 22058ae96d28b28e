"""Inline raw HTML, taken as HTML only where it is a tag by HTML's syntax, as Pandoc reads it.

Python-Markdown takes any `<word…>` for a tag, so `appuyez sur "<Edit...>"` loses its word to the
sanitiser (which removes a tag it does not know). A tag's name is letters, digits and '-' here,
followed by attributes, '/' or '>': `<Edit...>` is text, `<sup>` and `<a href="…">` are tags.
"""

from __future__ import annotations

from markdown import Markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import HtmlInlineProcessor

STRICT_HTML_RE = (
    # Tag: a name of letters, digits and '-', then attributes (each after white space), '/' or '>'
    r'''(<(\/?+[a-zA-Z][a-zA-Z0-9-]*+(?:\s+[^\s"'=<>/]++(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s"'=<>`]++))?+)*+\s*+/?|'''
    # Comment
    r'!--(?:(?!<!--|-->).)*--|'
    # Processing instruction
    r'[?](?:(?!<[?]|[?]>).)*[?]|'
    # `CDATA`
    r'!\[CDATA\[(?:(?!<!\[CDATA\[|\]\]>).)*\]\]'
    ')>)'
)


class RawHtmlExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        # The same name and priority as Python-Markdown's own pattern, which this one replaces.
        md.inlinePatterns.register(HtmlInlineProcessor(STRICT_HTML_RE, md), "html", 90)
        md.registerExtension(self)
