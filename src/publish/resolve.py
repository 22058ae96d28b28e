"""Resolve stage: every chapter file's HTML and the manuscript's shape -> the `Book`.

The manuscript is read the way its author's Pandoc would read it (docs/manuscripts.md says it for
authors):

1. **Banners.** A heading that opens most files identically, with the file's own heading right
   after it (a series or book name above every chapter), is not a chapter title: it is left out,
   and the build says so once.
2. **Chapters.** The chapter level is the shallowest heading level the book uses. Every file is
   split at its chapter headings, so a one-file book becomes its chapters, as a many-file book
   does; what comes before a file's first chapter heading is a chapter without a title (the book's
   opening, under the book title, or a stand-in "Chapter 3" with a warning). One shape reads
   otherwise: a book of several files that never uses '#', whose files (more than one after the
   first) open with text rather than a heading. Its chapter titles live in its file names, as
   build scripts such as Vulkan Tutorial's write them: each file is one chapter, titled from its
   name the way those scripts do ("01_Vue_d'ensemble.md" is "Vue d'ensemble"), each folder is a
   part above it, and its headings are its sections.
3. **Ids.** Headings get Pandoc's automatic identifiers (`intro`, `intro-1`), counted across the
   book as Pandoc counts them across its input files; ids are unique book-wide. A link may name
   an anchor the way Pandoc (in the file alone, or the whole book) or GitHub would spell it.
4. **Links and images.** Links between chapters become "#id" links; a link that cannot be
   resolved is a warning, and its text stays as plain text. Images are found inside the book
   folder ("/images/a.png" means the book folder's images/).

Problems are returned as diagnostics; the `Book` is made only when there is no error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml import etree
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .cache import default_root
from .citations import resolve_citations
from .config import parse_date
from .diagnostics import BuildFailed, Diagnostic, Severity, error, has_errors, warning
from .identifiers import allowed_in_identifier as _allowed
from .identifiers import gfm_identifier, pandoc_identifier, unique_identifier
from .limits import MAX_NESTING, depth, nesting_error, too_large, too_many_chapters, too_many_pixels
from .manuscript import Manuscript, Source
from .markdown import source_problems
from .markdown.math import formula_problems
from .markdown.tables import table_problems
from .mathml import plain_text
from .model import Asset, Book, Chapter, Heading, Note, Part
from .remote import RemoteImages
from .roles import ROLES, role_of_classes
from .sanitize import XML_FORBIDDEN, repair_content_model, unsafe_html
from .svg import clean_svg
from .write import write_file

# Builds with neither SOURCE_DATE_EPOCH nor a book date are stamped with this, so they stay
# reproducible; 1980 is the earliest time a zip entry can carry.
DEFAULT_MODIFIED = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
LATEST_MODIFIED = dt.datetime(2107, 12, 31, 23, 59, 58, tzinfo=dt.timezone.utc)

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml", ".webp": "image/webp"}
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_WORD = re.compile(r"\w+(?:[’'-]\w+)*")
# XML's NCName: what an id may be in XHTML (EPUBCheck checks it).
_NAME_START = ("A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
               "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_NCNAME = re.compile(f"^[{_NAME_START}][{_NAME_START}\\-.0-9\xb7\u0300-\u036f\u203f\u2040]*$")
_EMAIL = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+$")
# What a site generator leaves out of a link to a page: the number that orders the files, and the extension.
_ORDER_PREFIX = re.compile(r"^\d+[_\-. ]+(?=\S)")
_PAGE_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".xhtml")
# GitHub's rendered pages prefix every id the author wrote; links copied from them carry the prefix.
_GITHUB_PREFIX = "user-content-"


TEMPLATE_IDS = frozenset({"main", "contents", "contents-title", "toc", "toc-title", "landmarks", "landmarks-title",
                          "page-list", "page-list-title", "titlepage", "copyright", "copyright-title", "spoiler-notice",
                          "spoiler-notice-title", "display-options"})
_PAGE_ID = re.compile(r"^page-[0-9ivxlcdm]+$")  # the print edition's page markers in the EPUB (parts.j2)


class _Ids:
    """Hands out ids that are unique across the whole book, and valid XML names."""

    def __init__(self) -> None:
        # The editions' templates use these ids themselves: an author's '## Contents' or '{#page-1}'
        # would give a document the same id twice (EPUBCheck RSC-005).
        self.taken: set[str] = set(TEMPLATE_IDS)

    def claim(self, wanted: str, fallback: str) -> str:
        base = wanted or fallback
        if not _NCNAME.match(base):
            # An id must be an XML name: no spaces or colons, not starting with a digit or a dash.
            slug = "-".join("".join(c for c in base if _allowed(c, gfm=False) or c.isspace()).split()).strip("-.")
            base = slug if _NCNAME.match(slug) else f"{fallback}-{slug}" if slug else fallback
        candidate, n = base, 2
        while candidate in self.taken or _PAGE_ID.match(candidate):
            candidate, n = f"{base}-{n}", n + 1
        self.taken.add(candidate)
        return candidate


# --- small tree helpers ---------------------------------------------------------------------------------


def _line_of(text: str, needle: str) -> int | None:
    position = text.find(needle) if needle else -1
    return text.count("\n", 0, position) + 1 if position >= 0 else None


class _Locator:
    """Finds the line of successive occurrences of a string in a chapter's source."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.after: dict[str, int] = {}

    def line(self, *needles: str) -> int | None:
        for needle in needles:
            if not needle:
                continue
            position = self.text.find(needle, self.after.get(needle, 0))
            if position < 0:
                position = self.text.find(needle)
            if position >= 0:
                self.after[needle] = position + len(needle)
                return self.text.count("\n", 0, position) + 1
        return None


def _plain(element: etree._Element) -> str:
    return plain_text(element)  # formulas as "x²", not "x2"


