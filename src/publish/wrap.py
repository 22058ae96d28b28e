"""The print edition's cover: `Book -> bytes`, one PDF sheet with back cover, spine and front cover.

Its size follows from the interior's real page count (`pages`, known once the print edition is
laid out), the paper and the print service (see `printers`): the spine is exactly as wide as that
service makes it, the sheet carries its bleed (a paperback) or its turn-over (a case-laminate
hardcover), and the PDF's TrimBox and BleedBox say where the printer cuts.

- The front is the author's `cover-image`, filling the front to the bleed (a warning if it has
  fewer than 300 pixels per inch there), or the generated cover drawn again for print: the same
  design and the same measured line breaks as the EPUB's cover (publish.cover), set as vector type
  at the trim's size instead of an enlarged JPEG.
- The spine carries title, author and publisher only from the service's least page count for
  spine text, at a size measured to fit between the folds, reading top to bottom (bottom to top in
  the languages that read spines upwards).
- The back holds the `description` (Markdown), the author's photo and bio, the imprint, and in its
  lower corner the barcode: an EAN-13 of the edition's ISBN drawn by python-barcode, or a white box
  left empty for the service to print its own (KDP asks for that).

The sheet is checked as a service would check it (publish.wrapcheck): if the back's text does not
fit inside the safe zone and clear of the barcode, it is set again a size smaller.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from markupsafe import Markup

from . import __version__
from .diagnostics import Diagnostic, Severity, warning
from .model import Book
from .printers import SERVICES, Box, Geometry, geometry
from .templates import STYLES_DIR, render

STYLESHEETS = ("fonts.css", "wrap.css")
BACK_SIZES = (11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0)  # pt, tried largest first
SPINE_SIZES = (16.0, 15.0, 14.0, 13.0, 12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0)  # pt
PHOTO = (0.95, 1.2)  # in, as wrap.css sets it
DESIGN_WIDTH = 1600  # px: the width publish.cover measures its lines in
# Languages whose books read their spines bottom to top (the continental European convention).
SPINE_UPWARDS = {"fr", "de", "it", "es", "pt", "ca"}


@dataclass(frozen=True, slots=True)
class WrapEdition:
    data: bytes
    shape: Geometry
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class _Spine:
    box: Box  # before it is turned: along the spine's length
    size: float
    title: str
    author: str | None
    publisher: str | None
    reading: str  # "down" or "up"
    reserve: float  # in: the imprint's length at the foot, which title and author are centred beside


@dataclass(frozen=True, slots=True)
class _Block:
    size: float  # pt
    lines: tuple[str, ...]


def _margin(panel: Box, safe: float) -> float:
    """The back's and the design's margin: the trim's safe zone and a little more, in proportion."""
    return round(max(safe + 0.12, 0.09 * panel.width), 3)


def _front_text(book: Book, width_in: float, styles_dir: Path) -> dict[str, _Block | None]:
    """The generated cover's blocks (publish.cover measures them in its 1600 px frame) in points."""
    from . import cover

    scale = width_in * 72 / DESIGN_WIDTH
    config = book.config
    head, colon, tail = config.title.partition(": ")
    if not (colon and head.strip() and tail.strip()):
        head, tail = config.title, ""
    fonts = styles_dir / "fonts"
    blocks = {"head": cover._fit(head, cover._HEAD, fonts),  # noqa: SLF001 - the EPUB cover's own measure
              "tail": cover._fit(tail, cover._TAIL, fonts) if tail else None,  # noqa: SLF001
              "subtitle": cover._fit(config.subtitle, cover._SUBTITLE, fonts) if config.subtitle else None,  # noqa: SLF001
              "authors": cover._fit(cover._names(config.authors), cover._AUTHORS, fonts) if config.authors else None}  # noqa: SLF001
    return {k: None if b is None else _Block(round(b.size * scale, 2), b.lines) for k, b in blocks.items()}


