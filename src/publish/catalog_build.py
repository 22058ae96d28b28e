"""A catalogue's books built on Dask: on this machine's cores, or on a cluster of machines.

Each book's build is a pure function of its folder (the same bytes for the same input, results
kept in a content-addressed cache), so a catalogue is embarrassingly parallel: one task per book.
The tasks run on Dask's distributed scheduler (`distributed`), which brings what a home-made pool
would have to grow: a worker that dies is replaced, and the book it was building is given to
another worker (the scheduler's `allowed-failures`, 3 by default); the same code runs on this
machine's cores (a `LocalCluster`) and on a cluster of many machines (`dask scheduler` and
`dask worker`), the books largest first so that the last one to finish is a short one.

A run reads top to bottom:

1. plan (here, in the command's process): a `BookJob` per book of the catalogue (catalog.py),
   naming everything a worker needs, since a worker elsewhere shares no environment with us;
2. locate (on the workers, in parallel): each book's folder is loaded to learn its title, and so
   where its editions go (`output/<slug>/`); books that would write to the same place, or into a
   book folder, fail here, before anything is built;
3. build (on the workers): `publish.build.build` for each book, which writes its outputs
   atomically and keeps its results in the worker's cache; with `--check`, EPUBCheck and Ace
   then read the EPUB. A book's failure is a value (`BookOutcome`), never an exception that
   would stop the others.

Workers read the book folders and write the outputs at the same paths as this process, so on a
cluster these must be on a file system they all share; the cache is each worker's own
(`PUBLISH_CACHE_DIR`), shared too when it points at a shared folder (its writes are atomic).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import CatalogBook
from .config import Overlay
from .diagnostics import BuildFailed, Diagnostic, Severity, error, warning

if TYPE_CHECKING:
    from distributed import Client

    from .model import Book

# One book's build at its peak, with the Dask worker process it runs in: a novel's PDF layout
# holds about 250 MB (measured on Pride and Prejudice and Curie), the worker's own ~50 MB, and
# a margin for the books with more pages. Local workers are never more than memory / this.
MEMORY_PER_BOOK = 400 * 2**20
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
WORKERS_TIMEOUT = 60  # seconds to wait for a scheduler's first worker


# -- the jobs, as the workers run them ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookJob:
    """Everything a worker needs to build one book. Explicit, since a worker on another machine
    shares neither this process's environment nor its working folder."""

    folder: Path  # absolute
    shown: Path  # as the user named it
    out_root: Path  # absolute: the output folder the layout is under
    layout: str
    overlay: Overlay | None
    formats: tuple[str, ...]
    pdf_profile: str | None
    source_date_epoch: str | None
    clean: bool
    strict: bool  # a warning fails the book (and nothing of it is written), as `publish build --strict`
    force: bool  # replace what is in the way of its editions although publish did not make it
    check: tuple[str, ...]  # the validators to run on the EPUB ("epubcheck", "ace"); none without --check
    pipeline: str  # this process's publish (build.pipeline_version): a worker with another says so

    def book_dir(self) -> Path:
        """The folder as the user named it where it means the same folder here (the same cache
        keys and messages as `publish build` of that folder), else its absolute path."""
        try:
            return self.shown if self.shown.resolve() == self.folder else self.folder
        except OSError:
            return self.folder

    def out_dir(self, slug: str) -> Path:
        return (self.out_root / self.layout.format(slug=slug, folder=self.folder.name)).resolve()


@dataclass(frozen=True, slots=True)
class Located:
    out_dir: Path | None  # None: the book could not be loaded
    slug: str = ""  # its editions are <slug>.epub, <slug>.pdf and <slug>/ in out_dir
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class Validation:
    tool: str
    errors: int
    warnings: int
    ran: bool = True  # False: the validator is not installed on the worker


STATES = ("built", "unchanged", "failed", "error", "lost")


