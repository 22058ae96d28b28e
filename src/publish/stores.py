"""Store preflight: what Kindle Direct Publishing, Apple Books, Kobo and Google Play Books publish
about the EPUBs they take, checked against an EPUB file (any EPUB, not only one publish made).

Each rule is a value in `RULES`: the store, a code, and a function from the facts read out of the
EPUB (`EpubFacts`) to the problems it finds. Each rule's source, the page the store publishes it
on, is cited in docs/stores.md, section by section as the codes are named here; where a store's
own page could not be consulted, that document says what was used instead. A hard limit the store
rejects a book for is an error, a recommendation a warning, and what the numbers are (the file
size and the Kindle delivery fee it costs at the 70 % royalty) an information.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from lxml import etree
from PIL import Image, UnidentifiedImageError

from .diagnostics import Diagnostic, Severity

STORES = ("kdp", "apple", "kobo", "google")
NAMES = {"kdp": "Kindle Direct Publishing", "apple": "Apple Books", "kobo": "Kobo", "google": "Google Play Books"}
MB = 1024 * 1024
APPLE_MAX_PIXELS = 4_000_000
# KDP's delivery cost per megabyte at the 70 % royalty, by marketplace (KDP Pricing Page).
KDP_DELIVERY: tuple[tuple[str, str, float], ...] = (
    ("Amazon.com", "US$", 0.15), ("Amazon.ca", "CA$", 0.15), ("Amazon.com.br", "R$", 0.30),
    ("Amazon.co.uk", "£", 0.10), ("Amazon.de", "€", 0.12), ("Amazon.fr", "€", 0.12), ("Amazon.es", "€", 0.12),
    ("Amazon.in", "₹", 7.0), ("Amazon.it", "€", 0.12), ("Amazon.nl", "€", 0.12), ("Amazon.co.jp", "¥", 1.0),
    ("Amazon.com.mx", "MX$", 1.0), ("Amazon.com.au", "A$", 0.15),
)
_NS = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/",
       "c": "urn:oasis:names:tc:opendocument:xmlns:container", "x": "http://www.w3.org/1999/xhtml",
       "enc": "http://www.w3.org/2001/04/xmlenc#"}
_ISBN = re.compile(r"(?:97[89]\d{10}|\d{9}[\dX])")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._/-]+$")
_DOCS = "docs/stores.md"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    href: str  # inside the EPUB, e.g. "EPUB/images/cover.jpg"
    media_type: str
    size: int  # bytes
    width: int = 0
    height: int = 0
    mode: str = ""  # Pillow's: "RGB", "CMYK", "RGBA", "P", …
    transparent: bool = False
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class ImageUse:
    document: str
    src: str
    alt: str | None  # None: no alt attribute at all


@dataclass(frozen=True, slots=True)
class EpubFacts:
    """What the stores' rules look at, read once from the EPUB."""

    name: str  # the file's name, for the diagnostics
    size: int
    identifiers: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    creators: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    cover: ImageFacts | None = None
    images: tuple[ImageFacts, ...] = ()
    uses: tuple[ImageUse, ...] = ()
    fonts: tuple[tuple[str, str], ...] = ()  # (href, media type)
    documents: tuple[tuple[str, int], ...] = ()  # (href, bytes) of each XHTML document
    files: tuple[str, ...] = ()
    apple_fonts: bool = False  # META-INF/com.apple.ibooks.display-options.xml asks for the book's fonts
    errors: tuple[str, ...] = field(default=())  # what could not be read


def _image(archive: zipfile.ZipFile, href: str, media_type: str) -> ImageFacts:
    data = archive.read(href)
    try:
        with Image.open(io.BytesIO(data)) as image:
            transparent = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
            if transparent and image.mode in {"RGBA", "LA"}:
                transparent = image.getchannel("A").getextrema()[0] < 255
            return ImageFacts(href, media_type, len(data), image.width, image.height, image.mode, transparent,
                              getattr(image, "n_frames", 1))
    except (UnidentifiedImageError, OSError):
        return ImageFacts(href, media_type, len(data))  # an SVG, or a broken file (EPUBCheck says so)


