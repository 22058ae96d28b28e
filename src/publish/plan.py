"""The plan of jobs every command runs: what is made, from what, under which key, in which process.

`plan_for` turns a manuscript and the editions asked for into a `Plan`: jobs in the order they
run, each naming what it makes, the results it reads, its cache key and the process it runs in.
`make` runs a plan: a job whose key is in the cache is read from it; any other is run here, or
submitted to a worker process and collected when a later job needs its result. `publish build`
writes what a plan made, `publish check` validates it, `publish preview` serves it: one plan, so
what is checked and previewed is what is shipped.

Two things keep a build quick, and both are decided by the plan:

- The cache (see `cache`, `keys`): a rebuild with nothing changed reads book.yaml and the
  chapters, finds every edition in the cache, and imports neither WeasyPrint nor ebooklib. After
  one chapter is edited, only that chapter is converted again.
- A second process: WeasyPrint lays out one page after another on one core, and its layout is
  most of a build and its peak memory the build's peak. So when the PDF is to be laid out, this
  process imports WeasyPrint (and draws a generated cover) while a "text" worker parses the book,
  then lays out the PDF while the worker checks the glyphs and makes the web edition and exits.
  Otherwise the parse and the web edition are made here, and a "cover" worker draws a generated
  cover, so that a rebuild never imports WeasyPrint. The EPUB carries the print edition's page
  numbers, so it is made last.

Whether the PDF must be laid out is known only from the cache, so `plan_for` looks there first;
without the parsed book it guesses on the safe side (everything is made), and a job placed
"on demand" (the cover when the EPUB looked cached) is run only if a later job asks for it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .cache import Cache, ChapterStore, Stored, pipeline_version
from .diagnostics import Diagnostic
from .keys import EditionKeys, StyleInputs, book_key, cover_key, edition_keys
from .manuscript import Manuscript
from .model import Book
from .workers import Workers

if TYPE_CHECKING:
    from .config import BookConfig
    from .epub import Cover

MAIN = "main"  # the process a job runs in when it names no worker
Progress = Callable[[str], None]
# What a worker imports while its first job is on its way.
WARM_UP = {"text": ("publish.parse", "publish.html", "publish.fonts"), "cover": ("weasyprint", "publish.cover")}


# -- the jobs' functions ------------------------------------------------------------------------
# Each job calls one of these by name ("module:function"), here or in a worker, so that a worker
# can import it and a test can replace it. Nothing heavy is imported until a job runs: ebooklib is
# slow to import and a rebuild that changes nothing never needs it.


@dataclass(frozen=True, slots=True)
class Parsed:
    book: Book
    converted: int  # chapters converted from Markdown; the others' HTML came from the cache


@dataclass(frozen=True, slots=True)
class Printed:
    """The print edition as the build keeps it (see `pdf.PdfEdition`)."""

    data: bytes
    diagnostics: tuple[Diagnostic, ...]
    page_map: object  # pages.PageMap: where each page begins, for the EPUB's page-list
    pages: int


@dataclass(frozen=True, slots=True)
class Wrapped:
    data: bytes
    diagnostics: tuple[Diagnostic, ...]


def parse_job(manuscript: Manuscript, source_date_epoch: str | None, cache: Cache, pipeline: str) -> Parsed:
    from .parse import parse_book

    chapters = ChapterStore(cache, pipeline)
    book = parse_book(manuscript, source_date_epoch=source_date_epoch, cache=chapters)
    return Parsed(book, chapters.converted)


def import_weasyprint() -> None:
    import weasyprint  # noqa: F401 - its slow import, while the worker parses


def glyphs_job(book: Book) -> tuple[Diagnostic, ...]:
    from .fonts import missing_glyphs

    return missing_glyphs(book)


def cover_job(config: BookConfig) -> bytes:
    from .cover import render_cover
    from .templates import STYLES_DIR

    return render_cover(config, styles_dir=STYLES_DIR)


def render_html(book: Book, live_reload: int | None = None) -> dict[str, bytes]:
    from . import html

    return html.render_html(book, live_reload=live_reload)


def render_pdf(book: Book, *, profile: str | None, glyph_check: Callable[[], tuple[Diagnostic, ...]] | None,
               runs_cache: object = None) -> Printed:
    from . import pdf

    made = pdf.render_pdf(book, profile=profile, glyph_check=glyph_check, runs_cache=runs_cache)
    printed = Printed(made.data, made.diagnostics, made.page_map, made.pages)
    del made
    _release_memory()  # WeasyPrint's heap, before the EPUB is made
    return printed


def render_wrap(book: Book, pages: int) -> Wrapped:
    from .wrap import render_wrap

    made = render_wrap(book, pages=pages)
    return Wrapped(made.data, made.diagnostics)


def render_epub(book: Book, *, cover: Cover, pages: object) -> bytes:
    from . import epub

    return epub.render_epub(book, cover=cover, pages=pages)  # type: ignore[arg-type]


def _release_memory() -> None:
    """Give the memory WeasyPrint freed back to the system before the EPUB is made: without it,
    the EPUB's assembly raised the full build's peak from 249 to 277 MiB."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc and hasattr(ctypes.CDLL(libc), "malloc_trim"):
        ctypes.CDLL(libc).malloc_trim(0)