@dataclass(frozen=True, slots=True)
class BookOutcome:
    """What became of one book: `built` (something was made afresh), `unchanged` (every edition
    came from the cache), `failed` (the book has errors: nothing of it was written), `error` (a
    bug in publish, or a worker that could not run it), `lost` (its worker died each time)."""

    shown: Path
    state: str
    seconds: float = 0.0
    pages: int | None = None
    outputs: tuple[Path, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    checks: tuple[Validation, ...] = ()
    worker: str = ""
    retried: int = 0  # times its worker died while building it

    @property
    def ok(self) -> bool:
        return self.state in {"built", "unchanged"}

    def first_problems(self, count: int = 2) -> tuple[Diagnostic, ...]:
        ranked = sorted((d for d in self.diagnostics if d.severity >= Severity.WARNING), key=lambda d: -d.severity)
        return tuple(ranked[:count])


def _where() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def locate(job: BookJob) -> Located:
    """On a worker: load the book (nothing more) to learn where its editions go."""
    from .manuscript import load_manuscript

    try:
        manuscript = load_manuscript(job.book_dir(), overlay=job.overlay)
    except BuildFailed as failure:
        return Located(None, diagnostics=_seen_from_worker(failure.diagnostics, job))
    return Located(job.out_dir(manuscript.config.slug), manuscript.config.slug)


def _seen_from_worker(diagnostics: tuple[Diagnostic, ...], job: BookJob) -> tuple[Diagnostic, ...]:
    """A worker that cannot see the book folder says so the way a cluster user needs to hear it."""
    if any(d.code == "book-missing" for d in diagnostics) and job.folder.exists():
        return (error("catalog-unseen", f"the worker on {socket.gethostname()} cannot see the book folder '{job.folder}'",
                      file=job.shown, hint="workers read the books and write the editions at the same paths as the "
                                           "'publish build' command: put them on a file system every worker shares"),)
    return diagnostics


def build_book(job: BookJob, out_dir: Path) -> BookOutcome:
    """On a worker: build one book, then check its EPUB. Every outcome is a value."""
    from .build import build
    from .cache import pipeline_version

    started = time.perf_counter()
    worker = _where()
    try:
        result = build(job.book_dir(), out_dir, formats=job.formats, pdf_profile=job.pdf_profile,
                       source_date_epoch=job.source_date_epoch, clean=job.clean, strict=job.strict,
                       force=job.force, overlay=job.overlay)
    except BuildFailed as failure:
        return BookOutcome(job.shown, "failed", time.perf_counter() - started,
                           diagnostics=_seen_from_worker(failure.diagnostics, job), worker=worker)
    except Exception as exc:  # noqa: BLE001 - a bug in publish: this book's outcome, not the run's end
        return BookOutcome(job.shown, "error", time.perf_counter() - started, worker=worker, diagnostics=(
            error("internal", f"{type(exc).__name__}: {exc}", file=job.shown,
                  hint="a bug in publish, not in the book; the traceback: " + " | ".join(
                      line.strip() for line in traceback.format_exc().strip().splitlines()[-6:])),))
    diagnostics = list(result.diagnostics)
    if pipeline_version() != job.pipeline:
        diagnostics.append(warning("catalog-other-publish", f"built by a worker ({worker}) whose publish differs from "
                                   "the one that started the run", file=job.shown,
                                   hint="install the same publish on every worker: its editions may differ"))
    paths = {p.suffix: p for p in result.outputs}
    checks: list[Validation] = []
    if job.check and ".epub" in paths:
        checks = _validate(paths[".epub"], tuple(t for t in job.check if t != "covers"), diagnostics)
    if "covers" in job.check and (covers := _check_covers(result.book, out_dir, diagnostics)) is not None:
        checks.append(covers)
    return BookOutcome(job.shown, "built" if result.made else "unchanged", time.perf_counter() - started,
                       pages=_page_count(paths.get(".pdf")), outputs=result.outputs, diagnostics=tuple(diagnostics),
                       checks=tuple(checks), worker=worker)


def _validate(epub: Path, tools: tuple[str, ...], diagnostics: list[Diagnostic]) -> list[Validation]:
    from .check import ToolMissing, run_ace, run_epubcheck

    runners = {"epubcheck": run_epubcheck, "ace": run_ace}
    checks = []
    for tool in tools:
        try:
            found = runners[tool](epub)
        except ToolMissing as absent:
            diagnostics.append(absent.diagnostic)
            checks.append(Validation(tool, 0, 0, ran=False))
            continue
        except BuildFailed as failure:  # it stopped without a report: not the book's fault
            diagnostics.extend(failure.diagnostics)
            checks.append(Validation(tool, 0, 0, ran=False))
            continue
        diagnostics.extend(found)
        checks.append(Validation(tool, sum(d.severity is Severity.ERROR for d in found),
                                 sum(d.severity is Severity.WARNING for d in found)))
    return checks


def _check_covers(book: Book, out_dir: Path, diagnostics: list[Diagnostic]) -> Validation | None:
    """The print editions' interiors and covers the build wrote, as `publish check` checks them
    (None: the book has no print edition, so nothing to check)."""
    from .printcheck import check_print_outputs, print_configs

    configs = print_configs(book.config)
    if not configs:
        return None
    found = check_print_outputs(book, out_dir, configs=configs)
    diagnostics.extend(found)
    return Validation("covers", sum(d.severity is Severity.ERROR for d in found),
                      sum(d.severity is Severity.WARNING for d in found))


def _page_count(pdf: Path | None) -> int | None:
    if pdf is None:
        return None
    from pypdf import PdfReader

    try:
        return len(PdfReader(pdf).pages)
    except Exception:  # noqa: BLE001 - a count for the table; the PDF itself was checked by the build
        return None


# -- the run ------------------------------------------------------------------------------------


def local_workers(books: int) -> int:
    """As many books at once as this machine's cores and memory allow."""
    import psutil

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    memory = int(psutil.virtual_memory().available // MEMORY_PER_BOOK)
    return max(1, min(cores, memory, books))


class CatalogError(Exception):
    """The run itself could not go on (no scheduler, no workers): not any book's fault."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


@dataclass
class Counts:
    """How far the run has come, for the progress display."""

    total: int
    done: int = 0
    failed: int = 0
    built: int = 0  # done by a worker's build (not failed before it)
    started: float | None = None  # when the builds began

    @property
    def left(self) -> int:
        return self.total - self.done

    def seconds_left(self) -> float | None:
        """At the pace of the builds so far, all workers together; None before the first."""
        if not self.left:
            return 0.0
        if not self.built or self.started is None:
            return None
        return (time.perf_counter() - self.started) / self.built * self.left


@contextlib.contextmanager
def connect(scheduler: str | None, *, workers: int, say: Callable[[str], None] = lambda _: None) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a LocalCluster of `workers` processes
    (`None` or "local") that lives as long as the run."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    if scheduler in (None, "local"):
        say(f"starting {workers} local worker{'s' * (workers != 1)}")
        # One book at a time per worker process (a build is one process, and its helper, at
        # work), and no book queued on a worker behind another: the next goes to the first
        # worker free, largest first.
        with dask.config.set({"distributed.scheduler.allowed-failures": 3,
                              "distributed.scheduler.worker-saturation": 1.0}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    say(f"connecting to the Dask scheduler at {scheduler}")
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CatalogError(error("scheduler-unreachable", f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                                 hint="start one with 'dask scheduler' (and workers with 'dask worker ADDRESS'), or "
                                      "leave out --scheduler to build on this machine")) from None
    with client:
        if not client.scheduler_info().get("workers"):
            say(f"waiting for a worker to join {scheduler}")
            try:
                client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
            except TimeoutError:
                raise CatalogError(error("scheduler-no-workers",
                                         f"no worker joined the scheduler at {scheduler} within {WORKERS_TIMEOUT} s",
                                         hint=f"start workers with 'dask worker {scheduler}' on machines that see the "
                                              "book folders")) from None
        yield client


def _size(folder: Path) -> int:
    """The bytes of a book's Markdown: the larger the book, the sooner it starts."""
    try:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.suffix.lower() in {".md", ".markdown", ".txt"})
    except OSError:
        return 0


def plan(books: Sequence[CatalogBook], out_root: Path, *, formats: tuple[str, ...], pdf_profile: str | None,
         source_date_epoch: str | None, clean: bool, check: tuple[str, ...], strict: bool = False,
         force: bool = False) -> list[BookJob]:
    from .cache import pipeline_version

    root = out_root.resolve()
    return [BookJob(folder=b.folder.resolve(), shown=b.folder, out_root=root, layout=b.layout, overlay=b.overlay,
                    formats=formats, pdf_profile=pdf_profile, source_date_epoch=source_date_epoch, clean=clean,
                    strict=strict, force=force, check=check, pipeline=pipeline_version()) for b in books]


def _collisions(jobs: Sequence[BookJob], located: Sequence[Located]) -> dict[int, Diagnostic]:
    """Books whose editions would go to another book's folder (publish keeps a record of what it
    wrote in each output folder, which two builds at once must not share), or inside a book."""
    problems: dict[int, Diagnostic] = {}
    folders = {job.folder: job for job in jobs}
    by_place: dict[Path, list[int]] = {}
    for i, (job, where) in enumerate(zip(jobs, located)):
        if where.out_dir is None:
            continue
        by_place.setdefault(where.out_dir, []).append(i)
        inside = next((f for f in (where.out_dir, *where.out_dir.parents) if f in folders), None)
        if inside is not None:
            problems[i] = error("output-in-book", f"its editions would be written to '{where.out_dir}', inside the book "
                                f"folder '{folders[inside].shown}'", file=job.shown,
                                hint="a build never writes into a book folder: choose an output folder outside them with -o")
    for out_dir, sharing in by_place.items():
        if len(sharing) > 1:
            names = ", ".join(f"'{jobs[i].shown}'" for i in sharing)
            for i in sharing:
                problems.setdefault(i, error("output-collision", f"{names} would all be written to '{out_dir}'",
                                             file=jobs[i].shown,
                                             hint="give the books different titles, or set output: \"{folder}\" in "
                                                  "catalog.yaml to name each book's output folder after its book folder"))
    return problems


def run(jobs: Sequence[BookJob], client: Client, *, on_done: Callable[[BookOutcome, Counts], None] = lambda *_: None,
        say: Callable[[str], None] = lambda _: None) -> tuple[BookOutcome, ...]:
    """Build every job on the client's cluster; the outcomes in the order of `jobs`."""
    from distributed import KilledWorker, as_completed

    run_id = uuid.uuid4().hex[:8]
    outcomes: dict[int, BookOutcome] = {}
    counts = Counts(len(jobs))

    def finish(i: int, outcome: BookOutcome, *, built: bool = True) -> None:
        outcomes[i] = outcome
        counts.done += 1
        counts.built += built
        counts.failed += not outcome.ok
        on_done(outcome, counts)

    say(f"locating {len(jobs)} books")
    keys = [f"publish-locate-{job.folder.name}-{run_id}-{i}" for i, job in enumerate(jobs)]
    located: list[Located] = []
    for i, future in enumerate([client.submit(locate, job, key=key, pure=False) for job, key in zip(jobs, keys)]):
        try:
            located.append(future.result())
        except Exception as exc:  # noqa: BLE001 - the worker could not run it (publish missing there?)
            located.append(Located(None, diagnostics=(_worker_failure(exc, jobs[i]),)))
    collisions = _collisions(jobs, located)

    futures = {}
    sizes = {i: _size(job.folder) for i, job in enumerate(jobs)}
    for i in sorted(range(len(jobs)), key=lambda i: -sizes[i]):
        job, where = jobs[i], located[i]
        if where.out_dir is None or i in collisions:
            finish(i, BookOutcome(job.shown, "failed", diagnostics=(collisions[i],) if i in collisions else where.diagnostics),
                   built=False)
            continue
        key = f"publish-build-{job.folder.name}-{run_id}-{i}"
        futures[client.submit(build_book, job, where.out_dir, key=key, pure=False, priority=sizes[i])] = i
    if futures:
        say(f"building {len(futures)} books")
    counts.started = time.perf_counter()
    for future in as_completed(futures):
        i = futures[future]
        retried = _retried(client, future.key)
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, or a worker that cannot run publish
            outcome = BookOutcome(jobs[i].shown, "lost" if isinstance(exc, KilledWorker) else "error",
                                  diagnostics=(_worker_failure(exc, jobs[i]),))
        if retried:
            outcome = dataclasses.replace(outcome, retried=retried)
        future.release()
        finish(i, outcome)
    return tuple(outcomes[i] for i in range(len(jobs)))


def _worker_failure(exc: BaseException, job: BookJob) -> Diagnostic:
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return error("worker-died", "every worker that tried to build it died", file=job.shown,
                     hint="a worker's memory limit may be too small for this book (one PDF layout needs about 250 MB), "
                          "or the book makes publish crash: build it alone with 'publish build' to see")
    return error("worker-failed", f"a worker could not run the build: {type(exc).__name__}: {exc}", file=job.shown,
                 hint="every worker needs the same publish installed as the machine that starts the run")


def _retried(client: Client, key: str) -> int:
    """How often the scheduler gave this task to another worker because its worker died."""
    def suspicious(dask_scheduler: Any, key: str = key) -> int:  # noqa: ANN401 - the scheduler, pickled by value
        task = dask_scheduler.tasks.get(key)
        return int(getattr(task, "suspicious", 0) or 0)

    try:
        return int(client.run_on_scheduler(suspicious))
    except Exception:  # noqa: BLE001 - a scheduler of another version: the count is only shown
        return 0


def exit_worthy(outcome: BookOutcome, *, strict: bool) -> bool:
    """Whether this book makes the run fail: it did not build, a validator found errors, or
    (with --strict) it has warnings."""
    if not outcome.ok or any(c.errors for c in outcome.checks):
        return True
    return strict and any(d.severity >= Severity.WARNING for d in outcome.diagnostics)
