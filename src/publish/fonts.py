"""The fonts the editions set text in: the book face and the fallbacks shipped for what it lacks.

`styles/fonts.css` is the list: each `@font-face` names a family and a file in `styles/fonts/`.
Gentium Book Plus sets Latin, Greek and Cyrillic, JetBrains Mono sets code (and box drawing
anywhere); Noto fonts set Arabic, Hebrew, Chinese, Japanese, Korean and emoji. Output never depends on the fonts a machine happens to have:

* the PDF is laid out with every installed font hidden (`hide_installed_fonts`), so a character
  no shipped font has comes out as a missing glyph, and `missing_glyphs` names each such
  character before layout, from the fonts' character maps;
* an EPUB or web edition carries a fallback font only when the book's text needs it, and the
  large CJK font only as a subset of the characters the book uses.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import tinycss2
from fontTools import subset
from fontTools.ttLib import TTFont
from lxml import etree

from .diagnostics import Diagnostic, warning
from .model import Book
from .templates import CODE_TYPEFACE, MATH_TYPEFACE, STYLES_DIR, TYPEFACE

FONTS_CSS = "fonts.css"
SUBSET_ABOVE = 2 * 1024 * 1024  # bytes: only the CJK font is worth the seconds subsetting takes
MEDIA_TYPES = {".ttf": "font/ttf", ".otf": "font/otf", ".woff": "font/woff", ".woff2": "font/woff2"}
# Characters that take no glyph of their own: controls, format characters (joiners, marks of
# direction) and variation selectors, which choose between forms of the character before them.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}
_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))


@dataclass(frozen=True, slots=True)
class FontFace:
    family: str
    file: str  # relative to styles/, e.g. "fonts/NotoNaskhArabic-Regular.ttf"
    rule: str  # the @font-face rule as written in fonts.css

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[Path(self.file).suffix.lower()]


def _url(tokens: list) -> str | None:  # noqa: ANN001 - tinycss2 nodes
    for token in tokens:
        if token.type == "url":
            return token.value
        if token.type == "function" and token.lower_name == "url":
            return next((t.value for t in token.arguments if t.type == "string"), None)
    return None


@functools.cache
def faces(styles_dir: Path = STYLES_DIR) -> tuple[FontFace, ...]:
    """Every face `fonts.css` declares, in its order: the book face first, then the fallbacks."""
    found = []
    for rule in tinycss2.parse_stylesheet((styles_dir / FONTS_CSS).read_text(), skip_comments=True,
                                          skip_whitespace=True):
        if rule.type != "at-rule" or rule.lower_at_keyword != "font-face" or rule.content is None:
            continue
        family = file = None
        for declaration in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
            if declaration.type != "declaration":
                continue
            if declaration.lower_name == "font-family":
                family = next((t.value for t in declaration.value if t.type in {"string", "ident"}), None)
            elif declaration.lower_name == "src":
                file = _url(declaration.value)
        if family and file:
            found.append(FontFace(family, file, rule.serialize()))
    return tuple(found)


@functools.cache
def coverage(path: Path) -> frozenset[int]:
    """The code points a font file has glyphs for (read once per font)."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _family_coverage(styles_dir: Path) -> dict[str, frozenset[int]]:
    # The regular face stands for the family: bold and italic faces cover the same characters.
    result: dict[str, frozenset[int]] = {}
    for face in faces(styles_dir):
        if face.family not in result:
            result[face.family] = coverage(styles_dir / face.file)
    return result


def _needs_glyph(char: str) -> bool:
    code = ord(char)
    return not (char.isspace() or unicodedata.category(char) in _INVISIBLE or any(code in r for r in _SELECTORS))


def book_text(book: Book) -> str:
    """Every character the editions set: metadata shown on the pages, titles, text and notes."""
    config = book.config
    parts = [config.title, config.subtitle or "", *config.authors, config.publisher or "", config.rights or "",
             config.date or "", book.identifier]
    if config.spoiler:
        parts += [config.spoiler.heading, config.spoiler.text]
    for chapter in book.chapters:
        parts.append(chapter.title.text)
        fragments = [chapter.html, *(n.html for n in chapter.notes)]
        parts += [_prose(f) for f in fragments if f]
    return "\n".join(parts)


def _prose(html: str) -> str:
    # Formulas are set in the math face (and drawn with it in print), whatever the text's fonts have.
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    etree.strip_elements(root, "math", with_tail=False)
    return root.text_content()


def has_math(book: Book) -> bool:
    return any("<math" in html for c in book.chapters for html in (c.html, c.title.html, *(n.html for n in c.notes)))


def sets_code(book: Book) -> bool:
    """Whether the book has code, kbd or samp anywhere (the chapters' HTML escapes every "<" of its text)."""
    fragments = (f for chapter in book.chapters for f in (chapter.html, *(n.html for n in chapter.notes)))
    return any(tag in f for f in fragments for tag in ("<code", "<kbd", "<samp"))