def _heading_text(element: etree._Element) -> str:
    """A heading's text as Pandoc sees it for its identifier: without its note references."""
    copy = lxml.html.fragment_fromstring(etree.tostring(element, encoding="unicode", with_tail=False))
    for sup in copy.xpath(".//sup[a[contains(@class, 'footnote-ref')]]"):
        _drop(sup)
    return _plain(copy)


# Elements that are empty by definition: the only ones that may be written <br/>. An empty <a/>
# or <span/> is XHTML, but an HTML parser (the web edition, the print edition) reads it as an
# opening tag that swallows the rest of the text.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _inner_html(element: etree._Element) -> str:
    """The element's content as markup that XML and HTML parsers read alike."""
    for child in element.iter():
        if isinstance(child.tag, str) and child is not element and child.text is None and not len(child) \
                and child.tag not in _VOID:
            child.text = ""
    parts = [_escape(element.text or "")]
    parts += [etree.tostring(child, encoding="unicode", method="xml", with_tail=True) for child in element]
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _put_text_after(parent: etree._Element, node: etree._Element | None, text: str | None) -> None:
    """Add `text` to `parent` just after its child `node` (None: at the start, before any child)."""
    if not text:
        return
    if node is None:
        parent.text = (parent.text or "") + text
    else:
        node.tail = (node.tail or "") + text


def _drop(element: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = element.getparent()
    _put_text_after(parent, element.getprevious(), element.tail)
    parent.remove(element)


def _unwrap(element: etree._Element) -> None:
    """Replace an element by its content (text and children)."""
    parent = element.getparent()
    index = parent.index(element)
    _put_text_after(parent, element.getprevious(), element.text)
    children = list(element)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)
    _put_text_after(parent, children[-1] if children else element.getprevious(), element.tail)
    parent.remove(element)


def _level(element: etree._Element) -> int:
    return int(element.tag[1])


def _is_heading(element: object) -> bool:
    return isinstance(element, etree._Element) and element.tag in HEADINGS


def _has_content(blocks: Sequence[etree._Element], text: str) -> bool:
    return bool(text.strip()) or any(isinstance(b.tag, str) for b in blocks)


# --- files, banners and the chapter level -------------------------------------------------------------


@dataclass
class _File:
    """One chapter file of the manuscript, converted."""

    number: int  # reading order, from 1
    source: Source
    shown: Path
    root: etree._Element
    notes: dict[str, etree._Element]  # Python-Markdown's note id -> the note's <li>
    names: dict[str, str] = field(default_factory=dict)  # an anchor as a link may write it -> the id it has
    first_chapter: str = ""  # the id of the file's first chapter: where a link to the file lands

    @property
    def posix(self) -> PurePosixPath:
        return PurePosixPath(self.source.path.as_posix())


def _read_file(number: int, source: Source, manuscript: Manuscript, html: str, problems: list[Diagnostic]) -> _File:
    shown = manuscript.shown(source.path)
    if forbidden := XML_FORBIDDEN.search(source.text):
        problems.append(warning("control-characters", "control characters that XML forbids were removed", file=shown,
                                line=_line_of(source.text, forbidden[0]),
                                hint="they are usually left over from a copy and paste; delete them"))
    problems += unsafe_html(source.text, shown)
    problems += table_problems(source.text, shown)
    problems += source_problems(source.text, shown)
    root = lxml.html.fragment_fromstring(html, create_parent="div") if html.strip() else lxml.html.Element("div")
    deepest, element = depth(root)
    if deepest > MAX_NESTING:
        # Raw HTML nests as the author wrote it; the layout's recursion would not survive it.
        words = _WORD.findall(element.text_content())
        problems.append(nesting_error(shown, (_line_of(source.text, words[0]) if words else None) or 1, "elements"))
    repair_content_model(root)
    problems += formula_problems(root, source.text, shown)
    notes: dict[str, etree._Element] = {}
    for container in [d for d in root.iter("div") if d.get("class") == "footnote"]:
        listing = container.find("ol")
        for item in (listing if listing is not None else []):
            if item.tag == "li":
                notes[item.get("id", "")] = item
        container.getparent().remove(container)
    return _File(number, source, shown, root, notes)


def _remove_banner(files: list[_File], problems: list[Diagnostic]) -> None:
    """Leave out a heading that opens most files identically with the file's own heading right after."""
    if len(files) < 2:
        return
    openers: dict[tuple[int, str], list[_File]] = {}
    for f in files:
        blocks = list(f.root)
        if len(blocks) < 2 or (f.root.text or "").strip() or not _is_heading(blocks[0]) or not _is_heading(blocks[1]):
            continue
        first, second = blocks[0], blocks[1]
        if (first.tail or "").strip() or _level(second) > _level(first) or not _plain(first):
            continue
        openers.setdefault((_level(first), _plain(first)), []).append(f)
    for (level, text), holders in openers.items():
        if len(holders) < 2 or 2 * len(holders) <= len(files):
            continue
        for f in holders:
            _drop(f.root[0])
        first = holders[0]
        problems.append(warning(
            "banner-heading", f"{len(holders)} of the {len(files)} files open with the same heading "
            f"'{'#' * level} {text}' above their own: it is read as the book's banner and left out, not as a chapter title",
            file=first.shown, line=_line_of(first.source.text, text),
            hint="a series or book name above every chapter belongs on the title page; delete it from the files "
                 "to make this warning go"))


def _chapter_level(files: list[_File]) -> int | None:
    levels = [_level(b) for f in files for b in f.root if _is_heading(b)]
    return min(levels) if levels else None


def _opens_untitled(f: _File, level: int) -> bool:
    """Whether the file has text before its first heading of the chapter level, or no such heading."""
    blocks = list(f.root)
    first = next((i for i, b in enumerate(blocks) if _is_heading(b) and _level(b) == level), None)
    return first is None or _has_content(blocks[:first], f.root.text or "")


