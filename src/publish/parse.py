"""Parse stage: every chapter file's Markdown to sanitised HTML, then the `Book` (resolve.py).

One configured Python-Markdown instance (publish.markdown's registry) turns each file into HTML
and nh3 sanitises it (raw HTML in a manuscript may come from anywhere). What depends on the whole
book (chapters, ids, notes, links, images) is settled afterwards by `resolve.resolve_book`.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import markdown

from .manuscript import Manuscript
from .markdown import make_markdown
from .model import Book
from .resolve import DEFAULT_MODIFIED, book_identifier, modified_time, resolve_book
from .sanitize import XML_FORBIDDEN, sanitize

__all__ = ["DEFAULT_MODIFIED", "book_identifier", "chapter_html", "modified_time", "parse_book"]


def chapter_html(text: str, *, md: markdown.Markdown | None = None) -> str:
    """One chapter's Markdown as sanitised HTML: the costly part of parsing (about 95% of it).

    The result depends on nothing but `text` (book-wide ids and links are settled afterwards by
    `parse_book`), so callers may keep it keyed by `Source.digest` and pass that mapping to
    `parse_book(cache=...)`: the live preview re-parses only the chapter that was saved.
    """
    md = md or make_markdown()
    md.reset()
    return sanitize(md.convert(XML_FORBIDDEN.sub("", text)))



def parse_book(manuscript: Manuscript, *, source_date_epoch: str | None = None,
               cache: MutableMapping[str, str] | None = None) -> Book:
    """Parse every chapter file and resolve the book (resolve.py); raise `BuildFailed` on any error.

    `cache` maps `Source.digest` to `chapter_html` of that text; chapters found there are not
    converted again, and the ones converted are added to it.
    """
    md = make_markdown()
    cache = {} if cache is None else cache
    for source in manuscript.sources:
        if source.digest not in cache:
            cache[source.digest] = chapter_html(source.text, md=md)
    return resolve_book(manuscript, [cache[s.digest] for s in manuscript.sources], source_date_epoch=source_date_epoch)
