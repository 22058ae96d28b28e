"""Runs the stages: load -> parse -> render each edition -> write, doing nothing twice.

Everything is rendered in memory first; only when every edition asked for has been made is
anything written, and each output is swapped into place whole (see `write`).

Two things keep a build quick:

- The cache (see `cache`): a chapter's HTML, the parsed `Book`, the generated cover and each
  edition are kept under a digest of everything they depend on. A rebuild with nothing changed
  reads book.yaml and the chapters, finds every edition in the cache, and imports neither
  WeasyPrint nor ebooklib. After one chapter is edited, only that chapter is converted again.
- A second process: WeasyPrint lays out one page after another on one core, and its layout is
  most of a build and its peak memory the build's peak. So when the PDF is to be made, this process
  imports WeasyPrint (and draws a generated cover) while a worker parses the book, then lays out
  the PDF while the worker checks the glyphs and makes the web edition and exits. The EPUB carries
  the print edition's page numbers, so it is made last. Workers are spawned, not forked: a fork
  would copy this process's memory and threads.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import (
    Cache,
    ChapterStore,
    default_root,
    digest,
    file_digest,
    pipeline_version,
)
from .diagnostics import BuildFailed, Diagnostic, error, refuse_warnings
from .manuscript import Manuscript, load_manuscript
from .model import Book
from .write import Written, commit

if TYPE_CHECKING:
    from .config import BookConfig, Overlay
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
    "cover": ("cover.css", "fonts.css", "fonts/", "templates/cover.html"),
    "wrap": ("fonts.css", "wrap.css", "fonts/", "templates/wrap.html", "templates/wrap-page.css"),
}


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


def _cover_href(book: Book) -> str:
    taken = {a.href for a in book.assets}
    return next(h for h in ("images/cover.jpg", "cover.jpg", "publish-cover.jpg") if h not in taken)


def book_cover(book: Book, *, generated: bytes | None = None) -> Cover:
    """The author's cover image, or one generated from the title (`generated`, when already made)."""
    from .epub import Cover

    alt = f"Cover of {book.config.title}"
    if book.cover is not None:
        return Cover(book.cover.source.read_bytes(), book.cover.media_type, book.cover.href, alt)
    return Cover(generated if generated is not None else _cover_job(book.config), "image/jpeg", _cover_href(book), alt)


# The editions' renderers, imported only when an edition is made (ebooklib is slow to import and a
# rebuild that changes nothing never needs it). Module names, so tests can make one fail.


def render_html(book: Book) -> dict[str, bytes]:
    from . import html

    return html.render_html(book)


def render_pdf(book: Book, *, profile: str | None, glyph_check: Callable[[], tuple[Diagnostic, ...]] | None) -> PdfEdition:
    from . import pdf

    return pdf.render_pdf(book, profile=profile, glyph_check=glyph_check)


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


# -- the worker processes -----------------------------------------------------------------------
# A worker is a Python process started with `_serve` that reads jobs (pickled: a name from `JOBS`
# and its arguments) on its standard input and writes each result back on its standard output.
# Not `multiprocessing`: its spawn and forkserver start methods also start a resource-tracker
# process, 12 MB that count against the build's peak memory and do nothing here. This module
# imports nothing heavy at its top, so a worker starts light.
#
# When the PDF is to be made, this process lays it out (WeasyPrint is most of a build, and the
# only peak that matters) and a "text" worker parses the book, checks its glyphs and makes the
# web edition meanwhile, then exits long before WeasyPrint peaks. Otherwise the parse and the
# web edition are made here, and a "cover" worker draws a generated cover, so that a rebuild
# never imports WeasyPrint.


def _parse_job(manuscript: Manuscript, source_date_epoch: str | None, cache: Cache, pipeline: str) -> tuple[Book, int]:
    from .parse import parse_book

    chapters = ChapterStore(cache, pipeline)
    book = parse_book(manuscript, source_date_epoch=source_date_epoch, cache=chapters)
    return book, chapters.converted


def _glyphs_job(book: Book) -> tuple[Diagnostic, ...]:
    from .fonts import missing_glyphs

    return missing_glyphs(book)


def _cover_job(config: BookConfig) -> bytes:
    from .cover import render_cover
    from .templates import STYLES_DIR

    return render_cover(config, styles_dir=STYLES_DIR)


JOBS: dict[str, Callable[..., Any]] = {"parse": _parse_job, "html": render_html, "glyphs": _glyphs_job,
                                       "cover": _cover_job}
# What a worker imports while its first job is on its way.
WARM_UP = {"text": ("publish.parse", "publish.html", "publish.fonts"), "cover": ("weasyprint", "publish.cover"),
           "pdf": ("weasyprint", "publish.pdf", "publish.pdf_runs")}


