"""Letterforms by language: one Han character is drawn differently in Japanese, Simplified and
Traditional Chinese and Korean, and the text's `lang` chooses which.

The shipped CJK face, NotoSerifCJKsc-Regular.otf, is Noto Serif CJK's language-specific OTF: all
65,535 glyphs of the Pan-CJK font, Simplified Chinese by default, with an OpenType `locl` feature
for JAN, KOR, ZHT and ZHH. So no other font is needed: HarfBuzz picks the forms from the language
it is given. Print gets it from the `lang` of the book (`<html lang>`) or of a span
(`[骨]{lang=ja}`), which WeasyPrint hands to Pango and Pango to HarfBuzz; the EPUB and the web
edition carry the same `lang` attributes and a subset that keeps `locl` and the glyphs it reaches,
for the reading system's or browser's own HarfBuzz.

The picture: the print edition's 骨 and 直, cut from the rendered page, each matched against the
forms Pillow's Raqm (HarfBuzz again) draws from the font for each language. It is written to
tests/_artifacts/letterforms.png for a look.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pdfplumber
import pypdfium2
import pytest
import uharfbuzz as hb
from conftest import MakeBook, parse
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from publish.epub import render_epub
from publish.pdf import render_pdf
from publish.templates import STYLES_DIR

CJK = STYLES_DIR / "fonts" / "NotoSerifCJKsc-Regular.otf"
ARTIFACT = Path(__file__).resolve().parent / "_artifacts" / "letterforms.png"
CHARS = "骨直"
LANGS = ("ja", "zh-Hans", "zh-Hant", "ko")
SCALE = 12  # pixels per PDF point: the text's characters some 126 pixels tall
SIDE = 96  # the side each glyph is compared at
SIZE = 10.5  # pt, the text's size in print (print.css)

BOOK = """# Forms

骨直

[骨直]{lang=zh-Hans}

[骨直]{lang=zh-Hant}

[骨直]{lang=ko}
"""


def _ink(image: Image.Image) -> Image.Image:
    """The glyph's ink, cropped and scaled to SIDE x SIDE, black on white."""
    grey = image.convert("L")
    box = ImageChops.invert(grey).getbbox()
    assert box, "no ink"
    return grey.crop(box).resize((SIDE, SIDE), Image.Resampling.BILINEAR).point(lambda v: 0 if v < 160 else 255)


def _distance(a: Image.Image, b: Image.Image) -> float:
    """How much of the two differs, at the best of a few pixels' shift either way: two rasterisers'
    ink boxes differ by a pixel or two, two forms of a character by whole strokes."""
    padded = Image.new("L", (SIDE + 8, SIDE + 8), 255)
    padded.paste(b, (4, 4))
    return min(sum(ImageChops.difference(a, padded.crop((4 + dx, 4 + dy, 4 + dx + SIDE, 4 + dy + SIDE))).tobytes())
               for dx in range(-3, 4) for dy in range(-3, 4)) / (255 * SIDE * SIDE)


@pytest.fixture(scope="module")
def references() -> dict[tuple[str, str], Image.Image]:
    """Each character's form in each language, as HarfBuzz (through Raqm) shapes it from the font."""
    if not features.check("raqm"):
        pytest.fail("Pillow was built without Raqm: it cannot shape by language")
    # At the printed size in pixels, so that both are rasterised alike.
    font = ImageFont.truetype(str(CJK), round(SIZE * SCALE), layout_engine=ImageFont.Layout.RAQM)
    drawn = {}
    for lang in LANGS:
        for char in CHARS:
            image = Image.new("L", (256, 256), 255)
            ImageDraw.Draw(image).text((8, 0), char, font=font, fill=0, language=lang)
            drawn[char, lang] = _ink(image)
    return drawn


def _form(crop: Image.Image, char: str, references: dict[tuple[str, str], Image.Image]) -> str:
    """The language whose form of `char` the crop is; Korean's Hanja here are Japanese-shaped, so
    the two are told apart by the language asked for, not by the picture."""
    scores = {lang: _distance(crop, references[char, lang]) for lang in ("ja", "zh-Hans", "zh-Hant")}
    best = min(scores, key=scores.__getitem__)
    # The same glyph, give or take the rasteriser, and clearly nearer than any other form.
    others = [score for lang, score in scores.items() if _distance(references[char, lang], references[char, best]) > 0.01]
    assert scores[best] < 0.12 and all(score > 1.15 * scores[best] for score in others), scores
    return best


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Image.Image]]:
    """The print edition's characters, paragraph by paragraph: the book's Japanese, then each span's."""

    root = tmp_path_factory.mktemp("letterforms") / "book"
    root.mkdir()
    (root / "book.yaml").write_text("title: Forms\nlang: ja\n", encoding="utf-8")
    (root / "01.md").write_text(BOOK, encoding="utf-8")
    pdf = render_pdf(parse(root)).data
    document = pypdfium2.PdfDocument(pdf)
    crops: dict[str, list[Image.Image]] = {}
    with pdfplumber.open(io.BytesIO(pdf)) as plumbed:
        for index, page in enumerate(plumbed.pages):
            chars = [c for c in page.chars if c["text"] in CHARS and c["size"] < 12]  # the paragraphs, not the heading
            if not chars:
                continue
            image = document[index].render(scale=SCALE).to_pil()
            lines = sorted({round(c["top"]) for c in chars})
            for lang, top in zip(LANGS, lines, strict=True):
                for c in sorted((c for c in chars if round(c["top"]) == top), key=lambda c: CHARS.index(c["text"])):
                    # The em box about the line's middle: the font's ascent, which pdfplumber
                    # reports as the top, is not where a CJK glyph's ink begins.
                    middle, half = (c["top"] + c["bottom"]) / 2, c["size"] * 0.6
                    box = [round(v * SCALE) for v in (c["x0"], middle - half, c["x1"], middle + half)]
                    crops.setdefault(lang, []).append(_ink(image.crop(box)))
    assert set(crops) == set(LANGS) and all(len(v) == 2 for v in crops.values())
    return crops


