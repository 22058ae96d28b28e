"""The one Markdown configuration every chapter goes through, as a registry of constructs.

Each entry of `CONSTRUCTS` is one thing an author writes (footnotes, tables, attribute lists, …)
and the Python-Markdown extension that reads it. Pandoc's constructs that Python-Markdown lacks
live in this package, one module per construct, and are registered here, in one ordered place:
the order is the order their extensions are loaded (each extension still sets the priorities of
its own processors, as Python-Markdown's do). `docs/markdown.md` lists what each one accepts.

Named `publish.markdown`; inside this package `import markdown` is still Python-Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import markdown
from markdown.extensions import Extension

from ..diagnostics import Diagnostic, warning
from ..sanitize import without_code
from . import fenced_divs, math, raw_tex
from .attributes import AttributesExtension
from .breaks import BackslashBreaksExtension
from .citations import CitationExtension
from .code import CodeExtension
from .header_refs import HeaderReferencesExtension
from .inline_notes import InlineNotesExtension
from .line_blocks import LineBlocksExtension
from .linear_inline import LinearInlineExtension
from .lists import PandocListsExtension
from .problems import Problem
from .rawhtml import RawHtmlExtension
from .references import ReferenceDefinitionsExtension
from .spans import BracketedSpansExtension
from .tables import PandocTablesExtension


@dataclass(frozen=True, slots=True)
class Construct:
    name: str  # what the author writes, as docs/markdown.md names it
    extension: Callable[[], Extension | str]  # a fresh extension (or a Python-Markdown name) per instance
    config: dict[str, object] | None = None  # for an extension given by name


CONSTRUCTS: tuple[Construct, ...] = (
    Construct("footnotes", lambda: "footnotes", {"BACKLINK_TEXT": ""}),
    Construct("inline notes", InlineNotesExtension),
    # Pandoc's ^super^ and ~sub~: no spaces inside unless escaped; ~~strikeout~~ is <del>.
    # Pandoc has no ^^insert^^, so the caret reads only superscripts.
    Construct("superscript", lambda: "pymdownx.caret", {"insert": False}),
    Construct("subscript and strikeout", lambda: "pymdownx.tilde"),
    Construct("smart punctuation", lambda: "smarty"),
    Construct("tables", PandocTablesExtension),  # pipe, simple, multiline and grid tables, captions
    # Only valid attribute syntax: `## Using {braces}` keeps its braces. Heading ids are not
    # made here but in resolve.py, by Pandoc's rules, since they must be unique across the book.
    Construct("attribute lists", AttributesExtension),
    # Only what is a tag by HTML's syntax: `"<Edit...>"` is text.
    Construct("raw HTML", RawHtmlExtension),
    Construct("bracketed spans", BracketedSpansExtension),
    Construct("backslash line breaks", BackslashBreaksExtension),
    Construct("reference links", ReferenceDefinitionsExtension),  # `[a]: /my file.html`: addresses with spaces
    Construct("implicit header references", HeaderReferencesExtension),
    Construct("fenced divs", fenced_divs.FencedDivsExtension),
    Construct("line blocks", LineBlocksExtension),
    Construct("raw TeX", raw_tex.RawTexExtension),
    Construct("definition lists", lambda: "def_list"),
    Construct("fenced code", CodeExtension),  # anywhere, highlighted, numbered: markdown/code.py
    Construct("lists", PandocListsExtension),
    Construct("math", lambda: math.MathExtension()),
    Construct("citations", CitationExtension),  # [@key, p. 33], @key; formatted by publish.citations
)


# What constructs find wrong in a chapter's source (code blanked out first), each with its line.
PROBLEMS: tuple[Callable[[str], Iterator[Problem]], ...] = (fenced_divs.problems, raw_tex.problems)


def source_problems(text: str, shown: Path) -> list[Diagnostic]:
    """The warnings the constructs have for one chapter's source."""
    source = without_code(text)
    return [warning(p.code, p.message, file=shown, line=p.line, hint=p.hint)
            for find in PROBLEMS for p in find(source)]


def make_markdown(constructs: tuple[Construct, ...] = CONSTRUCTS) -> markdown.Markdown:
    """A Markdown instance that reads every registered construct."""
    extensions: list[Extension | str] = []
    configs: dict[str, dict[str, object]] = {}
    for construct in constructs:
        extension = construct.extension()
        extensions.append(extension)
        if construct.config is not None:
            if not isinstance(extension, str):
                raise TypeError(f"{construct.name}: configure an extension object when making it")
            configs[extension] = construct.config
    # Not a construct: Python-Markdown's inline passes, without their cost in the square of a block's
    # inline elements (linear_inline.py); last, so it replaces the pass smarty adds too.
    extensions.append(LinearInlineExtension())
    return markdown.Markdown(extensions=extensions, extension_configs=configs, output_format="html")
