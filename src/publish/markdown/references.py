"""Reference link definitions as Pandoc reads them: `[bork]:  /foo/zee zob   (title)`.

Why not Python-Markdown's own `ReferenceProcessor`: it takes an address only up to its first space,
so a definition whose address has spaces (a file name as the author saved it, "/my notes.html") is
no definition at all, and the paragraph prints `[baz]: /foo foo` and every `[baz][]` as text.
Pandoc's Markdown reader (`referenceKey`) reads the address as words separated by spaces, up to
a title (`"…"`, `'…'` or `(…)`), an attribute list (`{…}`) or a reference (`[…]`), on the
definition's line, and joins them with one space, which its `escapeURI` writes as `%20`:
`[baz]: /foo foo` is `<a href="/foo%20foo">`. So this is Python-Markdown's processor with that
address in its pattern (the groups are the same, so its handling of titles, of several
definitions in one block and of what is left over is kept) and the spaces encoded as Pandoc does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from markdown import Markdown
from markdown.blockprocessors import ReferenceProcessor
from markdown.extensions import Extension

# Python-Markdown's pattern, but for its address group: the first word as before (anything but
# spaces), then more words on the same line, each not starting a title, an attribute list or a
# reference.
_ADDRESS = r"""([^\s]+(?:[ \t]+(?!["'(\[{])[^\s]+)*)"""
_PATTERN = (r"""^[ ]{0,3}\[([^\[\]]*)\]:[ ]*(?:\n[ ]*)?""" + _ADDRESS +
            r"""[ ]*(?:\n[ ]*)?((["'])(.*)\4[ ]*|\((.*)\)[ ]*)?$""")


class PandocReferenceProcessor(ReferenceProcessor):
    RE = re.compile(_PATTERN, re.MULTILINE)

    def run(self, parent: ET.Element, blocks: list[str]) -> bool:
        found = super().run(parent, blocks)
        if found:
            references = self.parser.md.references
            for key, (link, title) in references.items():
                if any(c.isspace() for c in link):
                    references[key] = ("%20".join(link.split()), title)
        return found


class ReferenceDefinitionsExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        # In the place of Python-Markdown's own (same name, same priority: after footnote
        # definitions, 17, so `[^1]: a note` stays a note).
        md.parser.blockprocessors.register(PandocReferenceProcessor(md.parser), "reference", 15)


def makeExtension(**kwargs: object) -> ReferenceDefinitionsExtension:  # noqa: N802 - Python-Markdown's entry point
    return ReferenceDefinitionsExtension(**kwargs)
