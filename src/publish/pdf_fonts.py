"""One copy of each font in a PDF bound from runs laid out apart, subset once for the whole book.

A book laid out in runs of chapters (one WeasyPrint process each) is bound into one PDF, and each
run brings its own copy of every font it sets. WeasyPrint 70 writes a vector font as a Type0 font
(Identity-H, or its own `WP-Encod-0` CMap when a character had no glyph) over a CIDFontType2
(TrueType, FontFile2) or CIDFontType0 (CFF in OpenType, FontFile3) with CIDToGIDMap Identity: the
codes in the content streams are glyph ids of the font program. Subset, the program keeps every
glyph id (HarfBuzz with retain-gids), so a run's subset and another's number glyphs alike; but two
subsets cannot be joined into one program, which is why the runs are written whole
(`full_fonts=True`) and subset here, once, over the glyphs every page uses.

Written whole, a run's W array comes from the font's advance widths and its ToUnicode from the
font's character map: the text of a ligature, a small capital or any other glyph the shaper chose
is lost, and a glyph's width is not quite the one Pango placed it with. `keep_set_text` (part of
each run's finisher) puts back, for the glyphs the run sets, what a subset write has.

`merge_fonts` then keeps one font dictionary for each font (same name, same program), whose W,
ToUnicode and encoding are the union of the runs', points every resource dictionary at it, and
(the default and screen profiles) subsets its program over the glyphs the pages use, exactly as
WeasyPrint does (the same HarfBuzz, the same two passes and flags), so that the bound PDF's fonts
are those a single-pass layout embeds. Content streams are not touched.
"""

from __future__ import annotations

import array
import functools
import hashlib
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from math import ceil

import pikepdf

_TAG = re.compile(r"^[A-Z]{6}\+")
_BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")
_CIDCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*(\d+)")


# --- in each run's finisher -------------------------------------------------------------------


def keep_set_text(document, pdf) -> None:
    """Give each whole font of a run written with `full_fonts=True` the text and widths of the
    glyphs the run sets, as a subset write has them; the font's own (character map, advance
    widths) stay for the rest. `document` and `pdf` are what WeasyPrint passes a finisher (a
    `Document`, a pydyf `PDF`); call it before the streams are compressed (`_compress_ahead`)."""
    import pydyf

    def resolve(value):
        return pdf.objects[int(value.split()[0])] if isinstance(value, bytes) and value.endswith(b" R") else value

    # WeasyPrint names each font's dictionary, in the pages' font resources, by the font's hash.
    by_hash = {}
    for obj in pdf.objects:
        if isinstance(obj, dict) and not isinstance(obj, pydyf.Stream) and "Type" not in obj:
            for key, value in obj.items():
                target = resolve(value) if isinstance(key, str) else None
                if isinstance(target, dict) and target.get("Subtype") == "/Type0":
                    by_hash[key] = target
    for font in document.fonts.values():
        dictionary = by_hash.get(font.hash)
        if dictionary is None or font.bitmap:
            continue
        to_unicode = resolve(dictionary["ToUnicode"])
        written = _parse_to_unicode(b"\n".join(bytes(line) for line in to_unicode.stream))
        # The glyphs the run sets first, in the order it set them: a merge keeps that order.
        text = {**font.to_unicode, **{g: t for g, t in written.items() if g not in font.to_unicode}}
        to_unicode.stream = _to_unicode_lines(text)
        descendant = resolve(resolve(dictionary["DescendantFonts"])[0])
        widths = {**_parse_widths(descendant["W"]), **font.widths}
        descendant["W"] = pydyf.Array(pydyf.Array(item) if isinstance(item, list) else item
                                      for item in _width_array(widths))


# --- in the binder ----------------------------------------------------------------------------


@dataclass
class _Font:
    """One Type0 font dictionary as a run wrote it, and the codes its pages show with it."""

    obj: pikepdf.Dictionary
    shown: bytearray = field(default_factory=bytearray)  # two bytes a code, as the pages show them

    def show(self, data: bytes) -> None:
        self.shown += data[:len(data) & ~1]

    @functools.cached_property
    def codes(self) -> list[int]:
        """The codes shown, each once, in the order first shown."""
        codes = array.array("H", bytes(self.shown))
        if sys.byteorder == "little":
            codes.byteswap()
        return list(dict.fromkeys(codes))


