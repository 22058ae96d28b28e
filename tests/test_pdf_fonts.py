"""A PDF bound from runs laid out apart carries each font once, subset once (publish.pdf_fonts).

Runs are written by WeasyPrint with whole fonts, as the binder gets them, and bound with pikepdf;
after `merge_fonts` the book must show each font once in pdffonts, pass qpdf, give the same text
and the same pixels as before, and carry the very fonts a single-pass layout of the same pages
embeds (the same programs, widths and text maps)."""

from __future__ import annotations

import hashlib
import html
import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.ttLib import TTFont
from hypothesis import given
from hypothesis import strategies as st

from publish import pdf_fonts
from publish.fonts import hide_installed_fonts
from publish.pdf import _untag_whole_fonts
from publish.pdf_fonts import keep_set_text, merge_fonts
from publish.templates import STYLES_DIR

ROOT = Path(__file__).resolve().parent.parent
CSS = """
@font-face { font-family: Book; src: url(fonts/GentiumBookPlus-Regular.ttf); }
@font-face { font-family: Book; font-style: italic; src: url(fonts/GentiumBookPlus-Italic.ttf); }
@font-face { font-family: Code; src: url(fonts/JetBrainsMono-Regular.ttf); }
@font-face { font-family: Han; src: url(fonts/NotoSerifCJKsc-Regular.otf); }
@page { size: 5in 4in; margin: 0.4in }
body { font-family: Book; font-size: 11pt; text-align: justify; hyphens: auto }
code { font-family: Code } .han { font-family: Han } .caps { font-variant: small-caps }
.faint { opacity: 0.5 }
"""


def _sample(chapter: str, paragraphs: int) -> str:
    text = (ROOT / "manuscript" / chapter).read_text(encoding="utf-8")
    kept = [p for p in text.split("\n\n") if p and not p.startswith("#")][:paragraphs]
    return "".join(f"<p>{html.escape(p)}</p>" for p in kept)


# Three runs of "chapters" from the sample book, each setting some glyphs the others do not:
# ligatures and small capitals (whose text no character map gives), code, Chinese (a CFF font,
# FontFile3), text drawn in a form XObject (the faint paragraph), and a character no shipped
# font has (WeasyPrint's own encoding CMap, .notdef).
RUNS = (
    '<h1 lang="en">Leadership</h1>' + _sample("01-leadership.md", 3)
    + '<p>The office found <em>affluent</em> flat fish, <span class="caps">Small Capitals</span>.</p>',
    '<h1 lang="en">Power games</h1>' + _sample("02-power-games.md", 3)
    + '<p>Code: <code>def f(x): return x + 1</code>, and <span class="han">中文字体</span>.</p>'
    + '<p class="faint">Only in a form: Quixotic zebras.</p>',
    '<h1 lang="en">The comeback</h1>' + _sample("03-the-comeback.md", 2)
    + '<p><span class="han">文字</span> <code>ffi != fi</code> and \U00013000 unsettable.</p>',
)


def _render(body: str, *, full: bool, finisher=None) -> bytes:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    with hide_installed_fonts():
        config = FontConfiguration()
    css = weasyprint.CSS(string=CSS, base_url=str(STYLES_DIR) + "/", font_config=config)
    document = weasyprint.HTML(string=f'<html lang="en"><body>{body}</body></html>').render(
        stylesheets=[css], font_config=config)
    return document.write_pdf(full_fonts=full, pdf_variant="pdf/ua-1", pdf_identifier=b"0" * 32,
                              finisher=finisher)


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def _bind(runs: tuple[bytes, ...]) -> pikepdf.Pdf:
    bound = pikepdf.new()
    for run in runs:
        bound.pages.extend(pikepdf.open(io.BytesIO(run)).pages)
    return bound


def _merged(runs: tuple[bytes, ...], *, subset: bool) -> bytes:
    bound = _bind(runs)
    merge_fonts(bound, subset=subset)
    return _save(bound)


@dataclass(frozen=True)
class Books:
    runs: tuple[bytes, ...]  # each written whole, with keep_set_text
    single: bytes  # the same pages laid out in one pass, fonts subset by WeasyPrint
    bound: bytes  # the runs bound, before the merge
    subset: bytes
    whole: bytes


