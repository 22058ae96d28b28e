"""`publish preview`: serve the book on 127.0.0.1, rebuild it on save, reload the open page.

Every build runs the plan `publish build` runs (see `plan`), with the same cache: first the web
edition, made here, in memory, the very files `build` writes but for the live-reload script; then,
in a worker process, the print edition, served at /__publish__/print: the web edition first so that
the page the author reads is back within a moment of a save, the PDF when its layout is done. Only
chapters whose text changed are parsed again, and the print edition's layout reads the book the web
edition's build kept. A book with errors is served as a page listing them, and the server keeps
running until they are fixed.

The page learns of a new build through Server-Sent Events: the HTTP server from the standard
library is enough for one author's browser, so no web framework is pulled in (MkDocs serves its
live reload the same way, from wsgiref).
"""

from __future__ import annotations

import dataclasses
import hashlib
import mimetypes
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import watchfiles

from .cache import Cache, default_root
from .diagnostics import BuildFailed, Diagnostic, Severity, error
from .html import static_files
from .manuscript import load_manuscript
from .plan import Request, make, plan_for
from .templates import STYLES_DIR, render
from .workers import Worker

HOST = "127.0.0.1"  # never another interface: a manuscript in progress is private
DEFAULT_PORT = 8000
EVENTS_PATH = "/__publish__/events"
PRINT_PATH = "/__publish__/print"  # the page that shows the print edition
PRINT_PDF_PATH = "/__publish__/print.pdf"
PRINT_EVENTS_PATH = "/__publish__/print-events"
SCRIPT_PATH = "/__publish__/live-reload.js"
HEARTBEAT = 10.0  # seconds between keep-alive comments on the event stream


@dataclass(frozen=True, slots=True)
class Site:
    """One build of the web edition, as served."""

    generation: int
    files: Mapping[str, bytes]
    diagnostics: tuple[Diagnostic, ...]
    failed: bool  # the book has errors: `files` holds the page that lists them
    seconds: float  # how long the build took
    converted: int  # chapters whose Markdown had to be converted (the others came from the cache)
    changed: tuple[Path, ...] = ()  # the saved files that caused this build


class Rebuilder:
    """Builds the web edition in memory by the build's plan, converting only chapters whose text changed."""

    def __init__(self, book_dir: Path, *, source_date_epoch: str | None = None, cache_dir: Path | None = None):
        self.book_dir = book_dir
        self.source_date_epoch = source_date_epoch
        self.cache_dir = cache_dir or default_root()
        self._generation = 0

    def build(self, *, changed: tuple[Path, ...] = ()) -> Site:
        """The web edition as the book folder is now; never raises: any problem, the book's or a
        bug's, is a page listing it, and the next save builds again."""
        started = time.perf_counter()
        self._generation += 1
        try:
            manuscript = load_manuscript(self.book_dir)
            request = Request(("html",), source_date_epoch=self.source_date_epoch, live_reload=self._generation)
            made = make(plan_for(manuscript, request, cache=Cache(self.cache_dir)))
        except BuildFailed as failure:
            return self._failed(failure.diagnostics, started, 0, changed)
        except Exception as exc:
            if os.environ.get("PUBLISH_DEBUG"):
                traceback.print_exc()
            problem = error("internal", f"publish failed while rebuilding: {type(exc).__name__}: {exc}",
                            hint="this is a bug in publish, not in your book: please report it (PUBLISH_DEBUG=1 "
                                 "shows the traceback). The preview goes on and builds again on the next save")
            return self._failed((problem,), started, 0, changed)
        return Site(self._generation, made.outputs["html"], made.diagnostics, False,  # type: ignore[arg-type]
                    time.perf_counter() - started, made.converted, changed)

    def failure(self, *problems: Diagnostic) -> Site:
        """A new build that is only a page listing `problems` (e.g. the folder cannot be watched)."""
        self._generation += 1
        return self._failed(problems, time.perf_counter(), 0, ())

    def _failed(self, diagnostics: tuple[Diagnostic, ...], started: float, converted: int,
                changed: tuple[Path, ...]) -> Site:
        page = render("preview-error.html", diagnostics=diagnostics, book_dir=self.book_dir,
                      errors=sum(d.severity is Severity.ERROR for d in diagnostics), generation=self._generation)
        files = {**static_files(), "index.html": page.encode()}
        return Site(self._generation, files, diagnostics, True, time.perf_counter() - started, converted, changed)