def merge_fonts(pdf: pikepdf.Pdf, *, subset: bool, hinting: bool = False) -> None:
    """Keep one font dictionary and one font program for each font of `pdf`, in place.

    Fonts are the same when their names and programs are (runs write them whole: the same file
    gives the same bytes). The one kept is the first the pages use; its W, ToUnicode, encoding
    and CIDSet become the union of every copy's, and every resource dictionary that named a copy
    names it. With `subset`, each program is cut down to the glyphs the pages show (keeping
    their ids) and its name marked as a subset, the W and ToUnicode to those glyphs; without,
    fonts stay whole and unmarked, as the print profile wants them. `hinting` is WeasyPrint's
    option of that name (off by default, as in WeasyPrint)."""
    fonts, uses = _read_uses(pdf)
    digests: dict[tuple[int, int], bytes] = {}
    groups: dict[tuple, list[_Font]] = {}
    for font in fonts.values():
        groups.setdefault(_identity(font.obj, digests), []).append(font)
    kept: dict[tuple[int, int], pikepdf.Object] = {}
    programs: dict[bytes, list[tuple[pikepdf.Dictionary, list[_Font]]]] = {}
    shown: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for copies in groups.values():
        first = copies[0].obj
        shown[first.objgen] = _merge_copies(pdf, first, copies)
        for copy in copies:
            kept[copy.obj.objgen] = first
        descriptor = first.DescendantFonts[0].FontDescriptor
        programs.setdefault(_program_digest(descriptor, digests), []).append((first, copies))
    in_forms = _form_fonts(pdf)
    for digest, users in programs.items():
        first_descriptor = users[0][0].DescendantFonts[0].FontDescriptor
        key = _program_key(first_descriptor)
        stream = first_descriptor[key]
        if subset and not any(font.objgen in in_forms for font, _ in users):
            used: dict[int, None] = {}
            missing = False
            count = _glyph_count(digest, stream)
            for font, copies in users:
                missing |= isinstance(font.get("/Encoding"), pikepdf.Stream)
                for copy in copies:
                    used.update(dict.fromkeys(_glyph(code, count) for code in copy.codes))
            if used:
                program = _subset(stream.read_bytes(), tuple(sorted(used)), hinting=hinting, missing=missing)
                stream = _program_stream(pdf, stream, program)
        for font, _copies in users:
            font.DescendantFonts[0].FontDescriptor[key] = stream
    for copies in groups.values():
        codes, cids = shown[copies[0].obj.objgen]
        _finish(copies[0].obj, subset=subset, shown=codes, selected=cids)
    for resources, name, font in uses:
        if font.objgen in kept:
            resources.Font[name] = kept[font.objgen]


def _identity(font: pikepdf.Dictionary, digests: dict[tuple[int, int], bytes]) -> tuple[str, str, bytes]:
    descendant = font.DescendantFonts[0]
    return str(font.BaseFont), str(descendant.Subtype), _program_digest(descendant.FontDescriptor, digests)


def _program_key(descriptor: pikepdf.Dictionary) -> str:
    return next(k for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor)


def _program_digest(descriptor: pikepdf.Dictionary, digests: dict[tuple[int, int], bytes]) -> bytes:
    stream = descriptor[_program_key(descriptor)]
    if stream.objgen not in digests:
        digests[stream.objgen] = hashlib.sha256(stream.read_bytes()).digest()
    return digests[stream.objgen]