def needed_faces(text: str, *, code: bool = False, styles_dir: Path = STYLES_DIR) -> tuple[FontFace, ...]:
    """The book face, the code face if the book has `code`, and each fallback family that sets a
    character of `text` the families before it lack."""
    covered = _family_coverage(styles_dir)
    wanted = {ord(c) for c in set(text) if _needs_glyph(c)}  # distinct characters first: a novel has ~100
    chosen = {TYPEFACE, CODE_TYPEFACE} if code else {TYPEFACE}
    remaining = wanted - covered.get(TYPEFACE, frozenset())
    for family, codes in covered.items():
        if family != TYPEFACE and remaining & codes:
            chosen.add(family)
            remaining -= codes
    return tuple(f for f in faces(styles_dir) if f.family in chosen)


def unsettable(text: str, *, styles_dir: Path = STYLES_DIR) -> list[str]:
    """The characters of `text` that no shipped font has, in order of first appearance."""
    everything = frozenset().union(*_family_coverage(styles_dir).values())
    return [c for c in dict.fromkeys(text) if _needs_glyph(c) and ord(c) not in everything]


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')} ({char})"


def missing_glyphs(book: Book, *, styles_dir: Path = STYLES_DIR) -> tuple[Diagnostic, ...]:
    """A warning naming the characters no shipped font can set, each with where it first appears."""
    missing = unsettable(book_text(book), styles_dir=styles_dir)
    if not missing:
        return ()
    first = missing[0]
    where, line = Path(book.root.name) / "book.yaml", None
    for chapter in book.chapters:
        source = book.root / chapter.source
        text = source.read_text(encoding="utf-8-sig") if source.is_file() else ""
        if first in text:
            where, line = Path(book.root.name) / chapter.source, text.count("\n", 0, text.index(first)) + 1
            break
    shown = ", ".join(_describe(c) for c in missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
    return (warning("font-missing-glyphs", f"no shipped font can set {len(missing)} character(s): {shown}; "
                    "they print as empty boxes", file=where, line=line,
                    hint="replace them, or add a font that has them to styles/fonts/ and styles/fonts.css"),)


def _subset(path: Path, text: str) -> bytes:
    # Keyed by the characters the font has, so the EPUB and the web edition share one subset.
    return _subset_codes(path, frozenset(ord(c) for c in text) & coverage(path))


@functools.lru_cache(maxsize=8)
def _subset_codes(path: Path, codes: frozenset[int]) -> bytes:
    options = subset.Options()
    options.layout_features = ["*"]  # keep the shaping Japanese vertical forms and Korean need
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    # recalcTimestamp=False: fontTools would stamp head.modified with the clock when it saves
    # (unless SOURCE_DATE_EPOCH is set), and a subset is then new bytes on every build. The
    # shipped font's own date is kept instead.
    with TTFont(path, lazy=False, recalcTimestamp=False) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(codes))
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


def edition_fonts(book: Book | None, *, styles_dir: Path = STYLES_DIR) -> dict[str, bytes]:
    """The stylesheet `fonts.css` and the font files an EPUB or web edition of `book` carries,
    by their path inside the edition (`styles/…`); with no book, the typeface alone."""
    text = book_text(book) if book is not None else ""
    chosen = needed_faces(text, code=book is not None and sets_code(book), styles_dir=styles_dir)
    if book is not None and has_math(book):
        chosen += tuple(f for f in faces(styles_dir) if f.family == MATH_TYPEFACE and f not in chosen)
    css = "/* The fonts this book uses, shipped with it (SIL OFL: see fonts/). */\n"
    css += "".join(f.rule + "\n" for f in chosen)
    files = {f"styles/{FONTS_CSS}": css.encode()}
    for face in chosen:
        path = styles_dir / face.file
        big = face.family != TYPEFACE and path.stat().st_size > SUBSET_ABOVE
        files[f"styles/{face.file}"] = _subset(path, text) if big else path.read_bytes()
    return files


@contextlib.contextmanager
def hide_installed_fonts() -> Iterator[None]:
    """While open, a new WeasyPrint `FontConfiguration` sees no installed font, only `@font-face` ones.

    Fontconfig reads FONTCONFIG_FILE each time a configuration is loaded, and WeasyPrint loads one
    per `FontConfiguration`; a configuration with no font folders leaves only the shipped fonts.
    The variable is process-wide, so it is set only for the moment of that call.
    """
    with tempfile.TemporaryDirectory(prefix="publish-fontconfig-") as folder:
        config = Path(folder) / "fonts.conf"
        config.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
                          f"<fontconfig><cachedir>{Path(folder) / 'cache'}</cachedir></fontconfig>\n")
        before = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = str(config)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("FONTCONFIG_FILE", None)
            else:
                os.environ["FONTCONFIG_FILE"] = before
