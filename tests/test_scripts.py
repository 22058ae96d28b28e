"""Every script: Arabic, Hebrew, Chinese, Japanese, Korean, Greek, Cyrillic, combining accents and emoji
build without errors, in shipped fonts only; right-to-left books read right to left; and what no shipped
font can set is named, not silently boxed."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from bookfolder import TINY_COVER, write_book
from lxml import etree
from validators import pdf_fonts, run_epubcheck

from publish import fonts
from publish.build import build
from publish.diagnostics import Severity
from publish.epub import render_epub
from publish.manuscript import load_manuscript
from publish.parse import parse_book

SAMPLES = {
    "arabic": "العربية لغة جميلة، وهذا نص قصير للتجربة.",
    "hebrew": "עברית היא שפה שמית, וזהו טקסט קצר לבדיקה.",
    "chinese": "中文是世界上使用人数最多的语言之一。",
    "japanese": "日本語の文章には、ひらがなとカタカナと漢字が使われます。",
    "korean": "한국어는 한글로 씁니다.",
    "greek": "Η ελληνική γλώσσα έχει μακρά ιστορία.",
    "cyrillic": "Русский язык использует кириллицу.",
    "combining": "Cafe\u0301, nai\u0308ve, Zoe\u0308, a\u0323\u0302, ǖ and Å.",
    "emoji": "Drums 🥁, applause 👏🏽, a heart ❤️ and a family 👨‍👩‍👧.",
}
OPF = "{http://www.idpf.org/2007/opf}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def every_script_book(root: Path, *, lang: str = "en", title: str = "Every Script") -> Path:
    body = "\n\n".join(f"## {name.title()}\n\n{text}" for name, text in SAMPLES.items())
    return write_book(root, config=f"title: {title}\nlang: {lang}\nauthor: Ann Author\n",
                      chapters={"01-scripts.md": f"# Scripts\n\n{body}\n", "02-more.md": "# Μέρος δεύτερο\n\n中文 עברית\n"})


def shipped_font_name(pdf_font_name: str) -> bool:
    """Whether a pdffonts name ("ABCDEF+Noto-Serif-CJK-SC") is one of the families in styles/fonts.css."""
    name = pdf_font_name.split("+", 1)[-1]
    families = {f.family.replace(" ", "-") for f in fonts.faces()}
    return any(name == family or name.startswith(family + "-") for family in families)


# --- the font check, without layout -------------------------------------------------------------

def test_each_script_is_covered_by_a_shipped_font() -> None:
    for name, text in SAMPLES.items():
        assert fonts.unsettable(text) == [], name


def test_fallback_fonts_are_chosen_by_the_text() -> None:
    families = lambda text: {f.family for f in fonts.needed_faces(text)}  # noqa: E731
    assert families("Plain English, Ελληνικά, русский.") == {"Gentium Book Plus"}
    assert families(SAMPLES["arabic"]) == {"Gentium Book Plus", "Noto Naskh Arabic"}
    assert families(SAMPLES["hebrew"]) == {"Gentium Book Plus", "Noto Serif Hebrew"}
    assert families(SAMPLES["korean"] + SAMPLES["japanese"]) == {"Gentium Book Plus", "Noto Serif CJK SC"}
    assert families(SAMPLES["emoji"]) == {"Gentium Book Plus", "Noto Emoji"}


def test_characters_no_shipped_font_has_are_named() -> None:
    assert fonts.unsettable("Runes ᚠᚢᚦ, Linear B 𐀀, and a plain e.") == ["ᚠ", "ᚢ", "ᚦ", "𐀀"]
    # Joiners, direction marks and variation selectors take no glyph of their own.
    assert fonts.unsettable("a\u200db\u200fc\ufe0f\u2060d") == []


def test_the_font_check_reads_each_font_once() -> None:
    fonts.coverage.cache_clear()
    for _ in range(3):
        fonts.unsettable("ᚠ and 中文")
    assert fonts.coverage.cache_info().misses == len({f.family for f in fonts.faces()})


def test_a_missing_glyph_warning_names_the_characters_and_where_they_are(tmp_path: Path) -> None:
    chapter = "# Runes\n\nPlain text first.\n\nThe rune ᚠ, and ᚢ.\n"
    book = parse_book(load_manuscript(write_book(tmp_path / "book", chapters={"01-runes.md": chapter})))
    (warning,) = fonts.missing_glyphs(book)
    assert warning.severity is Severity.WARNING and warning.code == "font-missing-glyphs"
    assert warning.file == Path("book/01-runes.md") and warning.line == 5
    assert "U+16A0 RUNIC LETTER FEHU FEOH FE F (ᚠ)" in warning.message and "U+16A2" in warning.message


def epub_fonts(book_dir: Path) -> dict[str, bytes]:
    """The fonts.css and font files of the book's EPUB, by their names inside it."""
    book = parse_book(load_manuscript(book_dir))
    with zipfile.ZipFile(io.BytesIO(render_epub(book, cover=TINY_COVER))) as archive:
        return {n.removeprefix("EPUB/styles/"): archive.read(n) for n in archive.namelist()
                if n.startswith("EPUB/styles/fonts")}