# A content stream as WeasyPrint (pydyf) writes it, read for the few operators that matter here:
# literal strings are skipped whole (they may hold anything), text is shown by `[…] TJ` or
# `… Tj`, a font is chosen by `/Name size Tf`, a form drawn by `/Name Do`.
_LITERAL = rb"\((?:[^\\()]++|\\.)*+\)"
_TOKENS = re.compile(rb"""
    (?P<literal>""" + _LITERAL + rb""")(?P<literal_shown>\s*(?:Tj|'|"))?
  | \[(?P<array>(?:[^\]()]++|""" + _LITERAL + rb""")*+)\]\s*TJ
  | <(?P<hex>[0-9A-Fa-f\s]*)>\s*(?:Tj|'|")
  | /(?P<font>[^\s/\[\]()<>{}%]+)\s+[-+0-9.]+\s+Tf(?![^\s\[\]()<>/%])
  | /(?P<form>[^\s/\[\]()<>{}%]+)\s+Do(?![^\s\[\]()<>/%])
  | (?<![^\s\]\)>])(?P<state>[qQ])(?![^\s\[\]()<>/%])
""", re.VERBOSE | re.DOTALL)
_STRINGS = re.compile(rb"<([0-9A-Fa-f\s]*)>|(" + _LITERAL + rb")", re.DOTALL)
_HEX_DIGITS = re.compile(rb"<([0-9A-Fa-f]*)>")
_PART_CODE = re.compile(rb"<(?:[0-9A-Fa-f]{4})*[0-9A-Fa-f]{1,3}>")  # a string that is not whole codes
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(data: bytes) -> bytes:
    """A literal string's bytes (its parentheses included in `data`)."""
    def unescape(match: re.Match[bytes]) -> bytes:
        escaped = match[1]
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8) & 0xFF])
        return b"" if escaped in {b"\n", b"\r", b"\r\n"} else _ESCAPES.get(escaped, escaped)

    return re.sub(rb"\\([0-7]{1,3}|\r\n|.)", unescape, data[1:-1], flags=re.DOTALL)


def _shown_in(array: bytes) -> bytes:
    """The bytes a TJ array shows: WeasyPrint's hold hex strings of whole codes, read at once."""
    if b"(" not in array and not _PART_CODE.search(array):
        return bytes.fromhex(b"".join(_HEX_DIGITS.findall(array)).decode())
    strings = (_literal(literal) if literal else _hex(digits) for digits, literal in _STRINGS.findall(array))
    return b"".join(string[:len(string) & ~1] for string in strings)  # each string whole codes, or none


def _hex(data: bytes) -> bytes:
    digits = re.sub(rb"\s", b"", data)
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())


def _read_uses(pdf: pikepdf.Pdf) -> tuple[dict[tuple[int, int], _Font], list[tuple]]:
    """Every Type0 font the pages, their forms, patterns and annotations use, with the codes
    shown in it, and every (resources, name, font) naming one, in the order of the pages."""
    fonts: dict[tuple[int, int], _Font] = {}
    uses: list[tuple] = []
    named: set[tuple] = set()
    done: set[tuple] = set()

    def fonts_of(resources) -> dict[str, _Font | None]:
        if not isinstance(resources, pikepdf.Dictionary) or not isinstance(resources.get("/Font"), pikepdf.Dictionary):
            return {}
        found: dict[str, _Font | None] = {}
        for name, font in resources.Font.items():
            found[name[1:]] = None
            if isinstance(font, pikepdf.Dictionary) and font.get("/Subtype") == "/Type0" and font.is_indirect:
                if font.objgen not in fonts:
                    fonts[font.objgen] = _Font(font)
                found[name[1:]] = fonts[font.objgen]
                key = (resources.objgen if resources.is_indirect else id(resources), name)
                if key not in named:
                    named.add(key)
                    uses.append((resources, name, font))
        return found

    def walk(obj, data: bytes, resources) -> None:
        key = (obj.objgen, resources.objgen if isinstance(resources, pikepdf.Object) and resources.is_indirect
               else id(resources))
        if key in done:
            return
        done.add(key)
        by_name = fonts_of(resources)
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        current: list[_Font | None] = [None]
        for token in _TOKENS.finditer(data):
            kind = token.lastgroup
            if kind == "state":
                if token["state"] == b"q":
                    current.append(current[-1])
                elif len(current) > 1:
                    current.pop()
            elif kind == "font":
                current[-1] = by_name.get(token["font"].decode("latin-1"))
            elif current[-1] is not None and kind in {"array", "hex", "literal_shown"}:
                if kind == "array":
                    current[-1].show(_shown_in(token["array"]))
                elif kind == "hex":
                    current[-1].show(_hex(token["hex"]))
                else:
                    current[-1].show(_literal(token["literal"]))
            elif kind == "form" and isinstance(xobjects, pikepdf.Dictionary):
                xobject = xobjects.get("/" + token["form"].decode("latin-1"))
                if isinstance(xobject, pikepdf.Stream) and xobject.get("/Subtype") == "/Form":
                    inner = xobject.get("/Resources", resources)
                    walk(xobject, xobject.read_bytes(), inner)
        patterns = resources.get("/Pattern") if isinstance(resources, pikepdf.Dictionary) else None
        for pattern in (patterns.values() if isinstance(patterns, pikepdf.Dictionary) else []):
            if isinstance(pattern, pikepdf.Stream) and pattern.get("/PatternType") == 1:
                walk(pattern, pattern.read_bytes(), pattern.get("/Resources", resources))

    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        contents = page.obj.get("/Contents")
        streams = contents if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []
        walk(page.obj, b"\n".join(stream.read_bytes() for stream in streams), resources)
        for annotation in page.obj.get("/Annots", []):
            for appearance in _appearances(annotation):
                walk(appearance, appearance.read_bytes(), appearance.get("/Resources", resources))
    return fonts, uses


