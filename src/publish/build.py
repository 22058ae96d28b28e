"""`publish build`: load the book folder, run the plan of jobs that makes its editions, write them.

Everything is made in memory first (see `plan`: which jobs, in which process, from the cache or
afresh); only when every edition asked for has been made is anything written, and each output is
swapped into place whole (see `write`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import Cache, default_root
from .diagnostics import BuildFailed, Diagnostic, error, refuse_warnings
from .manuscript import Manuscript, load_manuscript
from .model import Book
from .write import Written, commit

if TYPE_CHECKING:
    from .config import Overlay

FORMATS = ("epub", "pdf", "html")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuildResult:
    book: Book
    outputs: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]
    timings: tuple[tuple[str, float], ...]
    made: tuple[str, ...] = ()  # what was made afresh ("book", "cover", editions); the rest came from the cache
    converted: int = 0  # chapters converted from Markdown; the others' HTML came from the cache
    files: tuple[tuple[Path, bytes | dict[str, bytes]], ...] = ()  # what `write=False` left unwritten
    page_map: object = None  # the print edition's pages, when it was made


def output_paths(book: Book, out_dir: Path) -> dict[str, Path]:
    """Where each output goes; an edition's files carry its name ("whiplash-paperback.pdf")."""
    stem = f"{book.slug}-{book.config.edition.name}" if book.config.edition else book.slug
    return {"epub": out_dir / f"{stem}.epub", "pdf": out_dir / f"{stem}.pdf", "html": out_dir / book.slug,
            "cover": out_dir / f"{stem}-cover.pdf"}


def build(book_dir: Path, out_dir: Path, *, formats: tuple[str, ...] = FORMATS, pdf_profile: str | None = None,
          source_date_epoch: str | None = None, progress: Progress = lambda _: None, clean: bool = False,
          cache_dir: Path | None = None, strict: bool = False, force: bool = False,
          edition: str | None = None, overlay: Overlay | None = None) -> BuildResult:
    """Build the editions in `formats`; raise `BuildFailed` (and write nothing) on any error, and
    with `strict` on any warning. The outputs replace only what publish made, unless `force`.

    A book whose book.yaml names `editions:` is built edition by edition (all of them, or only
    `edition`; see `editions.build_editions`), each with its own settings and file names.

    Results are kept in the cache (`cache_dir`, default: the user's cache folder) and taken from
    it when nothing they depend on has changed; `clean` reads nothing from it. `overlay` is a
    catalogue's settings for the book (see config.Overlay).
    """
    progress("load: reading the book folder")
    manuscript = load_manuscript(book_dir, overlay=overlay)
    if manuscript.config.editions or edition is not None:
        from .editions import build_editions

        return build_editions(manuscript, out_dir, only=edition, formats=formats, source_date_epoch=source_date_epoch,
                              progress=progress, clean=clean, cache_dir=cache_dir, strict=strict, force=force)
    return build_manuscript(manuscript, out_dir, formats=formats, pdf_profile=pdf_profile,
                            source_date_epoch=source_date_epoch, progress=progress, clean=clean, cache_dir=cache_dir,
                            strict=strict, force=force)


def build_manuscript(manuscript: Manuscript, out_dir: Path, *, formats: tuple[str, ...] = FORMATS,
                     pdf_profile: str | None = None, source_date_epoch: str | None = None,
                     progress: Progress = lambda _: None, clean: bool = False, cache_dir: Path | None = None,
                     strict: bool = False, force: bool = False, page_map: object = None,
                     write: bool = True) -> BuildResult:
    """`build` for a manuscript already loaded (one edition's, for an edition). The EPUB carries
    `page_map` (an edition's print pages) when no PDF is made with it; with `write=False` nothing
    is written, and the result holds the files."""
    from .plan import Request, make, plan_for

    if out_dir.resolve().is_relative_to(manuscript.root):
        raise BuildFailed([error("output-in-book", f"the output folder '{out_dir}' is inside the book folder", file=out_dir,
                                 hint="a build never writes into the book folder: choose another folder with -o")])
    started = time.perf_counter()
    cache = Cache(cache_dir or default_root(), read=not clean)
    plan = plan_for(manuscript, Request(formats, pdf_profile, source_date_epoch, page_map), cache=cache)
    planned = ("plan", time.perf_counter() - started)
    made = make(plan, progress=progress)
    paths = output_paths(made.book, out_dir)
    files = tuple((paths[fmt], made.outputs[fmt]) for fmt in (*FORMATS, "cover") if fmt in made.outputs)
    timings = (planned, *made.timings)
    if not write:
        return BuildResult(made.book, (), made.diagnostics, timings, made.made, made.converted, files, made.page_map)
    progress(f"write: {out_dir}")
    started = time.perf_counter()
    if strict:
        refuse_warnings(made.diagnostics)  # before anything is written: a failed build writes nothing
    written = write_outputs(made.book, out_dir, files, force=force)
    if cache.stored_bytes:
        cache.prune()
    return BuildResult(made.book, written.paths, made.diagnostics + written.notes,
                       (*timings, ("write", time.perf_counter() - started)), made.made, made.converted, (),
                       made.page_map)


def write_outputs(book: Book, out_dir: Path, files: tuple[tuple[Path, bytes | dict[str, bytes]], ...], *,
                  force: bool = False) -> Written:
    """Put every output (a file, or a folder of files) in place, all at once (see `write.commit`)."""
    return commit(out_dir, {path.name: data for path, data in files}, force=force, protect=book.root)