@pytest.fixture(scope="module")
def books() -> Books:
    runs = tuple(_render(body, full=True, finisher=keep_set_text) for body in RUNS)
    single = _render("".join(f'<div style="break-before: page">{body}</div>' for body in RUNS), full=False)
    return Books(runs, single, _save(_bind(runs)), _merged(runs, subset=True), _merged(runs, subset=False))


def _pdffonts(data: bytes) -> list[list[str]]:
    out = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return [line.split() for line in out.splitlines()[2:]]


def _text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def _pixels(data: bytes, tmp_path: Path, name: str) -> list[bytes]:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "72", str(source), str(tmp_path / name)], check=True)
    return [p.read_bytes() for p in sorted(tmp_path.glob(f"{name}-*.ppm"))]


def _fonts(data: bytes) -> dict[str, dict]:
    """Each font's program, W and ToUnicode, by name, as pages name them."""
    found = {}
    pdf = pikepdf.open(io.BytesIO(data))
    for page in pdf.pages:
        for font in page.Resources.Font.values():
            descendant = font.DescendantFonts[0]
            descriptor = descendant.FontDescriptor
            program = (descriptor.get("/FontFile2") or descriptor.get("/FontFile3")).read_bytes()
            found[str(font.BaseFont)] = {
                "program": program, "W": repr(descendant.W), "ToUnicode": font.ToUnicode.read_bytes(),
                "FontBBox": [float(v) for v in descriptor.FontBBox], "Flags": int(descriptor.Flags),
                "Encoding": font.Encoding.read_bytes() if isinstance(font.Encoding, pikepdf.Stream)
                else str(font.Encoding)}
    return found


# --- what the reader and the checks see --------------------------------------------------------


@pytest.mark.e2e
def test_pdffonts_shows_each_font_once_embedded(books: Books) -> None:
    bound = _pdffonts(books.bound)
    assert len(bound) == sum(len(_pdffonts(run)) for run in books.runs) > 4  # a copy a run: what the merge is for
    for data, subset in ((books.subset, True), (books.whole, False)):
        rows = _pdffonts(data)
        names = [row[0] for row in rows]
        assert len(names) == len(set(names)) == 4, rows
        assert all(row[-5] == "yes" and row[-3] == "yes" for row in rows), rows  # emb, uni
        assert all(row[-4] == ("yes" if subset else "no") for row in rows), rows  # sub
        assert all(bool(re.match(r"[A-Z]{6}\+", n)) == subset for n in names), names
    assert sorted(row[0] for row in _pdffonts(books.subset)) == sorted(row[0] for row in _pdffonts(books.single))


@pytest.mark.e2e
@pytest.mark.parametrize("which", ["subset", "whole"])
def test_qpdf_finds_the_merged_pdf_sound(books: Books, which: str, tmp_path: Path) -> None:
    path = tmp_path / "book.pdf"
    path.write_bytes(getattr(books, which))
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout


@pytest.mark.e2e
def test_the_text_is_the_same_before_and_after_and_as_in_one_pass(books: Books) -> None:
    before = _text(books.bound)
    assert _text(books.subset) == before
    assert _text(books.whole) == before
    assert _text(books.single) == before
    # What keep_set_text is for: ligatures and small capitals keep their text.
    assert "The office found affluent flat fish, Small Capitals." in before
    assert "中文字体" in before and "文字" in before


@pytest.mark.e2e
def test_the_pages_look_the_same_before_and_after_and_as_in_one_pass(books: Books, tmp_path: Path) -> None:
    before = _pixels(books.bound, tmp_path, "bound")
    assert len(before) == len(pikepdf.open(io.BytesIO(books.bound)).pages) >= 3
    assert _pixels(books.subset, tmp_path, "subset") == before
    assert _pixels(books.whole, tmp_path, "whole") == before
    assert _pixels(books.single, tmp_path, "single") == before


@pytest.mark.e2e
def test_the_content_streams_are_not_rewritten(books: Books) -> None:
    def contents(data: bytes) -> list[bytes]:
        return [page.Contents.read_bytes() for page in pikepdf.open(io.BytesIO(data)).pages]

    assert contents(books.subset) == contents(books.bound) == contents(books.whole)


