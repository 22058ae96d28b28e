"""The fonts an EPUB or web edition carries: only the faces its text is set in, each cut down to the
characters set in it with the OpenType features CSS can ask for, renamed where the licence reserves
the name, and the same bytes whatever the clock, the hash seed or the locale."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from publish import fonts
from publish.font_usage import StyleSheets, TextStyle, styled_text
from publish.templates import STYLES_DIR

REGULAR = STYLES_DIR / "fonts" / "GentiumBookPlus-Regular.ttf"
XHTML = '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>{}</body></html>'
BOOK_CSS = (STYLES_DIR / "book.css").read_text()
EPUB_CSS = (STYLES_DIR / "epub.css").read_text()


def page(body: str) -> str:
    return XHTML.format(body)


def styles_of(body: str, *sheets: str) -> dict[TextStyle, set[str]]:
    return styled_text([page(body)], StyleSheets(sheets or (BOOK_CSS,)))


def chars_in(found: dict[TextStyle, set[str]], **wanted: object) -> set[str]:
    return set().union(*(chars for style, chars in found.items()
                         if all(getattr(style, k) == v for k, v in wanted.items())))


def faces_of(body: str, *sheets: str) -> dict[str, frozenset[int]]:
    carried = fonts.face_characters([page(body)], sheets or (BOOK_CSS, EPUB_CSS))
    return {Path(face.file).name: codes for face, codes in carried.items()}


# --- the cascade -------------------------------------------------------------------------------

def test_styles_come_from_the_cascade_and_inheritance() -> None:
    found = styles_of('<p>plain <em>leaning <em>upright</em> <strong>both</strong></em></p>'
                      '<h3>Heading</h3><p class="x">x</p>',
                      BOOK_CSS, "p.x { font-weight: bold } p { font-weight: normal }")
    assert set("leaning") <= chars_in(found, italic=True, weight=400)
    assert set("upright") <= chars_in(found, italic=False) - set("x")  # em em is set upright again
    assert set("both") <= chars_in(found, italic=True, weight=700)
    assert set("plain") <= chars_in(found, italic=False, weight=400)
    heading = [style for style, chars in found.items() if "H" in chars]
    assert heading and all(style.caps and style.weight == 400 for style in heading)  # h3: small caps, not bold
    assert "x" in chars_in(found, weight=700)  # the class beats the type selector


def test_the_font_shorthand_relative_weights_and_families() -> None:
    found = styles_of('<p class="a">shorthand</p><p class="b">bolder <b>boldest</b></p><pre>code</pre>',
                      'body { font-family: "Gentium Book Plus", serif }'
                      '.a { font: italic bold 12px/1.5 "Noto Serif Hebrew", serif } .b { font-weight: 600 }')
    [a] = [s for s, c in found.items() if "h" in c and "s" in c and s.italic]
    assert (a.families, a.weight) == (("Noto Serif Hebrew", "serif"), 700)
    assert any(s.weight == 900 for s, c in found.items() if "t" in c)  # bolder than 600
    assert any(s.families == ("monospace",) for s, c in found.items() if "c" in c)


def test_generated_text_list_numbers_and_quotes_count() -> None:
    found = styles_of('<p class="n">note</p><ol><li>one</li></ol><p><q>quoted</q></p>',
                      BOOK_CSS, '.n::before { content: "\\2020"; font-style: italic }')
    assert "†" in chars_in(found, italic=True)
    assert set("0123456789.") <= chars_in(found)
    assert {"“", "”"} <= chars_in(found)


def test_media_blocks_count_and_head_does_not() -> None:
    found = styles_of('<p>text</p>', BOOK_CSS, "@media print { p { font-weight: bold } }")
    assert "t" in chars_in(found, weight=700)
    assert "t" not in chars_in(styles_of('<p>x</p>'), weight=700)  # the <title> is not set in the book
    assert not any(c in "t" for c in chars_in(styles_of('<p>x</p>')) - {"x"})


# --- which faces, with which characters --------------------------------------------------------------

def test_only_the_faces_the_text_is_set_in_are_carried() -> None:
    assert set(faces_of("<p>Plain text only.</p>")) == {"GentiumBookPlus-Regular.ttf"}
    both = faces_of("<p>Plain <em>italic</em> and <strong>bold <em>bold italic</em></strong>.</p>")
    assert set(both) == {"GentiumBookPlus-Regular.ttf", "GentiumBookPlus-Italic.ttf", "GentiumBookPlus-Bold.ttf",
                         "GentiumBookPlus-BoldItalic.ttf"}
    assert {chr(c) for c in both["GentiumBookPlus-Italic.ttf"]} >= set("italic")
    assert "P" not in {chr(c) for c in both["GentiumBookPlus-Italic.ttf"]}
    # The regular face has every character, so text stays in the typeface if a reader turns italic off.
    assert {chr(c) for c in both["GentiumBookPlus-Regular.ttf"]} >= set("Plainitalicandboldbold italic.")
    # Hyphens, for the line breaks hyphenation makes, in every face.
    assert all({ord("-"), 0x2010} <= codes for codes in both.values())


def test_fallback_fonts_carry_only_what_the_book_face_lacks() -> None:
    carried = faces_of("<p>Shalom: שלום, salaam: سلام, 中文, 🥁.</p>")
    assert set(carried) == {"GentiumBookPlus-Regular.ttf", "NotoSerifHebrew-Regular.ttf", "NotoNaskhArabic-Regular.ttf",
                            "NotoSerifCJKsc-Regular.otf", "NotoEmoji-Regular.ttf"}
    hebrew = {chr(c) for c in carried["NotoSerifHebrew-Regular.ttf"]}
    # The text's letters, and those the auto-hinter measures Hebrew on: nothing of other scripts.
    assert set("שלום") <= hebrew and all("\u0590" <= c <= "\u05ff" for c in hebrew)
    assert set("中文") <= {chr(c) for c in carried["NotoSerifCJKsc-Regular.otf"]} <= set("中文") | set(fonts._AUTOHINT_STANDARD)
    assert not set(":, .") & {chr(c) for c in carried["NotoNaskhArabic-Regular.ttf"]}  # Gentium has them


def test_each_face_keeps_the_letters_an_auto_hinter_measures() -> None:
    """FreeType's auto-hinter (Chromium, Android, e-ink readers) measures x-height, cap height and
    stems on a few letters; a face used for one word keeps them, or that word is hinted otherwise
    than with the whole font."""
    carried = faces_of("<p>Text and <em>one</em> word.</p>")
    italic = {chr(c) for c in carried["GentiumBookPlus-Italic.ttf"]}
    assert set("one") | set("THEZOCQSxzo") <= italic
    assert "ο" in italic and "о" in italic  # Greek and Cyrillic's standard letters: Gentium covers both scripts
    assert not set("αβγ") & italic  # but not the Greek letters, with no Greek text


def test_small_capitals_carry_both_cases() -> None:
    carried = faces_of('<h3>Tempo</h3>')
    assert {chr(c) for c in carried["GentiumBookPlus-Regular.ttf"]} >= set("TEMPOtempo")


# --- the subsets ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def epub_fonts() -> dict[str, bytes]:
    body = ('<h3>Small capitals</h3><p>Ligatures: office, final, affluent. Kerning: AVAST, Toward. '
            '<em>Italic too</em>.</p>')
    return fonts.edition_fonts([page(body)], [BOOK_CSS, EPUB_CSS])


def test_the_subset_keeps_the_layout_features(epub_fonts: dict[str, bytes]) -> None:
    [regular] = [data for name, data in epub_fonts.items() if name.endswith("-Regular.ttf")]
    font = TTFont(io.BytesIO(regular))
    gsub = {r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord}
    gpos = {r.FeatureTag for r in font["GPOS"].table.FeatureList.FeatureRecord}
    # (fontTools drops a feature none of whose lookups touches the characters kept, as ccmp here.)
    assert {"smcp", "c2sc", "liga"} <= gsub and "kern" in gpos
    assert "aalt" not in gsub  # the alternates no stylesheet can ask for are left out
    # The small capitals of the letters used are there, and the ligatures of the letters used.
    cmap = font.getBestCmap()
    assert {cmap[ord(c)] for c in "smal"} <= _substituted(font, "smcp")
    assert cmap[ord("f")] in _substituted(font, "liga")
    original = TTFont(REGULAR)
    assert len(font.getGlyphOrder()) < len(original.getGlyphOrder()) / 10


def _substituted(font: TTFont, tag: str) -> set[str]:
    """The glyphs a GSUB feature substitutes (single and ligature substitutions)."""
    table = font["GSUB"].table
    found: set[str] = set()
    for record in table.FeatureList.FeatureRecord:
        if record.FeatureTag != tag:
            continue
        for index in record.Feature.LookupListIndex:
            for sub in table.LookupList.Lookup[index].SubTable:
                sub = getattr(sub, "ExtSubTable", sub)
                found |= set(getattr(sub, "mapping", {}) or {}) | set(getattr(sub, "ligatures", {}) or {})
    return found


def test_the_subset_is_renamed_because_the_licence_reserves_the_name(epub_fonts: dict[str, bytes]) -> None:
    assert fonts.reserved_names(TTFont(REGULAR)) == ("Gentium", "SIL")
    assert fonts.reserved_names(TTFont(STYLES_DIR / "fonts" / "NotoSerifHebrew-Regular.ttf")) == ()
    for name, data in epub_fonts.items():
        if not name.endswith(".ttf"):
            continue
        table = TTFont(io.BytesIO(data))["name"]
        for name_id in (1, 3, 4, 6, 16, 17, 18, 21):
            value = table.getDebugName(name_id) or ""
            assert "Gentium" not in value and "SIL" not in value.split(), (name, name_id, value)
        assert table.getDebugName(1).startswith("Book Face ")
        assert table.getDebugName(0) == "Copyright (c) 2003-2022 SIL International"  # kept, with the licence
        assert "SIL Open Font License" in table.getDebugName(13) and table.getDebugName(7).startswith("Gentium is a")
        assert "A subset of Gentium Book Plus" in table.getDebugName(10)
    css = epub_fonts["styles/fonts.css"].decode()
    assert "Gentium" not in css and css.count("@font-face") == len(epub_fonts) - 1


def _subset_digest(env: dict[str, str]) -> str:
    code = ("import hashlib, sys; from pathlib import Path; from publish import fonts; "
            f"data = fonts._subset_codes(Path({str(REGULAR)!r}), frozenset(map(ord, 'Reproducible fonts')), 'Book Face AAAAAA'); "
            "print(hashlib.sha256(data).hexdigest())")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          check=True, timeout=300)
    return proc.stdout.strip()


def test_no_clock_hash_seed_or_locale_reaches_a_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = {_subset_digest({"PYTHONHASHSEED": seed, "LC_ALL": locale, "TZ": tz, "SOURCE_DATE_EPOCH": epoch})
            for seed, locale, tz, epoch in (("0", "C", "UTC", "1"), ("1", "C.UTF-8", "Asia/Tokyo", "2000000000"),
                                            ("random", "de_DE.UTF-8", "America/New_York", "86400"))}
    assert len(runs) == 1, runs
    # In this process, at two other moments of a clock fontTools might ask: the same bytes again.
    import time

    from fontTools.misc import timeTools

    fonts._subset_codes.cache_clear()
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)
    monkeypatch.setattr(timeTools, "timestampNow", lambda: 3_000_000_000)
    data = fonts._subset_codes(REGULAR, frozenset(map(ord, "Reproducible fonts")), "Book Face AAAAAA")
    fonts._subset_codes.cache_clear()
    assert hashlib.sha256(data).hexdigest() in runs
    assert TTFont(io.BytesIO(data))["head"].modified == TTFont(REGULAR)["head"].modified


# --- nothing is lost ------------------------------------------------------------------------------

LETTERS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x24F, blacklist_categories=("Cc", "Cs")),
                  min_size=1, max_size=40)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain=LETTERS, italic=LETTERS, bold=LETTERS, greek=st.text("αβγδεζηθικλμνξοπρστυφχψω", max_size=10))
@example(plain="0", italic="0", bold="ŉ", greek="")  # ŉ is not in Gentium: set in the fallback face
def test_every_character_the_text_sets_is_in_the_face_it_is_set_in(plain: str, italic: str, bold: str,
                                                                     greek: str) -> None:
    from xml.sax.saxutils import escape

    body = f"<p>{escape(plain)} <em>{escape(italic)}</em> <strong>{escape(bold)} {escape(greek)}</strong></p>"
    files = fonts.edition_fonts([page(body)], [BOOK_CSS, EPUB_CSS])
    # The book face's subsets only: a character Gentium lacks (ŉ) falls back to JetBrains Mono, whose
    # files are also named "…-Regular.ttf" and "…-Bold.ttf".
    others = {Path(face.file).name for face in fonts.faces() if face.family != "Gentium Book Plus"}
    cmaps = {name.rsplit("-", 1)[-1]: set(TTFont(io.BytesIO(data)).getBestCmap()) for name, data in files.items()
             if name.endswith(".ttf") and Path(name).name not in others}
    gentium = fonts.coverage(REGULAR)
    for text, face in ((plain, "Regular.ttf"), (italic, "Italic.ttf"), (bold + greek, "Bold.ttf")):
        wanted = {ord(c) for c in text if ord(c) in gentium and not c.isspace()}
        assert wanted <= cmaps.get(face, set()), (face, {chr(c) for c in wanted - cmaps.get(face, set())})
        assert wanted <= cmaps["Regular.ttf"]