def _cover_href(book: Book) -> str:
    taken = {a.href for a in book.assets}
    return next(h for h in ("images/cover.jpg", "cover.jpg", "publish-cover.jpg") if h not in taken)


def book_cover(book: Book, *, generated: bytes | None = None) -> Cover:
    """The author's cover image, or one generated from the title (`generated`, when already made)."""
    from .epub import Cover

    alt = f"Cover of {book.config.title}"
    if book.cover is not None:
        return Cover(book.cover.source.read_bytes(), book.cover.media_type, book.cover.href, alt)
    return Cover(generated if generated is not None else cover_job(book.config), "image/jpeg", _cover_href(book), alt)


# -- how a result is kept in the cache ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kept:
    """A result's form in the cache: its files (blobs) and small data, and back."""

    store: Callable[[Any], tuple[dict[str, bytes], Any]]
    load: Callable[[Stored, Cache], Any]  # None: the record is unusable (a blob has gone)


def _load_files(stored: Stored, cache: Cache) -> dict[str, bytes] | None:
    return stored.file_bytes(cache)


def _load_printed(stored: Stored, cache: Cache) -> Printed | None:
    data = cache.blob(stored.files["pdf"])
    return None if data is None else Printed(data, *stored.meta)


def _load_wrapped(stored: Stored, cache: Cache) -> Wrapped | None:
    data = cache.blob(stored.files["pdf"])
    return None if data is None else Wrapped(data, stored.meta)


VALUE = Kept(lambda value: ({}, value), lambda stored, _: stored.meta)
FILES = Kept(lambda files: (files, None), _load_files)
PARSED = Kept(lambda parsed: ({}, parsed.book), lambda stored, _: Parsed(stored.meta, 0)
              if isinstance(stored.meta, Book) else None)
PRINTED = Kept(lambda p: ({"pdf": p.data}, (p.diagnostics, p.page_map, p.pages)), _load_printed)
WRAPPED = Kept(lambda w: ({"pdf": w.data}, w.diagnostics), _load_wrapped)
EPUB = Kept(lambda data: ({"epub": data}, None), lambda stored, cache: (stored.file_bytes(cache) or {}).get("epub"))


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """What a command asks of the plan."""

    formats: tuple[str, ...]
    pdf_profile: str | None = None
    source_date_epoch: str | None = None
    page_map: object = None  # the print pages an EPUB carries when no PDF is made with it (an edition's)
    live_reload: int | None = None  # the preview's build number: its web edition reloads itself (and is not kept)


