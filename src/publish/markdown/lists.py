"""Lists as Pandoc reads them: nesting by the item's own indentation, fancy and example lists.

Written here, in place of Python-Markdown's list processors: those nest only by four spaces, and
pymdown-extensions' `fancylists` (its docstring: "work in progress") does the same and reads
neither `(1)` nor `(@)`. Pandoc's rules, from its Markdown reader:

- an item's content starts where its first line's text does (`- a`: column 2, `10. a`: column
  4; five spaces or more after the marker: one column after it, the rest is indented code), and
  a line indented that far or more belongs to the item, so `- a` / `  - b` nests by two spaces;
  a line less indented continues the paragraph (lazily) unless it starts a list item or a blank
  line came first; inside an item a list may start without a blank line before it;
- ordered markers: `1.` `1)` `(1)`, with numbers, `#`, letters (`a.`, `B)`) or roman numerals
  (`iv.`, `(IX)`); a capital letter with a period needs two spaces after it (`B. Russell` is
  a sentence); `i`/`I` alone is roman; a marker of another style or delimiter starts a new list;
  the first number is the list's `start`; a style other than decimal is the `type` attribute;
- example lists `(@)`, `(@label)`, `@.` are numbered on through the chapter (`class="example"`,
  `start` where a list continues the count), and `(@label)` in the text is that number;
- a list is loose (every item's text in `<p>`) if any item's paragraph is followed by a blank
  line, the last item's last one aside; otherwise tight.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field

import markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor

from .fenced_divs import CLOSING as DIV_CLOSING

_ROMAN = r"(?=[ivxlcdm])m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_ROMAN_UPPER = _ROMAN.upper().replace("(?=[IVXLCDM])", "(?=[IVXLCDM])")
# A list marker at the start of a line: its indentation, marker and the spaces after it.
_MARKER = re.compile(
    r"^(?P<indent> {0,3})(?:(?P<bullet>[*+-])|(?P<open>\()?(?P<value>[0-9]{1,9}|#|@[\w-]*|[a-zA-Z]|"
    rf"{_ROMAN}|{_ROMAN_UPPER})(?P<close>[.)]))(?P<space> +|$)")
_HR = re.compile(r"^ {0,3}(?:(?:\*[ ]*){3,}|(?:-[ ]*){3,}|(?:_[ ]*){3,})$")
# Marks, during parsing, the text of a block not followed by a blank line.
_TIGHT = "\ue0f0"
_TYPES = {"decimal": None, "lower-alpha": "a", "upper-alpha": "A", "lower-roman": "i", "upper-roman": "I",
          "default": None, "example": None}


def _roman(value: str) -> int:
    numbers = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    digits = [numbers[c] for c in value.lower()]
    return sum(-d if i + 1 < len(digits) and d < digits[i + 1] else d for i, d in enumerate(digits))


@dataclass(frozen=True, slots=True)
class Marker:
    indent: int  # columns before the marker
    width: int  # columns of the marker itself
    content: int  # the column where the item's content starts
    kind: str  # "bullet", or the ordered style: decimal, lower-alpha, …, default, example
    delimiter: str  # ".", ")", "()" or "" for a bullet
    number: int
    label: str  # an example's label
    rest: str  # the first line's text after the marker

    def continues(self, other: Marker) -> bool:
        """Whether this marker is a next item of the list `other` began."""
        if self.kind == "bullet" or other.kind == "bullet":
            return self.kind == other.kind
        return self.delimiter == other.delimiter and (
            self.kind == other.kind or (other.kind in {"lower-roman", "lower-alpha"} and self.kind in {"lower-roman", "lower-alpha"})
            or (other.kind in {"upper-roman", "upper-alpha"} and self.kind in {"upper-roman", "upper-alpha"}))


def marker(line: str, *, within: Marker | None = None) -> Marker | None:
    """The list marker `line` starts with, if any; `within` a list, its letters are read in its style."""
    match = _MARKER.match(line)
    if match is None or _HR.match(line):
        return None
    indent, space = len(match["indent"]), match["space"]
    width = match.end() - len(space) - indent
    rest = line[match.end():]
    if match["bullet"]:
        kind, delimiter, number, label = "bullet", "", 1, ""
    else:
        if match["open"] and match["close"] != ")":
            return None
        value = match["value"]
        delimiter = "()" if match["open"] else match["close"]
        kind, number, label = _style(value, within)
        if kind is None:
            return None
        if delimiter == "." and (kind == "upper-alpha" or (kind == "upper-roman" and len(value) == 1)) \
                and len(space) < 2:
            return None  # "B. Russell", "I. e." : a capital and a period want two spaces
    if not space:  # the marker alone on its line
        content = indent + width + 1
    elif len(space) >= 5:  # the content is indented code
        content = indent + width + 1
        rest = space[1:] + rest
    else:
        content = indent + width + len(space)
    return Marker(indent, width, content, kind, delimiter, number, label, rest)


def _style(value: str, within: Marker | None) -> tuple[str | None, int, str]:
    if value.isdigit():
        return "decimal", int(value), ""
    if value == "#":
        return "default", 1, ""
    if value.startswith("@"):
        return "example", 1, value[1:]
    roman = re.fullmatch(_ROMAN, value) or re.fullmatch(_ROMAN_UPPER, value)
    if len(value) == 1:
        lower = value.islower()
        in_roman = within is not None and within.kind == ("lower-roman" if lower else "upper-roman")
        in_alpha = within is not None and within.kind == ("lower-alpha" if lower else "upper-alpha")
        if roman and (in_roman or (value in "iI" and not in_alpha)):
            return ("lower-roman" if lower else "upper-roman"), _roman(value), ""
        return ("lower-alpha" if lower else "upper-alpha"), ord(value.lower()) - 96, ""
    if roman:
        return ("lower-roman" if value.islower() else "upper-roman"), _roman(value), ""
    return None, 0, ""


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass
class _Item:
    marker: Marker
    lines: list[str] = field(default_factory=list)
    blank_after: bool = False


class PandocListProcessor(BlockProcessor):
    def __init__(self, parser: markdown.blockparser.BlockParser, extension: PandocListsExtension) -> None:
        super().__init__(parser)
        self.extension = extension

    def test(self, parent: etree.Element, block: str) -> bool:
        return marker(block.split("\n", 1)[0]) is not None

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        lines = blocks.pop(0).split("\n")
        first = marker(lines[0])
        assert first is not None
        items, rest = self._items(first, lines, blocks)
        if rest:
            blocks.insert(0, "\n".join(rest))
        self._build(parent, first, items)

    def _items(self, first: Marker, lines: list[str], blocks: list[str]) -> tuple[list[_Item], list[str]]:
        """The list's items, and the lines of the block it ends in after it. Blocks after the
        first are taken from `blocks` only while the list goes on."""
        items = [_Item(first, [first.rest])]
        i, blank = 1, False
        while True:
            if i == len(lines):
                # The block ends at a blank line: the list goes on if the next block's first line
                # is indented into the item or is a next item.
                while blocks and not blocks[0].strip():
                    blocks.pop(0)
                if not blocks:
                    break
                following = blocks[0].split("\n", 1)[0]
                next_item = marker(following, within=first)
                if _indentation(following) < items[-1].marker.content and (
                        next_item is None or not next_item.continues(first)):
                    break
                lines += [""] + blocks.pop(0).split("\n")
            line = lines[i]
            item = items[-1]
            if not line.strip():
                blank = True
                item.lines.append("")
                i += 1
                continue
            indent = _indentation(line)
            if indent >= item.marker.content:
                item.lines.append(line[item.marker.content:])
            elif (next_item := marker(line, within=first)) is not None:
                if not next_item.continues(first):
                    break
                item.blank_after = blank
                items.append(_Item(next_item, [next_item.rest]))
            elif blank or DIV_CLOSING.match(line):
                break
            else:  # a lazy continuation line
                item.lines.append(line.lstrip(" "))
            blank = False
            i += 1
        # Blank lines at an item's end separate it from what follows; they are not its content.
        for item in items:
            while item.lines and not item.lines[-1].strip():
                item.lines.pop()
                item.blank_after = True
        return items, lines[i:]

    def _build(self, parent: etree.Element, first: Marker, items: list[_Item]) -> None:
        attributes: dict[str, str] = {}
        if first.kind == "example":
            start = self.extension.examples + 1
            attributes["class"] = "example"
        else:
            start = first.number
        if start != 1:
            attributes["start"] = str(start)
        if _TYPES.get(first.kind):
            attributes["type"] = _TYPES[first.kind]
        element = etree.SubElement(parent, "ul" if first.kind == "bullet" else "ol", attributes)
        loose = False
        for number, item in enumerate(items):
            if item.marker.kind == "example":
                self.extension.examples += 1
                if item.marker.label:
                    self.extension.labels.setdefault(item.marker.label, self.extension.examples)
            li = etree.SubElement(element, "li")
            last = number == len(items) - 1
            self.parser.parseBlocks(li, _blocks(item.lines, tight_end=last or not item.blank_after))
            paragraphs = [p for p in li if p.tag == "p"]
            loose = loose or any(not _ends_tight(p) for p in paragraphs)
            _strip_marks(li)
        if not loose:
            for li in element:
                for p in [p for p in li if p.tag == "p"]:
                    _unwrap(li, p)


def _blocks(lines: list[str], *, tight_end: bool) -> list[str]:
    """An item's content as blocks: split at blank lines, and before a list that starts without one.

    A block not followed by a blank line ends with the tight mark, so its paragraph, once parsed,
    shows it was tight."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        if blocks[-1] and marker(line) is not None and marker(blocks[-1][0]) is None \
                and _indentation(blocks[-1][0]) < 4:
            blocks[-1][-1] += _TIGHT
            blocks.append([])
        blocks[-1].append(line)
    if not blocks[-1]:
        blocks.pop()
    if blocks and tight_end:
        blocks[-1][-1] += _TIGHT
    return ["\n".join(block) for block in blocks]


