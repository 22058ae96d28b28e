"""Runs the stages: load -> parse -> render each edition -> write, doing nothing twice.

Everything is rendered in memory first; only when every edition asked for has been made is
anything written, and each output is swapped into place whole (see `write`).

Two things keep a build quick:

- The cache (see `cache`): a chapter's HTML, the parsed `Book`, the generated cover and each
  edition are kept under a digest of everything they depend on. A rebuild with nothing changed
  reads book.yaml and the chapters, finds every edition in the cache, and imports neither
  WeasyPrint nor ebooklib. After one chapter is edited, only that chapter is converted again.
- A second process: WeasyPrint lays out one page after another on one core, so the PDF (and the
  generated cover, which WeasyPrint also draws) is made in a worker process while this one parses,
  makes the web edition and waits to assemble the EPUB, which carries the print edition's page
  numbers and so is made last. The worker is started first, so WeasyPrint's slow import overlaps
  the parse. It is spawned, not forked: a fork would copy this process's memory and threads.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import Cache, ChapterStore, default_root, digest, file_digest, pipeline_version
from .diagnostics import BuildFailed, Diagnostic, error
from .manuscript import Manuscript, load_manuscript
from .model import Book
from .write import write_file, write_folder

if TYPE_CHECKING:
    from .epub import Cover
    from .pdf import PdfEdition

FORMATS = ("epub", "pdf", "html")

Progress = Callable[[str], None]

# What each edition reads under styles/, besides the templates that those templates import,
# include or extend (found by Jinja itself, see `_StyleInputs`). A folder stands for every file
# under it. tests/test_cache.py checks these against the editions' own lists.
STYLE_INPUTS: dict[str, tuple[str, ...]] = {
    "epub": ("fonts.css", "book.css", "epub.css", "fonts/", "templates/epub/"),
    "html": ("fonts.css", "book.css", "web.css", "web.js", "fonts/", "templates/web.html"),
    "pdf": ("fonts.css", "book.css", "print.css", "fonts/", "templates/print.html", "templates/print-page.css"),
    "cover": ("cover.css", "fonts/", "templates/cover.html"),
}


@dataclass(frozen=True, slots=True)
class BuildResult:
    book: Book
    outputs: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]
    timings: tuple[tuple[str, float], ...]
    made: tuple[str, ...] = ()  # what was made afresh ("book", "cover", editions); the rest came from the cache
    converted: int = 0  # chapters converted from Markdown; the others' HTML came from the cache


def output_paths(book: Book, out_dir: Path) -> dict[str, Path]:
    return {"epub": out_dir / f"{book.slug}.epub", "pdf": out_dir / f"{book.slug}.pdf", "html": out_dir / book.slug}


def _cover_href(book: Book) -> str:
    taken = {a.href for a in book.assets}
    return next(h for h in ("images/cover.jpg", "cover.jpg", "publish-cover.jpg") if h not in taken)


def book_cover(book: Book, *, generated: bytes | None = None) -> Cover:
    """The author's cover image, or one generated from the title (`generated`, when already made)."""
    from .epub import Cover

    alt = f"Cover of {book.config.title}"
    if book.cover is not None:
        return Cover(book.cover.source.read_bytes(), book.cover.media_type, book.cover.href, alt)
    return Cover(generated if generated is not None else _cover_job(book), "image/jpeg", _cover_href(book), alt)


# The editions' renderers, imported only when an edition is made (ebooklib is slow to import and a
# rebuild that changes nothing never needs it). Module names, so tests can make one fail.


def render_html(book: Book) -> dict[str, bytes]:
    from . import html

    return html.render_html(book)


def render_epub(book: Book, *, cover: Cover, pages: object) -> bytes:
    from . import epub

    return epub.render_epub(book, cover=cover, pages=pages)  # type: ignore[arg-type]


def pdf_result(worker: _Worker) -> PdfEdition:
    """The PDF, once the worker has laid it out: `pdf.render_pdf`'s result, or its `BuildFailed`."""
    return worker.result()


