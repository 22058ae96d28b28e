"""The one Markdown configuration every chapter goes through, as a registry of constructs.

Each entry of `CONSTRUCTS` is one thing an author writes (footnotes, tables, attribute lists, …)
and the Python-Markdown extension that reads it. Pandoc's constructs that Python-Markdown lacks
live in this package, one module per construct, and are registered here, in one ordered place:
the order is the order their extensions are loaded (each extension still sets the priorities of
its own processors, as Python-Markdown's do). `docs/markdown.md` lists what each one accepts.

Named `publish.markdown`; inside this package `import markdown` is still Python-Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import markdown
from markdown.extensions import Extension
from markdown.extensions.toc import slugify_unicode

from .code import CodeExtension


@dataclass(frozen=True, slots=True)
class Construct:
    name: str  # what the author writes, as docs/markdown.md names it
    extension: Callable[[], Extension | str]  # a fresh extension (or a Python-Markdown name) per instance
    config: dict[str, object] | None = None  # for an extension given by name


CONSTRUCTS: tuple[Construct, ...] = (
    Construct("footnotes", lambda: "footnotes", {"BACKLINK_TEXT": ""}),
    Construct("smart punctuation", lambda: "smarty"),
    Construct("pipe tables", lambda: "tables"),
    Construct("attribute lists", lambda: "attr_list"),
    # A chapter's own "# Title" is the book's second level: the book title is the first.
    Construct("heading ids", lambda: "toc", {"baselevel": 2, "slugify": slugify_unicode}),
    Construct("definition lists", lambda: "def_list"),
    Construct("fenced code", CodeExtension),  # anywhere, highlighted, numbered: markdown/code.py
    Construct("lists", lambda: "sane_lists"),
)


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
    return markdown.Markdown(extensions=extensions, extension_configs=configs, output_format="html")