def _job(name: str) -> Callable[..., Any]:
    """A job by its name in `JOBS`, or as "module:function" (the PDF's runs: publish.pdf_runs)."""
    if name in JOBS:
        return JOBS[name]
    import importlib

    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def _serve(kind: str) -> None:
    """A worker's main loop (see above)."""
    import importlib
    import pickle
    import queue
    import signal
    import threading
    import traceback

    # Ctrl-C reaches the whole process group: the worker just stops, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the parent's pipe
    warm = threading.Thread(target=lambda: [importlib.import_module(name) for name in WARM_UP[kind]])
    warm.start()  # the imports run while the first job is on its way
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
            outcome: tuple[str, Any] = ("ok", _job(name)(*args))
        except BuildFailed as failure:  # an exception's own pickling would lose its diagnostics
            outcome = ("failed", failure.diagnostics)
        except Exception:  # noqa: BLE001 - carried to the parent, which reports it as a bug
            outcome = ("error", traceback.format_exc())
        pickle.dump(outcome, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


class _Worker:
    """One worker process, started at once so that its imports happen while this process does
    other work. Jobs run one after another, in order. Results are read as soon as they come, so
    a worker whose jobs are done exits even while this process is busy laying out the PDF."""

    def __init__(self, kind: str) -> None:
        import queue
        import threading

        self.process = subprocess.Popen([sys.executable, "-c", f"from publish.build import _serve; _serve({kind!r})"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import pickle

        assert self.process.stdout is not None
        try:
            while True:
                self.results.put(pickle.load(self.process.stdout))
        except (EOFError, OSError, ValueError):  # the worker has exited, or was closed
            self.results.put(("gone", None))

    def submit(self, job: str, *args: object) -> None:
        import pickle

        assert self.process.stdin is not None
        self.process.stdin.write(pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL))
        self.process.stdin.flush()

    def last_job(self) -> None:
        """No more jobs: the worker exits once the ones it has are done."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def result(self) -> Any:
        """The next job's result; a `BuildFailed` in the worker is raised here with its diagnostics."""
        status, value = self.results.get()
        if status == "gone":
            self.results.put((status, value))  # every later call says so too
            code = self.process.wait()
            raise RuntimeError(f"the worker process stopped unexpectedly (exit code {code})")
        if status == "failed":
            raise BuildFailed(value)
        if status == "error":
            raise RuntimeError(f"the worker process failed:\n{value}")
        return value

    def close(self, *, failed: bool = False) -> None:
        if self.process.poll() is None:
            if failed:
                # Nothing it is doing is wanted any more: don't make the user wait for it.
                self.process.kill()
            else:
                self.last_job()
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
            self.running[name] = _Worker(name)
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
    from .citations import input_files

    # The configuration as read, besides its text: a catalogue's overlay changes it, not the text.
    return digest("book", pipeline, str(manuscript.root), str(manuscript.shown_root), manuscript.config_text,
                  repr(manuscript.config),
                  [(source.path.as_posix(), source.digest) for source in manuscript.sources], source_date_epoch,
                  [(path.name, file_digest(path)) for path in input_files(manuscript)])


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
    from .templates import STYLES_DIR

    timings: list[tuple[str, float]] = []
    made: list[str] = []
    converted = 0

    def stage(name: str) -> float:
        progress(name)
        return time.perf_counter()

    started = time.perf_counter()
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
    generated = cover_jpeg.meta if cover_jpeg is not None else None
    cover_drawn = False  # in this build, to be kept in the cache

    def draw_cover_here() -> None:
        nonlocal generated, cover_drawn
        generated, cover_drawn = _cover_job(manuscript.config), True

    with _Workers() as workers:
        text = None
        if needs_pdf:
            # This process lays out the PDF, the build's longest and largest task; a worker parses
            # the book, checks its glyphs and makes the web edition meanwhile.
            html_cached = keys is not None and cache.get(keys.edition("html", styles)) is not None
            if book is None or keys is None or ("html" in formats and not html_cached):
                text = workers.start("text")
        elif needs_cover:
            # Drawn from book.yaml alone, while this process parses and makes the web edition.
            workers.start("cover").submit("cover", manuscript.config)

        if book is None or keys is None:
            started = stage(f"parse: {len(manuscript.sources)} chapters")
            if text is not None:
                text.submit("parse", manuscript, source_date_epoch, cache, pipeline)
                import weasyprint  # noqa: F401 - its slow import, while the worker parses

                if needs_cover:
                    draw_cover_here()  # done before the layout, and so before the PDF's peak
                book, converted = text.result()
            else:
                from .parse import parse_book

                chapters = ChapterStore(cache, pipeline)
                book = parse_book(manuscript, source_date_epoch=source_date_epoch, cache=chapters)
                converted = chapters.converted
            timings.append(("parse", time.perf_counter() - started))
            cache.put_value(book_key, book)
            made.append("book")
            keys = _keys(book, book_key)
            stored_pdf = cache.get(keys.edition("pdf", styles, pdf_profile)) if "pdf" in formats else None
        elif needs_pdf and needs_cover:
            draw_cover_here()
        diagnostics = list(book.diagnostics)

        outputs: dict[str, bytes | dict[str, bytes]] = {}
        html_key = keys.edition("html", styles)
        stored_html = cache.get(html_key) if "html" in formats else None
        html_files = stored_html.file_bytes(cache) if stored_html else None
        glyph_check = None
        if text is not None and "pdf" in formats and stored_pdf is None:
            text.submit("glyphs", book)
            glyph_check = text.result
        html_started = None
        if "html" in formats and html_files is None:
            html_started = stage("render: web edition" + (" (in a second process)" if text else ""))
            if text is not None:
                text.submit("html", book)
            else:
                html_files = render_html(book)
        if text is not None:
            text.last_job()  # it exits when done, long before WeasyPrint peaks

        if "pdf" in formats:
            if stored_pdf is None:
                started = stage("render: PDF (laying out pages)")
                printed = render_pdf(book, profile=pdf_profile, glyph_check=glyph_check)
                timings.append(("pdf", time.perf_counter() - started))
                stored_pdf = cache.put(keys.edition("pdf", styles, pdf_profile), files={"pdf": printed.data},
                                       meta=(printed.diagnostics, printed.page_map, printed.pages))
                made.append("pdf")
                outputs["pdf"] = printed.data
                del printed
                _release_memory()  # WeasyPrint's heap, before the EPUB is made
            else:
                data = cache.blob(stored_pdf.files["pdf"])
                if data is None:
                    raise BuildFailed([error("cache-damaged", "the cached PDF could not be read", file=cache.root,
                                             hint="build again with --clean")])
                outputs["pdf"] = data
            pdf_diagnostics, page_map, pages = stored_pdf.meta
            diagnostics += pdf_diagnostics
            if (pdf_profile or book.config.pdf_profile) == "print":
                # The cover goes with the interior it was laid out for: its spine from that page count.
                outputs["cover"], cover_diagnostics = _wrap(book, pages, cache, keys, styles, made, stage)
                diagnostics += cover_diagnostics

        if html_started is not None:
            if html_files is None:  # made by the text worker while the PDF was laid out
                assert text is not None
                html_files = text.result()
            cache.put(html_key, files=html_files)
            timings.append(("html", time.perf_counter() - html_started))
            made.append("html")
        if html_files is not None:
            outputs["html"] = html_files
        workers.finish("text")

        if "cover" in workers.running:
            started = time.perf_counter()
            generated = workers.running["cover"].result()
            workers.finish("cover")
            cover_drawn = True
            timings.append(("cover", time.perf_counter() - started))

        if "epub" in formats:
            epub_key = _epub_key(keys, styles, cover_key, page_map)
            stored = cache.get(epub_key)
            files = stored.file_bytes(cache) if stored else None
            if files is None:
                if cover_key is not None and generated is None:  # only if the cache lost it since
                    draw_cover_here()
                started = stage("render: EPUB")
                files = {"epub": render_epub(book, cover=book_cover(book, generated=generated), pages=page_map)}
                cache.put(epub_key, files=files)
                timings.append(("epub", time.perf_counter() - started))
                made.append("epub")
            outputs["epub"] = files["epub"]
        if cover_drawn:
            cache.put_value(cover_key, generated)
            made.append("cover")

    paths = output_paths(book, out_dir)
    files = tuple((paths[fmt], outputs[fmt]) for fmt in (*FORMATS, "cover") if fmt in outputs)
    if not write:
        return BuildResult(book, (), tuple(diagnostics), tuple(timings), tuple(made), converted, files, page_map)
    started = stage(f"write: {out_dir}")
    if strict:
        refuse_warnings(diagnostics)  # before anything is written: a failed build writes nothing
    written = write_outputs(book, out_dir, files, force=force)
    diagnostics += written.notes
    if cache.stored_bytes:
        cache.prune()
    timings.append(("write", time.perf_counter() - started))
    return BuildResult(book, written.paths, tuple(diagnostics), tuple(timings), tuple(made), converted, (), page_map)


def write_outputs(book: Book, out_dir: Path, files: tuple[tuple[Path, bytes | dict[str, bytes]], ...], *,
                  force: bool = False) -> Written:
    """Put every output (a file, or a folder of files) in place, all at once (see `write.commit`)."""
    return commit(out_dir, {path.name: data for path, data in files}, force=force, protect=book.root)


def _wrap(book: Book, pages: int, cache: Cache, keys: _Keys, styles: _StyleInputs, made: list[str],
          stage: Callable[[str], float]) -> tuple[bytes, tuple[Diagnostic, ...]]:
    """The print edition's full-wrap cover, for an interior of `pages` pages (see `wrap`)."""
    from .wrap import author_photo

    photo = author_photo(book)
    key = keys.edition("wrap", styles, pages, repr(book.config), photo and file_digest(photo))
    stored = cache.get(key)
    data = cache.blob(stored.files["pdf"]) if stored else None
    if stored is None or data is None:
        from .wrap import render_wrap

        stage("render: cover (back, spine and front)")
        made_wrap = render_wrap(book, pages=pages)
        stored = cache.put(key, files={"pdf": made_wrap.data}, meta=made_wrap.diagnostics)
        made.append("wrap")
        data = made_wrap.data
    return data, stored.meta