def _titles_from_names(files: list[_File], level: int | None) -> bool:
    """A book whose titles live in its file names (docs/manuscripts.md, "Titles from file names")."""
    if len(files) < 2 or level is None or level == 1:
        return False
    return sum(_opens_untitled(f, level) for f in files[1:]) >= 2


def title_from_name(name: str) -> str:
    """A title from a file or folder name, as build scripts make one: "01_Vue_d'ensemble.md" is
    "Vue d'ensemble", "02-the-second-story.md" is "The second story"."""
    stem = unicodedata.normalize("NFC", name)
    for suffix in _PAGE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[:-len(suffix)]
    words = _ORDER_PREFIX.sub("", stem)
    words = words.replace("_", " ") if "_" in words else words.replace("-", " ")
    words = " ".join(words.split()) or stem
    return words[:1].upper() + words[1:]


# --- chapters -------------------------------------------------------------------------------------------


@dataclass
class _Draft:
    """A chapter between the passes: its blocks, its title, and later its notes."""

    index: int
    file: _File
    root: etree._Element  # a <div> holding the chapter's body
    title_element: etree._Element | None
    parts: tuple[str, ...] = ()
    title: Heading | None = None
    notes: list[Note] = field(default_factory=list)
    note_items: list[etree._Element] = field(default_factory=list)
    anchors: set[str] = field(default_factory=set)
    title_id: str = ""
    named: bool = False  # the title comes from the file's name
    role: str = ""  # its role's name (roles.ROLES), "" for a chapter
    part: Part | None = None  # the part whose title page comes before it
    @property
    def shown(self) -> Path:
        return self.file.shown


def _segments(f: _File, level: int | None, *, split: bool) -> Iterator[tuple[etree._Element | None, list, str]]:
    """The file's chapters: (its title heading or None, its blocks, the text before its first block)."""
    title: etree._Element | None = None
    blocks: list[etree._Element] = []
    text = f.root.text or ""
    for block in list(f.root):
        if split and _is_heading(block) and _level(block) == level:
            if title is not None or _has_content(blocks, text):
                yield title, blocks, text
            title, blocks, text = block, [], block.tail or ""
            block.tail = None
        else:
            blocks.append(block)
    if title is not None or _has_content(blocks, text):
        yield title, blocks, text


def _parts_of(files: list[_File]) -> dict[int, tuple[str, ...]]:
    """Each file's folders below the folder that holds them all, as part titles."""
    folders = [f.posix.parent.parts for f in files]
    common = 0
    while all(len(p) > common for p in folders) and len({p[common] for p in folders}) == 1:
        common += 1
    return {f.number: tuple(title_from_name(part) for part in f.posix.parent.parts[common:]) for f in files}


def _drafts(files: list[_File], level: int | None, *, from_names: bool) -> list[_Draft]:
    drafts: list[_Draft] = []
    parts = _parts_of(files) if from_names else {}
    for f in files:
        if from_names:
            blocks = list(f.root)
            chapter_level = [b for b in blocks if _is_heading(b) and _level(b) == level]
            # A file that opens with its only heading of that level is titled by it, as its author wrote.
            own = len(chapter_level) == 1 and blocks and blocks[0] is chapter_level[0] \
                and not (f.root.text or "").strip()
            if own:
                segments = [(blocks[0], blocks[1:], blocks[0].tail or "", False)]
                blocks[0].tail = None
            else:
                # The title the author's build script writes from the name, as a heading of its own
                # above the file's text, so it takes its Pandoc id before the file's headings do.
                named = lxml.html.Element(f"h{level}")
                named.text = title_from_name(f.source.path.name)
                segments = [(named, blocks, f.root.text or "", True)]
        else:
            segments = [(title, blocks, text, False) for title, blocks, text in _segments(f, level, split=True)]
        for title, blocks, text, from_name in segments:
            root = lxml.html.Element("div")
            root.text = text
            for block in blocks:
                root.append(block)
            drafts.append(_Draft(len(drafts) + 1, f, root, title, parts.get(f.number, ()),
                                 named=from_name))
    return drafts


def _set_levels(draft: _Draft, level: int | None, *, from_names: bool) -> None:
    """Chapter titles are the book's second level (h2; the book title is the first), sections below."""
    if level is None:
        return
    below = 3 if from_names else 2
    previous = 2  # the chapter's title
    for heading in [e for e in draft.root.iter() if _is_heading(e)]:
        # A level the author skipped is not skipped in the book: readers and screen readers follow
        # the outline (the lint still points at the skip, in the manuscript).
        new = min(6, max(3, below + _level(heading) - level), previous + 1)
        heading.tag, previous = f"h{new}", new


# --- ids ------------------------------------------------------------------------------------------------


def _id_elements(root: etree._Element) -> Iterator[etree._Element]:
    for element in root.iter():
        if isinstance(element.tag, str) and (element.get("id") is not None or element.tag in HEADINGS):
            yield element