@dataclass(frozen=True, slots=True)
class Job:
    """One step of a plan.

    `call` names the function it runs ("module:function"); `args` gives its arguments from the
    results before it. `key` is its cache key (None: never kept) and `kept` how its result is kept.
    A job runs at its place in the plan, unless `on_demand`: then only if a later job asks for it.
    """

    name: str  # the result it makes
    inputs: tuple[str, ...]  # the results it reads
    process: str  # MAIN, or the worker it runs in
    call: str
    args: Callable[[Results], tuple[tuple, dict[str, Any]]]
    key: Callable[[Results], str | None] = lambda _: None
    kept: Kept = VALUE
    says: str = ""  # the progress line when it runs
    on_demand: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    jobs: tuple[Job, ...]
    manuscript: Manuscript
    request: Request
    cache: Cache
    looked_up: dict[str, Stored | None] = field(default_factory=dict)  # what `plan_for` read from the cache
    known: dict[str, Any] = field(default_factory=dict)  # results `plan_for` found (the cached book's keys)

    def describe(self) -> list[str]:
        """One line a job, in order: what it makes, in which process, from what (tests and docs read it)."""
        return [f"{job.name} [{job.process}{', on demand' if job.on_demand else ''}]"
                + (f" <- {', '.join(job.inputs)}" if job.inputs else "") for job in self.jobs]


def plan_for(manuscript: Manuscript, request: Request, *, cache: Cache) -> Plan:
    """The jobs that make `request.formats` of `manuscript`, in the order they run."""
    from .templates import STYLES_DIR

    formats, profile = request.formats, request.pdf_profile
    pipeline = pipeline_version()
    styles = StyleInputs(STYLES_DIR, cache, pipeline)
    the_book_key = book_key(manuscript, pipeline, request.source_date_epoch)
    the_cover_key = cover_key(manuscript, pipeline, styles) if "epub" in formats else None
    looked_up: dict[str, Stored | None] = {}

    def look(key: str | None) -> Stored | None:
        if key is None:
            return None
        if key not in looked_up:
            looked_up[key] = cache.get(key)
        return looked_up[key]

    # What the cache holds decides the processes: without the parsed book, assume nothing is there.
    keys = None
    stored_book = look(the_book_key)
    if stored_book is not None and isinstance(stored_book.meta, Book):
        try:
            keys = edition_keys(stored_book.meta, the_book_key, styles)
        except OSError:
            looked_up[the_book_key] = None  # an image has gone: parse again, which says which one
    stored_pdf = look(keys.edition("pdf", profile)) if keys and "pdf" in formats else None
    lays_out = "pdf" in formats and stored_pdf is None
    html_cached = keys is not None and request.live_reload is None and look(keys.edition("html")) is not None
    text = "text" if lays_out and (keys is None or ("html" in formats and not html_cached)) else MAIN
    cover_wanted = the_cover_key is not None and look(the_cover_key) is None
    if cover_wanted and keys is not None and not lays_out:
        page_map = stored_pdf.meta[1] if stored_pdf is not None else request.page_map
        cover_wanted = look(keys.epub(the_cover_key, page_map)) is None

    def book(results: Results) -> Book:
        return results.value("book").book

    def the_keys(results: Results) -> EditionKeys:
        return results.value("keys")

    def runs_cache(results: Results) -> object:
        """Where a PDF laid out in runs keeps each run's (publish.pdf_runs), under what every run
        depends on besides its own HTML: not the book's key, which any chapter changes."""
        from .cache import digest
        from .pdf_runs import RunCache

        keys = the_keys(results)
        return RunCache(cache, digest("pdf-runs", pipeline, keys.assets, styles.of("pdf"), profile))

    def printed_pages(results: Results) -> object:
        return results.value("pdf").page_map if "pdf" in formats else request.page_map

    jobs: list[Job] = []
    cover = Job("cover", (), MAIN, "publish.plan:cover_job", lambda _: ((manuscript.config,), {}),
                key=lambda _: the_cover_key, on_demand=not (cover_wanted and lays_out))
    if the_cover_key is not None and cover_wanted and not lays_out:
        # Drawn from book.yaml alone, while this process parses and makes the web edition.
        jobs.append(dataclasses.replace(cover, process="cover", on_demand=False))
    jobs.append(Job("book", (), text if stored_book is None else MAIN, "publish.plan:parse_job",
                    lambda _: ((manuscript, request.source_date_epoch, cache, pipeline), {}),
                    key=lambda _: the_book_key, kept=PARSED, says=f"parse: {len(manuscript.sources)} chapters"))
    if text != MAIN and stored_book is None:
        jobs.append(Job("weasyprint", (), MAIN, "publish.plan:import_weasyprint", lambda _: ((), {})))
    if the_cover_key is not None and not (cover_wanted and not lays_out):
        jobs.append(cover)  # before the layout when it is wanted, and so before the PDF's peak
    jobs.append(Job("keys", ("book",), MAIN, "publish.keys:edition_keys",
                    lambda r: ((book(r), the_book_key, styles), {})))
    if lays_out:
        jobs.append(Job("glyphs", ("book",), text, "publish.plan:glyphs_job", lambda r: ((book(r),), {})))
    if "html" in formats:
        jobs.append(Job("html", ("book", "keys"), text, "publish.plan:render_html",
                        lambda r: ((book(r), request.live_reload), {}),
                        key=lambda r: the_keys(r).edition("html") if request.live_reload is None else None,
                        kept=FILES, says="render: web edition" + (" (in a second process)" if text != MAIN else "")))
    if "pdf" in formats:
        jobs.append(Job("pdf", ("book", "keys", "glyphs"), MAIN, "publish.plan:render_pdf",
                        lambda r: ((book(r),), {"profile": profile, "glyph_check": r.later("glyphs"),
                                                "runs_cache": runs_cache(r)}),
                        key=lambda r: the_keys(r).edition("pdf", profile), kept=PRINTED,
                        says="render: PDF (laying out pages)"))
        if (profile or manuscript.config.pdf_profile) == "print":
            # The cover goes with the interior it was laid out for: its spine from that page count.
            jobs.append(Job("wrap", ("book", "keys", "pdf"), MAIN, "publish.plan:render_wrap",
                            lambda r: ((book(r), r.value("pdf").pages), {}),
                            key=lambda r: the_keys(r).wrap(book(r), r.value("pdf").pages), kept=WRAPPED,
                            says="render: cover (back, spine and front)"))
    if "epub" in formats:
        jobs.append(Job("epub", ("book", "keys", "cover", "pdf"), MAIN, "publish.plan:render_epub",
                        lambda r: ((book(r),), {"cover": book_cover(book(r), generated=r.value("cover")
                                                                    if the_cover_key else None),
                                                "pages": printed_pages(r)}),
                        key=lambda r: the_keys(r).epub(the_cover_key, printed_pages(r)), kept=EPUB,
                        says="render: EPUB"))
    names = {job.name for job in jobs}  # an input that this plan does not make is not one (no PDF, no glyphs)
    jobs = [dataclasses.replace(job, inputs=tuple(i for i in job.inputs if i in names)) for job in jobs]
    return Plan(tuple(jobs), manuscript, request, cache, looked_up,
                {"keys": keys} if keys is not None else {})


