"""Preflight of a full-wrap cover PDF, as a print service checks it before it prints.

Everything is read back from the PDF itself: its boxes (pypdf), where each character of its text
stands and which images it places at what size (pdfium), whether every font is embedded. So the
same checks serve the build, which lays the back cover's text out again smaller until it passes,
and `publish check`, which checks what the build ships.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic, error, warning
from .isbn import parse_isbn
from .printers import Box, Geometry, spine_width

PT = 72.0  # points per inch
TOLERANCE = 0.002  # in: a box a service measures to the thousandth may be off by rounding only
MIN_DPI = 300  # what every service asks of images on a cover


@dataclass(frozen=True, slots=True)
class Glyph:
    char: str
    box: Box  # in inches from the sheet's top left


@dataclass(frozen=True, slots=True)
class Placed:
    """An image as the PDF places it: its pixels and the box they fill."""

    pixels: tuple[int, int]
    box: Box

    @property
    def dpi(self) -> float:
        return min(self.pixels[0] / self.box.width, self.pixels[1] / self.box.height)


def _box(pdf_box: Iterable[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in pdf_box)
    return x0, y0, x1, y1


def sheet_boxes(data: bytes) -> dict[str, tuple[float, float, float, float]]:
    """The first page's MediaBox, TrimBox and BleedBox, in points."""
    import pypdf

    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    return {"media": _box(page.mediabox), "trim": _box(page.trimbox), "bleed": _box(page.bleedbox)}


def glyphs(data: bytes) -> list[Glyph]:
    """Every visible character on the sheet and the box it takes."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        height = page.get_height()
        text = page.get_textpage()
        found = []
        for i in range(text.count_chars()):
            char = text.get_text_range(i, 1)
            if not char.strip():
                continue
            left, bottom, right, top = text.get_charbox(i)
            found.append(Glyph(char, Box(left / PT, (height - top) / PT, (right - left) / PT, (top - bottom) / PT)))
        return found
    finally:
        pdf.close()


def placed_images(data: bytes) -> list[Placed]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        height = page.get_height()
        found = []
        for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=8):
            left, bottom, right, top = obj.get_bounds()
            width, tall = obj.get_px_size()
            found.append(Placed((width, tall), Box(left / PT, (height - top) / PT, (right - left) / PT, (top - bottom) / PT)))
        return found
    finally:
        pdf.close()


def fonts_not_embedded(data: bytes) -> list[str]:
    """The names of the fonts the sheet uses without embedding them."""
    import pypdf

    missing: list[str] = []
    seen: set[int] = set()

    def visit(resources) -> None:  # noqa: ANN001
        if resources is None:
            return
        resources = resources.get_object()
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            if id(font) in seen:
                continue
            seen.add(id(font))
            descriptors = [font.get("/FontDescriptor")]
            descriptors += [d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts") or []]
            if font.get("/Subtype") == "/Type3":
                continue  # drawn by the PDF's own procedures: nothing to embed
            if not any(d is not None and any(k in d.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                       for d in descriptors):
                missing.append(str(font.get("/BaseFont", "?")).lstrip("/"))
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                visit(xobject.get("/Resources"))

    reader = pypdf.PdfReader(io.BytesIO(data))
    for page in reader.pages:
        visit(page.get("/Resources"))
    return missing


def misplaced_text(found: list[Glyph], shape: Geometry, *, barcode_digits: bool) -> list[Glyph]:
    """Characters outside the safe zones, or in the barcode's box (but its own digits)."""
    zones = [shape.back_safe, shape.front_safe, *([shape.spine_safe] if shape.spine_safe else [])]
    wrong = []
    for glyph in found:
        in_barcode = shape.barcode.contains(glyph.box, slack=0.001)
        if in_barcode and barcode_digits:
            continue
        if in_barcode or shape.barcode.overlaps(glyph.box) or not any(z.contains(glyph.box, slack=0.001) for z in zones):
            wrong.append(glyph)
    return wrong


def _words(found: list[Glyph]) -> str:
    text = "".join(g.char for g in found[:40])
    return text if len(found) <= 40 else text + "…"