def _assign_ids(files: list[_File], drafts: list[_Draft], ids: _Ids, problems: list[Diagnostic]) -> None:
    """Every author-written id and every heading's Pandoc id, unique across the book; and for each
    file, every name a link may give each of them."""
    book_used: set[str] = set()
    by_file: dict[int, list[_Draft]] = {}
    for draft in drafts:
        by_file.setdefault(draft.file.number, []).append(draft)
    for f in files:
        file_used: set[str] = set()
        gfm_used: set[str] = set()
        explicit: dict[str, str] = {}
        pandoc_file: dict[str, str] = {}
        pandoc_book: dict[str, str] = {}
        gfm: dict[str, str] = {}
        seen_here: set[str] = set()
        elements: list[etree._Element] = []
        for draft in by_file.get(f.number, []):
            if draft.title_element is not None:
                elements.append(draft.title_element)
            elements += _id_elements(draft.root)
        elements += [e for item in f.notes.values() for e in _id_elements(item) if e is not item]
        for element in elements:
            written = element.get("id")
            if written is not None and written.startswith(("fn:", "fnref")):
                continue  # Python-Markdown's own note ids, replaced when the notes are lifted
            if written:
                if element.tag in HEADINGS:
                    book_used.add(written)
                    file_used.add(written)
                new = ids.claim(written, "id")
                if written in seen_here:
                    problems.append(warning("duplicate-id", f"the id '{written}' is used twice in this file; the "
                                            f"second is renamed '{new}'", file=f.shown,
                                            line=_line_of(f.source.text, "#" + written) or _line_of(f.source.text, written),
                                            hint="give each {#id} a name of its own"))
                seen_here.add(written)
                explicit.setdefault(written, new)
            else:
                text = _heading_text(element)
                base = pandoc_identifier(text)
                in_book = unique_identifier(base, book_used)
                in_file = unique_identifier(base, file_used)
                book_used.add(in_book)
                file_used.add(in_file)
                github = unique_identifier(gfm_identifier(text), gfm_used) if gfm_identifier(text) else ""
                gfm_used.add(github)
                new = ids.claim(in_book, "section")
                pandoc_book.setdefault(in_book, new)
                pandoc_file.setdefault(in_file, new)
                if github:
                    gfm.setdefault(github, new)
            element.set("id", new)
        for names in (explicit, pandoc_file, pandoc_book, gfm):
            for name, new in names.items():
                f.names.setdefault(name, new)


def _title(draft: _Draft, manuscript: Manuscript, ids: _Ids, problems: list[Diagnostic]) -> None:
    element = draft.title_element
    if element is not None and not _plain(element):
        # Nothing left of the title once sanitised (it held only a script, say): a nameless entry
        # in the contents would be worse than a stand-in title.
        problems.append(warning("chapter-title-empty", "the chapter's heading has no text", file=draft.shown,
                                line=_line_of(draft.file.source.text, "#") or 1,
                                hint="write the chapter's title after the '#'"))
        element = draft.title_element = None
    if element is not None:
        chapter_id = element.get("id") or ids.claim(pandoc_identifier(_plain(element)), f"chapter-{draft.index}")
        draft.title = Heading(2, chapter_id, _plain(element), _inner_html(element))
        return
    if draft.role:
        # A dedication or an epigraph is rarely headed: it is named for the contents by its role.
        text = ROLES[draft.role].label
    elif draft.index == 1:
        # An untitled opening stands under the book's own title, as an essay's first page does.
        text = manuscript.config.title
    else:
        text = f"Chapter {draft.index}"
        problems.append(warning("chapter-untitled", f"a chapter has no heading, so it is called '{text}' in the contents",
                                file=draft.shown, line=_first_text_line(draft),
                                hint="start it with a heading at the book's chapter level, e.g. '# Its Title'"))
    chapter_id = ids.claim(pandoc_identifier(text), f"chapter-{draft.index}")
    draft.title = Heading(2, chapter_id, text, _escape(text))


def _first_text_line(draft: _Draft) -> int:
    words = _WORD.findall(draft.root.text_content())
    return (_line_of(draft.file.source.text, words[0]) if words else None) or 1


# --- notes ----------------------------------------------------------------------------------------------


def _lift_notes(draft: _Draft, ids: _Ids, lifted: dict[tuple[int, str], tuple[str, int]]) -> None:
    """Python-Markdown's footnotes referenced in this chapter become its `Note`s, numbered per chapter.
    A note that an earlier chapter of the same file already holds is linked there."""
    assert draft.title is not None
    first_refs: dict[str, str] = {}
    for sup in list(draft.root.iter("sup")):
        link = next(iter(sup), None)
        if link is None or "footnote-ref" not in (link.get("class") or ""):
            continue
        key = link.get("href", "").lstrip("#")
        item = draft.file.notes.get(key)
        if item is None:
            continue
        if (draft.file.number, key) not in lifted:
            number = len(draft.note_items) + 1
            note_id = ids.claim(f"{draft.title.id}-note-{number}", "note")
            item.set("id", note_id)
            draft.note_items.append(item)
            draft.anchors.add(note_id)
            lifted[draft.file.number, key] = (note_id, number)
        note_id, number = lifted[draft.file.number, key]
        ref_id = ids.claim(note_id.replace("-note-", "-noteref-"), "noteref")
        first_refs.setdefault(note_id, ref_id)
        anchor = lxml.html.Element("a", {"class": "noteref", "id": ref_id, "href": f"#{note_id}", "role": "doc-noteref"})
        anchor.text = str(number)
        anchor.tail = sup.tail
        sup.getparent().replace(sup, anchor)
        draft.anchors.add(ref_id)
    draft.notes = [Note(n, item.get("id"), first_refs.get(item.get("id"), ""), "")
                   for n, item in enumerate(draft.note_items, start=1)]
    for item in draft.note_items:
        for backref in item.xpath(".//a[contains(@class, 'footnote-backref')]"):
            _drop(backref)
        for paragraph in item.iter("p"):  # the extension leaves a no-break space before the backlink
            if len(paragraph):
                last = paragraph[-1]
                last.tail = (last.tail or "").rstrip("\u00a0 ") or None
            else:
                paragraph.text = (paragraph.text or "").rstrip("\u00a0 ")


# --- links ------------------------------------------------------------------------------------------------


def _page_key(path: str) -> tuple[str, ...]:
    """A path as a site generator's link writes it: no order numbers, no extension, any case."""
    parts = [p for p in unicodedata.normalize("NFC", path).split("/") if p and p != "."]
    keys = []
    for part in parts:
        for suffix in _PAGE_SUFFIXES:
            if part.lower().endswith(suffix):
                part = part[:-len(suffix)]
        keys.append(_ORDER_PREFIX.sub("", part).casefold().replace("-", "_").replace(" ", "_"))
    return tuple(keys)


