r"""Raw TeX in a manuscript: `\newpage` and its kin break the printed page; the rest is removed.

Written here: Pandoc's `raw_tex` passes TeX through to LaTeX output and drops it from every
other format; a book has no LaTeX output. What Pandoc reads as raw TeX is read the same way here
(a control word with its `[…]` and `{…}` arguments, `\begin{x}`…`\end{x}`, ConTeXt's
`\startx`…`\stopx` at the start of a block) and never printed. `\newpage`, `\pagebreak` and
`\clearpage` on a block of their own become `<div class="page-break">`, which the print edition
breaks the page on and the reflowable editions do not show (`\cleardoublepage`: the next page
is a recto, `page-break recto`). Everything else goes, with one warning per command from
`problems`, which scans the source with the same reading of a command; a paragraph of nothing
but `\newcommand` definitions is Pandoc's `latex_macros`, for the math, and warns of nothing.

Code spans and escapes come first: `\\newpage` is a backslash and a word. Math (`$\alpha$`) must
be read before this (inline priority above 175) so its commands stay math.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Iterator

import markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from .problems import Problem
from .scan import group_end

# The page breaks: the class the print CSS breaks on.
PAGE_BREAKS = {"newpage": "page-break", "pagebreak": "page-break", "clearpage": "page-break",
               "cleardoublepage": "page-break recto"}
# A block of nothing but these defines macros for the math (Pandoc's latex_macros): no warning.
MACROS = {"newcommand", "renewcommand"}
_WORD = re.compile(r"\\([A-Za-z]+)\*?")
_BEGIN = re.compile(r"\\begin\s*\{([^{}\n]+)\}")
_CONTEXT_START = re.compile(r"\\start([A-Za-z]*)")
_HINTS = {
    "cite": "write the citation in Markdown, e.g. [@key, p. 22]",
    "newcommand": "a macro means something only to LaTeX; write the text it stands for",
    "renewcommand": "a macro means something only to LaTeX; write the text it stands for",
    "emph": "write *emphasis* in Markdown instead",
    "textbf": "write **bold** in Markdown instead",
    "textit": "write *italics* in Markdown instead",
    "includegraphics": "include the image in Markdown: ![description](images/file.png)",
}
_DEFAULT_HINT = "it means something only to LaTeX; delete it, or write what it does in Markdown"


def command_end(text: str, start: int) -> int:
    """Where the command starting at `text[start]` (a backslash and a word) ends, arguments included."""
    word = _WORD.match(text, start)
    assert word is not None
    if (begin := _BEGIN.match(text, start)) is not None:
        end = _environment_end(text, begin)
        if end is not None:
            return end
    i = word.end()
    while True:
        j = i
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] in "[{":
            end = group_end(text, j, text[j], "]" if text[j] == "[" else "}")
            if end is None:
                return j
            i = end
            continue
        # A word without arguments takes the spaces after it, as TeX does.
        return j if i == word.end() else i


def _environment_end(text: str, begin: re.Match[str]) -> int | None:
    name = re.escape(begin[1])
    depth = 0
    for match in re.finditer(rf"\\(begin|end)\s*\{{{name}\}}", text[begin.start():]):
        depth += 1 if match[1] == "begin" else -1
        if depth == 0:
            return begin.start() + match.end()
    return None


def _context_end(text: str) -> int | None:
    """A ConTeXt environment at the start of `text` (`\\startx` … `\\stopx`, nested), if closed."""
    start = _CONTEXT_START.match(text)
    if start is None:
        return None
    depth = 0
    for match in re.finditer(rf"\\(start|stop){start[1]}(?![A-Za-z])", text):
        depth += 1 if match[1] == "start" else -1
        if depth == 0:
            return command_end(text, match.start())
    return None


def commands(text: str, *, blocks: bool = False) -> Iterator[tuple[int, int, str]]:
    """Every raw TeX command in `text` (start, end, name), escaped backslashes skipped; with
    `blocks`, a ConTeXt environment that starts a block is one command, as the block reader has it."""
    i = 0
    while (i := text.find("\\", i)) >= 0:
        if _WORD.match(text, i) is None:
            i += 2  # an escape, such as \\ or \*
            continue
        end = command_end(text, i)
        if blocks and _CONTEXT_START.match(text, i) and _at_block_start(text, i):
            context = _context_end(text[i:])
            end = i + context if context is not None else end
        yield i, end, _WORD.match(text, i)[1]
        i = end


def only_tex(block: str) -> list[tuple[int, int, str]] | None:
    """The block's commands if the block holds nothing else (a block of its own)."""
    if (end := _context_end(block)) is not None:
        found = [(0, end, "start" + _CONTEXT_START.match(block)[1])]
        rest = block[end:]
        more = only_tex(rest) if rest.strip() else []
        return None if more is None else found + [(s + end, e + end, n) for s, e, n in more]
    found, position = [], 0
    for start, end, name in commands(block):
        if block[position:start].strip():
            return None
        found.append((start, end, name))
        position = end
    return found if found and not block[position:].strip() else None


