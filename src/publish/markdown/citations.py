"""Pandoc's citations, `[see @key, p. 33; -@other]` and `@key [p. 33]`, marked for the resolve stage.

Only the syntax is read here; formatting needs every citation of the book at once (numbering,
"ibid.", disambiguation) and the bibliography, so `publish.citations` does it after every chapter
is parsed. A chapter's HTML thus depends on its text alone and stays cacheable. Each citation
becomes

    <span class="citation" data-cites="key other"><span class="cite-prefix">see</span><span
      class="cite-key" data-cite="key" data-mode="normal"></span><span class="cite-suffix">, p.
      33</span><span class="cite-key" data-cite="other" data-mode="suppress-author"></span></span>

(a prefix belongs to the key after it, a suffix to the key before), with the prefix and suffix as
Markdown inline content (emphasis and the rest apply), and the locator left inside the suffix,
where Pandoc's citeproc finds it with the locale's own terms.

Written here, not taken from pymdown-extensions or the PyPI "citeproc" Markdown extensions: none
reads Pandoc's grammar (author-in-text `@key`, `@key [p. 30]` and `@key [-@b; @c]` joining one
citation, `-@` suppressing the author, braced keys, a key's internal punctuation), and they format
each citation on its own, where Pandoc formats the whole document. The grammar follows Pandoc's
Markdown reader (`normalCite`, `textualCite`, `citeKey`):

- a key starts with a letter, digit or `_` and may hold `:.#$%&-+?<>~/` between word characters
  (`@doe:2005.` cites `doe:2005`); `@{any.key}` takes anything without spaces or braces;
- an `@` right after a letter or digit (an e-mail address) starts nothing, but a bracket may
  follow a word (curie's `Elektrizität[@bh1896cr1; @bh1896cr2]`);
- `[ … ]` is a citation only if every `;`-separated part holds a key, and not when `(` follows
  (then it is a link); nor after `^` (an inline note) or `!` (an image);
- `@label` is an example reference, not a citation, when the chapter defines `(@label)`;
- an `@key` in a suffix (`[see @a, and compare @b]`) is a citation inside the citation, as in Pandoc.

The processor runs after raw HTML (priority 90), links and autolinks, so an `@` in a URL, an
address or a tag is never taken, and a link's text is left as it is (Pandoc would set a citation
there, but a citation here links to its entry, and links do not nest); and before emphasis, so the
prefix and suffix keep theirs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from markdown import Markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor

from .scan import group_end

# What may follow a key's first character: word characters, and punctuation between them.
_KEY = r"(?:\{(?P<braced>[^{}\s]+)\}|(?P<plain>[^\W]\w*(?:[:.#$%&\-+?<>~/]\w+)*))"
KEY = re.compile(r"(?<![\w\\])(?P<minus>-?)@" + _KEY)
# Where the processor starts looking: a bracket, or an @ (with its optional minus) not after a word.
_START = r"(?<![\^!\\])\[|(?<![\w\\])-?@(?=[{\w])"
_EXAMPLE_LABEL = re.compile(r"^\s*\(@([\w-]+)\)", re.MULTILINE)
MODES = ("normal", "suppress-author", "author-in-text")


class CitationItem:
    __slots__ = ("key", "mode", "prefix", "suffix")

    def __init__(self, key: str, mode: str, prefix: str, suffix: str) -> None:
        self.key, self.mode, self.prefix, self.suffix = key, mode, prefix, suffix


def _key(match: re.Match[str]) -> str:
    return match["braced"] or match["plain"]


def _closing(text: str, start: int) -> int | None:
    """The index of the `]` that closes the `[` at `start`, skipping escapes."""
    end = group_end(text, start, "[", "]")
    return None if end is None else end - 1


def _split_top(text: str) -> list[str]:
    """`text` split at the semicolons outside nested brackets."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ";" and depth == 0:
            parts.append(text[last:i])
            last = i + 1
        i += 1
    parts.append(text[last:])
    return parts


