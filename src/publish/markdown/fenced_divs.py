"""Pandoc's fenced divs: `::: {#id .class}` … `:::`, nested, as `<div id="id" class="class">`.

Written here: pymdown-extensions' `blocks` reads `/// name` fences, not Pandoc's colons, and
Python-Markdown has nothing like them. As in Pandoc, an opening fence is at least three colons
and attributes (`{#id .class key=value}`, or one bare word, a class), optionally followed by more
colons, and starts a block; a closing fence is a line of colons alone and closes the innermost
open div, even straight after a paragraph's last line. The div's content is read as Markdown.
An opening fence that is never closed runs to the end of the chapter (with a warning from
`problems`), so a forgotten `:::` never prints, nor swallows less than the author meant.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Iterator

import markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.extensions.attr_list import get_attrs_and_remainder

from .problems import Problem

OPENING = re.compile(r"^ {0,3}:{3,}[ \t]*(?:\{(?P<attributes>[^}\n]*)\}|(?P<word>[^\s{}:]+))[ \t]*:*[ \t]*$")
CLOSING = re.compile(r"^ {0,3}:{3,}[ \t]*$")


def attributes(fence: re.Match[str]) -> dict[str, str]:
    """The attributes an opening fence gives its div, in Pandoc's order (id, then classes)."""
    if fence["word"]:
        return {"class": fence["word"]}
    found: dict[str, str] = {}
    classes: list[str] = []
    pairs, _ = get_attrs_and_remainder(fence["attributes"] + "}")
    for key, value in pairs:
        if key == ".":
            classes.append(value)
        elif key == "#" or key == "id":
            found["id"] = value
        else:
            found[key] = value
    if classes:
        found["class"] = " ".join(classes)
    return found


class FencedDivProcessor(BlockProcessor):
    def test(self, parent: etree.Element, block: str) -> bool:
        return bool(OPENING.match(block.split("\n", 1)[0]))

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        first, _, rest = blocks.pop(0).partition("\n")
        fence = OPENING.match(first)
        assert fence is not None
        lines: list[str] = []
        depth = 1
        pending = [rest] if rest else []
        while pending or blocks:
            block = pending.pop(0) if pending else blocks.pop(0)
            if lines:
                lines.append("")  # the blank line that separated the blocks
            block_lines = block.split("\n")
            for number, line in enumerate(block_lines):
                if number == 0 and OPENING.match(line):
                    depth += 1
                elif CLOSING.match(line):
                    depth -= 1
                    if depth == 0:
                        after = "\n".join(block_lines[number + 1:])
                        if after.strip():
                            blocks.insert(0, after)
                        self._div(parent, fence, lines)
                        return
                lines.append(line)
        self._div(parent, fence, lines)  # never closed: the div runs to the end

    def _div(self, parent: etree.Element, fence: re.Match[str], lines: list[str]) -> None:
        div = etree.SubElement(parent, "div", attributes(fence))
        self.parser.parseChunk(div, "\n".join(lines))


def problems(text: str) -> Iterator[Problem]:
    """An opening fence that is never closed, with its line."""
    open_fences: list[int] = []
    previous_blank = True
    for number, line in enumerate(text.split("\n"), start=1):
        if previous_blank and OPENING.match(line):
            open_fences.append(number)
        elif CLOSING.match(line) and open_fences:
            open_fences.pop()
        previous_blank = not line.strip()
    for line in open_fences:
        yield Problem("div-unclosed", "a fenced div (:::) is never closed, so it runs to the end of the chapter", line,
                      "close it with a line of three colons, :::")


class FencedDivsExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Before everything that could read the fence line as text (paragraphs are 10).
        md.parser.blockprocessors.register(FencedDivProcessor(md.parser), "fenced_div", 95)