def _appearances(annotation) -> Iterator[pikepdf.Stream]:
    appearances = annotation.get("/AP") if isinstance(annotation, pikepdf.Dictionary) else None
    for state in (appearances.values() if isinstance(appearances, pikepdf.Dictionary) else []):
        if isinstance(state, pikepdf.Stream):
            yield state
        elif isinstance(state, pikepdf.Dictionary):
            yield from (s for s in state.values() if isinstance(s, pikepdf.Stream))


def _form_fonts(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    """Fonts a form field may set any text in (WeasyPrint keeps those whole)."""
    form = pdf.Root.get("/AcroForm")
    resources = form.get("/DR") if isinstance(form, pikepdf.Dictionary) else None
    fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
    return {f.objgen for f in fonts.values()} if isinstance(fonts, pikepdf.Dictionary) else set()


def _glyph(code: int, count: int) -> int:
    # WeasyPrint shows a character no font has with a code past the font's glyphs, which its
    # encoding CMap sends to glyph 0 (.notdef).
    return code if code < count else 0


def _glyph_count(digest: bytes, stream: pikepdf.Stream) -> int:
    return _COUNTS[digest] if digest in _COUNTS else _COUNTS.setdefault(digest, _count_glyphs(stream.read_bytes()))


_COUNTS: dict[bytes, int] = {}


def _count_glyphs(program: bytes) -> int:
    """numGlyphs of the font's maxp table (TrueType and OpenType alike)."""
    tables = int.from_bytes(program[4:6], "big")
    for i in range(tables):
        record = program[12 + 16 * i:28 + 16 * i]
        if record[:4] == b"maxp":
            offset = int.from_bytes(record[8:12], "big")
            return int.from_bytes(program[offset + 4:offset + 6], "big")
    raise ValueError("a font program without a maxp table")


def _merge_copies(pdf: pikepdf.Pdf, first: pikepdf.Dictionary, copies: list[_Font]) -> tuple[list[int], list[int]]:
    """The first copy gets the union of every copy's text, widths and encoding. A glyph some page
    shows takes the text and width of the first copy that shows it (the run that set it), the
    rest those of the whole font; each list in the order the pages first show its glyphs, as a
    single-pass write lists them. Returns the codes the pages show and the CIDs they select (the
    same, and 0 where a code stands for a character no font has)."""
    parsed = []
    for copy in copies:
        encoding = copy.obj.get("/Encoding")
        cmap = {int(code, 16): int(cid) for code, cid in _CIDCHAR.findall(encoding.read_bytes())} \
            if isinstance(encoding, pikepdf.Stream) else {}
        cids = list(dict.fromkeys(c for code in copy.codes for c in (code, cmap.get(code, code))))
        parsed.append((copy, cmap, cids, _parse_to_unicode(copy.obj.ToUnicode.read_bytes()),
                       _parse_widths(_numbers(copy.obj.DescendantFonts[0].get("/W", pikepdf.Array())))))
    shown = list(dict.fromkeys(code for copy in copies for code in copy.codes))
    selected = list(dict.fromkeys(cid for _, _, cids, _, _ in parsed for cid in cids))
    text: dict[int, str] = {}
    widths: dict[int, float] = {}
    for copy, _cmap, cids, copy_text, copy_widths in parsed:
        for code in copy.codes:
            if code in copy_text:
                text.setdefault(code, copy_text[code])
        for cid in cids:
            if cid in copy_widths:
                widths.setdefault(cid, copy_widths[cid])
    for _copy, _cmap, _cids, copy_text, copy_widths in parsed:
        for code, value in copy_text.items():
            text.setdefault(code, value)
        for cid, value in copy_widths.items():
            widths.setdefault(cid, value)
    first.ToUnicode = _new_stream(pdf, first.ToUnicode, b"\n".join(_to_unicode_lines(text)))
    descendant = first.DescendantFonts[0]
    descendant.W = pikepdf.Array(_width_array(widths))
    if any(cmap for _, cmap, _, _, _ in parsed):
        stream = next(copy.obj.Encoding for copy, cmap, _, _, _ in parsed if cmap)
        # A copy written with Identity-H maps each code it shows to itself.
        mapping = {code: next((cmap[code] for _, cmap, _, _, _ in parsed if code in cmap), code) for code in shown}
        for _copy, cmap, _cids, _text, _widths in parsed:
            for code, cid in cmap.items():
                mapping.setdefault(code, cid)
        first.Encoding = _new_stream(pdf, stream, b"\n".join(_encoding_lines(mapping)))
    descriptor = descendant.FontDescriptor
    if "/CIDSet" in descriptor:
        descriptor.CIDSet = _new_stream(pdf, descriptor.CIDSet, _cid_set(widths))
    return shown, selected


def _subset_widths(font: pikepdf.Dictionary, shown: Iterable[int], selected: Iterable[int]) -> None:
    shown, selected = set(shown), set(selected)
    descendant = font.DescendantFonts[0]
    widths = {g: w for g, w in _parse_widths(_numbers(descendant.get("/W", pikepdf.Array()))).items()
              if g in selected}
    descendant.W = pikepdf.Array(_width_array(widths))
    text = {g: t for g, t in _parse_to_unicode(font.ToUnicode.read_bytes()).items() if g in shown}
    _rewrite(font.ToUnicode, b"\n".join(_to_unicode_lines(text)))
    descriptor = descendant.FontDescriptor
    if "/CIDSet" in descriptor:
        _rewrite(descriptor.CIDSet, _cid_set(widths))
    if isinstance(font.get("/Encoding"), pikepdf.Stream):
        mapping = {code: cid for code, cid in ((int(c, 16), int(g)) for c, g in _CIDCHAR.findall(
            font.Encoding.read_bytes())) if code in shown}
        _rewrite(font.Encoding, b"\n".join(_encoding_lines(mapping)))


def _finish(font: pikepdf.Dictionary, *, subset: bool, shown: list[int], selected: list[int]) -> None:
    """A subset is named "ABCDEF+Name", a whole font "Name". WeasyPrint's mark (made from the
    font's description, the same in every run) is kept where the runs carry it; a font that
    lost it gets one made, as WeasyPrint makes them, from its name and the glyphs it keeps."""
    if subset:
        _subset_widths(font, shown, selected)
    descendant = font.DescendantFonts[0]
    descriptor = descendant.FontDescriptor
    name = str(font.BaseFont).lstrip("/")
    bare = _TAG.sub("", name)
    if not subset:
        new = bare
    elif _TAG.match(name):
        new = name
    else:
        digest = hashlib.md5((bare + "".join(f"{g:04x}" for g in sorted(set(selected)))).encode(),
                             usedforsecurity=False).digest()
        new = "".join(chr(65 + b % 26) for b in digest[:6]) + "+" + bare
    for obj, key in ((font, "/BaseFont"), (descendant, "/BaseFont"), (descriptor, "/FontName")):
        obj[key] = pikepdf.Name("/" + new)
    widths = _parse_widths(_numbers(descendant.get("/W", pikepdf.Array())))
    # WeasyPrint's box and fixed-pitch flag come from the widths the font shows.
    if widths:
        box = [float(v) for v in descriptor.FontBBox]
        box[2] = max(widths.values())
        descriptor.FontBBox = pikepdf.Array([_number(v) for v in box])
        descriptor.CapHeight = _number(box[3])
        seen = {widths[c] for c in selected if c in widths}
        fixed = len(widths) > 1 and len(seen) == 1
        descriptor.Flags = (int(descriptor.Flags) & ~1) | int(fixed)


# --- HarfBuzz, as WeasyPrint subsets -----------------------------------------------------------


@dataclass(frozen=True)
class _HarfBuzz:
    ffi: object
    harfbuzz: object
    subset: object


# The few HarfBuzz functions a subset takes, as WeasyPrint declares them (weasyprint/text/ffi.py),
# and the two that open a font from bytes.
_CDEF = """
    typedef struct hb_blob_t hb_blob_t;
    typedef struct hb_face_t hb_face_t;
    typedef struct hb_set_t hb_set_t;
    typedef struct hb_subset_input_t hb_subset_input_t;
    typedef uint32_t hb_tag_t;
    typedef uint32_t hb_codepoint_t;
    typedef enum { HB_MEMORY_MODE_DUPLICATE, HB_MEMORY_MODE_READONLY } hb_memory_mode_t;
    typedef void (*hb_destroy_func_t) (void *user_data);
    hb_blob_t * hb_blob_create (const char *data, unsigned int length, hb_memory_mode_t mode,
                                void *user_data, hb_destroy_func_t destroy);
    void hb_blob_destroy (hb_blob_t *blob);
    const char * hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
    hb_face_t * hb_face_create (hb_blob_t *blob, unsigned int index);
    void hb_face_destroy (hb_face_t *face);
    hb_blob_t * hb_face_reference_blob (hb_face_t *face);
    hb_tag_t hb_tag_from_string (const char *str, int len);
    void hb_set_add_sorted_array (hb_set_t *set, const hb_codepoint_t *sorted_codepoints,
                                  unsigned int num_codepoints);
    typedef enum {
        HB_SUBSET_FLAGS_NO_HINTING = 0x00000001u,
        HB_SUBSET_FLAGS_RETAIN_GIDS = 0x00000002u,
        HB_SUBSET_FLAGS_DESUBROUTINIZE = 0x00000004u,
        HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED = 0x00000020u,
        HB_SUBSET_FLAGS_NOTDEF_OUTLINE = 0x00000040u,
    } hb_subset_flags_t;
    typedef enum { HB_SUBSET_SETS_GLYPH_INDEX = 0, HB_SUBSET_SETS_UNICODE, HB_SUBSET_SETS_NO_SUBSET_TABLE_TAG,
                   HB_SUBSET_SETS_DROP_TABLE_TAG } hb_subset_sets_t;
    hb_subset_input_t * hb_subset_input_create_or_fail (void);
    void hb_subset_input_destroy (hb_subset_input_t *input);
    hb_set_t * hb_subset_input_glyph_set (hb_subset_input_t *input);
    hb_set_t * hb_subset_input_set (hb_subset_input_t *input, hb_subset_sets_t set_type);
    void hb_subset_input_set_flags (hb_subset_input_t *input, unsigned value);
    hb_face_t * hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
"""


@functools.cache
def _harfbuzz() -> _HarfBuzz:
    """The system's HarfBuzz, which WeasyPrint lays out and subsets with (uharfbuzz brings its own,
    another version, whose subsets are not byte for byte those of a single-pass layout). Opened
    as WeasyPrint opens it, without importing WeasyPrint (a second in a binder that lays out nothing)."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_CDEF)

    def open_library(*names: str):
        for name in names:
            try:
                return ffi.dlopen(name)
            except OSError:
                continue
        raise RuntimeError(f"HarfBuzz is missing ({names[0]}): WeasyPrint could not subset fonts either")

    return _HarfBuzz(ffi, open_library("libharfbuzz.so.0", "libharfbuzz-0", "harfbuzz", "libharfbuzz.0.dylib",
                                       "libharfbuzz-0.dll"),
                     open_library("libharfbuzz-subset.so.0", "libharfbuzz-subset-0", "harfbuzz-subset",
                                  "libharfbuzz-subset.0.dylib", "libharfbuzz-subset-0.dll"))


_DROPPED_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")


def _subset(program: bytes, glyphs: tuple[int, ...], *, hinting: bool, missing: bool) -> bytes:
    """The font cut down to `glyphs` (sorted), their ids kept, by WeasyPrint 70's two passes
    (`Font._harfbuzz_subset`): the glyphs with their ids, then every id up to the last one, so
    that the empty glyphs after it go."""
    hb = _harfbuzz()
    ffi, harfbuzz, sub = hb.ffi, hb.harfbuzz, hb.subset
    blob = harfbuzz.hb_blob_create(program, len(program), harfbuzz.HB_MEMORY_MODE_READONLY, ffi.NULL, ffi.NULL)
    face = harfbuzz.hb_face_create(blob, 0)
    source = ffi.gc(face, harfbuzz.hb_face_destroy)
    request = ffi.gc(sub.hb_subset_input_create_or_fail(), sub.hb_subset_input_destroy)
    gids = sub.hb_subset_input_glyph_set(request)
    harfbuzz.hb_set_add_sorted_array(gids, ffi.new(f"hb_codepoint_t[{len(glyphs)}]", glyphs), len(glyphs))
    notdef = sub.HB_SUBSET_FLAGS_NOTDEF_OUTLINE if missing else 0
    sub.hb_subset_input_set_flags(request, sub.HB_SUBSET_FLAGS_RETAIN_GIDS | sub.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
                                  | sub.HB_SUBSET_FLAGS_DESUBROUTINIZE | notdef)
    dropped = sub.hb_subset_input_set(request, sub.HB_SUBSET_SETS_DROP_TABLE_TAG)
    tags = tuple(harfbuzz.hb_tag_from_string(t, -1) for t in _DROPPED_TABLES)
    harfbuzz.hb_set_add_sorted_array(dropped, ffi.new(f"hb_codepoint_t[{len(tags)}]", tags), len(tags))
    first = ffi.gc(sub.hb_subset_or_fail(source, request), harfbuzz.hb_face_destroy)
    if first == ffi.NULL:
        harfbuzz.hb_blob_destroy(blob)
        raise RuntimeError("HarfBuzz could not subset a font")
    every = tuple(range(max(glyphs) + 1))
    harfbuzz.hb_set_add_sorted_array(gids, ffi.new(f"hb_codepoint_t[{len(every)}]", every), len(every))
    flags = sub.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED | sub.HB_SUBSET_FLAGS_DESUBROUTINIZE | notdef
    if not hinting:
        flags |= sub.HB_SUBSET_FLAGS_NO_HINTING
    sub.hb_subset_input_set_flags(request, flags)
    second = ffi.gc(sub.hb_subset_or_fail(first, request), harfbuzz.hb_face_destroy)
    try:
        if second == ffi.NULL:
            raise RuntimeError("HarfBuzz could not subset a font")
        out = harfbuzz.hb_face_reference_blob(second)
        length = ffi.new("unsigned int *")
        data = harfbuzz.hb_blob_get_data(out, length)
        result = bytes(ffi.buffer(data, length[0]))
        harfbuzz.hb_blob_destroy(out)
        return result
    finally:
        harfbuzz.hb_blob_destroy(blob)


def _program_stream(pdf: pikepdf.Pdf, old: pikepdf.Stream, program: bytes) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, program)
    for key, value in old.items():
        if key not in {"/Length", "/Filter", "/DecodeParms", "/Length1"}:
            stream[key] = value
    if "/Length1" in old:
        stream.Length1 = len(program)
    stream.write(zlib.compress(program), filter=pikepdf.Name.FlateDecode)  # as WeasyPrint compresses
    return pdf.make_indirect(stream)


def _rewrite(stream: pikepdf.Stream, data: bytes) -> None:
    stream.write(zlib.compress(data), filter=pikepdf.Name.FlateDecode)


def _new_stream(pdf: pikepdf.Pdf, old: pikepdf.Stream, data: bytes) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, data)
    for key, value in old.items():
        if key not in {"/Length", "/Filter", "/DecodeParms"}:
            stream[key] = value
    stream.write(zlib.compress(data), filter=pikepdf.Name.FlateDecode)
    return pdf.make_indirect(stream)


# --- the CMaps and width arrays, as WeasyPrint writes them ---------------------------------------


def _parse_to_unicode(data: bytes) -> dict[int, str]:
    body = data.split(b"endcodespacerange", 1)[-1]
    return {int(glyph, 16): bytes.fromhex(text.decode()).decode("utf-16-be", "replace")
            for glyph, text in _BFCHAR.findall(body)}


def _to_unicode_lines(text: dict[int, str]) -> list[bytes]:
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap", b"/CIDSystemInfo",
             b"<< /Registry (Adobe)", b"/Ordering (UCS)", b"/Supplement 0", b">> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def", b"1 begincodespacerange",
             b"<0000> <ffff>", b"endcodespacerange"]
    items = tuple(text.items())
    for i in range(ceil(len(items) / 100)):
        batch = items[i * 100:(i + 1) * 100]
        lines.append(f"{len(batch)} beginbfchar".encode())
        lines += [f"<{glyph:04x}> <{''.join(c.encode('utf-16-be').hex() for c in value)}>".encode()
                  for glyph, value in batch]
        lines.append(b"endbfchar")
    return lines + [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]


def _encoding_lines(mapping: dict[int, int]) -> list[bytes]:
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap", b"/CIDSystemInfo",
             b"3 dict dup begin", b"/Registry (Adobe) def", b"/Ordering (Identity) def", b"/Supplement 0 def",
             b"end def", b"/CMapName /WP-Encod-0 def", b"/CMapType 1 def", b"1 begincodespacerange",
             b"<0000> <ffff>", b"endcodespacerange"]
    items = tuple(mapping.items())
    for i in range(ceil(len(items) / 100)):
        batch = items[i * 100:(i + 1) * 100]
        lines.append(f"{len(batch)} begincidchar".encode())
        lines += [f"<{code:04x}> {cid}".encode() for code, cid in batch]
        lines.append(b"endcidchar")
    return lines + [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]


def _numbers(array: pikepdf.Array) -> list:
    return [[_number(v) for v in item] if isinstance(item, pikepdf.Array) else _number(item) for item in array]


def _number(value) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _parse_widths(array: list) -> dict[int, float]:
    """A CIDFont's W array (`c [w1 w2 …]` and `c1 c2 w` entries) as glyph -> width."""
    widths: dict[int, float] = {}
    i = 0
    while i < len(array):
        start = int(array[i])
        if isinstance(array[i + 1], list):
            widths.update({start + n: w for n, w in enumerate(array[i + 1])})
            i += 2
        else:
            widths.update({g: array[i + 2] for g in range(start, int(array[i + 1]) + 1)})
            i += 3
    return widths


def _width_array(widths: dict[int, float]) -> list:
    array: list = []
    for glyph in sorted(widths):
        if glyph - 1 not in widths:
            array += [glyph, []]
        array[-1].append(widths[glyph])
    return array


def _cid_set(widths: dict[int, float]) -> bytes:
    if not widths:
        return b""
    size = ceil((max(widths) + 1) / 8)
    bits = bytearray(size)
    for cid in widths:
        bits[cid // 8] |= 0x80 >> (cid % 8)
    return bytes(bits)
