"""Pandoc's line blocks: lines that begin with `| ` keep their breaks and their indentation.

Written here: no Python-Markdown or pymdown-extensions extension reads them. As in Pandoc, a
line block is a block of lines each beginning with `|` and a space (or a bare `|`, an empty
line); a line that begins with a space continues the one before it; the spaces after `| ` are
kept as no-break spaces, so verse and addresses keep their indentation in every edition; inline
markup is read. The result is Pandoc's: `<div class="line-block">` with a `<br>` between lines.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension

_LINE = re.compile(r"^\|(?: (?P<indent> *)(?P<text>.*)|$)")
_TABLE_DELIMITER = re.compile(r"^\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _lines(block: str) -> list[str] | None:
    """The block's lines as the reader sees them (indentation as no-break spaces), if a line block."""
    lines: list[str] = []
    for line in block.split("\n"):
        if (match := _LINE.match(line)) is not None:
            lines.append("\u00a0" * len(match["indent"] or "") + (match["text"] or "").rstrip())
        elif lines and line.startswith(" ") and line.strip():
            lines[-1] += " " + line.strip()
        else:
            return None
    return lines


class LineBlockProcessor(BlockProcessor):
    def test(self, parent: etree.Element, block: str) -> bool:
        rows = block.split("\n")
        if len(rows) > 1 and _TABLE_DELIMITER.match(rows[1]):
            return False  # a pipe table the table extension did not take
        return block.startswith("|") and _lines(block) is not None

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        lines = _lines(blocks.pop(0)) or []
        div = etree.SubElement(parent, "div", {"class": "line-block"})
        div.text = lines[0]
        for line in lines[1:]:
            etree.SubElement(div, "br").tail = line


class LineBlocksExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Before pipe tables (75), which would take "| one\n|\n| two" for one; a block with a
        # delimiter row is left to them (`test`).
        md.parser.blockprocessors.register(LineBlockProcessor(md.parser), "line_block", 76)