def read_epub(path: Path) -> EpubFacts:
    """The facts the store rules need. An EPUB too broken to read gives facts with `errors`."""
    size = path.stat().st_size
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return EpubFacts(path.name, size, errors=("the file is not a ZIP archive",))
    with archive:
        names = set(archive.namelist())
        try:
            container = etree.fromstring(archive.read("META-INF/container.xml"))
            opf_path = container.xpath("//c:rootfile/@full-path", namespaces=_NS)[0]
            opf = etree.fromstring(archive.read(opf_path))
        except (KeyError, IndexError, etree.XMLSyntaxError):
            return EpubFacts(path.name, size, files=tuple(sorted(names)), errors=("no readable package document",))
        base = posixpath.dirname(opf_path)
        text = lambda query: tuple(" ".join(t.split()) for t in opf.xpath(query, namespaces=_NS) if t.strip())  # noqa: E731
        items = {i.get("id"): (posixpath.normpath(posixpath.join(base, unquote(i.get("href", "")))), i.get("media-type", ""),
                               (i.get("properties") or "").split())
                 for i in opf.xpath("//opf:manifest/opf:item", namespaces=_NS)}
        images = {href: _image(archive, href, media) for href, media, _ in items.values()
                  if media.startswith("image/") and href in names}
        cover_href = next((href for href, _, props in items.values() if "cover-image" in props), None)
        if cover_href is None:
            cover_id = next(iter(opf.xpath("//opf:meta[@name='cover']/@content", namespaces=_NS)), None)
            cover_href = items.get(cover_id, (None,))[0]
        uses, documents = [], []
        for href, media, _ in items.values():
            if media != "application/xhtml+xml" or href not in names:
                continue
            data = archive.read(href)
            documents.append((href, len(data)))
            try:
                root = etree.fromstring(data)
            except etree.XMLSyntaxError:
                continue
            for img in root.xpath("//x:img", namespaces=_NS):
                uses.append(ImageUse(href, img.get("src", ""), img.get("alt")))
        fonts = tuple((href, media) for href, media, _ in items.values()
                      if media.startswith(("font/", "application/font", "application/vnd.ms-opentype", "application/x-font")))
        display = "META-INF/com.apple.ibooks.display-options.xml"
        apple_fonts = display in names and b"specified-fonts" in archive.read(display) and \
            re.search(rb'specified-fonts"\s*>\s*true', archive.read(display)) is not None
        return EpubFacts(
            path.name, size, text("//dc:identifier/text()"), text("//dc:title/text()"), text("//dc:creator/text()"),
            text("//dc:language/text()"), images.get(cover_href) if cover_href else None, tuple(images.values()),
            tuple(uses), fonts, tuple(documents), tuple(sorted(names)), apple_fonts)


# --- the rules --------------------------------------------------------------------------------------

Finding = tuple[Severity, str, str, str | None]  # severity, message, hint, file inside the EPUB


@dataclass(frozen=True, slots=True)
class Rule:
    store: str
    code: str
    check: Callable[[EpubFacts], Iterator[Finding]]


RULES: list[Rule] = []


def rule(store: str, code: str) -> Callable[[Callable[[EpubFacts], Iterator[Finding]]], Callable]:
    def register(check: Callable[[EpubFacts], Iterator[Finding]]) -> Callable:
        RULES.append(Rule(store, code, check))
        return check

    return register


def _mb(size: int) -> str:
    return f"{size / MB:.2f} MB"


def _px(image: ImageFacts) -> str:
    return f"{image.width} × {image.height} px"


def _file_size(store: str, *, limit: int | None, recommended: int | None = None) -> Callable[[EpubFacts], Iterator[Finding]]:
    def check(facts: EpubFacts) -> Iterator[Finding]:
        if limit is not None and facts.size > limit:
            yield (Severity.ERROR, f"the EPUB is {_mb(facts.size)}; {NAMES[store]} takes files up to {_mb(limit)}",
                   "make the images smaller (pixels and JPEG quality) or split the book", None)
        elif recommended and facts.size > recommended:
            yield (Severity.WARNING, f"the EPUB is {_mb(facts.size)}; {NAMES[store]} recommends at most {_mb(recommended)}",
                   "make the images smaller (pixels and JPEG quality)", None)
    return check


