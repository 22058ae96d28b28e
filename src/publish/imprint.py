"""The copyright page's facts, as a publisher sets them: rights, first publication, the edition,
the publisher, the ISBNs, the colophon. Python decides what is said; `parts.j2` sets it.

The book's identifier is printed only when it is an ISBN: a UUID or a URN means nothing to a
reader, and stays in the EPUB's metadata. The date is written out in the book's language by
Babel's CLDR data ("17 July 2025" in en-GB, "17 juillet 2025", "2025年7月17日"); the labels
around it are English.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton

from .isbn import parse_isbn

if TYPE_CHECKING:  # the model imports what imports this module
    from .model import Book


@dataclass(frozen=True, slots=True)
class IsbnLine:
    hyphenated: str  # "978-0-306-40615-7"
    label: str  # the edition it belongs to ("paperback"); "" for the book's only ISBN


@dataclass(frozen=True, slots=True)
class Imprint:
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    rights: str | None
    first_published: str | None  # the date in words, in the book's language
    edition: str | None  # "Paperback edition", for a book with several editions
    publisher: str | None
    isbns: tuple[IsbnLine, ...]
    colophon: str

    @property
    def short(self) -> bool:
        """Whether it surely fits a page, so print may set it at the foot of one: a page of the
        smallest trim holds some 1,800 of its letters; WeasyPrint breaks no box that does the setting,
        so a longer page (a long rights statement) runs on from the top instead."""
        texts = (self.title, self.subtitle, *self.authors, self.rights, self.first_published, self.edition,
                 self.publisher, *(n.hyphenated + n.label for n in self.isbns), self.colophon)
        return sum(len(t or "") + 60 for t in texts) < 1800


@functools.lru_cache(maxsize=32)
def _locale(lang: str) -> Locale | None:
    """The CLDR locale of a BCP 47 tag (zh-Hant-TW, sr-Latn, en-GB), else of its language alone."""
    for tag in (lang, lang.split("-")[0]):
        try:
            return Locale.parse(tag, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return None


def date_in_words(iso: str, lang: str) -> str:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` (or a timestamp) as a reader of `lang` writes it."""
    parts = iso[:10].split("-")
    try:
        numbers = [int(p) for p in parts[:3]]
        day = dt.date(numbers[0], numbers[1] if len(numbers) > 1 else 1, numbers[2] if len(numbers) > 2 else 1)
    except (ValueError, IndexError):
        return iso
    locale = _locale(lang) or Locale("en")
    if len(numbers) == 1:
        return format_skeleton("y", day, locale=locale)
    if len(numbers) == 2:
        return format_skeleton("yMMMM", day, locale=locale)
    return format_date(day, format="long", locale=locale)


def imprint(book: Book, colophon: str = "") -> Imprint:
    """What the copyright page of `book` says."""
    config = book.config
    isbns: list[IsbnLine] = []
    if config.editions:
        isbns = [IsbnLine(e.isbn.hyphenated, e.label) for e in config.editions if e.isbn]
    else:
        own = config.isbn
        if own is None:
            # An identifier written as an ISBN (urn:isbn:…, or the number itself); never a UUID.
            own = next((found for text in (config.identifier, book.identifier) if text
                        for found in [parse_isbn(text)[0]] if found is not None), None)
        if own is not None:
            isbns = [IsbnLine(own.hyphenated, "")]
    edition = None
    if config.edition is not None:
        label = config.edition.label
        edition = f"{label[:1].upper()}{label[1:]} edition"
    return Imprint(
        title=config.title, subtitle=config.subtitle, authors=tuple(config.authors), rights=config.rights,
        first_published=date_in_words(config.date, config.lang) if config.date else None,
        edition=edition, publisher=config.publisher, isbns=tuple(isbns), colophon=colophon)