def _release_memory() -> None:
    """Give freed memory back to the system before waiting on the PDF worker, whose peak is the
    build's: what this process holds then counts too."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc and hasattr(ctypes.CDLL(libc), "malloc_trim"):
        ctypes.CDLL(libc).malloc_trim(0)


# -- the worker processes -----------------------------------------------------------------------
# A worker is a Python process started with `_serve` that reads jobs (pickled: a name from `JOBS`
# and its arguments) on its standard input and writes each result back on its standard output.
# Not `multiprocessing`: its spawn and forkserver start methods also start a resource-tracker
# process, 12 MB that count against the build's peak memory and do nothing here. This module
# imports nothing heavy at its top, so a worker starts light.


def _fast_page_references() -> None:
    """pydyf rebuilds `PDF.page_references`, a tuple naming every page, each time it is read, and
    WeasyPrint reads it for every tagged element it writes: quadratic in a tagged novel (2 s of 16 s
    for Pride and Prejudice). Kept per page count instead; the PDF's bytes are the same."""
    import pydyf

    def page_references(pdf: pydyf.PDF) -> tuple[bytes, ...]:
        kids = pdf.pages["Kids"]
        known = pdf.__dict__.get("_publish_page_references")
        if known is None or known[0] != len(kids):
            known = (len(kids), tuple(f"{number} 0 R".encode("ascii") for number in kids[::3]))
            pdf.__dict__["_publish_page_references"] = known
        return known[1]

    pydyf.PDF.page_references = property(page_references)


def _compress_streams_once() -> None:
    """pydyf compresses a stream each time its bytes are read, and a PDF with an identifier reads
    every stream twice: once to hash the file, once to write it. Kept after the first read,
    which comes only once the document is complete; the PDF's bytes are the same."""
    import pydyf

    compress = pydyf.Stream.data.fget

    def data(stream: pydyf.Stream) -> bytes:
        done = stream.__dict__.get("_publish_data")
        if done is None:
            done = stream.__dict__["_publish_data"] = compress(stream)
        return done

    pydyf.Stream.data = property(data)


def _warm_up() -> None:
    import weasyprint  # noqa: F401 - the slow import, done while the parent parses

    from . import pdf  # noqa: F401

    _fast_page_references()
    _compress_streams_once()


def _pdf_job(book: Book, profile: str | None) -> PdfEdition:
    import gc

    from .pdf import render_pdf

    # Everything alive now lives as long as the job: out of the collector's sight, it stops
    # postponing full collections (their pace follows the number of long-lived objects, and
    # langcodes' tables alone, imported with the book's configuration, added 30 MB of WeasyPrint
    # garbage to the peak).
    gc.collect()
    gc.freeze()
    try:
        return render_pdf(book, profile=profile)
    finally:
        gc.unfreeze()


def _cover_job(book: Book) -> bytes:
    from .cover import render_cover
    from .templates import STYLES_DIR

    return render_cover(book, styles_dir=STYLES_DIR)


JOBS: dict[str, Callable[..., Any]] = {"pdf": _pdf_job, "cover": _cover_job}