# -- running a plan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Made:
    """What a plan made, in memory."""

    book: Book
    outputs: dict[str, bytes | dict[str, bytes]]  # by output: "epub", "pdf", "html", "cover" (the wrap)
    diagnostics: tuple[Diagnostic, ...]
    timings: tuple[tuple[str, float], ...]
    made: tuple[str, ...]  # the kept results made afresh; the rest came from the cache
    converted: int
    page_map: object  # the print edition's pages, when it was made


class Results:
    """The results of a plan's jobs as it runs: each made (or read from the cache) once."""

    def __init__(self, plan: Plan, workers: Workers, progress: Progress) -> None:
        self.plan = plan
        self.jobs = {job.name: job for job in plan.jobs}
        self.workers = workers
        self.progress = progress
        self.values: dict[str, Any] = dict(plan.known)
        self.keys: dict[str, str | None] = {}
        self.queued: dict[str, list[str]] = {}  # by worker: the jobs submitted, oldest first
        self.started: dict[str, float] = {}
        self.made: list[str] = []
        self.timings: list[tuple[str, float]] = []

    def key(self, name: str) -> str | None:
        if name not in self.keys:
            self.keys[name] = self.jobs[name].key(self)
        return self.keys[name]

    def value(self, name: str) -> Any:
        """The job's result: read from the cache, collected from its worker, or made here now."""
        if name not in self.jobs:
            return None
        if name not in self.values:
            worker = self.jobs[name].process
            if not any(name in queue for queue in self.queued.values()):
                self.start(self.jobs[name])
            if name not in self.values:
                self._collect(worker, name)
        return self.values[name]

    def later(self, name: str) -> Callable[[], Any] | None:
        """The result, when it is asked for (None: the plan has no such job)."""
        return (lambda: self.value(name)) if name in self.jobs else None

    def start(self, job: Job) -> None:
        """Take the result from the cache, or make it here, or hand it to its worker."""
        key = self.key(job.name)
        if key is not None:
            plan = self.plan
            stored = plan.looked_up[key] if key in plan.looked_up else plan.cache.get(key)
            value = job.kept.load(stored, plan.cache) if stored is not None else None
            if value is not None:
                self.values[job.name] = value
                return
        args, kwargs = job.args(self)
        if job.says:
            self.progress(job.says)
        self.started[job.name] = time.perf_counter()
        if job.process == MAIN:
            self._done(job, _function(job.call)(*args, **kwargs))
            return
        if kwargs:
            raise TypeError(f"a worker's job takes positional arguments only ({job.name})")
        worker = self.workers.start(job.process, warm_up=WARM_UP.get(job.process, ()))
        worker.submit(job.call, *args)
        self.queued.setdefault(job.process, []).append(job.name)

    def _collect(self, worker: str, name: str) -> None:
        queue = self.queued[worker]
        while name not in self.values:  # a worker's results come in the order its jobs were sent
            first = queue.pop(0)
            self._done(self.jobs[first], self.workers.running[worker].result())
        if not queue and worker not in self._still_to_come:
            self.workers.finish(worker)

    def _done(self, job: Job, value: Any) -> None:
        self.values[job.name] = value
        self.timings.append((job.name, time.perf_counter() - self.started[job.name]))
        key = self.key(job.name)
        if key is not None:
            files, meta = job.kept.store(value)
            self.plan.cache.put(key, files=files, meta=meta)
            self.made.append(job.name)

    _still_to_come: frozenset[str] = frozenset()

    def run(self) -> None:
        jobs = self.plan.jobs
        for at, job in enumerate(jobs):
            # The workers that later jobs still use; a worker with none is told it has had its last.
            self._still_to_come = frozenset(j.process for j in jobs[at + 1:] if j.process != MAIN and not j.on_demand)
            if not job.on_demand and job.name not in self.values:
                self.start(job)
            if job.process != MAIN and job.process not in self._still_to_come and job.process in self.workers.running:
                self.workers.running[job.process].last_job()  # it exits when done, long before WeasyPrint peaks
        for worker, queue in list(self.queued.items()):
            if queue:
                self._collect(worker, queue[-1])


def _function(name: str) -> Callable[..., Any]:
    import importlib

    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def make(plan: Plan, *, progress: Progress = lambda _: None) -> Made:
    """Run `plan`; raise `BuildFailed` (and stop every worker at once) on any error."""
    with Workers() as workers:
        results = Results(plan, workers, progress)
        results.run()
    parsed: Parsed = results.values["book"]
    book = parsed.book
    diagnostics = list(book.diagnostics)
    outputs: dict[str, bytes | dict[str, bytes]] = {}
    printed: Printed | None = results.values.get("pdf")
    if printed is not None:
        outputs["pdf"] = printed.data
        diagnostics += printed.diagnostics
    if (wrapped := results.values.get("wrap")) is not None:
        outputs["cover"] = wrapped.data
        diagnostics += wrapped.diagnostics
    if "html" in results.values:
        outputs["html"] = results.values["html"]
    if "epub" in results.values:
        outputs["epub"] = results.values["epub"]
    return Made(book, outputs, tuple(diagnostics), tuple(results.timings), tuple(results.made), parsed.converted,
                printed.page_map if printed is not None else None)