def _no_cover(store: str) -> Iterator[Finding]:
    yield (Severity.ERROR, f"the EPUB has no cover image, which {NAMES[store]} shows in its store and library",
           "give book.yaml a 'cover-image', or leave it out to have one generated", None)


def _alt_text(store: str, asks: str) -> Callable[[EpubFacts], Iterator[Finding]]:
    def check(facts: EpubFacts) -> Iterator[Finding]:
        # An empty alt marks an image as decoration, which a cover never is.
        missing = [u for u in facts.uses if u.alt is None or (not u.alt.strip() and _is_cover(facts, u))]
        if missing:
            first = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            yield (Severity.WARNING, f"the image '{first.src}' has no alt text{more}; {NAMES[store]} {asks}",
                   "describe each image in its Markdown: ![what it shows](images/file.jpg); "
                   "an empty alt only for decoration", first.document)
    return check


def _is_cover(facts: EpubFacts, use: ImageUse) -> bool:
    target = posixpath.normpath(posixpath.join(posixpath.dirname(use.document), unquote(use.src)))
    return facts.cover is not None and target == facts.cover.href


def _images(facts: EpubFacts) -> Iterator[ImageFacts]:
    yield from facts.images


# Kindle Direct Publishing ---------------------------------------------------------------------------

rule("kdp", "file-size")(_file_size("kdp", limit=650 * MB))


@rule("kdp", "cover-size")
def _kdp_cover(facts: EpubFacts) -> Iterator[Finding]:
    cover = facts.cover
    if cover is None or not cover.width:
        return
    if cover.height < 1000 or cover.width < 625:
        yield (Severity.ERROR, f"the cover is {_px(cover)}; KDP takes covers from 625 × 1000 px",
               "make the cover 1600 × 2560 px", cover.href)
    elif cover.height < 2500:
        yield (Severity.WARNING, f"the cover is {_px(cover)}; KDP asks for at least 2500 px of height",
               "make the cover 1600 × 2560 px (1:1.6)", cover.href)
    if max(cover.width, cover.height) > 10000:
        yield (Severity.ERROR, f"the cover is {_px(cover)}; KDP takes covers up to 10000 px a side",
               "make the cover 1600 × 2560 px", cover.href)
    if cover.size > 50 * MB:
        yield (Severity.ERROR, f"the cover is {_mb(cover.size)}; KDP takes cover files up to 50 MB", "save it as a JPEG",
               cover.href)
    ratio = cover.height / cover.width
    if not 1.5 <= ratio <= 1.7:
        yield (Severity.WARNING, f"the cover's height is {ratio:.2f} times its width; KDP's ideal is 1.6",
               "make the cover 1600 × 2560 px", cover.href)


@rule("kdp", "image-format")
def _kdp_images(facts: EpubFacts) -> Iterator[Finding]:
    for image in _images(facts):
        if image.media_type == "image/tiff":
            yield (Severity.ERROR, f"'{image.href}' is a TIFF, which Kindle does not show", "save it as JPEG or PNG", image.href)
        elif image.frames > 1:
            yield (Severity.ERROR, f"'{image.href}' is an animated GIF, which Kindle does not show",
                   "use a still image", image.href)
        elif image.transparent:
            yield (Severity.WARNING, f"'{image.href}' has transparent parts; Kindle does not support transparency",
                   "flatten it onto a white background", image.href)
        if image.size > 5 * MB:
            yield (Severity.WARNING, f"'{image.href}' is {_mb(image.size)}; Kindle takes images up to 5 MB",
                   "make it smaller (pixels or JPEG quality)", image.href)


rule("kdp", "alt-text")(_alt_text("kdp", "asks at upload whether every image has alt text"))