def test_japanese_is_set_in_japanese_forms_and_each_span_in_its_own(printed: dict[str, list[Image.Image]],
                                                                    references: dict[tuple[str, str], Image.Image]) -> None:
    _picture(printed, references)
    sets = {lang: [_form(crop, char, references) for char, crop in zip(CHARS, crops, strict=True)]
            for lang, crops in printed.items()}
    assert sets["ja"] == ["ja", "ja"]  # the book's language: 骨 and 直 in their Japanese forms
    assert sets["zh-Hans"] == ["zh-Hans", "zh-Hans"]
    assert sets["zh-Hant"] == ["zh-Hant", "zh-Hans"]  # Traditional 直 is the Simplified one
    # The Japanese and the Simplified Chinese forms of both are different glyphs, as the picture shows.
    assert all(_distance(a, b) > 0.05 for a, b in zip(printed["ja"], printed["zh-Hans"], strict=True))


@pytest.mark.xfail(strict=True, reason="Pango gives Han text the language of its context only when that "
                   "language is written in Han (pango_language_includes_script): Korean is not, so Hanja in "
                   "Korean text are set in the font's default, Simplified Chinese, forms")
def test_korean_hanja_in_korean_forms_in_print(printed: dict[str, list[Image.Image]],
                                               references: dict[tuple[str, str], Image.Image]) -> None:
    assert [_form(crop, char, references) for char, crop in zip(CHARS, printed["ko"], strict=True)] == ["ja", "ja"]


def test_the_epub_keeps_the_languages_and_the_forms(make_book: MakeBook, small_cover) -> None:
    """The EPUB (and the web edition, with the same markup and subsets) carries each `lang` and a
    CJK subset whose `locl` still gives each language its forms."""
    root = make_book({"01.md": BOOK}, config="title: Forms\nlang: ja\n")
    data = render_epub(parse(root), cover=small_cover)
    with zipfile.ZipFile(io.BytesIO(data)) as epub:
        chapter = next(epub.read(n).decode() for n in epub.namelist() if n.endswith("chapter-001.xhtml"))
        assert 'lang="ja"' in epub.read(next(n for n in epub.namelist() if n.endswith("content.opf"))).decode() \
            or 'xml:lang="ja"' in chapter
        for lang in LANGS[1:]:
            assert f'lang="{lang}"' in chapter
        [subset] = [epub.read(n) for n in epub.namelist() if "CJK" in n or "Noto Serif CJK" in n or n.endswith(".otf")]
    font = hb.Font(hb.Face(hb.Blob(subset)))
    glyphs = {}
    for lang in LANGS:
        buffer = hb.Buffer()
        buffer.add_str(CHARS)
        buffer.guess_segment_properties()
        buffer.language = lang
        hb.shape(font, buffer, {})
        glyphs[lang] = [info.codepoint for info in buffer.glyph_infos]
    assert glyphs["ja"][0] != glyphs["zh-Hans"][0] and glyphs["ja"][1] != glyphs["zh-Hans"][1]
    assert glyphs["zh-Hant"][0] not in {glyphs["ja"][0], glyphs["zh-Hans"][0]}
    assert glyphs["ko"] == glyphs["ja"]


def _picture(printed: dict[str, list[Image.Image]], references: dict[tuple[str, str], Image.Image]) -> None:
    """Top row: what the print edition set, per language asked for; bottom row: the font's form per language."""
    gap = 12
    sheet = Image.new("L", ((2 * SIDE + 3 * gap) * len(LANGS), 2 * SIDE + 3 * gap), 255)
    for column, lang in enumerate(LANGS):
        x = column * (2 * SIDE + 3 * gap) + gap
        for n, char in enumerate(CHARS):
            sheet.paste(printed[lang][n], (x + n * (SIDE + gap // 2), gap))
            sheet.paste(references[char, lang], (x + n * (SIDE + gap // 2), SIDE + 2 * gap))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(ARTIFACT)