class RawTexBlockProcessor(BlockProcessor):
    """A block of nothing but TeX: page breaks become their element, the rest goes."""

    def test(self, parent: etree.Element, block: str) -> bool:
        return block.lstrip().startswith("\\") and _WORD.match(block.lstrip()) is not None

    def run(self, parent: etree.Element, blocks: list[str]) -> bool:
        # An environment may hold blank lines: read on until it ends.
        block = blocks[0].lstrip()
        taken = 1
        while taken < len(blocks) and self._open_environment(block):
            block += "\n\n" + blocks[taken]
            taken += 1
        found = only_tex(block)
        if found is None:
            return False  # TeX within a paragraph: the inline pattern removes it
        del blocks[:taken]
        for _, _, name in found:
            if name in PAGE_BREAKS:
                etree.SubElement(parent, "div", {"class": PAGE_BREAKS[name]})
        return True

    @staticmethod
    def _open_environment(block: str) -> bool:
        begin = _BEGIN.match(block)
        if begin is not None:
            return _environment_end(block, begin) is None
        return _CONTEXT_START.match(block) is not None and _context_end(block) is None


class RawTexInlineProcessor(InlineProcessor):
    """TeX inside a paragraph: removed (a page break cannot fall inside a paragraph)."""

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str | None, int | None, int | None]:
        if any(start < m.start() < end for start, end in math_spans(data)):
            return None, None, None  # math the math construct has not read (yet): not raw TeX
        return "", m.start(), command_end(data, m.start())


class EmptyParagraphs(Treeprocessor):
    """A paragraph that held only TeX the inline pattern removed leaves nothing behind."""

    def run(self, root: etree.Element) -> None:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "p" and not len(child) and not (child.text or "").strip():
                    if child.tail and child.tail.strip():
                        continue
                    parent.remove(child)


def problems(text: str) -> Iterator[Problem]:
    """One warning per raw TeX command removed (code already blanked out of `text`)."""
    text = _without_math(text)
    for start, end, name in commands(text, blocks=True):
        line = text.count("\n", 0, start) + 1
        if name in MACROS and _only_macros(_block_around(text, start)):
            continue  # Pandoc's latex_macros: definitions for the math construct, which prints none
        if name not in PAGE_BREAKS:
            yield Problem("raw-tex", f"removed the raw TeX {_shown(text[start:end])}", line,
                          _HINTS.get(name, _DEFAULT_HINT))
        elif only_tex(_block_around(text, start)) is None:
            yield Problem("tex-page-break-inline", f"\\{name} inside a paragraph was ignored", line,
                          f"put \\{name} on a line of its own, with a blank line before and after it")


def _only_macros(block: str) -> bool:
    found = only_tex(block)
    return found is not None and all(name in MACROS for _, _, name in found)


def _block_around(text: str, i: int) -> str:
    blank = re.compile(r"\n[ \t]*\n")
    start = max((m.end() for m in blank.finditer(text, 0, i)), default=0)
    after = blank.search(text, i)
    return text[start:after.start() if after else len(text)].strip()


def _at_block_start(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    if j < 0:
        return True
    if text[j] != "\n":
        return False
    j -= 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return j < 0 or text[j] == "\n"


def _shown(command: str) -> str:
    """A command as a message quotes it: an environment by its first and last lines."""
    lines = command.strip().split("\n")
    shown = lines[0] if len(lines) == 1 else f"{lines[0].strip()} … {lines[-1].strip()}"
    return shown if len(shown) <= 60 else shown[:59] + "…"


# Pandoc's TeX math: $…$ (no space after the opening dollar or before the closing one, no digit
# after it, a dollar inside braces not closing), $$…$$, \(…\) and \[…\]. Blanked out before
# commands are sought: math's commands are not raw TeX.
_DISPLAY = re.compile(r"\$\$.+?\$\$|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL)


def math_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in _DISPLAY.finditer(text)]
    i = 0
    while (i := text.find("$", i)) >= 0:
        if any(start <= i < end for start, end in spans) or (i and text[i - 1] == "\\") \
                or i + 1 >= len(text) or text[i + 1].isspace():
            i += 1
            continue
        depth, j = 0, i + 1
        while j < len(text):
            char = text[j]
            if char == "\\":
                j += 2
                continue
            if char == "\n" and text[j + 1:j + 2] == "\n":
                break  # math does not cross a paragraph
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == "$" and depth <= 0 and not text[j - 1].isspace() and not text[j + 1:j + 2].isdigit():
                spans.append((i, j + 1))
                break
            j += 1
        i = j + 1 if spans and spans[-1][0] == i else i + 1
    return spans


def _without_math(text: str) -> str:
    for start, end in math_spans(text):
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
    return text


class RawTexExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Before paragraphs (10) and everything that would read a line of TeX as text.
        md.parser.blockprocessors.register(RawTexBlockProcessor(md.parser), "raw_tex", 96)
        # Below the escapes (180), so \\word stays a backslash and a word.
        md.inlinePatterns.register(RawTexInlineProcessor(r"\\[A-Za-z]"), "raw_tex", 174)
        md.treeprocessors.register(EmptyParagraphs(md), "raw_tex_empty", 17)
