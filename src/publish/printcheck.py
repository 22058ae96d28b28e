"""`publish check` for the print editions: each interior and its cover, as a print service checks them.

The files checked are the ones `publish build` writes: each print edition's interior PDF and its
full-wrap cover. The cover is measured against the interior's real page count, read from the PDF
(publish.wrapcheck: size, spine, TrimBox and BleedBox, the barcode's ISBN, text in the safe zone,
fonts embedded, images' resolution); the interior against the service's least page count and its
own fonts.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from .build import output_paths
from .config import BookConfig, for_edition
from .diagnostics import Diagnostic, error
from .model import Book
from .printers import SERVICES, geometry
from .wrapcheck import check_wrap, fonts_not_embedded


def print_configs(config: BookConfig) -> list[BookConfig]:
    """The configuration of each print edition (`config` is the book's own, as book.yaml gives it):
    every printed one of `editions:`, or the book itself when it is built for print."""
    if config.editions:
        return [for_edition(config, e) for e in config.editions if e.printed]
    return [config] if config.pdf_profile == "print" else []


def interior_pages(data: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def check_pdf_fonts(data: bytes, *, file: Path) -> list[Diagnostic]:
    """Every font the PDF uses is embedded: a reader without it would show another, and printers refuse it."""
    return [error("interior-font", f"the font {name} is not embedded", file=file,
                  hint="printers refuse a PDF whose fonts are not all embedded, and a reader without the font "
                       "shows another") for name in fonts_not_embedded(data)]


def check_print_outputs(book: Book, out_dir: Path, *, configs: list[BookConfig] | None = None) -> list[Diagnostic]:
    """Check every print edition's interior and cover that a build wrote to `out_dir` (`configs`:
    the editions' configurations, made from the book's own; `book.config` may be an edition's)."""
    found: list[Diagnostic] = []
    for config in print_configs(book.config) if configs is None else configs:
        paths = output_paths(dataclasses.replace(book, config=config), out_dir)
        interior, cover = paths["pdf"], paths["cover"]
        for path in (interior, cover):
            if not path.is_file():
                found.append(error("print-missing", f"the build made no '{path.name}'", file=Path(path.name),
                                   hint="build the book again; this is a bug in publish if it persists"))
        if not (interior.is_file() and cover.is_file()):
            continue
        data = interior.read_bytes()
        pages = interior_pages(data)
        service = SERVICES[config.print_service]
        shape = geometry(service, binding=config.binding, paper=config.paper, pages=pages,
                         trim_width=config.trim.width_in, trim_height=config.trim.height_in,
                         caliper=config.edition.caliper if config.edition else None,
                         right_to_left=config.direction == "rtl")
        found += check_pdf_fonts(data, file=Path(interior.name))
        found += check_wrap(cover.read_bytes(), shape, caliper=config.edition.caliper if config.edition else None,
                            isbn=config.isbn.ean if config.isbn else None, file=Path(cover.name))
    return found