def check_wrap(data: bytes, shape: Geometry, *, caliper: str | None = None, isbn: str | None, file: Path,
               images: bool = True) -> list[Diagnostic]:
    """Every problem a print service would find in the cover sheet `data`, which should be `shape`:
    the sheet for the interior's real page count. `images`: also each image's resolution (the
    build names the files itself)."""
    from .printers import SERVICES

    service = SERVICES[shape.service]
    service_label = service.label
    found: list[Diagnostic] = []
    boxes = sheet_boxes(data)
    x0, y0, x1, y1 = boxes["media"]
    width, height = (x1 - x0) / PT, (y1 - y0) / PT
    if abs(width - shape.width) > TOLERANCE or abs(height - shape.height) > TOLERANCE:
        found.append(error("cover-size", f"the cover is {width:.4f} × {height:.4f} in, and a {shape.pages}-page "
                           f"{shape.binding} on {shape.paper} paper at {service_label} needs {shape.width:.4f} × {shape.height:.4f} in",
                           file=file, hint="build the cover again from the interior it goes with"))
    # The spine the sheet has (its width less the covers, bleeds or turn-overs and hinges), against
    # the spine the interior's page count makes on this paper at this service.
    expected = spine_width(service, shape.paper, shape.pages, caliper=caliper)
    if shape.binding == "hardcover":
        expected = round(expected + 2 * service.case.board, 4)
    has = width - (shape.width - shape.spine)
    if abs(has - expected) > TOLERANCE:
        found.append(error("cover-spine", f"the cover's spine is {has:.3f} in, and {shape.pages} pages on "
                           f"{shape.paper} paper make {expected:.3f} in at {service_label}", file=file,
                           hint="the interior's page count changed: build the cover again with it"))
    t0, t1, t2, t3 = boxes["trim"]
    trim = Box(t0 / PT, (y1 - t3) / PT, (t2 - t0) / PT, (t3 - t1) / PT)
    if any(abs(a - b) > TOLERANCE for a, b in zip((trim.x, trim.y, trim.width, trim.height),
                                                  (shape.trim.x, shape.trim.y, shape.trim.width, shape.trim.height))):
        found.append(error("cover-trimbox", f"the TrimBox is {trim.width:.3f} × {trim.height:.3f} in at "
                           f"({trim.x:.3f}, {trim.y:.3f}); it should be {shape.trim.width:.3f} × {shape.trim.height:.3f} "
                           f"in at ({shape.trim.x:.3f}, {shape.trim.y:.3f})", file=file,
                           hint="printers trim where the TrimBox says: the cover must set it"))
    if boxes["bleed"] != boxes["media"]:
        found.append(error("cover-bleedbox", "the BleedBox is not the whole sheet", file=file,
                           hint="the bleed is the sheet's edge: the BleedBox must be the MediaBox"))
    if isbn is not None:
        parsed, why = parse_isbn(isbn)
        if parsed is None:
            found.append(error("cover-isbn", f"the barcode's ISBN {isbn} is not valid: {why}", file=file,
                               hint="correct 'isbn' in book.yaml"))
    text = glyphs(data)
    wrong = misplaced_text(text, shape, barcode_digits=isbn is not None)
    if wrong:
        found.append(error("cover-safe-zone", f"{len(wrong)} characters stand outside the safe zone or in the barcode's "
                           f"box: {_words(wrong)!r}", file=file,
                           hint=f"{service_label} keeps text {service.safe:g} in inside the trim, {service.fold:g} in from "
                                "the spine's folds, and out of the barcode's box; shorten the description or the bio"))
    if isbn is not None:
        digits = "".join(g.char for g in text if g.char.isdigit() and shape.barcode.contains(g.box, slack=0.001))
        parsed, _ = parse_isbn(isbn)
        wanted = parsed.ean if parsed else "".join(c for c in isbn if c.isdigit())
        if wanted not in digits:
            found.append(error("cover-barcode", f"the barcode's digits ({digits or 'none'}) are not the ISBN {wanted}",
                               file=file, hint="build the cover again"))
    for name in fonts_not_embedded(data):
        found.append(error("cover-font", f"the font {name} is not embedded", file=file,
                           hint="printers refuse a PDF whose fonts are not all embedded"))
    for image in placed_images(data) if images else ():
        if image.dpi < MIN_DPI - 0.5:
            found.append(warning("cover-image-resolution",
                                 f"an image of {image.pixels[0]} × {image.pixels[1]} px fills {image.box.width:.2f} × "
                                 f"{image.box.height:.2f} in: {image.dpi:.0f} dpi, under the {MIN_DPI} dpi printers ask",
                                 file=file, hint=f"use an image of at least {round(image.box.width * MIN_DPI)} × "
                                                 f"{round(image.box.height * MIN_DPI)} px"))
    return found