def _serve() -> None:
    """A worker's main loop (see above)."""
    import pickle
    import queue
    import signal
    import threading
    import traceback

    # Ctrl-C reaches the whole process group: the worker just stops, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the parent's pipe
    warm = threading.Thread(target=_warm_up)
    warm.start()  # the import runs while the first job is on its way
    # Jobs are read as they come, whatever runs: a parent writing its next job must never wait
    # for this process, which may itself be waiting for the parent to read a result.
    inbox: queue.Queue[tuple[str, tuple] | None] = queue.Queue()

    def read() -> None:
        try:
            while True:
                inbox.put(pickle.load(jobs))
        except EOFError:
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        job = inbox.get()
        if job is None:
            return
        name, args = job
        warm.join()
        try:
            outcome: tuple[str, Any] = ("ok", JOBS[name](*args))
        except BuildFailed as failure:  # an exception's own pickling would lose its diagnostics
            outcome = ("failed", failure.diagnostics)
        except Exception:  # noqa: BLE001 - carried to the parent, which reports it as a bug
            outcome = ("error", traceback.format_exc())
        pickle.dump(outcome, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


class _Worker:
    """One worker process, started at once so that importing WeasyPrint (a second or two)
    happens while this process does other work. Jobs run one after another, in order."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "from publish.build import _serve; _serve()"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def submit(self, job: str, *args: object) -> None:
        import pickle

        assert self.process.stdin is not None
        self.process.stdin.write(pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL))
        self.process.stdin.flush()

    def result(self) -> Any:
        """The next job's result; a `BuildFailed` in the worker is raised here with its diagnostics."""
        import pickle

        assert self.process.stdout is not None
        try:
            status, value = pickle.load(self.process.stdout)
        except EOFError:
            code = self.process.wait()
            raise RuntimeError(f"the worker process stopped unexpectedly (exit code {code})") from None
        if status == "failed":
            raise BuildFailed(value)
        if status == "error":
            raise RuntimeError(f"the worker process failed:\n{value}")
        return value

    def close(self, *, failed: bool = False) -> None:
        if self.process.poll() is None:
            if failed:
                # Nothing it is doing is wanted any more: don't make the user wait for a layout.
                self.process.kill()
            else:
                self.process.stdin.close()  # type: ignore[union-attr] - end of jobs: it exits
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


class _Workers:
    """The build's worker processes: closed as soon as their work is done, killed on failure."""

    def __init__(self) -> None:
        self.running: dict[str, _Worker] = {}

    def start(self, name: str) -> _Worker:
        if name not in self.running:
            self.running[name] = _Worker()
        return self.running[name]

    def finish(self, name: str) -> None:
        if name in self.running:
            self.running.pop(name).close()

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        for worker in self.running.values():
            worker.close(failed=kind is not None)
        self.running.clear()


# -- cache keys ---------------------------------------------------------------------------------


class _StyleInputs:
    """Digests of the files under styles/ that each edition reads, each file read once."""

    def __init__(self, styles_dir: Path, cache: Cache, pipeline: str) -> None:
        self.root = styles_dir
        self.cache = cache
        self.pipeline = pipeline
        self.known: dict[str, str] = {}
        self.graph: dict[str, tuple[str, ...] | None] | None = None

    def _digest(self, name: str) -> str:
        if name not in self.known:
            self.known[name] = file_digest(self.root / name)
        return self.known[name]

    def _template_graph(self) -> dict[str, tuple[str, ...] | None]:
        """The templates each template imports, includes or extends (None: a name computed at
        render time). Jinja parses them again only when one of them has changed."""
        if self.graph is None:
            folder = self.root / "templates"
            names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            key = digest("template-graph", self.pipeline, [(n, self._digest(f"templates/{n}")) for n in names])
            graph = self.cache.get_value(key)
            if not isinstance(graph, dict):
                import jinja2
                import jinja2.meta

                env = jinja2.Environment()
                graph = {}
                for name in names:
                    try:
                        tree = env.parse((folder / name).read_text(encoding="utf-8"))
                    except (jinja2.TemplateSyntaxError, UnicodeDecodeError):
                        graph[name] = ()  # not a template (or a broken one: rendering will say so)
                        continue
                    refs = tuple(jinja2.meta.find_referenced_templates(tree))
                    graph[name] = None if None in refs else refs
                self.cache.put_value(key, graph)
            self.graph = graph
        return self.graph

    def _files(self, entries: tuple[str, ...]) -> list[str]:
        names: set[str] = set()
        for entry in entries:
            if entry.endswith("/"):
                names.update(p.relative_to(self.root).as_posix() for p in (self.root / entry).rglob("*") if p.is_file())
            else:
                names.add(entry)
        graph = self._template_graph()
        todo = [n.removeprefix("templates/") for n in names if n.startswith("templates/")]
        while todo:
            refs = graph.get(todo.pop(), ())
            if refs is None:  # could be any template
                return sorted(names | {f"templates/{t}" for t in graph})
            for ref in refs:
                if f"templates/{ref}" not in names:
                    names.add(f"templates/{ref}")
                    todo.append(ref)
        return sorted(names)

    def of(self, edition: str) -> list[tuple[str, str]]:
        return [(name, self._digest(name)) for name in self._files(STYLE_INPUTS[edition])]


def _book_key(manuscript: Manuscript, pipeline: str, source_date_epoch: str | None) -> str:
    return digest("book", pipeline, str(manuscript.root), str(manuscript.shown_root), manuscript.config_text,
                  [(source.path.as_posix(), source.digest) for source in manuscript.sources], source_date_epoch)


def _cover_key(manuscript: Manuscript, pipeline: str, styles: _StyleInputs) -> str | None:
    """The generated cover's key (None when the author gives one): it is drawn from the
    configuration alone, so editing a chapter never draws it again."""
    if manuscript.config.cover_image:
        return None
    return digest("cover", pipeline, repr(manuscript.config), styles.of("cover"))


@dataclass(frozen=True, slots=True)
class _Keys:
    book: str
    assets: tuple[tuple[str, str], ...]  # (href, digest) of every image an edition carries

    def edition(self, fmt: str, styles: _StyleInputs, *extra: object) -> str:
        return digest(fmt, self.book, self.assets, styles.of(fmt), extra)


def _keys(book: Book, book_key: str) -> _Keys:
    """Raises OSError when an image the book uses can no longer be read."""
    images = [*book.assets, *([book.cover] if book.cover else [])]
    return _Keys(book_key, tuple((a.href, file_digest(a.source)) for a in images))


def _epub_key(keys: _Keys, styles: _StyleInputs, cover_key: str | None, page_map: object) -> str:
    # The EPUB carries the print edition's page numbers: it depends on where the pages break,
    # not on the PDF's bytes, so a change that moves no page break leaves the EPUB as it was.
    return keys.edition("epub", styles, cover_key, None if page_map is None else repr(page_map))


# -- the build ----------------------------------------------------------------------------------


def build(book_dir: Path, out_dir: Path, *, formats: tuple[str, ...] = FORMATS, pdf_profile: str | None = None,
          source_date_epoch: str | None = None, progress: Progress = lambda _: None, clean: bool = False,
          cache_dir: Path | None = None) -> BuildResult:
    """Build the editions in `formats`; raise `BuildFailed` (and write nothing) on any error.

    Results are kept in the cache (`cache_dir`, default: the user's cache folder) and taken from
    it when nothing they depend on has changed; `clean` reads nothing from it.
    """
    from .templates import STYLES_DIR

    timings: list[tuple[str, float]] = []
    made: list[str] = []
    converted = 0

    def stage(name: str) -> float:
        progress(name)
        return time.perf_counter()

    started = stage("load: reading the book folder")
    manuscript = load_manuscript(book_dir)
    if out_dir.resolve().is_relative_to(manuscript.root):
        raise BuildFailed([error("output-in-book", f"the output folder '{out_dir}' is inside the book folder", file=out_dir,
                                 hint="a build never writes into the book folder: choose another folder with -o")])
    cache = Cache(cache_dir or default_root(), read=not clean)
    pipeline = pipeline_version()
    styles = _StyleInputs(STYLES_DIR, cache, pipeline)
    book_key = _book_key(manuscript, pipeline, source_date_epoch)
    book = cache.get_value(book_key)
    keys = None
    if isinstance(book, Book):
        try:
            keys = _keys(book, book_key)
        except OSError:
            book = None  # an image has gone: parse again, which says which one
    else:
        book = None
    cover_key = _cover_key(manuscript, pipeline, styles) if "epub" in formats else None
    cover_jpeg = cache.get(cover_key) if cover_key else None
    stored_pdf = cache.get(keys.edition("pdf", styles, pdf_profile)) if keys and "pdf" in formats else None
    timings.append(("load", time.perf_counter() - started))

    # Is WeasyPrint needed at all? Without the parsed book this is a guess on the safe side.
    needs_pdf = "pdf" in formats and stored_pdf is None
    needs_cover = cover_key is not None and cover_jpeg is None
    if needs_cover and keys is not None and not needs_pdf:
        needs_cover = cache.get(_epub_key(keys, styles, cover_key, stored_pdf and stored_pdf.meta[1])) is None

    with _Workers() as workers:
        if needs_pdf:
            workers.start("pdf")
        elif needs_cover:
            workers.start("cover")  # alone, it too can import WeasyPrint during the parse
        if book is None or keys is None:
            from .parse import parse_book

            chapters: ChapterStore | None = ChapterStore(cache, pipeline)
            started = stage(f"parse: {len(manuscript.sources)} chapters")
            book = parse_book(manuscript, source_date_epoch=source_date_epoch, cache=chapters)
            timings.append(("parse", time.perf_counter() - started))
            cache.put_value(book_key, book)
            made.append("book")
            converted = chapters.converted
            keys = _keys(book, book_key)
            stored_pdf = cache.get(keys.edition("pdf", styles, pdf_profile)) if "pdf" in formats else None
        diagnostics = list(book.diagnostics)

        pdf_started = None
        if "pdf" in formats and stored_pdf is None:
            progress("render: PDF (laying out pages, in a second process)")
            pdf_started = time.perf_counter()
            workers.start("pdf").submit("pdf", book, pdf_profile)

        # The generated cover, in a process of its own beside the PDF's: WeasyPrint draws it, and
        # this process never imports WeasyPrint. It is done long before the PDF's memory peaks.
        generated = cover_jpeg.meta if cover_jpeg is not None else None
        cover_started = None
        if "epub" in formats and cover_key is not None and generated is None and (
                pdf_started is not None or cache.get(_epub_key(keys, styles, cover_key, stored_pdf and stored_pdf.meta[1])) is None):
            cover_started = time.perf_counter()
            workers.start("cover").submit("cover", book)

        outputs: dict[str, bytes | dict[str, bytes]] = {}
        if "html" in formats:
            html_key = keys.edition("html", styles)
            stored = cache.get(html_key)
            files = stored.file_bytes(cache) if stored else None
            if files is None:
                started = stage("render: web edition")
                files = render_html(book)
                cache.put(html_key, files=files)
                timings.append(("html", time.perf_counter() - started))
                made.append("html")
            outputs["html"] = files

        if cover_started is not None:
            generated = workers.running["cover"].result()
            workers.finish("cover")
            cache.put_value(cover_key, generated)
            timings.append(("cover", time.perf_counter() - cover_started))
            made.append("cover")

        page_map = None
        if "pdf" in formats:
            if pdf_started is not None:
                # While WeasyPrint works towards its peak, this process holds the book only as
                # bytes, and gives back the memory the parse and the web edition used.
                import pickle

                frozen = pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL)
                del book, manuscript
                chapters = None
                _release_memory()
                printed = pdf_result(workers.running["pdf"])
                workers.finish("pdf")  # gone before the EPUB is made: their memory never adds up
                book = pickle.loads(frozen)
                del frozen
                timings.append(("pdf", time.perf_counter() - pdf_started))
                stored_pdf = cache.put(keys.edition("pdf", styles, pdf_profile), files={"pdf": printed.data},
                                       meta=(printed.diagnostics, printed.page_map))
                made.append("pdf")
                outputs["pdf"] = printed.data
            else:
                assert stored_pdf is not None
                data = cache.blob(stored_pdf.files["pdf"])
                if data is None:
                    raise BuildFailed([error("cache-damaged", "the cached PDF could not be read", file=cache.root,
                                             hint="build again with --clean")])
                outputs["pdf"] = data
            pdf_diagnostics, page_map = stored_pdf.meta
            diagnostics += pdf_diagnostics

        if "epub" in formats:
            epub_key = _epub_key(keys, styles, cover_key, page_map)
            stored = cache.get(epub_key)
            files = stored.file_bytes(cache) if stored else None
            if files is None:
                if cover_key is not None and generated is None:  # only if the cache lost it since
                    generated = _cover_job(book)
                    cache.put_value(cover_key, generated)
                    made.append("cover")
                started = stage("render: EPUB")
                files = {"epub": render_epub(book, cover=book_cover(book, generated=generated), pages=page_map)}
                cache.put(epub_key, files=files)
                timings.append(("epub", time.perf_counter() - started))
                made.append("epub")
            outputs["epub"] = files["epub"]

    started = stage(f"write: {out_dir}")
    paths = output_paths(book, out_dir)
    for path in paths.values():
        if book.root.is_relative_to(path.resolve()):
            raise BuildFailed([error("output-in-book", f"writing '{path}' would replace the book folder", file=path,
                                     hint="a build never writes into the book folder: choose another folder with -o")])
    written = []
    for fmt in FORMATS:
        if fmt not in outputs:
            continue
        data = outputs[fmt]
        if isinstance(data, dict):
            if not _folder_holds(paths[fmt], data):
                write_folder(paths[fmt], data)
        elif not _file_holds(paths[fmt], data):
            write_file(paths[fmt], data)
        written.append(paths[fmt])
    if cache.stored_bytes:
        cache.prune()
    timings.append(("write", time.perf_counter() - started))
    return BuildResult(book, tuple(written), tuple(diagnostics), tuple(timings), tuple(made), converted)


def _file_holds(path: Path, data: bytes) -> bool:
    """True if `path` already has exactly `data`: a rebuild that changes nothing touches nothing."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _folder_holds(path: Path, files: dict[str, bytes]) -> bool:
    try:
        present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() or p.is_symlink()}
    except OSError:
        return False
    return present == set(files) and all(not (path / name).is_symlink() and _file_holds(path / name, data)
                                         for name, data in files.items())