class _Links:
    """Resolves the links of every chapter once all chapters and their ids are known."""

    def __init__(self, manuscript: Manuscript, files: list[_File], drafts: list[_Draft],
                 problems: list[Diagnostic]) -> None:
        self.root = manuscript.root
        self.files = {f.posix: f for f in files}
        self.problems = problems
        self.book_names: dict[str, list[str]] = {}
        for f in files:
            for name, new in f.names.items():
                self.book_names.setdefault(name, []).append(new)
        self.chapter_ids = {d.title.id for d in drafts if d.title}
        # The last parts of every chapter path, for links that leave out folders the site has in its root.
        self.pages: dict[tuple[str, ...], list[_File]] = {}
        for f in files:
            key = _page_key(f.posix.as_posix())
            for start in range(len(key)):
                self.pages.setdefault(key[start:], []).append(f)

    def resolve(self, draft: _Draft, elements: list[etree._Element]) -> None:
        find = _Locator(draft.file.source.text)
        for element in elements:
            for link in list(element.iter("a")):
                href = link.get("href")
                if href is None:
                    continue
                text = " ".join(link.text_content().split())
                line = find.line(f"]({href}", f"](<{href}", f"[{text}]" if text else "", f'"{href}"', href, unquote(href))
                new = self._target(draft, href, line) if href.strip() else self._empty(draft, line)
                if new is None:
                    _unwrap(link)
                elif new != href:
                    link.set("href", new)

    def _empty(self, draft: _Draft, line: int | None) -> None:
        self._warn(draft, "link-empty", "a link has no address", line, "write where it leads between the (), or remove the []")

    def _warn(self, draft: _Draft, code: str, message: str, line: int | None, hint: str) -> None:
        self.problems.append(warning(code, message + "; its text is kept, without the link", file=draft.shown,
                                     line=line, hint=hint))

    def _target(self, draft: _Draft, href: str, line: int | None) -> str | None:
        parts = urlsplit(href)
        if parts.scheme or href.startswith("//"):
            return href
        href = " ".join(href.split())  # as a message shows it
        if _EMAIL.match(unquote(parts.path)) and not parts.fragment:
            return "mailto:" + parts.path
        here = draft.file
        if not parts.path:
            return self._anchor(draft, here, parts.fragment, href, line, local=True)
        path = unquote(parts.path)
        if re.match(r"^[A-Za-z]:[\\/]", path) or path.startswith("\\"):
            self._warn(draft, "link-absolute", f"the link '{href}' is a path on the author's computer", line,
                       "link to a chapter by its file name relative to this one, e.g. 02-next.md")
            return None
        target = self._file(here, path)
        if target is None:
            return self._missing(draft, href, path, line)
        if not parts.fragment:
            return f"#{target.first_chapter}"
        return self._anchor(draft, target, parts.fragment, href, line, local=False)

    def _file(self, here: _File, path: str) -> _File | None:
        """The chapter file a link's path names: relative to the file, or to the book folder when it
        starts with '/' (or daux.io's '!'); 'ch9.md/' is ch9.md; a site's page name finds its file."""
        rooted = path.startswith(("/", "!"))
        stripped = path.lstrip("/!").rstrip("/")
        base = PurePosixPath(".") if rooted else here.posix.parent
        normal = _normalise(base / stripped)
        if normal is not None and PurePosixPath(normal) in self.files:
            return self.files[PurePosixPath(normal)]
        key = _page_key(normal if normal is not None else stripped)
        for candidate in (key, _page_key(stripped)):
            found = self.pages.get(candidate, []) if candidate else []
            if len(found) == 1:
                return found[0]
        return None

    def _missing(self, draft: _Draft, href: str, path: str, line: int | None) -> None:
        stripped = path.lstrip("/!")
        normal = _normalise((PurePosixPath(".") if path.startswith(("/", "!")) else draft.file.posix.parent) / stripped)
        if normal is None:
            self._warn(draft, "link-outside", f"the link '{href}' leads outside the book folder", line,
                       "a book links to its own chapters, or to web pages (https://…)")
        elif (self.root / normal).is_file():
            self._warn(draft, "link-not-chapter", f"the link '{href}' points at a file that is not a chapter of the book",
                       line, "link to a chapter, or to the file's address on the web (https://…)")
        else:
            names = ", ".join(str(p) for p in sorted(self.files)[:3])
            self._warn(draft, "broken-link", f"the link '{href}' points at a chapter that does not exist", line,
                       f"link to a chapter file of this book, e.g. {names}")
        return None

    def _anchor(self, draft: _Draft, target: _File, fragment: str, href: str, line: int | None, *,
                local: bool) -> str | None:
        wanted = unquote(fragment)
        for name in (wanted, wanted.removeprefix(_GITHUB_PREFIX)):
            if name in target.names:
                return f"#{target.names[name]}"
        for name in (wanted, wanted.removeprefix(_GITHUB_PREFIX)):
            if local and name in draft.anchors | self.chapter_ids:
                return f"#{name}"
            if local and len(self.book_names.get(name, [])) >= 1:
                return f"#{self.book_names[name][0]}"
        # Anchors that differ only in case: GitHub finds them, and so does the book when only one matches.
        folded = wanted.removeprefix(_GITHUB_PREFIX).casefold()
        pool = target.names if not local else {n: i for n, ids in self.book_names.items() for i in ids[:1]}
        matches = {i for n, i in pool.items() if n.casefold() == folded}
        if len(matches) == 1:
            return f"#{matches.pop()}"
        where = "" if local else f" that '{target.posix}' does not have"
        self._warn(draft, "broken-anchor", f"the link '{href}' points at an anchor{where or ' that does not exist'}",
                   line, anchor_hint(wanted, set(pool) if local else set(target.names)))
        return None


