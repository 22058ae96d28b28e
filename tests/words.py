"""The words of a manuscript as Pandoc reads it, and the words of each edition, to find words lost.

The source is read by Pandoc (the reference reader of the dialect authors write), not by publish:
every word of its text outside code, math and raw markup, notes and image descriptions included.
An edition's words are the text of its documents (and its images' alt text, except in print, where
a description is in the PDF's tags, not its text). Words are compared as a multiset, so a
paragraph dropped where the same words occur elsewhere is still found.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import pypandoc
from lxml import etree

_WORD = re.compile(r"[^\W_]+")
# Pandoc elements whose content is not prose: code, math, raw markup, and a citation's keys.
_SKIPPED = {"Code", "CodeBlock", "RawInline", "RawBlock", "Math"}
_INLINE_CONTAINERS = {"Emph", "Underline", "Strong", "Strikeout", "Superscript", "Subscript", "SmallCaps", "Span"}


_INVISIBLE = dict.fromkeys([0xAD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF])  # soft hyphens and zero widths


def words(text: str) -> list[str]:
    """Lower-case words; a soft hyphen ("die\u00adselbe") is not a word's end, as no reader shows it."""
    return _WORD.findall(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold())


@dataclass(frozen=True)
class SourceWords:
    text: collections.Counter[str]  # prose, notes included
    alt: collections.Counter[str]  # image descriptions
    # The prose with inline code kept as text: in a PDF's text layer code is not set apart, so
    # "`return`ed" reads "returned" there.
    with_code: collections.Counter[str]


def _walk(node: object, text: list[str], alt: list[str], *, in_alt: bool = False, code: bool = False) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, text, alt, in_alt=in_alt, code=code)
        return
    if not isinstance(node, dict) or "t" not in node:
        return
    kind, content = node["t"], node.get("c")
    if code and kind == "Code":
        (alt if in_alt else text).append(content[1])
        return
    if kind in _SKIPPED:
        if kind != "RawInline":  # raw <sup> is markup inside a word; `return`ed: "ed" is a word
            (alt if in_alt else text).append(" ")
        return
    if kind == "Str":
        (alt if in_alt else text).append(content)
    elif kind in {"Space", "SoftBreak", "LineBreak"}:
        (alt if in_alt else text).append(" ")
    elif kind == "Image":  # [attr, alt inlines, target]
        alt.append(" ")
        _walk(content[1], text, alt, in_alt=True, code=code)
        alt.append(" ")
    elif kind == "Link":  # [attr, inlines, target]
        _walk(content[1], text, alt, in_alt=in_alt, code=code)
    elif kind == "Cite":  # [citations, inlines]: the prefixes and suffixes are prose, the keys are not
        for citation in content[0]:
            text.append(" ")
            _walk(citation.get("citationPrefix", []), text, alt, in_alt=in_alt, code=code)
            text.append(" ")
            _walk(citation.get("citationSuffix", []), text, alt, in_alt=in_alt, code=code)
            text.append(" ")
    else:
        # Blocks and inlines hold their children somewhere in "c"; attributes are lists of strings
        # (ignored by the Str test above), so walking everything finds exactly the text. Only a
        # block (or a note, which stands elsewhere) ends a word: "*Becquerel*schen" is one word.
        edge = [" "] if kind not in _INLINE_CONTAINERS else []
        (alt if in_alt else text).extend(edge)
        _walk(content, text, alt, in_alt=in_alt, code=code)
        (alt if in_alt else text).extend(edge)


def source_words(files: Iterable[Path], *, reader: str = "markdown") -> SourceWords:
    """The words of the chapter files, each read alone by Pandoc as `reader` (its metadata left out)."""
    text: list[str] = []
    alt: list[str] = []
    # --file-scope: each file is read alone (its own title block is its metadata), as publish reads it.
    proc = subprocess.run([pypandoc.get_pandoc_path(), "--file-scope", "-f", reader, "-t", "json",
                           *map(str, files)], capture_output=True, check=True, timeout=600)
    blocks = json.loads(proc.stdout)["blocks"]
    _walk(blocks, text, alt)
    glued: list[str] = []
    _walk(blocks, glued, [], code=True)
    return SourceWords(collections.Counter(words("".join(text))), collections.Counter(words("".join(alt))),
                       collections.Counter(words("".join(glued))))