def _ends_tight(paragraph: etree.Element) -> bool:
    last = paragraph[-1].tail if len(paragraph) else paragraph.text
    return (last or "").endswith(_TIGHT)


def _strip_marks(element: etree.Element) -> None:
    for node in element.iter():
        for name in ("text", "tail"):
            value = getattr(node, name)
            if value and _TIGHT in value:
                setattr(node, name, type(value)(value.replace(_TIGHT, "")))


def _unwrap(li: etree.Element, paragraph: etree.Element) -> None:
    """A tight item's paragraph: its text stands in the item itself, as Pandoc's "Plain"."""
    index = list(li).index(paragraph)
    text = paragraph.text or ""
    if index == 0:
        li.text = (li.text or "") + text
    else:
        previous = li[index - 1]
        previous.tail = (previous.tail or "") + text
    tail = paragraph.tail
    children = list(paragraph)
    li.remove(paragraph)
    for offset, child in enumerate(children):
        li.insert(index + offset, child)
    if tail and tail.strip():
        if children:
            children[-1].tail = (children[-1].tail or "") + tail
        elif index == 0:
            li.text += tail
        else:
            li[index - 1].tail = (li[index - 1].tail or "") + tail


class ExampleReference(InlineProcessor):
    """`(@label)` in the text: the number of the example so labelled."""

    def __init__(self, extension: PandocListsExtension) -> None:
        super().__init__(r"\(@([\w-]+)\)")
        self.extension = extension

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str | None, int | None, int | None]:
        number = self.extension.labels.get(m[1])
        return (None, None, None) if number is None else (f"({number})", m.start(), m.end())


class PandocListsExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.registerExtension(self)
        for name in ("olist", "ulist", "indent"):
            if name in md.parser.blockprocessors:
                md.parser.blockprocessors.deregister(name)
        # Above ATX headings (70), so "#." is a list marker; rules are told apart in `marker`.
        md.parser.blockprocessors.register(PandocListProcessor(md.parser, self), "pandoc_list", 72)
        md.inlinePatterns.register(ExampleReference(self), "example_reference", 65)
        self.reset()

    def reset(self) -> None:
        self.examples = 0
        self.labels: dict[str, int] = {}