def anchor_hint(wanted: str, known: set[str]) -> str:
    """The closest anchor by edit distance (a transposition counts once), if it is a slip away:
    at most one edit in four characters, so '#pointer' suggests '#pointers' but '#pointers' does
    not suggest '#void-pointers'."""
    wanted = wanted.removeprefix(_GITHUB_PREFIX)
    limit = max(1, len(wanted) // 4)
    close = process.extractOne(wanted.casefold(), sorted(known), scorer=OSA.distance, processor=str.casefold,
                               score_cutoff=limit)
    if close:
        return f"did you mean '#{close[0]}'?"
    return "a heading's id is its text in lower case with '-' between words ('## A Title' is '#a-title'), or the {#id} written after it"


def _normalise(path: PurePosixPath) -> str | None:
    """The path with '.' and '..' resolved; None if it leads out of the book folder."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in {".", "/"}:
            parts.append(part)
    return "/".join(parts)


# --- images -----------------------------------------------------------------------------------------------


def image_asset(src: str, here: PurePosixPath, root: Path, shown: Path, line: int | None,
                problems: list[Diagnostic], *, remote: RemoteImages | None = None) -> Asset | None:
    """The image `src` names, relative to `here` (or to the book folder when it starts with '/'),
    if it is a readable image inside the book folder."""
    parts = urlsplit(src)
    if (parts.scheme in {"http", "https"} or src.startswith("//")) and remote is not None:
        return remote.fetch(src if parts.scheme else "https:" + src, shown=shown, line=line, problems=problems)
    if parts.scheme and len(parts.scheme) > 1:
        problems.append(error("image-scheme", f"the image '{src[:60]}' is not a file of the book", file=shown, line=line,
                              hint="put the image in the book folder, e.g. images/photo.jpg, and link that"))
        return None
    path_text = unquote(parts.path)
    if parts.scheme or re.match(r"^[A-Za-z]:[\\/]", path_text) or path_text.startswith("\\"):
        problems.append(error("image-absolute", f"the image path '{src}' is a path on the author's computer", file=shown,
                              line=line, hint="use a path relative to the chapter, inside the book folder, e.g. images/photo.jpg"))
        return None
    # "/images/a.png" is written for a site whose root is the book's folder: it means the book folder.
    relative = _normalise((PurePosixPath(".") if path_text.startswith("/") else here) / path_text.lstrip("/"))
    if relative is None:
        problems.append(error("image-outside", f"the image '{src}' is outside the book folder", file=shown,
                              line=line, hint="copy it into the book folder, e.g. images/, and link that"))
        return None
    path = root / relative
    suffix = path.suffix.lower()
    if suffix not in IMAGE_TYPES:
        problems.append(error("image-type", f"the image '{src}' is not a PNG, JPEG, GIF, SVG or WebP file",
                              file=shown, line=line, hint="convert it to PNG or JPEG"))
        return None
    if path.exists() and not path.resolve().is_relative_to(root):
        problems.append(error("image-outside", f"the image '{src}' is a link to a file outside the book folder",
                              file=shown, line=line, hint="copy the file into the book folder instead of linking to it"))
        return None
    if not path.is_file():
        problems.append(error("image-missing", f"the image '{src}' does not exist", file=shown, line=line,
                              hint=f"put the file at {Path(root.name) / relative}, or fix the path"))
        return None
    if suffix == ".svg":
        return _safe_svg(path, src, safe_href(relative), shown, line, problems)
    if problem := too_many_pixels(path, src, shown, line):
        problems.append(problem)
        if problem.severity is Severity.ERROR:
            return None
    return Asset(path, safe_href(relative), IMAGE_TYPES[suffix])


def _safe_svg(path: Path, src: str, href: str, shown: Path, line: int | None,
              problems: list[Diagnostic]) -> Asset | None:
    """An SVG image as every edition may carry it (svg.py): the author's file if it is clean, else a
    cleaned copy kept in the build cache (a build writes nothing into the book folder)."""
    if problem := too_large(path.stat().st_size, shown):
        problems.append(problem)
        return None
    data = path.read_bytes()
    cleaned = clean_svg(data)
    if cleaned.error:
        problems.append(error("image-broken", f"the image '{src}' cannot be read: {cleaned.error}", file=shown,
                              line=line, hint="open it in an image editor and save it again as SVG or PNG"))
        return None
    if cleaned.data == data:
        return Asset(path, href, IMAGE_TYPES[".svg"])
    if cleaned.removed:
        problems.append(warning("svg-unsafe", f"removed {', '.join(cleaned.removed)} from the SVG image '{src}'",
                                file=shown, line=line, hint="a picture in a book runs nothing and loads nothing "
                                                            "else; save it from the drawing program as plain SVG"))
    copy = default_root() / "safe-svg" / f"{hashlib.sha256(cleaned.data).hexdigest()[:32]}.svg"
    if not copy.is_file():
        write_file(copy, cleaned.data)
    return Asset(copy, href, IMAGE_TYPES[".svg"])


def safe_href(relative: str) -> str:
    """The path an image has in every edition: the author's, with spaces and other characters that
    are not valid in a URL (or that old readers trip on) made '-': ".gitbook/assets/clock (1).svg"
    is ".gitbook/assets/clock-1-.svg"."""
    return "/".join(re.sub(r"[^\w.\-]+", "-", part) or "-" for part in relative.split("/"))


def _leave_out(image: etree._Element) -> None:
    """Put an image's description where the image was, as text, so no word of it is lost."""
    alt = " ".join((image.get("alt") or "").split())
    parent = image.getparent()
    if parent.tag == "figure":  # the figure becomes a paragraph of its caption
        caption = parent.find("figcaption")
        text = " ".join(caption.text_content().split()) if caption is not None else alt
        if caption is not None and caption.get("aria-hidden") is None and alt and alt != text:
            text = f"{alt} ({text})"
        tail = parent.tail
        parent.clear()
        parent.tag, parent.text, parent.tail = "p", text, tail
        return
    if alt:
        image.tail = alt + (image.tail or "")
    _drop(image)


def _collect_images(draft: _Draft, elements: list[etree._Element], root: Path, assets: dict[str, Asset],
                    problems: list[Diagnostic], *, remote: RemoteImages | None) -> None:
    here = draft.file.posix.parent
    find = _Locator(draft.file.source.text)
    for element in elements:
        for image in list(element.iter("img")):
            src = image.get("src", "")
            if not src.strip():
                # The sanitiser took an address it does not allow (data:, javascript:…): the image goes too.
                problems.append(warning("image-no-source", "removed an image whose address is not a file of the book",
                                        file=draft.shown, line=find.line("![", "<img"),
                                        hint="put the image in the book folder, e.g. images/photo.jpg, and link that"))
                _leave_out(image)
                continue
            line = find.line(f"]({src}", f"](<{src}", f"](<{unquote(src)}", f'"{src}"', f"'{src}'", src, unquote(src))
            if not (image.get("alt") or "").strip():
                # Readers who cannot see it get nothing, and the print edition's tags (PDF/UA) need it.
                image.set("alt", "")
                problems.append(warning("image-alt", f"the image '{src}' has no alt text", file=draft.shown, line=line,
                                        hint="describe it for readers who cannot see it: ![a drum kit on a stage](images/drums.jpg)"))
            parts = urlsplit(src)
            if (parts.scheme in {"http", "https"} or src.startswith("//")) and remote is None:
                problems.append(warning("image-remote", f"the image '{src}' is on the web and is left out (its "
                                        "description stays in the text); a build reads nothing from the network",
                                        file=draft.shown, line=line,
                                        hint="download it into the book folder, e.g. images/, and link that; or allow "
                                             "downloads with 'remote-images: true' in book.yaml"))
                _leave_out(image)
                continue
            asset = image_asset(src, here, root, draft.shown, line, problems, remote=remote)
            if asset is not None:
                href, n = asset.href, 2
                while href in assets and assets[href].source != asset.source:  # two names made one
                    stem, dot, suffix = asset.href.rpartition(".")
                    href, n = f"{stem}-{n}{dot}{suffix}", n + 1
                asset = Asset(asset.source, href, asset.media_type)
                image.set("src", asset.href)
                assets.setdefault(asset.href, asset)


def _figures(root: etree._Element) -> None:
    """An image alone in its paragraph is a figure. Its caption is its Markdown title, or else its
    description, as Pandoc's implicit figures have it; a caption that only repeats the description
    is hidden from screen readers, which read the description already."""
    for paragraph in list(root.iter("p")):
        children = list(paragraph)
        if len(children) != 1 or children[0].tag != "img" or (paragraph.text or "").strip() \
                or (children[0].tail or "").strip():
            continue
        image = children[0]
        image.tail = None
        paragraph.tag = "figure"
        title = image.attrib.pop("title", "").strip()
        alt = " ".join((image.get("alt") or "").split())
        if title or alt:
            caption = etree.SubElement(paragraph, "figcaption")
            caption.text = title or alt
            if not title:
                caption.set("aria-hidden", "true")


# --- the book -------------------------------------------------------------------------------------------


def _drop_empty_headings(root: etree._Element) -> None:
    """A heading with nothing in it (raw `<h2><p>text</p></h2>`, which the HTML parser closes before the
    paragraph) names no place: it would be an empty entry in the contents, which EPUBCheck refuses."""
    for heading in list(root.iter("h3", "h4", "h5", "h6")):
        if not _plain(heading).strip() and not any(isinstance(e.tag, str) for e in heading.iterdescendants()):
            _drop(heading)


def _finish(draft: _Draft) -> Chapter:
    assert draft.title is not None
    _drop_empty_headings(draft.root)
    headings = tuple(Heading(_level(h), h.get("id", ""), _plain(h), _inner_html(h))
                     for h in draft.root.iter("h3", "h4", "h5", "h6") if "unlisted" not in (h.get("class") or "").split())
    notes = tuple(Note(n.number, n.id, n.ref_id, _inner_html(item).strip())
                  for n, item in zip(draft.notes, draft.note_items, strict=True))
    anchors = set(draft.anchors) | {draft.title.id, draft.title_id}
    anchors |= {e.get("id") for e in draft.root.iter() if isinstance(e.tag, str) and e.get("id")}
    anchors |= {e.get("id") for item in draft.note_items for e in item.iter() if isinstance(e.tag, str) and e.get("id")}
    text = draft.root.text_content() + " " + " ".join(item.text_content() for item in draft.note_items)
    return Chapter(index=draft.index, id=draft.title.id, source=draft.file.source.path, title=draft.title,
                   titled=draft.title_element is not None, html=_inner_html(draft.root).strip(), headings=headings,
                   notes=notes, words=len(_WORD.findall(text)), anchors=frozenset(a for a in anchors if a),
                   parts=draft.parts, title_id=draft.title_id, role_name=draft.role, part=draft.part)


def _roles_and_parts(drafts: list[_Draft], manuscript: Manuscript) -> None:
    """Each chapter's role, from its heading's class or else from book.yaml's entry for its file,
    and the part book.yaml puts it in."""
    plan = {posixpath.normpath(e.file): e for e in manuscript.config.chapter_entries}
    for draft in drafts:
        entry = plan.get(posixpath.normpath(draft.file.source.path.as_posix()))
        heading = draft.title_element
        by_class = role_of_classes((heading.get("class") or "").split()) if heading is not None else None
        draft.role = by_class.name if by_class else entry.role if entry and entry.role != "chapter" else ""
        if entry and entry.part:
            draft.parts = (entry.part,)


def _part_pages(drafts: list[_Draft], ids: _Ids, declared: bool) -> None:
    """A title page for each part book.yaml declares, before its first chapter."""
    if not declared:
        return
    previous = ""
    for draft in drafts:
        title = draft.parts[0] if draft.parts else ""
        if title and title != previous:
            index = sum(1 for d in drafts if d.part is not None) + 1
            part_id = ids.claim(pandoc_identifier(title), f"part-{index}")
            draft.part = Part(index, part_id, title, _escape(title), ids.claim(f"{part_id}-title", "title"))
        previous = title


def book_identifier(manuscript: Manuscript) -> str:
    config = manuscript.config
    if config.identifier:
        return config.identifier
    seed = "\n".join([config.title, config.subtitle or "", *config.authors])
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'publish:' + seed)}"