def _palette(book: Book) -> tuple[str, str]:
    """The generated cover's two colours (chosen by the title, as publish.cover chooses them), or,
    under the author's own image, its mean colour darkened, so the spine and back go with it."""
    from .cover import PALETTE

    if book.cover is not None:
        from PIL import Image, ImageStat

        with Image.open(book.cover.source) as image:
            mean = ImageStat.Stat(image.convert("RGB").resize((64, 64))).mean
        ground = tuple(int(c * 0.42) for c in mean)
        glow = tuple(min(255, int(c * 0.62)) for c in mean)
        return "#{:02x}{:02x}{:02x}".format(*ground), "#{:02x}{:02x}{:02x}".format(*glow)
    digest = hashlib.sha256(book.config.title.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


@functools.lru_cache(maxsize=16)
def _face(name: str, size: float):  # noqa: ANN202 - a PIL font
    from PIL import ImageFont

    return ImageFont.truetype(str(STYLES_DIR / "fonts" / name), max(1, round(size * 10)),
                              layout_engine=ImageFont.Layout.BASIC)


def _length(text: str, size: float, *, tracking: float = 0.0, caps: bool = False) -> float:
    """How long `text` runs at `size` pt, in inches (measured with the font itself)."""
    shown = text.upper() if caps else text
    return (_face("GentiumBookPlus-Regular.ttf", size).getlength(shown) / 10 + tracking * size * len(shown)) / 72


def _who(book: Book) -> str:
    """Whose cover a message is about: "the paperback's cover" in a book of several editions."""
    return f"the {book.config.edition.name} edition's cover" if book.config.edition else "the cover"


def _spine(book: Book, shape: Geometry) -> tuple[_Spine | None, list[Diagnostic]]:
    config = book.config
    service = SERVICES[shape.service]
    shown = Path(book.root.name) / "book.yaml"
    if shape.spine_safe is None:
        return None, [Diagnostic("cover-spine-blank", Severity.INFO, f"{_who(book)}: the spine carries no text, as "
                                 f"{shape.pages} pages are fewer than the {service.spine_text_pages} {service.label} asks "
                                 "for spine text", shown, None, "a thin book's spine is left plain, as the service requires")]
    room = shape.spine_safe
    author = config.authors[0] if len(config.authors) == 1 else (", ".join(config.authors) or None)
    publisher = config.publisher
    # Type as tall as the spine allows between its folds (caps and descenders: 1.25 em), and as
    # long as its length allows; the publisher goes first, then the author, if the title needs room.
    for parts in ((author, publisher), (author, None), (None, None)):
        for size in SPINE_SIZES:
            if size * 1.25 / 72 > room.width:
                continue
            names = _length(config.title, size, tracking=0.02)
            if parts[0]:
                names += _length(parts[0], size * 0.78, tracking=0.14, caps=True) + 1.95 * size / 72
            reserve = _length(parts[1], size * 0.62, tracking=0.14, caps=True) + 1.5 * size / 72 if parts[1] else 0.0
            # Centred in what the imprint leaves, the names must clear it on both sides.
            if names + 2 * reserve <= room.height * 0.94:
                box = Box(room.x + room.width / 2 - room.height / 2, room.y + room.height / 2 - room.width / 2,
                          room.height, room.width)
                reading = "up" if config.lang.split("-")[0] in SPINE_UPWARDS else "down"
                return _Spine(box, size, config.title, parts[0], parts[1], reading, round(reserve, 4)), []
    return None, [warning("cover-spine-text", f"{_who(book)}: the title does not fit on a {shape.spine:.3f} in spine at "
                          f"{SPINE_SIZES[-1]:g} pt, and the spine is left plain", file=shown,
                          hint="a shorter title on the spine needs a thicker book")]


def _barcode_svg(ean: str) -> Markup:
    """The EAN-13 of the ISBN, drawn by python-barcode with its guard bars and digits in place;
    the digits are set in the book's typeface, which the PDF embeds."""
    from barcode import EAN13
    from barcode.writer import SVGWriter

    writer = SVGWriter()
    writer.with_doctype = False
    out = io.BytesIO()
    EAN13(ean[:12], writer=writer, guardbar=True).write(out, options={
        "module_width": 0.33, "module_height": 15.0, "quiet_zone": 3.2, "font_size": 9, "text_distance": 3.5,
        "background": "white", "foreground": "black"})
    root = etree.fromstring(out.getvalue())
    # Its styles as SVG's own attributes: an HTML renderer reads a style attribute as CSS, where
    # fill and text-anchor are unknown.
    for element in root.iter():
        for declaration in filter(None, (element.attrib.pop("style", "")).split(";")):
            name, _, value = declaration.partition(":")
            element.set(name.strip(), value.strip())
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        text.set("font-family", "Gentium Book Plus")
    for comment in root.xpath("//comment()"):
        comment.getparent().remove(comment)
    return Markup(etree.tostring(root, encoding="unicode"))


def _resolution(what: str, source: Path, shown: str, placed: tuple[float, float], file: Path,
                line: int | None) -> list[Diagnostic]:
    from PIL import Image

    with Image.open(source) as image:
        width, height = image.size
    dpi = min(width / placed[0], height / placed[1])
    if dpi >= 299.5:
        return []
    return [warning("cover-image-resolution", f"{what} '{shown}' is {width} × {height} px: {dpi:.0f} dpi at "
                    f"{placed[0]:.2f} × {placed[1]:.2f} in on the cover, and printers ask for 300", file=file, line=line,
                    hint=f"use an image of at least {round(placed[0] * 300)} × {round(placed[1] * 300)} px")]


def _front_bleed(shape: Geometry) -> Box:
    """The front and the bleed (or turn-over) beyond its outside edges: where its image goes."""
    front = shape.front
    if front.x > shape.back.x:  # the front on the right: its outside edge is the sheet's right edge
        return Box(front.x, 0.0, round(shape.width - front.x, 4), shape.height)
    return Box(0.0, 0.0, front.right, shape.height)


def author_photo(book: Book) -> Path | None:
    """The author's photo (`author-photo`), which must be an image inside the book folder."""
    from .diagnostics import BuildFailed, error
    from .manuscript import CONFIG_NAME

    name = book.config.author_photo
    if not name:
        return None
    root = book.root.resolve()
    path = (root / name).resolve()
    shown = Path(book.root.name) / CONFIG_NAME
    text = (book.root / CONFIG_NAME).read_text(encoding="utf-8") if (book.root / CONFIG_NAME).is_file() else ""
    if not path.is_relative_to(root):
        raise BuildFailed([error("author-photo", f"the author's photo '{name}' is outside the book folder", file=shown,
                                 line=_line_of(text, "author-photo"),
                                 hint="a build reads nothing outside the book folder: copy the image into it")])
    if path.suffix.lower() not in {".jpg", ".jpeg", ".png"} or not path.is_file():
        raise BuildFailed([error("author-photo", f"the author's photo '{name}' is not a JPEG or PNG file in the book folder",
                                 file=shown, line=_line_of(text, "author-photo"),
                                 hint="name a .jpg or .png file, relative to book.yaml")])
    return path


def _line_of(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return n
    return None


def wrap_html(book: Book, shape: Geometry, *, back_size: float, styles_dir: Path = STYLES_DIR,
              spine: _Spine | None) -> str:
    from .parse import chapter_html

    config = book.config
    service = SERVICES[shape.service]
    front = _front_bleed(shape)
    face = shape.front
    margin = _margin(face, service.case.safe if shape.binding == "hardcover" else service.safe)
    inset = lambda b: Box(round(b.x - front.x, 4), round(b.y - front.y, 4), b.width, b.height)  # noqa: E731
    frame_in = round(max(0.3, 0.045 * face.width), 3)
    frame = inset(face.inset(frame_in))
    design = inset(Box(face.x + margin * 1.45, face.y + face.height * 0.094, face.width - margin * 2.9,
                       face.height * (1 - 2 * 0.094)))
    back = shape.back
    back_box = Box(back.x + margin, back.y + margin, back.width - 2 * margin, back.height - 2 * margin)
    ground, glow = _palette(book)
    glow_at = Box(face.x + face.width / 2, face.y + face.height * 0.4, face.width * 0.95, face.height * 0.7)
    whole = Box(0.0, 0.0, shape.width, shape.height)
    image = photo = None
    if book.cover is not None:
        image = book.cover.source.resolve().as_uri()
    if (path := author_photo(book)) is not None:
        photo = path.as_uri()
    page_css = render("wrap-page.css", sheet=_Sheet(shape.width, shape.height, whole),
                      ground=ground, glow=glow, glow_at=glow_at, back=back_box, barcode=shape.barcode, front_bleed=front,
                      frame=frame, design=design, spine=spine, design_px=None if image else face.width * 72 / DESIGN_WIDTH)
    isbn = config.isbn
    edition = config.edition
    return render(
        "wrap.html", lang=config.lang, dir=config.direction, title=config.title, authors=config.authors,
        version=__version__, modified=book.modified.strftime("%Y-%m-%dT%H:%M:%SZ"), page_css=Markup(page_css),
        binding=shape.binding, image=image, photo=photo, back_size=back_size,
        description=Markup(chapter_html(config.description)) if config.description else None,
        bio=Markup(chapter_html(config.author_bio)) if config.author_bio else None,
        publisher=config.publisher, isbn=isbn.hyphenated if isbn else None,
        barcode=_barcode_svg(isbn.ean) if isbn else None, spine=spine,
        front=None if image else _front_text(book, face.width, styles_dir),
        large_print=bool(edition and edition.font_size and edition.font_size >= 16))


@dataclass(frozen=True, slots=True)
class _Sheet:
    width: float
    height: float
    whole: Box


def _boxes_finisher(shape: Geometry):  # noqa: ANN202 - a WeasyPrint finisher
    """MediaBox and BleedBox: the whole sheet, from the origin; TrimBox: where the printer cuts.
    WeasyPrint's own bleed would put the MediaBox's origin off the page, which some preflights
    refuse; the sheet is laid out whole instead and its boxes set here."""
    import pydyf

    media = [0, 0, round(shape.width * 72, 3), round(shape.height * 72, 3)]
    trim = shape.trim
    trim_box = [round(trim.x * 72, 3), round((shape.height - trim.bottom) * 72, 3), round(trim.right * 72, 3),
                round((shape.height - trim.y) * 72, 3)]

    def finish(document, pdf) -> None:  # noqa: ANN001
        for number in pdf.pages["Kids"][::3]:
            page = pdf.objects[number]
            page["MediaBox"] = pydyf.Array(media)
            page["CropBox"] = pydyf.Array(media)
            page["BleedBox"] = pydyf.Array(media)
            page["TrimBox"] = pydyf.Array(trim_box)
            page["ArtBox"] = pydyf.Array(trim_box)

    return finish


@functools.lru_cache(maxsize=2)
def _stylesheets(styles_dir: Path):  # noqa: ANN202 - (FontConfiguration, [CSS])
    """The shipped fonts alone, and the cover's stylesheets, parsed once a process: a book of
    several print editions makes several covers."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    from .fonts import hide_installed_fonts
    from .sandbox import SandboxFetcher

    with hide_installed_fonts():
        fonts = FontConfiguration()
    fetcher = SandboxFetcher(styles_dir, allow_data=False, description="the styles folder")
    return fonts, [weasyprint.CSS(filename=str(styles_dir / name), url_fetcher=fetcher, font_config=fonts)
                   for name in STYLESHEETS]


# Let go of the cached FontConfiguration before the interpreter tears its modules down: its
# __del__ then finds the library calls it needs (else "Exception ignored in ... __del__" at exit).
atexit.register(_stylesheets.cache_clear)


def render_wrap(book: Book, *, pages: int, styles_dir: Path = STYLES_DIR) -> WrapEdition:
    """The cover sheet for `book` (its configuration made for one print edition) whose interior
    has `pages` pages."""
    import weasyprint

    from .manuscript import CONFIG_NAME
    from .sandbox import SandboxFetcher
    from .wrapcheck import check_wrap

    config = book.config
    service = SERVICES[config.print_service]
    shape = geometry(service, binding=config.binding, paper=config.paper, pages=pages,
                     trim_width=config.trim.width_in, trim_height=config.trim.height_in,
                     caliper=config.edition.caliper if config.edition else None,
                     right_to_left=config.direction == "rtl")
    shown = Path(book.root.name) / CONFIG_NAME
    problems: list[Diagnostic] = []
    if pages < service.min_pages[shape.binding]:
        problems.append(warning("cover-pages", f"{_who(book)}: {pages} pages are fewer than the "
                                f"{service.min_pages[shape.binding]} {service.label} prints as a {shape.binding}", file=shown,
                                hint="the service will refuse the interior: choose another binding or service"))
    config_text = (book.root / CONFIG_NAME).read_text(encoding="utf-8") if (book.root / CONFIG_NAME).is_file() else ""
    if book.cover is not None:
        front = _front_bleed(shape)
        problems += _resolution("the cover image", book.cover.source, config.cover_image or book.cover.href,
                                (front.width, front.height), shown, _line_of(config_text, "cover-image"))
    if (photo := author_photo(book)) is not None:
        problems += _resolution("the author's photo", photo, config.author_photo or "", PHOTO, shown,
                                _line_of(config_text, "author-photo"))
    spine, notes = _spine(book, shape)
    problems += notes
    served = {}
    if book.cover is not None and not book.cover.source.resolve().is_relative_to(book.root.resolve()):
        served[book.cover.source.resolve()] = book.cover.source
    fetcher = SandboxFetcher(book.root, styles_dir, served=served, allow_data=False)
    fonts, stylesheets = _stylesheets(styles_dir)
    identifier = hashlib.sha256(f"{book.identifier} cover".encode()).hexdigest()[:32].encode()
    data = b""
    findings: list[Diagnostic] = []
    for size in BACK_SIZES:
        html = weasyprint.HTML(string=wrap_html(book, shape, back_size=size, styles_dir=styles_dir, spine=spine),
                               base_url=styles_dir.resolve().as_uri() + "/", url_fetcher=fetcher)
        data = html.write_pdf(stylesheets=stylesheets, font_config=fonts, pdf_identifier=identifier,
                              finisher=_boxes_finisher(shape))
        findings = check_wrap(data, shape, caliper=config.edition.caliper if config.edition else None,
                              isbn=config.isbn.ean if config.isbn else None, file=shown, images=False)
        if not any(d.code == "cover-safe-zone" for d in findings):
            break
    # Made all the same, so the author sees what does not fit; `publish check` calls it an error.
    findings = [warning(d.code, f"{_who(book)}: {d.message}", file=d.file, line=d.line, hint=d.hint)
                if d.code == "cover-safe-zone" else d for d in findings]
    return WrapEdition(data, shape, tuple(problems + findings))