@pytest.mark.e2e
def test_the_merged_file_is_about_the_size_of_one_pass(books: Books) -> None:
    assert len(books.subset) < len(books.whole) < len(books.bound)
    assert len(books.whole) < len(books.bound) * 0.6  # one copy of each whole font, not one a run
    assert len(books.subset) < len(books.single) * 1.15, (len(books.subset), len(books.single))


# --- the fonts themselves ------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_subsets_are_those_one_pass_embeds(books: Books) -> None:
    """The same HarfBuzz with the same two passes over the same glyphs: the same programs, and
    the same widths, text maps, boxes and flags, byte for byte."""
    merged, single = _fonts(books.subset), _fonts(books.single)
    assert merged.keys() == single.keys()
    for name in single:
        assert merged[name] == single[name], name


def _shown(data: bytes) -> dict[str, set[int]]:
    """The codes each font shows, read from the content streams by the merge's own reader."""
    pdf = pikepdf.open(io.BytesIO(data))
    fonts, _ = pdf_fonts._read_uses(pdf)
    return {str(f.obj.BaseFont): set(f.codes) for f in fonts.values()}


def _outlines(font: TTFont, gids) -> dict[int, list]:
    """Each glyph's outline, its parts drawn in (composite glyphs name their parts by name)."""
    glyphs, order = font.getGlyphSet(), font.getGlyphOrder()
    drawn = {}
    for gid in gids:
        pen = DecomposingRecordingPen(glyphs)
        glyphs[order[gid]].draw(pen)
        drawn[gid] = pen.value
    return drawn


def _drawn(font: TTFont, gid: int) -> bool:
    name = font.getGlyphOrder()[gid]
    if "glyf" in font:
        return font["glyf"][name].numberOfContours != 0
    charstring = font["CFF "].cff.topDictIndex[0].CharStrings[name]
    charstring.decompile()
    return any(isinstance(op, str) and op != "endchar" for op in charstring.program)


def _closure(font: TTFont, gids: set[int]) -> set[int]:
    if "glyf" not in font:
        return gids
    glyf, found = font["glyf"], set(gids)
    for gid in gids:
        found |= {font.getGlyphID(c) for c in glyf[font.getGlyphName(gid)].getComponentNames(glyf)}
    return found


@pytest.mark.e2e
def test_each_subset_has_exactly_the_glyphs_the_pages_show(books: Books) -> None:
    shown = _shown(books.subset)
    whole = {name.lstrip("/"): font for name, font in _fonts(books.whole).items()}
    for name, font in _fonts(books.subset).items():
        subset = TTFont(io.BytesIO(font["program"]))
        original = TTFont(io.BytesIO(whole[name.lstrip("/").split("+", 1)[1]]["program"]))
        count = original["maxp"].numGlyphs
        used = {code if code < count else 0 for code in shown[name]}
        last = max(used)
        # The ids up to the last glyph shown are kept; the parts of a composite glyph past it
        # come after it, renumbered (HarfBuzz's second pass, as in WeasyPrint).
        beyond = {gid for gid in _closure(original, used) if gid > last}
        assert subset["maxp"].numGlyphs == last + 1 + len(beyond), name
        # .notdef keeps its outline where it is shown, and always in CFF, which requires one.
        wanted = (_closure(original, used) - beyond - {0}) | (used & {0} if "glyf" in original else {0})
        assert {g for g in range(last + 1) if _drawn(subset, g)} == {g for g in wanted if _drawn(original, g)}, name
        assert _outlines(subset, used) == _outlines(original, used), name


@pytest.mark.e2e
def test_whole_fonts_stay_whole_once(books: Books) -> None:
    fonts = _fonts(books.whole)
    files = {hashlib.sha256(p.read_bytes()).digest() for p in (STYLES_DIR / "fonts").glob("*.[ot]tf")}
    assert all(hashlib.sha256(f["program"]).digest() in files for f in fonts.values())
    programs = pikepdf.open(io.BytesIO(books.whole))
    streams = {obj.objgen for obj in programs.objects
               if isinstance(obj, pikepdf.Stream) and ("/Length1" in obj or obj.get("/Subtype") == "/OpenType")}
    assert len(streams) == 4


