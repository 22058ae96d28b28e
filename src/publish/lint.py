"""The manuscript lint behind `publish check`: every problem a reader would notice, as one list.

The parse stage already finds what stops a build (broken links and anchors, missing images) and
some of what does not (images without alt text, empty chapters). The lint runs it and adds what
only a careful proofreader would catch, reading each chapter file's rendered HTML: images whose
alt text is empty, heading levels that skip one (counted from the book's chapter level), and
quotes that smart punctuation left straight or turned the wrong way. Each finding points at its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from lxml import etree

from .diagnostics import BuildFailed, Diagnostic, warning
from .manuscript import Manuscript, Source
from .markdown import make_markdown
from .parse import chapter_html, parse_book

_VERBATIM = {"code", "pre", "kbd", "samp", "script", "style", "math"}  # math: TeX's own quotes and primes
_STRAIGHT = re.compile(r"[\"']")
# Smart punctuation guesses a quote's direction from its neighbours and sometimes guesses wrong,
# typically next to a link or emphasis: an opening quote that ends a word, or an opening single
# quote inside a word where an apostrophe belongs (rock ‘n’ roll, Hallowe‘en).
_WRONG_WAY = re.compile(r"(?<=[\w.,;:!?)\]])“(?=[\s.,;:!?)\]]|$)|(?<=\w)‘(?=\w)")
_UNMARKED = re.compile(r"[\"'“”‘’*_\[\]()`<>—–…]")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True, slots=True)
class _Chapter:
    source: Source
    shown: Path
    root: etree._Element


def lint_manuscript(manuscript: Manuscript, *, cache: MutableMapping[str, str] | None = None) -> tuple[Diagnostic, ...]:
    """Every problem in the manuscript, the parse stage's and the lint's, sorted by file and line."""
    cache = {} if cache is None else cache
    md = make_markdown()
    for source in manuscript.sources:
        if source.digest not in cache:
            cache[source.digest] = chapter_html(source.text, md=md)
    files = [_Chapter(source, manuscript.shown(source.path),
                      lxml.html.fragment_fromstring(cache[source.digest], create_parent="div")
                      if cache[source.digest].strip() else lxml.html.Element("div"))
             for source in manuscript.sources]
    try:
        book = parse_book(manuscript, cache=cache)
        parsed, level, by_names = book.diagnostics, book.chapter_level, book.titled_by_names
    except BuildFailed as failure:
        parsed, level, by_names = failure.diagnostics, None, False
    if level is None:
        level = min((int(h.tag[1]) for f in files for h in f.root if h.tag in _HEADINGS), default=1)
    found: list[Diagnostic] = []
    for chapter in files:
        found += _empty_chapter(chapter)
        found += _image_alt(chapter)
        found += _heading_levels(chapter, level - 1 if by_names else level)
        found += _quotes(chapter)
    # The lint's own rule covers this more widely (empty alt text) and places it better (the n-th
    # use of an image), so the parse stage's copy is left out. An empty chapter is the parse
    # stage's to find (a file may hold several chapters); the lint adds files with no text.
    found.extend(d for d in parsed if d.code != "image-alt")
    return _unique_sorted(found)


def _unique_sorted(found: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    seen: dict[tuple[str, str, int | None], Diagnostic] = {}
    for d in found:
        seen.setdefault((d.code, str(d.file), d.line), d)
    return tuple(sorted(seen.values(), key=lambda d: (str(d.file or ""), d.line or 0, d.code)))


def _line_of(text: str, needle: str) -> int | None:
    position = text.find(needle) if needle else -1
    return text.count("\n", 0, position) + 1 if position >= 0 else None


def _empty_chapter(chapter: _Chapter) -> Iterator[Diagnostic]:
    if chapter.source.metadata and not chapter.source.text.strip():
        return  # a file of metadata only, such as a title block for the whole book
    words = len(chapter.root.text_content().split())
    words -= sum(len(h.text_content().split()) for h in chapter.root.iter(*_HEADINGS))
    if words == 0 and next(chapter.root.iter("img"), None) is None:
        yield warning("chapter-empty", "the chapter has no text", file=chapter.shown, line=1,
                      hint="write the chapter, or remove the file")


def _image_alt(chapter: _Chapter) -> Iterator[Diagnostic]:
    seen: dict[str, int] = {}  # the n-th image with a src is at the n-th place the src is written
    for image in chapter.root.iter("img"):
        src = image.get("src", "")
        seen[src] = seen.get(src, 0) + 1
        if (image.get("alt") or "").strip():
            continue
        yield warning("image-alt", f"the image '{src}' has no alt text", file=chapter.shown,
                      line=_nth_line(chapter.source.text, src, seen[src]),
                      hint="describe it for readers who cannot see it: ![a drum kit on a stage](images/drums.jpg)")


def _nth_line(text: str, needle: str, n: int) -> int | None:
    position = -1
    for _ in range(n):
        position = text.find(needle, position + 1) if needle else -1
        if position < 0:
            return None
    return text.count("\n", 0, position) + 1


def _heading_lines(text: str) -> dict[int, list[int]]:
    """The line of every ATX heading, by its level ('#' is 1), outside fenced code."""
    lines: dict[int, list[int]] = {}
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _ATX.match(line)):
            lines.setdefault(len(match[1]), []).append(number)
    return lines


def _heading_levels(chapter: _Chapter, top: int) -> Iterator[Diagnostic]:
    """Headings that skip a level, counted from the chapter level `top` (one above the file's
    headings when the chapters are titled from their file names)."""
    headings = list(chapter.root.iter(*_HEADINGS))
    lines = _heading_lines(chapter.source.text)
    seen: dict[int, int] = {}

    def line_of(level: int) -> int | None:
        seen[level] = seen.get(level, 0) + 1
        candidates = lines.get(level, [])
        return candidates[seen[level] - 1] if len(candidates) >= seen[level] else None

    previous = top  # an untitled opening's sections may start one below the chapter level
    for heading in headings:
        level = int(heading.tag[1])
        line = line_of(level)
        text = " ".join(heading.text_content().split())
        if level > previous + 1:
            yield warning("heading-skip", f"the heading '{text}' skips a level: {'#' * previous} is followed by "
                          f"{'#' * level}", file=chapter.shown, line=line,
                          hint=f"use '{'#' * (previous + 1)} {text}', so readers and screen readers can follow the structure")
        previous = max(level, top)


def _text_nodes(root: etree._Element) -> Iterator[str]:
    """The text of the chapter outside code, in document order."""
    def walk(element: etree._Element) -> Iterator[str]:
        if element.tag in _VERBATIM:
            return
        if element.text:
            yield element.text
        for child in element:
            yield from walk(child)
            if child.tail:
                yield child.tail
    yield from walk(root)


def _context_line(source: str, text: str, at: int) -> int | None:
    """The source line of the character `at` in the chapter's `text`.

    Markdown keeps a paragraph's line breaks, so the rendered line around `at` is one source line
    less its markup: the longest stretch of it free of markup and smart punctuation is found there.
    """
    start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    pieces = _UNMARKED.split(text[start:end if end >= 0 else len(text)])
    for piece in sorted((p.strip() for p in pieces), key=len, reverse=True):
        if len(piece) >= 3 and (line := _line_of(source, piece)):
            return line
    return None


def _quotes(chapter: _Chapter) -> Iterator[Diagnostic]:
    # One string for the whole chapter, so a quote is seen with its neighbours across inline markup.
    text = "".join(_text_nodes(chapter.root))
    reported: set[int | None] = set()
    findings = [(m, "straight") for m in _STRAIGHT.finditer(text)] + [(m, "wrong") for m in _WRONG_WAY.finditer(text)]
    for match, kind in sorted(findings, key=lambda f: f[0].start()):
        line = _context_line(chapter.source.text, text, match.start())
        if line in reported:
            continue  # one finding per line is enough to send the author there
        reported.add(line)
        excerpt = " ".join(text[max(0, match.start() - 20):match.start() + 20].split())
        if kind == "straight":
            yield warning("straight-quotes", f"a straight quote {match[0]} is left in the text: '…{excerpt}…'",
                          file=chapter.shown, line=line,
                          hint="smart punctuation does not reach inside raw HTML: type the curly quote yourself "
                               "(“ ” ‘ ’), or write the passage in Markdown")
        else:
            right = "”" if match[0] == "“" else "’"
            yield warning("quote-direction", f"the quote {match[0]} points the wrong way: '…{excerpt}…'",
                          file=chapter.shown, line=line,
                          hint=f"type {right} yourself at that place; smart punctuation guesses wrong next to "
                               "links and emphasis")
