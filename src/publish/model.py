"""The tree every edition reads: a `Book` of `Chapter`s with their headings, notes and assets.

Everything here is immutable and fully resolved: ids are unique across the whole book, links
between chapters point at real ids, and every image has been found inside the book folder.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from .config import BookConfig
from .diagnostics import Diagnostic
from .roles import CHAPTER, ROLES, Role, role_named


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
class Part:
    """A part book.yaml declares (`- part: Part One`): a title page of its own before its first chapter."""

    index: int  # 1-based
    id: str  # the part page's anchor, unique across the book
    title: str  # plain text
    html: str  # inline markup
    title_id: str  # the id of its heading

    @property
    def file_name(self) -> str:
        return f"part-{self.index:03d}.xhtml"


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
    parts: tuple[str, ...] = ()  # the parts it belongs to, outermost first (a book titled from its folders)
    title_id: str = ""  # the id of the title's own element
    role_name: str = ""  # a name in roles.ROLES ("dedication", "appendix"); "" for a chapter
    part: Part | None = None  # the part whose title page comes before this chapter

    @property
    def file_name(self) -> str:
        return f"chapter-{self.index:03d}.xhtml"

    @property
    def role(self) -> Role:
        return ROLES[self.role_name] if self.role_name else CHAPTER


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the contents: a part, a chapter or a section, with the lines nested under it."""

    kind: str  # "part", "chapter" or "section"
    text: str  # plain text
    html: str  # inline markup
    id: str  # the anchor it leads to (a part leads to its title page, or else to its first chapter)
    children: tuple[Entry, ...] = ()
    role: str = ""  # a chapter's role name, "" for a chapter
    matter: str = ""  # a chapter's: "front", "body" or "back"

    @property
    def before_contents(self) -> bool:
        """A front-matter display page (a dedication, an epigraph): it stands before the contents
        page, which does not list it."""
        role = role_named(self.role or "chapter")
        return self.matter == "front" and role is not None and role.display


def _sections(chapter: Chapter, depth: int) -> tuple[Entry, ...]:
    """The chapter's headings down to `depth` levels below its title, nested by level."""
    root: list[tuple[int, Entry, list]] = []
    stack: list[tuple[int, list]] = [(2, root)]
    for heading in chapter.headings:
        if heading.level > 2 + depth:
            continue
        while stack[-1][0] >= heading.level:
            stack.pop()
        children: list = []
        stack[-1][1].append((heading.level, Entry("section", heading.text, heading.html, heading.id), children))
        stack.append((heading.level, children))

    def build(items: list) -> tuple[Entry, ...]:
        return tuple(Entry(e.kind, e.text, e.html, e.id, build(kids)) for _, e, kids in items)

    return build(root)


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
    chapter_level: int | None = None  # the Markdown heading level of the chapters ('#' is 1), if any
    titled_by_names: bool = False  # each file is a chapter titled from its name (docs/manuscripts.md)

    @property
    def words(self) -> int:
        return sum(c.words for c in self.chapters)

    def contents(self, depth: int = 2) -> tuple[Entry, ...]:
        """The contents: each chapter with its sections down to `depth` levels, under its parts."""
        top: list[Entry] = []
        open_parts: list[tuple[str, list[Entry], str, str]] = []  # (title, entries, its anchor, its markup)
        matter = self.matter

        def close(keep: int) -> None:
            while len(open_parts) > keep:
                title, entries, first, markup = open_parts.pop()
                part = Entry("part", title, markup, first, tuple(entries))
                (open_parts[-1][1] if open_parts else top).append(part)

        for chapter in self.chapters:
            shared = 0
            while shared < min(len(open_parts), len(chapter.parts)) and open_parts[shared][0] == chapter.parts[shared]:
                shared += 1
            close(shared)
            for title in chapter.parts[shared:]:
                page = chapter.part if chapter.part is not None and chapter.part.title == title else None
                open_parts.append((title, [], page.id if page else chapter.id, page.html if page else _escape(title)))
            entry = Entry("chapter", chapter.title.text, chapter.title.html, chapter.id, _sections(chapter, depth),
                          chapter.role_name, matter[chapter.index - 1])
            (open_parts[-1][1] if open_parts else top).append(entry)
        close(0)
        return tuple(top)

    @property
    def matter(self) -> tuple[str, ...]:
        """Each chapter's place: "front" (the leading chapters whose roles stand before the text),
        "back" (the trailing ones whose roles stand after it) or "body"; at least one is the text."""
        chapters = self.chapters
        front = 0
        while front < len(chapters) - 1 and chapters[front].role.front and chapters[front].part is None \
                and not chapters[front].parts:
            front += 1
        back = len(chapters)
        while back - 1 > front and chapters[back - 1].role.back:
            back -= 1
        return ("front",) * front + ("body",) * (back - front) + ("back",) * (len(chapters) - back)

    @property
    def has_roles(self) -> bool:
        return any(c.role_name or c.part for c in self.chapters)

    @property
    def parts_declared(self) -> tuple[Part, ...]:
        return tuple(c.part for c in self.chapters if c.part is not None)

    def chapter_of(self, element_id: str) -> Chapter | None:
        """The chapter that holds `element_id`, for editions that split the book into files."""
        return next((c for c in self.chapters if element_id in c.anchors), None)
