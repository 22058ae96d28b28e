"""A book's editions from one source: `editions:` in book.yaml, each built with its own settings.

An edition is the book folder read with the edition's settings over the book's (`for_edition`):
its ISBN becomes its identifier; a print edition has its own trim, paper, service, binding and
type size, a print-profile PDF named after it (`whiplash-paperback.pdf`) and a full-wrap cover
for that PDF's real page count (`whiplash-paperback-cover.pdf`); an ebook edition is an EPUB
(`whiplash-ebook.epub`) that carries the first print edition's page numbers. The web edition is
made once. Every copyright page lists the ISBNs by format.

Everything is made first and written last, all at once, so one edition's error leaves every
output as it was.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .build import FORMATS, BuildResult, Progress, build_manuscript, write_outputs
from .config import Edition, for_edition
from .diagnostics import BuildFailed, error, refuse_warnings
from .manuscript import CONFIG_NAME, Manuscript


def chosen(manuscript: Manuscript, only: str | None) -> tuple[Edition, ...]:
    """The editions to make: all, or the one named `only` (a `BuildFailed` naming the others)."""
    editions = manuscript.config.editions
    shown = manuscript.shown(CONFIG_NAME)
    if only is None:
        return editions
    if not editions:
        raise BuildFailed([error("edition-unknown", f"--edition {only}: the book names no editions", file=shown,
                                 hint="add 'editions:' to book.yaml (see docs/covers.md), or build without --edition")])
    match = [e for e in editions if e.name == only]
    if not match:
        names = ", ".join(e.name for e in editions)
        raise BuildFailed([error("edition-unknown", f"--edition {only}: the book has no such edition", file=shown,
                                 hint=f"its editions are {names}")])
    return tuple(match)


def build_editions(manuscript: Manuscript, out_dir: Path, *, only: str | None = None,
                   formats: tuple[str, ...] = FORMATS, source_date_epoch: str | None = None,
                   progress: Progress = lambda _: None, clean: bool = False, cache_dir: Path | None = None,
                   strict: bool = False, force: bool = False) -> BuildResult:
    """Make every chosen edition (print editions first: the ebook carries their page numbers),
    then write them all."""
    editions = chosen(manuscript, only)
    ordered = sorted(editions, key=lambda e: not e.printed)
    results: list[BuildResult] = []
    page_map = None
    web_made = "html" not in formats or only is not None  # one edition asked for: that edition alone
    for edition in ordered:
        wanted = tuple(f for f in formats if f == ("pdf" if edition.printed else "epub"))
        if not web_made and (not edition.printed or edition is ordered[-1]):
            wanted += ("html",)  # the web edition once, with the ebook's identifier where there is one
            web_made = True
        if not wanted:
            continue
        progress(f"edition: {edition.name}")
        copy = dataclasses.replace(manuscript, config=for_edition(manuscript.config, edition))
        result = build_manuscript(copy, out_dir, formats=wanted, source_date_epoch=source_date_epoch, progress=progress,
                                  clean=clean, cache_dir=cache_dir, page_map=page_map, write=False)
        if edition.printed and page_map is None:
            page_map = result.page_map
        results.append(result)
    if not results:
        raise BuildFailed([error("edition-nothing", f"no edition makes {', '.join(formats)}", file=manuscript.shown(CONFIG_NAME),
                                 hint="a print edition makes a PDF and its cover, an ebook edition an EPUB")])
    diagnostics = tuple(dict.fromkeys(d for r in results for d in r.diagnostics))  # the book's own, once
    if strict:
        refuse_warnings(diagnostics)  # before anything is written
    progress(f"write: {out_dir}")
    written = write_outputs(results[0].book, out_dir, tuple(f for r in results for f in r.files), force=force)
    return BuildResult(results[0].book, written.paths, diagnostics + written.notes,
                       tuple(t for r in results for t in r.timings), tuple(m for r in results for m in r.made),
                       sum(r.converted for r in results))
