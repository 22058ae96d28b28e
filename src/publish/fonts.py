"""The fonts the editions set text in: the book face and the fallbacks shipped for what it lacks.

`styles/fonts.css` is the list: each `@font-face` names a family and a file in `styles/fonts/`.
Gentium Book Plus sets Latin, Greek and Cyrillic, JetBrains Mono sets code (and box drawing
anywhere); Noto fonts set Arabic, Hebrew, Chinese, Japanese, Korean and emoji. Output never
depends on the fonts a machine happens to have:

* the PDF is laid out with every installed font hidden (`hide_installed_fonts`), so a character
  no shipped font has comes out as a missing glyph, and `missing_glyphs` names each such
  character before layout, from the fonts' character maps;
* an EPUB or web edition carries only the faces its text is set in, each cut down to the
  characters it sets there (`font_usage` reads the edition's documents with its stylesheets to
  know them), with every OpenType feature the stylesheets can ask for kept.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import tinycss2
import uharfbuzz as hb
from fontTools import unicodedata as font_unicodedata
from fontTools.ttLib import TTFont
from lxml import etree

from .diagnostics import Diagnostic, warning
from .font_usage import HYPHENS, StyleSheets, TextStyle, family_names, styled_text
from .model import Book
from .templates import CODE_TYPEFACE, STYLES_DIR, TYPEFACE

FONTS_CSS = "fonts.css"
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
    italic: bool = False
    weight: int = 400

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
        italic, weight = False, 400
        for declaration in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
            if declaration.type != "declaration":
                continue
            words = [t.lower_value for t in declaration.value if t.type == "ident"]
            if declaration.lower_name == "font-family":
                family = next((t.value for t in declaration.value if t.type in {"string", "ident"}), None)
            elif declaration.lower_name == "src":
                file = _url(declaration.value)
            elif declaration.lower_name == "font-style":
                italic = bool(words) and words[0] in {"italic", "oblique"}
            elif declaration.lower_name == "font-weight":
                numbers = [int(t.value) for t in declaration.value if t.type == "number" and t.is_integer]
                weight = numbers[0] if numbers else 700 if "bold" in words else 400
        if family and file:
            found.append(FontFace(family, file, rule.serialize(), italic, weight))
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


# --- the fonts an EPUB or web edition carries -----------------------------------------------------

# The OpenType features the subsets keep: HarfBuzz's default set (shaping, kerning, marks, common
# ligatures, the forms Arabic and the East Asian scripts need), and the ones CSS can ask for:
# small capitals, figure styles, superiors, the East Asian widths and forms.
_DEFAULT_FEATURES = sorted(tag.to_bytes(4, "big").decode()
                           for tag in hb.SubsetInput().sets(hb.SubsetInputSets.LAYOUT_FEATURE_TAG))
LAYOUT_FEATURES = (*_DEFAULT_FEATURES, "smcp", "c2sc", "onum", "lnum", "pnum", "tnum", "case",
                   "sups", "subs", "ordn", "sinf", "zero", "dlig", "hlig", "fwid", "hwid", "pwid", "jp78", "jp83",
                   "jp90", "jp04", "smpl", "trad", "nlck", "expt", "hojo", "ruby")
# The name records a subset keeps: names, copyright, trademark, designer, description, URLs and
# the licence (the OFL asks that every copy carries the copyright notice and the licence).
NAME_IDS = tuple(range(0, 23))
_GENERIC = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "math", "emoji", "fangsong",
            "ui-serif", "ui-sans-serif", "ui-monospace", "ui-rounded"}
# FreeType's auto-hinter, which sets text in Chromium and Android and on many e-ink readers,
# measures a face's heights and stems on these letters of each script (its afblue.dat), and
# takes a script whose standard character (afscript.h) is missing for absent, which changes how
# it hints the glyphs no character maps to (ligatures). So a subset keeps the letters of each
# script it sets and every script's standard character, as far as the face has them: without
# them its text is hinted a little differently from the whole font's (tests/test_font_subsets.py).
_AUTOHINT_LETTERS = {
    "Latn": "THEZOCQSLUfijkdbhuvxzoescnrpqgjy", "Grek": "ΓΒΕΖΘΟΩΔΞβθδζλξαειοπστωγημρφχψ",
    "Cyrl": "БВЕПЗОСЭШхпншезосруф", "Hebr": "בדהחךכםסטצקןףץ", "Arab": "اإلكطظتثـ",
}
_AUTOHINT_STANDARD = "oοоםل"
_RESERVED = re.compile(r"Reserved Font Names?\s+((?:[\"“'][^\"”']+[\"”'](?:\s*,\s*|\s+and\s+)?)+)")
_QUOTED = re.compile(r"[\"“']([^\"”']+)[\"”']")


def _choose(faces_of_family: list[FontFace], style: TextStyle) -> FontFace:
    """The face CSS font matching picks for `style` (CSS Fonts 4, 5.2): the style first, then the
    nearest weight; with no italic face the engine slants the upright one."""
    candidates = [f for f in faces_of_family if f.italic == style.italic] or faces_of_family
    wanted = style.weight

    def distance(face: FontFace) -> tuple[int, int]:
        w = face.weight
        if wanted > 500:
            return (0, w - wanted) if w >= wanted else (1, wanted - w)
        if wanted < 400:
            return (0, wanted - w) if w <= wanted else (1, w - wanted)
        if wanted <= w <= 500:
            return (0, w - wanted)
        return (1, wanted - w) if w < wanted else (2, w - wanted)

    return min(candidates, key=distance)


def face_characters(documents: Iterable[bytes | str], stylesheets: Iterable[str], *,
                    styles_dir: Path = STYLES_DIR) -> dict[FontFace, frozenset[int]]:
    """The code points each shipped face sets in `documents` styled by `stylesheets`; faces that
    set nothing are left out. Each character goes to the first family of its text's font stack
    whose face has it, as a reading system falls back; a generic family ends the search (the
    reader's own font). The regular face of a family also gets every character any face of it
    sets, so that text stays in the typeface where a reader turns off bold or italic; and each
    face the few letters an auto-hinter measures it on (see `_AUTOHINT_LETTERS`)."""
    by_family: dict[str, list[FontFace]] = {}
    for face in faces(styles_dir):
        by_family.setdefault(face.family, []).append(face)
    found: dict[FontFace, set[int]] = {}
    for style, chars in styled_text(documents, StyleSheets(stylesheets)).items():
        chars = set(chars) | set(HYPHENS)
        if style.caps:
            chars |= {variant for c in chars for variant in (c.upper(), c.lower()) if len(variant) == 1}
        families = [f for f in style.families if f in by_family or f.lower() in _GENERIC]
        chosen = [None if f.lower() in _GENERIC else _choose(by_family[f], style) for f in families]
        for char in chars:
            code = ord(char)
            if unicodedata.category(char) == "Cc":
                continue
            for face in chosen:
                if face is None:
                    break
                if code in coverage(styles_dir / face.file):
                    found.setdefault(face, set()).add(code)
                    break
    for face, codes in found.items():
        scripts = {font_unicodedata.script(chr(c)) for c in codes}
        reference = _AUTOHINT_STANDARD + "".join(_AUTOHINT_LETTERS.get(script, "") for script in scripts)
        codes |= {ord(c) for c in reference} & coverage(styles_dir / face.file)
    for family, members in by_family.items():
        used = [f for f in members if f in found]
        if used:
            regular = _choose(members, TextStyle((family,)))
            everything = set().union(*(found[f] for f in used)) & coverage(styles_dir / regular.file)
            found[regular] = found.get(regular, set()) | everything
    return {face: frozenset(found[face]) for face in faces(styles_dir) if face in found}


def reserved_names(font: TTFont) -> tuple[str, ...]:
    """The Reserved Font Names the font's copyright or licence record declares (OFL), if any."""
    names: list[str] = []
    for record in font["name"].names:
        if record.nameID in (0, 13):
            for match in _RESERVED.finditer(record.toUnicode()):
                names += [n for n in _QUOTED.findall(match[1]) if n not in names]
    return tuple(names)


def subset_family(family: str, chosen: Mapping[FontFace, frozenset[int]], *, styles_dir: Path = STYLES_DIR) -> str:
    """The name a family's subsets go by. The OFL lets a Modified Version (a subset is one) keep
    the font's name only if that name uses none of the Reserved Font Names (Gentium Book Plus
    reserves "Gentium" and "SIL"): such a family gets a name of its own, "Book Face" and a tag of
    six letters made from the characters it carries, as PDF names its subsets."""
    first = next(f for f in chosen if f.family == family)
    with TTFont(styles_dir / first.file, lazy=True) as font:
        reserved = reserved_names(font)
    if not any(word.lower() in family.lower() for word in reserved):
        return family
    digest = hashlib.sha256(family.encode())
    for face, codes in sorted(chosen.items(), key=lambda item: item[0].file):
        if face.family == family:
            digest.update(face.file.encode() + b"\0" + ",".join(map(str, sorted(codes))).encode() + b"\0")
    tag = "".join(chr(ord("A") + b % 26) for b in digest.digest()[:6])
    return f"Book Face {tag}"


def _rename(font: TTFont, original: str, family: str) -> None:
    """Give the font the family name `family` wherever a name table or CFF names it, and say in
    its description what it is a subset of."""
    ps_family = family.replace(" ", "")
    table = font["name"]
    style = table.getDebugName(17) or table.getDebugName(2) or "Regular"
    ps_name = f"{ps_family}-{style.replace(' ', '')}"
    full = family if style == "Regular" else f"{family} {style}"
    version = table.getDebugName(5) or ""
    description = (f"A subset of {original} {style} ({version}) holding the characters of one book, made by publish. "
                   "It is a Modified Version under the SIL Open Font License, and so does not use the "
                   "Reserved Font Names of the original.")
    for record in list(table.names):
        if record.nameID in (1, 16, 21):
            table.setName(family, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (4, 18):
            table.setName(full, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            table.setName(ps_name, 6, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 3:
            table.setName(f"{ps_name};publish-subset", 3, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 10:
            table.setName(description, 10, record.platformID, record.platEncID, record.langID)
    if table.getDebugName(10) is None:
        table.setName(description, 10, 3, 1, 0x409)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps_name]
        top = cff.topDictIndex[0]
        top.FullName, top.FamilyName = full, family


def _tag(name: str) -> int:
    return int.from_bytes(name.encode("ascii"), "big")


@functools.lru_cache(maxsize=32)
def _subset_codes(path: Path, codes: frozenset[int], family: str | None = None) -> bytes:
    """The font at `path` cut down to `codes`, renamed to `family` if given.

    HarfBuzz's subsetter (the one browsers and WeasyPrint use) does the cutting, thirty times as
    fast as fontTools' on these fonts; fontTools renames the result. Nothing of the moment reaches
    the bytes: the head table's dates are the original's, and both write in a fixed order.
    """
    blob = hb.Blob.from_file_path(str(path))
    request = hb.SubsetInput()
    for code in sorted(codes):
        request.unicode_set.add(code)
    for kind, values in ((hb.SubsetInputSets.LAYOUT_FEATURE_TAG, [_tag(f) for f in LAYOUT_FEATURES]),
                         (hb.SubsetInputSets.NAME_ID, NAME_IDS), (hb.SubsetInputSets.NAME_LANG_ID, _name_languages(path))):
        wanted = request.sets(kind)
        wanted.clear()
        for value in sorted(values):
            wanted.add(value)
    request.flags = hb.SubsetFlags.NOTDEF_OUTLINE
    data = bytes(hb.subset(hb.Face(blob), request).blob.data)
    if family is None:
        return data
    with TTFont(io.BytesIO(data), recalcTimestamp=False) as font:
        original = font["name"].getDebugName(16) or font["name"].getDebugName(1) or path.stem
        if family == original:
            return data
        _rename(font, original, family)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


@functools.cache
def _name_languages(path: Path) -> tuple[int, ...]:
    with TTFont(path, lazy=True) as font:
        return tuple(sorted({record.langID for record in font["name"].names}))


def _face_rule(family: str, face: FontFace, href: str) -> str:
    return (f'@font-face {{ font-family: "{family}"; font-style: {"italic" if face.italic else "normal"}; '
            f'font-weight: {face.weight}; src: url("{href}"); }}')


def edition_fonts(documents: Iterable[bytes | str] | None = None, stylesheets: Iterable[str] = (), *,
                  styles_dir: Path = STYLES_DIR) -> dict[str, bytes]:
    """The stylesheet `fonts.css` and the font files an EPUB or web edition carries, by their path
    inside the edition (`styles/…`).

    Given the edition's `documents` and `stylesheets`, only the faces their text is set in, each
    subset to its characters (and renamed where the licence asks, see `subset_family`); fonts.css
    then also restates the font stack of book.css with those names, so it must be linked after
    book.css. With no documents (the preview's error page), the book face whole.
    """
    if documents is None:
        chosen = needed_faces("", styles_dir=styles_dir)
        css = "/* The fonts this book uses, shipped with it (SIL OFL: see fonts/). */\n"
        files = {f"styles/{FONTS_CSS}": (css + "".join(f.rule + "\n" for f in chosen)).encode()}
        files.update({f"styles/{f.file}": (styles_dir / f.file).read_bytes() for f in chosen})
        return files
    carried = face_characters(documents, stylesheets, styles_dir=styles_dir)
    names = {family: subset_family(family, carried, styles_dir=styles_dir)
             for family in dict.fromkeys(f.family for f in carried)}
    rules, files = [], {}
    for face, codes in carried.items():
        family = names[face.family]
        original = Path(face.file)
        file = original if family == face.family else original.with_name(
            f"{family.replace(' ', '')}-{original.stem.rsplit('-', 1)[-1]}{original.suffix}")
        rules.append(_face_rule(family, face, file.as_posix()))
        files[f"styles/{file.as_posix()}"] = _subset_codes(styles_dir / face.file, codes,
                                                           None if family == face.family else family)
    renamed = {original: new for original, new in names.items() if original != new}
    css = ("/* The fonts this edition uses (SIL Open Font License: see fonts/), each cut down to the characters\n"
           "   it sets. Linked after book.css, whose rules that name a renamed family it restates. */\n"
           + "\n".join(rules) + "\n" + "".join(_restated(sheet, renamed) for sheet in stylesheets))
    return {f"styles/{FONTS_CSS}": css.encode(), **files}


def _restated(sheet: str, renamed: Mapping[str, str]) -> str:
    """Each rule of `sheet` whose font-family names a family in `renamed`, with the new names: the
    subsets go by names of their own, and the stylesheets keep the typeface's. It works for the
    stylesheets linked before fonts.css (book.css); tests/test_font_subsets.py checks that the
    editions' own stylesheets, linked after it, name no shipped family."""
    if not renamed:
        return ""

    def walk(rules: Iterable) -> str:
        out = ""
        for rule in rules:
            if rule.type == "at-rule" and rule.lower_at_keyword in {"media", "supports"} and rule.content:
                inner = walk(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
                if inner:
                    out += f"@{rule.at_keyword} {tinycss2.serialize(rule.prelude).strip()} {{\n{inner}}}\n"
            elif rule.type == "qualified-rule":
                for declaration in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
                    if declaration.type != "declaration" or declaration.lower_name != "font-family":
                        continue
                    families = family_names(declaration.value)
                    if any(f in renamed for f in families):
                        mapped = ", ".join(f'"{renamed.get(f, f)}"' if f not in _GENERIC else f for f in families)
                        out += f"{tinycss2.serialize(rule.prelude).strip()} {{ font-family: {mapped}; }}\n"
        return out

    return walk(tinycss2.parse_stylesheet(sheet, skip_comments=True, skip_whitespace=True))


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