@pytest.mark.e2e
def test_a_whole_font_run_without_keep_set_text_loses_the_text_of_ligatures() -> None:
    """Why keep_set_text exists: WeasyPrint maps whole fonts' glyphs to text by the character map."""
    body = "<p>The office found affluent flat fish.</p>"
    assert "office" not in _text(_render(body, full=True))
    assert "The office found affluent flat fish." in _text(_render(body, full=True, finisher=keep_set_text))

    def untagged_first(document, pdf) -> None:  # as the print profile's finisher renames the fonts first
        _untag_whole_fonts(pdf)
        keep_set_text(document, pdf)

    assert "The office found affluent flat fish." in _text(_render(body, full=True, finisher=untagged_first))


@pytest.mark.e2e
def test_the_merge_gives_the_same_bytes_every_time(books: Books) -> None:
    assert _merged(books.runs, subset=True) == books.subset
    assert _merged(books.runs, subset=False) == books.whole


# --- the CMaps and width arrays -----------------------------------------------------------------

widths = st.dictionaries(st.integers(0, 3000), st.one_of(st.integers(0, 2000), st.floats(0, 2000, width=32)),
                         max_size=60)


@given(widths)
def test_width_arrays_read_back(found: dict[int, float]) -> None:
    array = pdf_fonts._width_array(found)
    assert pdf_fonts._parse_widths(array) == found
    assert pdf_fonts._parse_widths([0, 2, 500, 5, [1, 2]]) == {0: 500, 1: 500, 2: 500, 5: 1, 6: 2}


@given(st.dictionaries(st.integers(0, 0xFFFF), st.text(st.characters(codec="utf-16", exclude_categories=["Cs"]),
                                                        min_size=1, max_size=4), max_size=250))
def test_text_maps_read_back(text: dict[int, str]) -> None:
    data = b"\n".join(pdf_fonts._to_unicode_lines(text))
    assert pdf_fonts._parse_to_unicode(data) == text
    assert list(pdf_fonts._parse_to_unicode(data)) == list(text)  # in the order written


@given(widths)
def test_cid_sets_mark_each_glyph(found: dict[int, float]) -> None:
    bits = pdf_fonts._cid_set(found)
    marked = {i * 8 + j for i, byte in enumerate(bits) for j in range(8) if byte & (0x80 >> j)}
    assert marked == set(found)


# --- the content stream reader --------------------------------------------------------------------

def _parsed_codes(pdf: pikepdf.Pdf) -> dict[tuple[int, int], list[int]]:
    """What pikepdf's own parser (qpdf's) reads as shown in each font: the reference."""
    found: dict[tuple[int, int], list[int]] = {}

    def walk(content, resources) -> None:
        current = [None]
        for operands, operator in pikepdf.parse_content_stream(content, "q Q Tf Tj TJ ' \" Do"):
            op = str(operator)
            if op == "q":
                current.append(current[-1])
            elif op == "Q" and len(current) > 1:
                current.pop()
            elif op == "Tf":
                current[-1] = resources.Font.get(str(operands[0]))
            elif op in {"Tj", "TJ", "'", '"'} and current[-1] is not None:
                for operand in operands:
                    for item in operand if isinstance(operand, pikepdf.Array) else [operand]:
                        if isinstance(item, pikepdf.String):
                            data = bytes(item)
                            found.setdefault(current[-1].objgen, []).extend(
                                data[i] << 8 | data[i + 1] for i in range(0, len(data) - 1, 2))
            elif op == "Do":
                xobject = resources.XObject[str(operands[0])]
                if xobject.get("/Subtype") == "/Form":
                    walk(xobject, xobject.get("/Resources", resources))

    for page in pdf.pages:
        walk(page, page.obj.Resources)
    return {font: list(dict.fromkeys(codes)) for font, codes in found.items() if codes}


def _read_codes(pdf: pikepdf.Pdf) -> dict[tuple[int, int], list[int]]:
    fonts, _ = pdf_fonts._read_uses(pdf)
    return {key: font.codes for key, font in fonts.items() if font.codes}