# -- the print edition ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrintEdition:
    """The print edition as the preview shows it: the newest PDF laid out, and what is under way."""

    generation: int  # of this state: the page reloads when it changes
    pdf: bytes | None = None  # the newest PDF laid out (kept while the next one is laid out)
    built_for: int | None = None  # the web build whose book the PDF shows
    laying_out: int | None = None  # the web build whose PDF is being laid out now
    diagnostics: tuple[Diagnostic, ...] = ()  # the last layout's (its errors, when it failed)
    failed: bool = False
    seconds: float = 0.0


def lay_out_print(book_dir: Path, source_date_epoch: str | None, cache_dir: Path) -> tuple[bytes, tuple[Diagnostic, ...]]:
    """In the printer's worker: the print edition by the build's plan (the book, kept by the web
    edition's build, comes from the cache)."""
    manuscript = load_manuscript(book_dir)
    made = make(plan_for(manuscript, Request(("pdf",), source_date_epoch=source_date_epoch), cache=Cache(cache_dir)))
    return made.outputs["pdf"], made.diagnostics  # type: ignore[return-value]


class _Printer:
    """Lays out the print edition in a worker process after each good web build. A save made
    while a layout runs does not stop it (an author who saves often would never see a PDF): the
    newest build is laid out next, and the builds between are skipped."""

    def __init__(self, rebuilder: Rebuilder, publish: Callable[[PrintEdition], None]):
        self.rebuilder = rebuilder
        self.publish = publish
        self.state = PrintEdition(0)
        self._wanted: int | None = None
        self._stopped = False
        self._worker: Worker | None = None
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._loop, name="preview-print", daemon=True)

    def want(self, generation: int) -> None:
        with self._changed:
            self._wanted = generation
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            if self._worker is not None:
                self._worker.close(failed=True)  # nobody will look at it
            self._changed.notify_all()

    def _show(self, *, reload: bool = True, **changes: object) -> None:
        """Publish the new state; the page reloads only when it has something new to show (a PDF,
        or why there is none), not when a layout starts: a PDF viewer loses its place on a reload."""
        self.state = dataclasses.replace(self.state, generation=self.state.generation + reload, **changes)
        self.publish(self.state)

    def _loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopped or self._wanted is not None)
                if self._stopped:
                    return
                generation, self._wanted = self._wanted, None
                worker = self._worker = Worker(warm_up=("weasyprint", "publish.plan", "publish.pdf"))
            self._show(laying_out=generation, reload=False)
            started = time.perf_counter()
            try:
                worker.submit("publish.preview:lay_out_print", self.rebuilder.book_dir, self.rebuilder.source_date_epoch,
                              self.rebuilder.cache_dir)
                pdf, diagnostics = worker.result()
            except BuildFailed as failure:
                self._show(laying_out=None, diagnostics=failure.diagnostics, failed=True,
                           seconds=time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - the worker's bug, or the worker stopped: shown, not raised
                if self._stopped:
                    return
                problem = error("internal", f"publish failed while laying out the print edition: {exc}",
                                hint="this is a bug in publish, not in your book: please report it. The preview "
                                     "lays it out again on the next save")
                self._show(laying_out=None, diagnostics=(problem,), failed=True, seconds=time.perf_counter() - started)
            else:
                self._show(pdf=pdf, built_for=generation, laying_out=None, diagnostics=diagnostics, failed=False,
                           seconds=time.perf_counter() - started)
            finally:
                with self._changed:
                    self._worker = None
                worker.close(failed=self._stopped)


class _Hub:
    """The current site (or print edition), and a way to wait until a newer one is published."""

    def __init__(self, site: Any):
        self.site = site
        self.closed = False
        self._changed = threading.Condition()

    def publish(self, site: Any) -> None:
        with self._changed:
            self.site = site
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait_newer(self, generation: int | None, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.closed or self.site.generation != generation, timeout=timeout)
            return self.site.generation


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not keep the process alive
    hub: _Hub
    print_hub: _Hub | None  # None: the print edition is not laid out
    book_dir: Path
    log: Callable[[str], None]

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up or resets the connection mid-answer is its own business: one
        line in the log, not socketserver's traceback on the terminal."""
        failure = sys.exc_info()[1]
        if isinstance(failure, (ConnectionError, TimeoutError)):
            return
        self.log(f"publish preview: a request failed: {type(failure).__name__}: {failure}")

    def hosts(self) -> frozenset[str]:
        """The `Host` headers a page of this server sends: its own address, by number or as localhost."""
        port = self.server_address[1]
        return frozenset({f"{HOST}:{port}", f"localhost:{port}"})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "publish-preview"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        # DNS rebinding: a web page whose name is made to point at 127.0.0.1 would read the book
        # in progress; its requests carry its own name in `Host`, so only this server's own is served.
        if (self.headers.get("Host") or "").lower() not in self.server.hosts():
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "this preview answers only to its own address")
            return
        path = unquote(urlsplit(self.path).path)
        if path == EVENTS_PATH:
            self._events(self.server.hub)
            return
        if path in (PRINT_PATH, PRINT_PDF_PATH, PRINT_EVENTS_PATH):
            self._print(path)
            return
        if path == SCRIPT_PATH:
            self._send((STYLES_DIR / "live-reload.js").read_bytes(), "text/javascript")
            return
        name = path.lstrip("/")
        if name == "" or name.endswith("/"):
            name += "index.html"
        data = self.server.hub.site.files.get(name)  # a lookup in memory: no path ever reaches the disk
        if data is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not in the web edition")
            return
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(data, kind + ("; charset=utf-8" if kind.startswith("text/") else ""))

    def _send(self, data: bytes, content_type: str) -> None:
        etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        # Revalidate every time (cheap, thanks to the ETag) so a reload always shows the newest build.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(data)

    def _print(self, path: str) -> None:
        hub = self.server.print_hub
        if hub is None:
            self.send_error(HTTPStatus.NOT_FOUND, "the print edition is not laid out (publish preview --no-print)")
            return
        if path == PRINT_EVENTS_PATH:
            self._events(hub)
            return
        state: PrintEdition = hub.site
        if path == PRINT_PDF_PATH:
            if state.pdf is None:
                self.send_error(HTTPStatus.NOT_FOUND, "the print edition is not laid out yet")
            else:
                self._send(state.pdf, "application/pdf")
            return
        page = render("preview-print.html", state=state, book_dir=self.server.book_dir, pdf_path=PRINT_PDF_PATH,
                      events_path=PRINT_EVENTS_PATH, errors=sum(d.severity is Severity.ERROR for d in state.diagnostics))
        self._send(page.encode(), "text/html; charset=utf-8")

    def _events(self, hub: _Hub) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = None
        try:
            self.wfile.write(b"retry: 500\n\n")
            while not hub.closed:
                generation = hub.wait_newer(seen, HEARTBEAT)
                if generation != seen:
                    self.wfile.write(f"data: {generation}\n\n".encode())
                    seen = generation
                else:
                    self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed or reloaded

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        self.server.log(format % args)


