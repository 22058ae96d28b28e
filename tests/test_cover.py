"""The generated cover: its size and format, its bytes, its text, and what it may read."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
from pathlib import Path

import pytest
import weasyprint
from conftest import PRIDE
from PIL import Image
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.urls import FatalURLFetchingError

from publish.cover import HEIGHT, WIDTH, cover_html, layout_cover, render_cover
from publish.cover import styles_fetcher as StylesFetcher  # noqa: N812 - the name these tests grew up with
from publish.diagnostics import BuildFailed
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import parse_book
from publish.sandbox import FetchRefused

REPO = Path(__file__).resolve().parents[1]
STYLES = REPO / "styles"
# The text column in cover.css, in its CSS px on the 1600 × 2560 px page; nothing may be drawn
# outside it. SAFE is the same in the pixels of the JPEG, which is the page a little smaller.
LAYOUT_SAFE = (220, 240, 1600 - 220, 2560 - 240)
SAFE = tuple(round(v * WIDTH / 1600) for v in LAYOUT_SAFE)


@pytest.fixture(scope="module")
def sample() -> Book:
    return parse_book(load_manuscript(REPO / "manuscript"))


@pytest.fixture(scope="module")
def pride() -> Book:
    if not PRIDE.is_dir():
        pytest.skip("the Pride and Prejudice corpus is not here")
    return parse_book(load_manuscript(PRIDE))


def retitled(book: Book, **config: object) -> Book:
    return dataclasses.replace(book, config=dataclasses.replace(book.config, **config))


def test_cover_is_a_1580_by_2528_jpeg_with_the_same_bytes_every_time(sample: Book) -> None:
    first = render_cover(sample.config, styles_dir=STYLES)
    assert render_cover(sample.config, styles_dir=STYLES) == first
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (WIDTH, HEIGHT)) == ("JPEG", "RGB", (1580, 2528))
    assert WIDTH * HEIGHT <= 4_000_000 and HEIGHT >= 2500 and HEIGHT / WIDTH == 1.6  # Apple's and KDP's limits
    assert "exif" not in image.info and not image.getexif()


def test_cover_is_dark_with_light_type(sample: Book) -> None:
    image = Image.open(io.BytesIO(render_cover(sample.config, styles_dir=STYLES))).convert("L")
    assert image.crop((0, 0, 60, 60)).getextrema()[1] < 60
    assert image.crop(SAFE).getextrema()[1] > 200


def test_no_author_is_invented(sample: Book) -> None:
    assert sample.config.authors == ()
    html = cover_html(sample.config, styles_dir=STYLES)
    assert 'class="authors"' not in html
    assert "Whiplash" in html and "Lessons in Leadership" in html


def test_authors_are_named(pride: Book, sample: Book) -> None:
    html = cover_html(pride.config, styles_dir=STYLES)
    assert re.search(r'class="authors"[^>]*><span class="line">Jane Austen</span></p>', html)
    two = cover_html(retitled(sample, authors=("Ann Example", "Bo Other")).config, styles_dir=STYLES)
    assert "Ann Example &amp; Bo Other" in two


def test_lang_and_direction_are_the_books(sample: Book) -> None:
    assert '<html lang="en" dir="ltr"' in cover_html(sample.config, styles_dir=STYLES)
    arabic = retitled(sample, title="ألف ليلة وليلة", lang="ar")
    assert '<html lang="ar" dir="rtl"' in cover_html(arabic.config, styles_dir=STYLES)


def test_title_text_is_escaped(sample: Book) -> None:
    html = cover_html(retitled(sample, title="<script>x</script> & Co", subtitle=None).config, styles_dir=STYLES)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt; &amp; Co" in html


def _title_size(book: Book) -> int:
    match = re.search(r'<h1 class="title" style="font-size: (\d+)px">', cover_html(book.config, styles_dir=STYLES))
    assert match
    return int(match[1])


def test_long_titles_are_set_smaller(sample: Book) -> None:
    words = ["The", "Long", "and", "Winding", "Story", "of", "Everything", "That", "Happened", "to", "Us", "Before", "the", "Very", "End"]
    sizes = [_title_size(retitled(sample, title=" ".join(words[:n]))) for n in (1, 3, 6, 10, 15)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1] * 2


LONG = "The Curious and Entirely Improbable History of a Small Town Orchestra That Refused to Stop Playing Again"
VARIANTS = {
    "one word": {"title": "Dune", "subtitle": None, "authors": ("Frank Herbert",)},
    "fifteen words and everything": {
        "title": f"{LONG}: Being a True Account", "authors": ("Margaret Ellison-Whitford", "Tomás Ruiz", "A. N. Other"),
        "subtitle": "A Chronicle in Nine Movements, with Notes on Tempo, Temper and the Art of Listening Well"},
    "one very long word": {"title": "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2, "subtitle": None},
    "greek": {"title": "Ἡ Ὀδύσσεια καὶ ἡ Ἰλιάς", "lang": "el", "subtitle": None},
    "arabic, right to left": {"title": "ألف ليلة وليلة", "lang": "ar", "subtitle": "حكايات", "authors": ("مجهول",)},
}


@pytest.mark.parametrize("name", ["sample", *VARIANTS])
def test_text_stays_inside_the_safe_area(sample: Book, name: str) -> None:
    book = sample if name == "sample" else retitled(sample, **VARIANTS[name])
    document = layout_cover(book.config, styles_dir=STYLES)
    assert len(document.pages) == 1
    texts = [box for box in document.pages[0]._page_box.descendants() if isinstance(box, TextBox)]
    assert texts
    left, top, right, bottom = LAYOUT_SAFE
    for box in texts:
        assert left <= box.position_x and box.position_x + box.width <= right, box.text
        assert top <= box.position_y and box.position_y + box.height <= bottom, box.text


def test_fetcher_serves_the_styles_folder_only(tmp_path: Path) -> None:
    fetcher = StylesFetcher(STYLES)
    font = (STYLES / "fonts" / "GentiumBookPlus-Regular.ttf").as_uri()
    assert fetcher(font).read(4) == b"\x00\x01\x00\x00"
    for url in (f"{STYLES.as_uri()}/../pyproject.toml", "file:///etc/passwd", "file://example.com/etc/passwd",
                "https://example.com/font.ttf", "data:text/css,body{}"):
        with pytest.raises(FetchRefused):
            fetcher(url)


def test_fetcher_does_not_follow_a_symlink_out(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    (tmp_path / "styles").mkdir()
    (tmp_path / "styles" / "link.css").symlink_to(secret)
    with pytest.raises(FetchRefused):
        StylesFetcher(tmp_path / "styles")((tmp_path / "styles" / "link.css").as_uri())


def test_weasyprint_stops_at_a_refused_url(tmp_path: Path) -> None:
    outside = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(outside)
    html = weasyprint.HTML(string=f'<img src="{outside.as_uri()}">', base_url=STYLES.as_uri() + "/",
                           url_fetcher=StylesFetcher(STYLES))
    with pytest.raises(FatalURLFetchingError):
        html.render()


def _styles_without(tmp_path: Path, missing: str) -> Path:
    shutil.copytree(STYLES, tmp_path / "styles", ignore=shutil.ignore_patterns("epub", "*Bold*"))
    (tmp_path / "styles" / missing).unlink()
    return tmp_path / "styles"


@pytest.mark.parametrize("missing", ["cover.css", "fonts/GentiumBookPlus-Italic.ttf"])
def test_missing_style_file_is_a_build_error(sample: Book, tmp_path: Path, missing: str) -> None:
    with pytest.raises(BuildFailed, match=Path(missing).name):
        render_cover(sample.config, styles_dir=_styles_without(tmp_path, missing))
