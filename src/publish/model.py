"""The tree every edition reads: a `Book` of `Chapter`s with their headings, notes and assets.

Everything here is immutable and fully resolved: ids are unique across the whole book, links
between chapters point at real ids, and every image has been found inside the book folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .config import BookConfig
from .diagnostics import Diagnostic


@dataclass(frozen=True, slots=True)
class Heading:
    level: int  # 2 for a chapter title, 3+ for sections inside it
    id: str
    text: str  # plain text, for the contents and bookmarks
    html: str  # inline markup, for display


@dataclass(frozen=True, slots=True)
class Note:
    number: int
    id: str
    ref_id: str
    html: str  # the note's content, block markup


@dataclass(frozen=True, slots=True)
class Asset:
    source: Path  # absolute path inside the book folder
    href: str  # the same relative path in every edition, e.g. "images/drum.jpg"
    media_type: str


@dataclass(frozen=True, slots=True)
class Chapter:
    index: int  # 1-based reading order
    id: str  # unique across the book: the section's anchor
    source: Path  # relative to the book folder
    title: Heading  # the chapter's own heading, or a stand-in for an untitled opening
    titled: bool  # False when the author wrote no heading
    html: str  # the body without its title; ids unique book-wide, links as "#id"
    headings: tuple[Heading, ...]
    notes: tuple[Note, ...]
    words: int
    anchors: frozenset[str]  # every id in the chapter, its own included

    @property
    def file_name(self) -> str:
        return f"chapter-{self.index:03d}.xhtml"


@dataclass(frozen=True, slots=True)
class Book:
    root: Path
    config: BookConfig
    chapters: tuple[Chapter, ...]
    assets: tuple[Asset, ...]
    identifier: str  # stable: from book.yaml or derived from the title
    modified: dt.datetime  # UTC; from SOURCE_DATE_EPOCH, the book's date, or the fixed default
    slug: str  # output file stem
    cover: Asset | None = None  # the author's cover image; None means one is generated
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def words(self) -> int:
        return sum(c.words for c in self.chapters)

    def chapter_of(self, element_id: str) -> Chapter | None:
        """The chapter that holds `element_id`, for editions that split the book into files."""
        return next((c for c in self.chapters if element_id in c.anchors), None)