def parse_citation_list(text: str) -> list[CitationItem] | None:
    """The citations of a bracket's content, or None if one of its parts holds no key."""
    items = []
    for part in _split_top(text):
        match = KEY.search(part)
        if match is None:
            return None
        mode = "suppress-author" if match["minus"] else "normal"
        items.append(CitationItem(_key(match), mode, part[:match.start()].strip(), part[match.end():].rstrip()))
    return items


class CitationProcessor(InlineProcessor):
    ANCESTOR_EXCLUDES = ("a",)  # a citation links to its entry, and links do not nest

    def __init__(self, md: Markdown, examples: set[str]) -> None:
        super().__init__(_START, md)
        self.examples = examples  # the (@label)s of the chapter, filled in by the preprocessor

    def handleMatch(self, m: re.Match[str], data: str):  # noqa: ANN201 - Python-Markdown's signature
        if m.group(0) == "[":
            return self._bracketed(m.start(), data)
        return self._textual(m.start(), data)

    def _bracketed(self, start: int, data: str):  # noqa: ANN202
        end = _closing(data, start)
        if end is None or data[end + 1:end + 2] == "(":
            return None, None, None
        items = parse_citation_list(data[start + 1:end])
        if items is None:
            return None, None, None
        return _element(items), start, end + 1

    def _textual(self, start: int, data: str):  # noqa: ANN202
        match = KEY.match(data, start)
        if match is None or _key(match) in self.examples:
            return None, None, None
        first = CitationItem(_key(match), "suppress-author" if match["minus"] else "author-in-text", "", "")
        items, end = [first], match.end()
        # `@key [p. 30]` takes the bracket as its suffix; `@key [-@b; @c]` as more citations.
        bracket = re.compile(r"[ \t]*\n?[ \t]*\[").match(data, end)
        if bracket and data[bracket.end():bracket.end() + 1] != "^":
            opening = bracket.end() - 1
            close = _closing(data, opening)
            if close is not None and data[close + 1:close + 2] not in ("(", "["):
                content = data[opening + 1:close]
                more = parse_citation_list(content)
                if more is not None:
                    items += more
                else:
                    rest = _split_top(content)
                    tail = parse_citation_list(";".join(rest[1:])) if len(rest) > 1 else []
                    if tail is not None:
                        first.suffix = rest[0].strip()
                        items += tail
                if more is not None or tail is not None:
                    end = close + 1
        return _element(items), start, end


def _element(items: list[CitationItem]) -> ET.Element:
    # Flat, so that every text is a direct child: Python-Markdown runs only the patterns after this
    # one over those (an @key in a suffix stays text), the ones before having run already.
    citation = ET.Element("span", {"class": "citation", "data-cites": " ".join(i.key for i in items)})
    for item in items:
        if item.prefix:
            ET.SubElement(citation, "span", {"class": "cite-prefix"}).text = item.prefix
        ET.SubElement(citation, "span", {"class": "cite-key", "data-cite": item.key, "data-mode": item.mode})
        if item.suffix:
            ET.SubElement(citation, "span", {"class": "cite-suffix"}).text = item.suffix
    return citation


class _ExampleLabels(Preprocessor):
    """Notes the chapter's example labels, `(@good)`, which Pandoc never takes for citations."""

    def __init__(self, md: Markdown, examples: set[str]) -> None:
        super().__init__(md)
        self.examples = examples

    def run(self, lines: list[str]) -> list[str]:
        self.examples.clear()
        self.examples.update(_EXAMPLE_LABEL.findall("\n".join(lines)))
        return lines


class CitationExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        examples: set[str] = set()
        md.preprocessors.register(_ExampleLabels(md, examples), "citation-examples", 5)
        md.inlinePatterns.register(CitationProcessor(md, examples), "citation", 85)


def makeExtension(**kwargs: object) -> CitationExtension:  # noqa: N802 - Python-Markdown's entry point
    return CitationExtension(**kwargs)