class PreviewServer:
    """Serves a book's web edition and rebuilds it when a file in the book folder (or styles/) is saved.

    Use it as a context manager; `url` is where the book is served. `on_build` is called with each
    new `Site` (from the watcher thread), `log` with each HTTP request line. With `print_edition`,
    each good build's print edition is laid out after it (see `_Printer`) and shown at `print_url`;
    `on_print` is called with each new `PrintEdition`.
    """

    def __init__(self, book_dir: Path, *, port: int = DEFAULT_PORT, source_date_epoch: str | None = None,
                 on_build: Callable[[Site], None] = lambda _: None, log: Callable[[str], None] = lambda _: None,
                 watch_styles: bool = True, print_edition: bool = False, cache_dir: Path | None = None,
                 on_print: Callable[[PrintEdition], None] = lambda _: None):
        self.book_dir = book_dir
        self.on_build = on_build
        self.on_print = on_print
        self._rebuilder = Rebuilder(book_dir, source_date_epoch=source_date_epoch, cache_dir=cache_dir)
        self._hub = _Hub(self._rebuilder.build())
        self._print_hub = _Hub(PrintEdition(0)) if print_edition else None
        self._printer = _Printer(self._rebuilder, self._printed) if print_edition else None
        self._watched = (book_dir, STYLES_DIR) if watch_styles else (book_dir,)
        self._stop = threading.Event()
        self._watching = threading.Event()  # set once the watcher sees saves
        self._httpd = _Server((HOST, port), _Handler)  # OSError (e.g. port in use) reaches the caller
        self._httpd.hub = self._hub
        self._httpd.print_hub = self._print_hub
        self._httpd.book_dir = book_dir
        self._httpd.log = log
        self._threads: list[threading.Thread] = []
        on_build(self._hub.site)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def print_url(self) -> str:
        return self.url.rstrip("/") + PRINT_PATH

    @property
    def site(self) -> Site:
        return self._hub.site

    @property
    def print_edition(self) -> PrintEdition | None:
        return self._print_hub.site if self._print_hub is not None else None

    def __enter__(self) -> PreviewServer:
        self._threads = [threading.Thread(target=self._httpd.serve_forever, name="preview-http", daemon=True),
                         threading.Thread(target=self._watch, name="preview-watch", daemon=True)]
        if self._printer is not None:
            self._threads.append(self._printer.thread)
        for thread in self._threads:
            thread.start()
        if self._printer is not None and not self.site.failed:
            self._printer.want(self.site.generation)
        self._watching.wait(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._hub.close()
        if self._printer is not None:
            self._printer.stop()
        if self._print_hub is not None:
            self._print_hub.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def wait(self) -> None:
        """Block until closed; a short timeout keeps Ctrl-C responsive."""
        while not self._stop.wait(0.5):
            pass

    def _watch(self) -> None:
        # The thread must outlive anything a save can do: a failed build is a page (see
        # `Rebuilder.build`), and should the watching itself fail (the folder gone a moment, too
        # many files), it starts again a moment later.
        missing = False
        while not self._stop.is_set():
            if not self.book_dir.is_dir():
                # The folder was deleted (or renamed away): nothing is left to watch, and a watch on
                # the old folder would never see the new one. Say so, wait for it, build it afresh.
                self._watching.set()  # nothing to wait for
                if not missing:
                    missing = True
                    self._show(self._rebuilder.build())
                if self._stop.wait(0.5) or not self.book_dir.is_dir():
                    continue
                self._stop.wait(0.5)  # let whatever recreates it finish writing
                self._show(self._rebuilder.build())
            missing = False
            try:
                missing = self._watch_once()
            except Exception as exc:  # noqa: BLE001 - see above
                self._watching.set()
                self._report(error("watch", f"could not watch '{self.book_dir}' for changes: {exc}",
                                   file=self.book_dir, hint="the preview tries again in a second"))
                self._stop.wait(1.0)

    def _watch_once(self) -> bool:
        """Watch until stopped (False), or until the book folder is gone, which the last build showed (True)."""
        # step: how long a burst of saves may go quiet before a build starts; an editor's save is
        # often a write and a rename, and 30 ms joins them while keeping the reload quick.
        # yield_on_timeout: an empty batch every rust_timeout ms says the watch is set up, so that
        # `__enter__` returns only once a save can no longer go unseen.
        for changes in watchfiles.watch(*self._watched, stop_event=self._stop, step=30, debounce=400,
                                        raise_interrupt=False, yield_on_timeout=True, rust_timeout=250):
            self._watching.set()
            if self._stop.is_set():
                break
            if not changes:
                continue
            changed = tuple(sorted({Path(path) for _, path in changes}))
            self._show(self._rebuilder.build(changed=changed))
            if not self.book_dir.is_dir():
                return True  # see `_watch`
        return False

    def _show(self, site: Site) -> None:
        self._hub.publish(site)
        if self._printer is not None and not site.failed:
            self._printer.want(site.generation)  # after the web edition, which the author sees at once
        try:
            self.on_build(site)
        except Exception as exc:  # noqa: BLE001 - printing a report must not stop the watcher
            print(f"publish preview: could not report build {site.generation}: {exc}", file=sys.stderr)

    def _printed(self, state: PrintEdition) -> None:
        assert self._print_hub is not None
        self._print_hub.publish(state)
        try:
            self.on_print(state)
        except Exception as exc:  # noqa: BLE001 - printing a report must not stop the printer
            print(f"publish preview: could not report the print edition: {exc}", file=sys.stderr)

    def _report(self, problem: Diagnostic) -> None:
        self._show(self._rebuilder.failure(problem))
