"""A generated cover for books that name no `cover-image`: a typographic page, as a JPEG.

Reading systems and shops show the cover everywhere, and one of theirs (a grey box or the first
page) looks worse than a plain designed one. So the cover is an HTML page laid out by the same
engine as the print edition (WeasyPrint, from `styles/templates/cover.html` and
`styles/cover.css`, in the book's shipped typeface), rasterised with pdfium and saved as a JPEG.

Browsers wrap a title greedily and cannot fit its size to its length, so Python measures the
text with the font itself, picks each block's size and splits it into even lines; the template
places them. The same book always gives the same bytes: nothing depends on time, and the
background colour comes from a hash of the title. WeasyPrint may read files under `styles/` and
nothing else, so a cover never reaches the network or the rest of the disk.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pypdfium2 as pdfium
import weasyprint
from PIL import ImageFont
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError

from .config import BookConfig
from .diagnostics import BuildFailed, error
from .fonts import hide_installed_fonts, needed_faces
from .sandbox import SandboxFetcher
from .templates import TYPEFACE

# The page is laid out at 1600 × 2560 CSS px (cover.css), Kindle's recommended size, and the JPEG is
# that page in the same 1:1.6 shape a little smaller: Apple Books takes no image inside a book of
# more than 4 million pixels (1600 × 2560 is 4.1 million), and KDP asks for at least 2500 px of
# height (see docs/stores.md). A test checks the cover against every store's rules.
WIDTH, HEIGHT = 1580, 2528
JPEG_QUALITY = 75
TEMPLATE = "cover.html"
# The text column in cover.css is 1160 px wide; a little is held back because the measurement
# below ignores kerning and a line that wraps again would spoil the balance.
_MEASURE = 1120

# Dark grounds that carry gold and ivory type, as (edge, lit centre). Chosen by the title's
# hash, not at random, so a rebuild gives the same cover.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#1f080b", "#4f161c"),  # oxblood
    ("#0a1322", "#1f3152"),  # midnight blue
    ("#08191a", "#173f42"),  # deep teal
    ("#0a1a14", "#1b4233"),  # bottle green
    ("#1a0d1f", "#3d2147"),  # aubergine
    ("#131110", "#3a2f24"),  # warm black
)


@dataclass(frozen=True, slots=True)
class _Role:
    """How one block of text is set: its face, the sizes to try (largest first) and its room."""

    face: str
    sizes: tuple[int, ...]
    line_height: float
    max_height: int  # px the block may take
    tracking: float = 0.0  # letter-spacing in em, as in cover.css
    caps: bool = False  # text-transform: uppercase in cover.css


_SPACES = re.compile(r"[ \t\r\n]+")
_REGULAR, _ITALIC = "GentiumBookPlus-Regular.ttf", "GentiumBookPlus-Italic.ttf"
_HEAD = _Role(_REGULAR, (300, 270, 240, 212, 188, 166, 148, 132, 118, 106, 96, 88, 80), 1.08, 940)
_TAIL = _Role(_ITALIC, (104, 96, 88, 80, 72, 66, 60), 1.18, 420)
_SUBTITLE = _Role(_REGULAR, (50, 46, 42, 38), 1.5, 300, tracking=0.16, caps=True)
_AUTHORS = _Role(_REGULAR, (58, 52, 46, 42), 1.5, 270, tracking=0.16, caps=True)


@dataclass(frozen=True, slots=True)
class Block:
    """A block of the cover as the template sets it: a font size in px and its lines."""

    size: int
    lines: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        # Basic layout on every machine (with or without libraqm), so line breaks do not vary.
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise BuildFailed([error("cover-font", f"the cover's typeface cannot be read: {path}: {exc}")]) from exc


def _greedy(widths: list[float], space: float, limit: float) -> list[tuple[int, int]]:
    """Fill each line as far as it goes: the (start, end) word indices of each line."""
    lines: list[tuple[int, int]] = []
    start, used = 0, widths[0]
    for i in range(1, len(widths)):
        if used + space + widths[i] > limit:
            lines.append((start, i))
            start, used = i, widths[i]
        else:
            used += space + widths[i]
    lines.append((start, len(widths)))
    return lines


def _fit(text: str, role: _Role, fonts_dir: Path) -> Block:
    """The largest size at which `text` fits its room, broken into lines of even length.

    Evenness is found by narrowing the measure for as long as the text still takes no more
    lines, so a title never ends on one stranded word. A title of few words is never stacked
    one word a line just to be set larger.
    """
    words = _SPACES.split(text.strip())  # not str.split(): a no-break space must hold
    max_lines = max(2, math.ceil(len(words) / 2))
    lines: list[tuple[int, int]] = [(0, len(words))]
    for size in role.sizes:
        font = _font(fonts_dir / role.face, size)
        track = role.tracking * size
        widths = [font.getlength(w.upper() if role.caps else w) + track * len(w) for w in words]
        space = font.getlength(" ") + track
        lines = _greedy(widths, space, _MEASURE)
        if max(widths) > _MEASURE or len(lines) > max_lines or len(lines) * size * role.line_height > role.max_height:
            continue
        low, high = max(widths), float(_MEASURE)
        while high - low > 1:
            middle = (low + high) / 2
            low, high = (low, middle) if len(_greedy(widths, space, middle)) <= len(lines) else (middle, high)
        return Block(size, tuple(" ".join(words[a:b]) for a, b in _greedy(widths, space, high)))
    # Nothing fits (one very long word, or a script without spaces): the smallest size, and
    # cover.css lets the engine break inside the words.
    return Block(role.sizes[-1], tuple(" ".join(words[a:b]) for a, b in lines))


def _names(authors: tuple[str, ...]) -> str:
    return authors[0] if len(authors) == 1 else f"{', '.join(authors[:-1])} & {authors[-1]}"


def cover_html(config: BookConfig, *, styles_dir: Path) -> str:
    """The cover page as HTML, with every size and line break chosen."""
    fonts_dir = styles_dir / "fonts"
    # "Main: the rest" is set as a display line over an italic one, where the colon would be.
    head, colon, tail = config.title.partition(": ")
    if not (colon and head.strip() and tail.strip()):
        head, tail = config.title, ""
    digest = hashlib.sha256(config.title.encode()).digest()
    ground, glow = PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(styles_dir / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template(TEMPLATE).render(
        lang=config.lang, dir=config.direction, title=config.title, ground=ground, glow=glow,
        head=_fit(head, _HEAD, fonts_dir),
        tail=_fit(tail, _TAIL, fonts_dir) if tail else None,
        subtitle=_fit(config.subtitle, _SUBTITLE, fonts_dir) if config.subtitle else None,
        authors=_fit(_names(config.authors), _AUTHORS, fonts_dir) if config.authors else None,
    )


def styles_fetcher(styles_dir: Path) -> SandboxFetcher:
    """Only the styles folder; any failed fetch stops the render, since a cover silently set in a
    fallback font, or missing its stylesheet, is worse than an error."""
    return SandboxFetcher(styles_dir, allow_data=False, fail_on_errors=True, description="the styles folder")


def _fallbacks(config: BookConfig, *, styles_dir: Path, fonts: FontConfiguration) -> weasyprint.CSS:
    """The shipped fallback fonts the cover's text needs (a CJK or Arabic title), after Gentium:
    the cover is set in shipped fonts alone, like the print edition, or it would show the fonts
    (and, through fontconfig's choice among them, the locale) of the machine that built it."""
    text = " ".join([config.title, config.subtitle or "", *config.authors])
    extra = [face for face in needed_faces(text, styles_dir=styles_dir) if face.family != TYPEFACE]
    families = "".join(f'"{family}", ' for family in dict.fromkeys(face.family for face in extra))
    return weasyprint.CSS(string="".join(face.rule for face in extra) + f'html {{ font-family: "Cover Gentium", '
                          f"{families}serif; }}", base_url=styles_dir.resolve().as_uri() + "/",
                          url_fetcher=styles_fetcher(styles_dir), font_config=fonts)


def layout_cover(config: BookConfig, *, styles_dir: Path) -> weasyprint.Document:
    """The cover laid out by WeasyPrint, reading nothing outside `styles_dir`, in shipped fonts only."""
    html = weasyprint.HTML(string=cover_html(config, styles_dir=styles_dir),
                           base_url=styles_dir.resolve().as_uri() + "/",
                           url_fetcher=styles_fetcher(styles_dir))
    try:
        with hide_installed_fonts():
            fonts = FontConfiguration()
        return html.render(stylesheets=[_fallbacks(config, styles_dir=styles_dir, fonts=fonts)], font_config=fonts)
    except FatalURLFetchingError as exc:  # a BaseException: make it a build error like any other
        raise BuildFailed([error("cover-fetch", f"the cover could not be made: {exc}: {exc.__cause__}",
                                 hint=f"the cover reads only files under {styles_dir}")]) from exc


def render_cover(config: BookConfig, *, styles_dir: Path) -> bytes:
    """The book's generated cover: JPEG bytes, 1580 × 2528 px, the same for the same book. It
    is drawn from book.yaml alone, so it can be made before the chapters are parsed."""
    pdf = pdfium.PdfDocument(layout_cover(config, styles_dir=styles_dir).write_pdf())
    try:
        page = pdf[0]
        # WeasyPrint writes CSS px as 0.75 pt, so this scale turns the page back into its px.
        image = page.render(scale=WIDTH / page.get_width()).to_pil().convert("RGB")
    finally:
        pdf.close()
    if image.size != (WIDTH, HEIGHT):
        raise RuntimeError(f"the cover rasterised at {image.size}, not {(WIDTH, HEIGHT)}")
    out = io.BytesIO()
    # Pillow adds no EXIF or timestamps by itself. 4:4:4, because halving the colour resolution
    # (4:2:0) turns the 2 px gold rules grey. Quality 75 is the lowest at which the background's
    # gradient keeps its steps (under a contrast stretch, 70 and below merge them into 8 px blocks);
    # the type and rules look the same as at 90, and the file is 99 KB instead of 175 KB in the
    # EPUB (the sample's cover; KDP charges delivery by the megabyte).
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, subsampling=0)
    return out.getvalue()
