"""Runs the stages: load -> parse -> render each edition -> write.

Everything is rendered in memory first; only when every edition asked for has been made is
anything written, and each output is swapped into place whole (see `write`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import BuildFailed, Diagnostic, error
from .epub import Cover, render_epub
from .html import render_html
from .manuscript import load_manuscript
from .model import Book
from .parse import parse_book
from .write import write_file, write_folder

FORMATS = ("epub", "pdf", "html")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuildResult:
    book: Book
    outputs: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]
    timings: tuple[tuple[str, float], ...]


def output_paths(book: Book, out_dir: Path) -> dict[str, Path]:
    return {"epub": out_dir / f"{book.slug}.epub", "pdf": out_dir / f"{book.slug}.pdf", "html": out_dir / book.slug}


def book_cover(book: Book) -> Cover:
    """The author's cover image, or one generated from the title."""
    alt = f"Cover of {book.config.title}"
    if book.cover is not None:
        return Cover(book.cover.source.read_bytes(), book.cover.media_type, book.cover.href, alt)
    from .cover import render_cover
    from .templates import STYLES_DIR

    taken = {a.href for a in book.assets}
    href = next(h for h in ("images/cover.jpg", "cover.jpg", "publish-cover.jpg") if h not in taken)
    return Cover(render_cover(book, styles_dir=STYLES_DIR), "image/jpeg", href, alt)


def build(book_dir: Path, out_dir: Path, *, formats: tuple[str, ...] = FORMATS, pdf_profile: str | None = None,
          source_date_epoch: str | None = None, progress: Progress = lambda _: None) -> BuildResult:
    """Build the editions in `formats`; raise `BuildFailed` (and write nothing) on any error."""
    timings: list[tuple[str, float]] = []

    def stage(name: str) -> float:
        progress(name)
        return time.perf_counter()

    started = stage("load: reading the book folder")
    manuscript = load_manuscript(book_dir)
    if out_dir.resolve().is_relative_to(manuscript.root):
        raise BuildFailed([error("output-in-book", f"the output folder '{out_dir}' is inside the book folder", file=out_dir,
                                 hint="a build never writes into the book folder: choose another folder with -o")])
    timings.append(("load", time.perf_counter() - started))

    started = stage(f"parse: {len(manuscript.sources)} chapters")
    book = parse_book(manuscript, source_date_epoch=source_date_epoch)
    timings.append(("parse", time.perf_counter() - started))
    diagnostics = list(book.diagnostics)

    outputs: dict[str, bytes | dict[str, bytes]] = {}
    page_map = None
    if "pdf" in formats:
        started = stage("render: PDF (laying out pages)")
        from .pdf import render_pdf

        printed = render_pdf(book, profile=pdf_profile)
        outputs["pdf"], page_map = printed.data, printed.page_map
        diagnostics += printed.diagnostics
        timings.append(("pdf", time.perf_counter() - started))
    if "epub" in formats:
        started = stage("render: EPUB")
        outputs["epub"] = render_epub(book, cover=book_cover(book), pages=page_map)
        timings.append(("epub", time.perf_counter() - started))
    if "html" in formats:
        started = stage("render: web edition")
        outputs["html"] = render_html(book)
        timings.append(("html", time.perf_counter() - started))

    started = stage(f"write: {out_dir}")
    paths = output_paths(book, out_dir)
    for path in paths.values():
        if manuscript.root.is_relative_to(path.resolve()):
            raise BuildFailed([error("output-in-book", f"writing '{path}' would replace the book folder", file=path,
                                     hint="a build never writes into the book folder: choose another folder with -o")])
    written = []
    for fmt in FORMATS:
        if fmt not in outputs:
            continue
        data = outputs[fmt]
        if isinstance(data, dict):
            write_folder(paths[fmt], data)
        else:
            write_file(paths[fmt], data)
        written.append(paths[fmt])
    timings.append(("write", time.perf_counter() - started))
    return BuildResult(book, tuple(written), tuple(diagnostics), tuple(timings))