@pytest.mark.e2e
@pytest.mark.parametrize("which", ["bound", "single"])
def test_the_reader_of_content_streams_reads_what_qpdf_parses(books: Books, which: str) -> None:
    pdf = pikepdf.open(io.BytesIO(getattr(books, which)))
    assert _read_codes(pdf) == _parsed_codes(pdf)


def _literal(data: bytes, escape_all: bool) -> bytes:
    body = b"".join(b"\\%03o" % byte if escape_all or byte in b"()\\\r\n" else bytes([byte]) for byte in data)
    return b"(" + body + b")"


_string = st.tuples(st.binary(max_size=8), st.sampled_from(["hex", "literal", "octal"]))
_instruction = st.one_of(
    st.just(("q",)), st.just(("Q",)), st.tuples(st.just("Tf"), st.sampled_from(["F1", "F2", "none"])),
    st.tuples(st.just("TJ"), st.lists(st.one_of(_string, st.integers(-500, 500)), max_size=6)),
    st.tuples(st.just("Tj"), _string),
    st.tuples(st.just("tag"), st.text(st.sampled_from("<>[]()\\qQ /Tf0aTJ"), max_size=12)))


def _write_string(string: tuple[bytes, str]) -> bytes:
    data, form = string
    return b"<" + data.hex().encode() + b">" if form == "hex" else _literal(data, form == "octal")


@given(st.lists(_instruction, max_size=30))
def test_the_reader_reads_any_content_as_qpdf_parses_it(instructions: list[tuple]) -> None:
    pdf = pikepdf.new()
    fonts = {name: pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0))
             for name in ("F1", "F2")}
    lines = []
    for instruction in instructions:
        if instruction[0] in {"q", "Q"}:
            lines.append(instruction[0].encode())
        elif instruction[0] == "Tf":
            lines.append(b"/%s 12 Tf" % instruction[1].encode())
        elif instruction[0] == "TJ":
            written = b""
            for previous, item in zip([None, *instruction[1]], instruction[1], strict=False):
                # Written as WeasyPrint writes them, strings and numbers side by side; two numbers need a space.
                space = b" " if isinstance(item, int) and isinstance(previous, int) else b""
                written += space + (_write_string(item) if isinstance(item, tuple) else str(item).encode())
            lines.append(b"[" + written + b"] TJ")
        elif instruction[0] == "Tj":
            lines.append(_write_string(instruction[1]) + b" Tj")
        else:  # a marked-content tag whose property list holds a string of anything
            lines.append(b"/Span <</ActualText " + _literal(instruction[1].encode(), False) + b">> BDC EMC")
    page = pikepdf.Page(pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 100, 100], Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(
            {f"/{name}": font for name, font in fonts.items()})),
        Contents=pdf.make_stream(b"BT\n" + b"\n".join(lines) + b"\nET\n"))))
    pdf.pages.append(page)
    assert _read_codes(pdf) == _parsed_codes(pdf)


@pytest.mark.e2e
def test_a_font_the_runs_name_whole_gets_a_subset_tag_of_its_own(books: Books) -> None:
    """Runs written for print lose WeasyPrint's "ABCDEF+" mark; subset, the merge marks them
    again, with a tag made from the font's name and glyphs: the same for the same book."""
    def untagged(run: bytes) -> bytes:
        pdf = pikepdf.open(io.BytesIO(run))
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") in {"/Font", "/FontDescriptor"}:
                for key in ("/BaseFont", "/FontName"):
                    if key in obj:
                        obj[key] = pikepdf.Name("/" + str(obj[key])[1:].split("+", 1)[-1])
        return _save(pdf)

    runs = tuple(untagged(run) for run in books.runs)
    merged = _merged(runs, subset=True)
    names = [row[0] for row in _pdffonts(merged)]
    assert len(names) == len(set(names)) == 4 and all(re.match(r"[A-Z]{6}\+", n) for n in names), names
    assert {n.split("+", 1)[1] for n in names} == {n.lstrip("/").split("+", 1)[1] for n in _fonts(books.subset)}
    assert _merged(runs, subset=True) == merged
    assert _fonts(merged).keys() != _fonts(books.subset).keys()  # not WeasyPrint's tags: it made those from elsewhere