@rule("kdp", "alt-length")
def _kdp_alt_length(facts: EpubFacts) -> Iterator[Finding]:
    long = [u for u in facts.uses if u.alt and len(u.alt) > 140]
    if long:
        yield (Severity.WARNING, f"the alt text of '{long[0].src}' is {len(long[0].alt or '')} characters; "
               "KDP asks for less than 140", "say what the image shows in a sentence; put the rest in the text or a caption",
               long[0].document)


@rule("kdp", "delivery-fee")
def _kdp_delivery(facts: EpubFacts) -> Iterator[Finding]:
    megabytes = facts.size / MB
    fees = ", ".join(f"{market} {currency}{_fee(megabytes, rate, currency)}" for market, currency, rate in KDP_DELIVERY)
    yield (Severity.INFO, f"the EPUB is {_mb(facts.size)}: at the 70% royalty each copy sold costs a delivery fee of "
           f"about {fees}", "KDP charges by the size of its own conversion of the file, usually a little smaller", None)


def _fee(megabytes: float, rate: float, currency: str) -> str:
    """The fee, rounded to the currency's smallest coin and at least one of it."""
    digits = 0 if currency == "¥" else 2
    return f"{max(round(megabytes * rate, digits), 10 ** -digits):.{digits}f}"


# Apple Books ---------------------------------------------------------------------------------------

rule("apple", "file-size")(_file_size("apple", limit=2048 * MB, recommended=1024 * MB))


@rule("apple", "image-pixels")
def _apple_pixels(facts: EpubFacts) -> Iterator[Finding]:
    for image in _images(facts):
        if image.pixels > APPLE_MAX_PIXELS:
            yield (Severity.ERROR, f"'{image.href}' is {_px(image)} ({image.pixels / 1e6:.1f} million pixels); "
                   "Apple Books takes no image inside a book of more than 4 million", "scale it down, keeping its shape",
                   image.href)


@rule("apple", "cover-size")
def _apple_cover(facts: EpubFacts) -> Iterator[Finding]:
    cover = facts.cover
    if cover is not None and cover.width and min(cover.width, cover.height) < 1400:
        yield (Severity.WARNING, f"the cover is {_px(cover)}; Apple Books asks for at least 1400 px on the shorter side",
               "make the cover 1580 × 2528 px", cover.href)


rule("apple", "alt-text")(_alt_text("apple", "asks for an accessibility description of every image"))


@rule("apple", "fonts")
def _apple_fonts(facts: EpubFacts) -> Iterator[Finding]:
    if facts.fonts and not facts.apple_fonts:
        yield (Severity.WARNING, "the EPUB embeds fonts but does not ask Apple Books to use them, so it shows its own",
               "add META-INF/com.apple.ibooks.display-options.xml with the option specified-fonts set to true", None)


# Kobo ---------------------------------------------------------------------------------------------

rule("kobo", "file-size")(_file_size("kobo", limit=None, recommended=1024 * MB))


@rule("kobo", "images")
def _kobo_images(facts: EpubFacts) -> Iterator[Finding]:
    for image in _images(facts):
        if image.size > 5 * MB:
            yield (Severity.WARNING, f"'{image.href}' is {_mb(image.size)}; Kobo advises at most 5 MB an image",
                   "make it smaller (pixels or JPEG quality)", image.href)
        if image.mode == "CMYK":
            yield (Severity.WARNING, f"'{image.href}' is CMYK; Kobo (and every reading system) wants RGB",
                   "convert it to RGB (sRGB)", image.href)
        if image.transparent:
            yield (Severity.WARNING, f"'{image.href}' has transparent parts, which Kobo fills with a background of its own",
                   "flatten it onto a white background", image.href)


@rule("kobo", "cover")
def _kobo_cover(facts: EpubFacts) -> Iterator[Finding]:
    cover = facts.cover
    if cover is None:
        yield from _no_cover("kobo")
        return
    if cover.media_type == "image/gif":
        yield (Severity.ERROR, "the cover is a GIF, which Kobo does not take for covers", "save it as JPEG or PNG", cover.href)
    if cover.size > 3 * MB:
        yield (Severity.WARNING, f"the cover is {_mb(cover.size)}; Kobo advises under 3 MB", "save it as a JPEG",
               cover.href)