def modified_time(manuscript: Manuscript, source_date_epoch: str | None) -> dt.datetime:
    if source_date_epoch and source_date_epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(source_date_epoch), tz=dt.timezone.utc)
    if manuscript.config.date and (parsed := parse_date(manuscript.config.date)):
        # A classic's date (1813) says when the text was published, not when this file was made;
        # a file cannot be older than the default, which is also the earliest a zip can record.
        # Nor later than the last moment a zip can record (2107), for a date far in the future.
        return min(max(parsed, DEFAULT_MODIFIED), LATEST_MODIFIED)
    return DEFAULT_MODIFIED


def resolve_book(manuscript: Manuscript, htmls: Sequence[str], *, source_date_epoch: str | None = None) -> Book:
    """The `Book` of a manuscript whose chapter files were converted to `htmls` (in the same order);
    raise `BuildFailed` on any error, with every problem found."""
    problems: list[Diagnostic] = list(manuscript.warnings)
    # Citations are formatted book-wide; the bibliography may come as a chapter of its own.
    sources, htmls = resolve_citations(manuscript, manuscript.sources, list(htmls), problems)
    files = [_read_file(n, s, manuscript, h, problems)
             for n, (s, h) in enumerate(zip(sources, htmls, strict=True), start=1)]
    _remove_banner(files, problems)
    level = _chapter_level(files)
    from_names = _titles_from_names(files, level)
    drafts = _drafts(files, level, from_names=from_names)
    if too_many := too_many_chapters(len(drafts), manuscript.shown(manuscript.sources[0].path), None):
        raise BuildFailed([*problems, too_many])
    if from_names:
        named = [d for d in drafts if d.named]
        example = named[0].file.source.path.name if named else ""
        problems.append(warning(
            "titles-from-file-names", f"the files' headings start at '{'#' * (level or 1)}' and most files open without "
            f"one, so each file is a chapter titled from its name ({len(named)} of {len(drafts)}, e.g. "
            f"'{example}' is '{title_from_name(example)}') and each folder a part",
            file=manuscript.shown(manuscript.sources[0].path), line=1,
            hint="give each file its title as a '# Title' line to choose the titles yourself"))
    for draft in drafts:
        _set_levels(draft, level, from_names=from_names)
        _figures(draft.root)
    for f in files:
        for item in f.notes.values():
            _figures(item)
    _roles_and_parts(drafts, manuscript)
    ids = _Ids()
    _assign_ids(files, drafts, ids, problems)
    for draft in drafts:
        _title(draft, manuscript, ids, problems)
        if draft.title_element is not None:
            draft.title_element.attrib.pop("id", None)
        assert draft.title is not None
        if not draft.file.first_chapter:
            draft.file.first_chapter = draft.title.id
        draft.title_id = ids.claim(f"{draft.title.id}-title", "title")  # the id of the title itself
    _part_pages(drafts, ids, any(e.part for e in manuscript.config.chapter_entries))
    lifted: dict[tuple[int, str], tuple[str, int]] = {}
    for draft in drafts:
        _lift_notes(draft, ids, lifted)
    for f in files:
        if not f.first_chapter and not f.source.metadata:
            problems.append(warning("chapter-empty", "the file has no text", file=f.shown, line=1,
                                    hint="write the chapter, or remove the file"))
        if not f.first_chapter:  # a file of metadata only: a link to it leads to the next chapter
            following = next((d for d in drafts if d.file.number > f.number), drafts[-1] if drafts else None)
            f.first_chapter = following.title.id if following and following.title else ""
    links = _Links(manuscript, files, drafts, problems)
    assets: dict[str, Asset] = {}
    remote = RemoteImages() if manuscript.config.remote_images else None
    for draft in drafts:
        # One rule for every link and image, wherever it stands: the text, the notes, the title.
        title = [draft.title_element] if draft.title_element is not None else []
        elements = [draft.root, *draft.note_items, *title]
        links.resolve(draft, elements)
        _collect_images(draft, elements, manuscript.root, assets, problems, remote=remote)
        if title and draft.title is not None:
            draft.title = replace(draft.title, html=_inner_html(title[0]))
    cover = None
    if manuscript.config.cover_image:
        place = manuscript.places.get("cover-image")
        shown = place.file if place else manuscript.shown("book.yaml")
        cover = image_asset(manuscript.config.cover_image, PurePosixPath("."), manuscript.root, shown,
                            place.line if place else None, problems, remote=remote)
    if not drafts and not has_errors(problems):
        problems.append(error("no-text", "the book's files hold no text", file=manuscript.shown_root or manuscript.root,
                              hint="write a chapter: a Markdown file that starts with '# Its Title'"))
    if has_errors(problems):
        raise BuildFailed(problems)
    chapters = tuple(_finish(d) for d in drafts)
    for chapter in chapters:
        if chapter.words == 0 and not chapter.html:
            problems.append(warning("chapter-empty", "the chapter has a heading but no text",
                                    file=manuscript.shown(chapter.source), line=_line_of(
                                        next(s.text for s in manuscript.sources if s.path == chapter.source),
                                        chapter.title.text) or 1,
                                    hint="write the chapter, or remove the heading"))
    return Book(root=manuscript.root, config=manuscript.config, chapters=chapters,
                assets=tuple(sorted(assets.values(), key=lambda a: a.href)), identifier=book_identifier(manuscript),
                modified=modified_time(manuscript, source_date_epoch), slug=manuscript.config.slug, cover=cover,
                diagnostics=tuple(problems), chapter_level=level, titled_by_names=from_names)