def test_an_english_book_carries_only_its_own_typeface(tmp_path: Path) -> None:
    files = epub_fonts(write_book(tmp_path / "book"))
    css = files["fonts.css"].decode()
    # No fallback carried (book.css's stack still names them), and no reserved name: the subset's is its own.
    assert not re.search(r'@font-face \{ font-family: "Noto', css) and "Gentium" not in css
    assert [n for n in files if n != "fonts.css"] == re.findall(r'url\("([^"]+)"\)', css)
    assert all(n.endswith(("-Regular.ttf", "-Italic.ttf")) for n in files if n != "fonts.css")


def test_the_cjk_font_is_carried_as_a_subset_of_the_book_s_characters(tmp_path: Path) -> None:
    files = epub_fonts(every_script_book(tmp_path / "book"))
    cjk = files["fonts/NotoSerifCJKsc-Regular.otf"]
    assert len(cjk) < 300_000 < (fonts.STYLES_DIR / "fonts" / "NotoSerifCJKsc-Regular.otf").stat().st_size
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(cjk))
    cmap = font.getBestCmap()
    gentium = fonts.coverage(fonts.STYLES_DIR / "fonts" / "GentiumBookPlus-Regular.ttf")
    # Each character is in the first font of the stack that has it: the CJK subset has those Gentium lacks.
    assert {c for c in SAMPLES["chinese"] + SAMPLES["korean"] if ord(c) not in gentium} <= {chr(c) for c in cmap}
    assert not {c for c in "The Latin letters" if ord(c) in cmap}
    assert font["name"].getDebugName(1) == "Noto Serif CJK SC"  # no Reserved Font Name in it: kept
    assert epub_fonts(every_script_book(tmp_path / "again")) == files  # the same bytes every time


# --- whole books ------------------------------------------------------------------------------

@pytest.mark.e2e
def test_a_book_in_every_script_builds_cleanly_in_shipped_fonts(tmp_path: Path) -> None:
    result = build(every_script_book(tmp_path / "book"), tmp_path / "out", source_date_epoch="0")
    assert [str(d) for d in result.diagnostics] == []
    epub, pdf, web = result.outputs
    names = [f.name for f in pdf_fonts(pdf)]
    assert names and all(shipped_font_name(n) for n in names), names
    assert {n.split("+")[-1] for n in names} >= {"Gentium-Book-Plus", "Noto-Naskh-Arabic", "Noto-Serif-Hebrew",
                                                  "Noto-Serif-CJK-SC", "Noto-Emoji"}
    report = run_epubcheck(epub)
    assert report.ok, report.summary()
    with zipfile.ZipFile(epub) as archive:
        carried = {n.rsplit("/", 1)[-1] for n in archive.namelist() if "/fonts/" in n}
    assert {"NotoNaskhArabic-Regular.ttf", "NotoSerifHebrew-Regular.ttf", "NotoSerifCJKsc-Regular.otf",
            "NotoEmoji-Regular.ttf"} <= carried
    assert (web / "styles" / "fonts" / "OFL-Noto.txt").is_file()


@pytest.mark.e2e
def test_characters_no_font_has_are_warned_about_and_not_borrowed_from_the_system(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-runes.md": "# Runes\n\nᚠᚢᚦ and `code in monospace`.\n"})
    result = build(book, tmp_path / "out", formats=("pdf",), source_date_epoch="0")
    assert [d.code for d in result.diagnostics] == ["font-missing-glyphs"]
    names = [f.name for f in pdf_fonts(result.outputs[0])]
    assert all(shipped_font_name(n) for n in names), names  # no DejaVu, however the machine is set up


@pytest.mark.e2e
@pytest.mark.parametrize(("lang", "title", "text"), [
    ("ar", "كتاب تجريبي", SAMPLES["arabic"]),
    ("he", "ספר לדוגמה", SAMPLES["hebrew"]),
])
def test_a_right_to_left_book_reads_right_to_left(tmp_path: Path, lang: str, title: str, text: str) -> None:
    chapters = {"01-one.md": f"# {title}\n\n{text}\n\n[→](02-two.md)\n", "02-two.md": f"# {text[:12]}\n\n{text}\n"}
    book = write_book(tmp_path / "book", config=f"title: {title}\nlang: {lang}\nauthor: {title}\n", chapters=chapters)
    result = build(book, tmp_path / "out", source_date_epoch="0")
    assert [str(d) for d in result.diagnostics] == []
    epub, pdf, web = result.outputs
    report = run_epubcheck(epub)
    assert report.ok, report.summary()
    with zipfile.ZipFile(epub) as archive:
        opf = etree.fromstring(archive.read("EPUB/content.opf"))
        assert opf.find(f"{OPF}spine").get("page-progression-direction") == "rtl"
        for name in archive.namelist():
            if name.endswith(".xhtml"):
                html = etree.fromstring(archive.read(name))
                assert (html.get("dir"), html.get("lang")) == ("rtl", lang), name
    assert re.search(rf'<html lang="{lang}" dir="rtl"', (web / "index.html").read_text())
    assert all(shipped_font_name(f.name) for f in pdf_fonts(pdf))