_INLINE = {"a", "abbr", "b", "bdi", "cite", "code", "data", "del", "dfn", "em", "i", "ins", "kbd", "mark", "q", "s",
           "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "ruby", "rt", "rp"}


def _is_noteref(element: etree._Element) -> bool:
    classes = (element.get("class") or "").split()
    return element.get("role") == "doc-noteref" or "noteref" in classes or "footnote-ref" in classes


def _html_text(root: etree._Element) -> Iterator[str]:
    """The text, with a space at every block's edges (none inside a word split by inline markup),
    and every image's alt text."""

    def walk(element: etree._Element) -> Iterator[str]:
        if not isinstance(element.tag, str):
            yield element.tail or ""
            return
        local = etree.QName(element).localname
        # Code ends a word, as in the source; so does a note's number ("besaß^[…]" reads "besaß 2").
        block = local not in _INLINE or local in {"code", "kbd", "samp"} or _is_noteref(element)
        if local == "img" and element.get("alt"):
            yield " " + element.get("alt") + " "
        if block:
            yield " "
        yield element.text or ""
        for child in element:
            yield from walk(child)
        if block:
            yield " "
        yield element.tail or ""

    yield "".join(walk(root))


def epub_words(path: Path) -> collections.Counter[str]:
    found: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xhtml"):
                root = etree.fromstring(archive.read(name))
                for chunk in _html_text(root):
                    found.update(words(chunk))
    return found


def web_words(path: Path) -> collections.Counter[str]:
    root = lxml.html.parse(str(path)).getroot()
    found: collections.Counter[str] = collections.Counter()
    for chunk in _html_text(root):
        found.update(words(chunk))
    return found


def pdf_words(path: Path) -> collections.Counter[str]:
    """The PDF's text (pdftotext), with words hyphenated at a line's end counted whole and in parts."""
    text = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                          timeout=600, text=True).stdout
    found: collections.Counter[str] = collections.Counter(words(text))
    # A note's number is set against the word it follows ("besaß²" reads "besaß2"): the word counts.
    found.update(m[1] for w in list(found.elements()) if (m := re.fullmatch(r"(\D+?)\d+", w)))
    # pdftotext leaves out a thin space between digit groups ("20\u2009000" reads "20000").
    for number in [w for w in found.elements() if w.isdigit() and len(w) > 3]:
        head = len(number) % 3 or 3
        found.update([number[:head], *(number[i:i + 3] for i in range(head, len(number), 3))])
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if match := re.search(r"(\w+)[-\u00ad\u2010]$", line):
            # The word goes on on the next line, or, at a page's foot, after the folio and running head.
            for following in lines[number + 1:number + 40]:  # past the page's notes, folio and running head
                if start := re.match(r"\s*(\w+)", following):
                    found.update(words(match[1] + start[1]))
    return found


@dataclass(frozen=True)
class Loss:
    total: int
    missing: collections.Counter[str]

    @property
    def found(self) -> int:
        return self.total - sum(self.missing.values())

    def summary(self, limit: int = 12) -> str:
        examples = ", ".join(f"{w} ×{n}" if n > 1 else w for w, n in self.missing.most_common(limit))
        return (f"{self.total} words in the source, {self.found} found, {sum(self.missing.values())} missing"
                + (f": {examples}" if examples else ""))


def loss(source: collections.Counter[str], edition: collections.Counter[str],
         dropped: collections.Counter[str] | None = None) -> Loss:
    """The words of `source` missing from `edition`, but for those the build said it `dropped`."""
    return Loss(sum(source.values()), source - edition - (dropped or collections.Counter()))


def dropped_words(stderr: str) -> collections.Counter[str]:
    """The words a build's messages say it left out: a banner heading, in each file that has it."""
    found: collections.Counter[str] = collections.Counter()
    for match in re.finditer(r"warning banner-heading: (\d+) of the \d+ files open with the same heading '#+ (.*?)' above",
                             stderr):
        for _ in range(int(match[1])):
            found.update(words(match[2]))
    return found