@rule("kobo", "documents")
def _kobo_documents(facts: EpubFacts) -> Iterator[Finding]:
    for href, size in facts.documents:
        if size > 10 * MB:
            yield (Severity.WARNING, f"'{href}' is {_mb(size)}; Kobo advises at most 10 MB a document",
                   "split the chapter", href)


@rule("kobo", "fonts")
def _kobo_fonts(facts: EpubFacts) -> Iterator[Finding]:
    for href, media in facts.fonts:
        if media == "font/woff2" or href.endswith(".woff2"):
            yield (Severity.WARNING, f"'{href}' is WOFF2; Kobo reads TrueType, OpenType and WOFF 1.0 fonts",
                   "embed the font as .ttf or .otf", href)


@rule("kobo", "file-names")
def _kobo_names(facts: EpubFacts) -> Iterator[Finding]:
    odd = [n for n in facts.files if not _SAFE_NAME.match(n)]
    if odd:
        yield (Severity.WARNING, f"'{odd[0]}' has spaces or special characters in its name"
               + (f" (and {len(odd) - 1} more)" if len(odd) > 1 else "") + "; Kobo may not find such files",
               "name files with letters, digits, '-', '_' and '.' only", odd[0])


@rule("kobo", "isbn")
def _kobo_isbn(facts: EpubFacts) -> Iterator[Finding]:
    bare = (re.sub(r"^(?:urn:)?isbn:|[\s-]", "", i, flags=re.IGNORECASE).upper() for i in facts.identifiers)
    if not any(_ISBN.fullmatch(i) for i in bare):
        yield (Severity.INFO, "the EPUB's identifier is not an ISBN; Kobo matches the file to its metadata by the ISBN "
               "in dc:identifier or in the file name", "set 'identifier: urn:isbn:…' in book.yaml once the book has one",
               None)


# Google Play Books --------------------------------------------------------------------------------

rule("google", "file-size")(_file_size("google", limit=2048 * MB))


@rule("google", "cover")
def _google_cover(facts: EpubFacts) -> Iterator[Finding]:
    cover = facts.cover
    if cover is None:
        yield from _no_cover("google")
        return
    if cover.width and min(cover.width, cover.height) < 640:
        yield (Severity.ERROR, f"the cover is {_px(cover)}; Google Play Books takes covers from 640 px",
               "make the cover 1580 × 2528 px", cover.href)
    if max(cover.width, cover.height) > 7200:
        yield (Severity.ERROR, f"the cover is {_px(cover)}; Google Play Books takes covers up to 7200 px a side",
               "scale it down, keeping its shape", cover.href)


# Every store -------------------------------------------------------------------------------------

@rule("any", "author")
def _author(facts: EpubFacts) -> Iterator[Finding]:
    if not facts.creators:
        yield (Severity.INFO, "the EPUB names no author: a reader's library files it under 'Unknown' (the stores list "
               "the book under the author given in their own forms)", "add 'author: Your Name' to book.yaml", None)


def store_diagnostics(epub: Path, stores: tuple[str, ...] = STORES) -> list[Diagnostic]:
    """Every store rule the EPUB breaks, for each of `stores`, as diagnostics."""
    facts = read_epub(epub)
    if facts.errors:
        return [Diagnostic("store-unreadable", Severity.ERROR, f"the stores' rules could not be checked: {facts.errors[0]}",
                           Path(epub.name), hint="run EPUBCheck on the file to see what is wrong with it")]
    found = []
    for store_rule in RULES:
        if store_rule.store not in stores and not (store_rule.store == "any" and stores):
            continue
        for severity, message, hint, file in store_rule.check(facts):
            where = Path(epub.name) / PurePosixPath(file) if file else Path(epub.name)
            said = f"{NAMES[store_rule.store]}: {message}" if store_rule.store in NAMES else message
            found.append(Diagnostic(f"{store_rule.store} {store_rule.code}", severity, said, where, None,
                                    f"{hint} (see {_DOCS}, '{store_rule.store} {store_rule.code}')"))
    return found
