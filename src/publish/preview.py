"""`publish preview`: serve the web edition on 127.0.0.1, rebuild it on save, reload the open page.

The site lives in memory: every build is the dict of files `render_html` makes (the very files
`publish build` writes), swapped in whole when it is ready. Chapters are re-parsed only when
their text changed (`parse_book(cache=...)`), so saving one chapter of a long novel costs that
chapter's Markdown plus the cheap book-wide pass. A book with errors is served as a page listing
them, and the server keeps running until they are fixed.

The page learns of a new build through Server-Sent Events: the HTTP server from the standard
library is enough for one author's browser, so no web framework is pulled in (MkDocs serves its
live reload the same way, from wsgiref).
"""

from __future__ import annotations

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
from urllib.parse import unquote, urlsplit

import watchfiles

from .diagnostics import BuildFailed, Diagnostic, Severity, error
from .html import render_html, static_files
from .manuscript import load_manuscript
from .parse import parse_book
from .templates import STYLES_DIR, render

HOST = "127.0.0.1"  # never another interface: a manuscript in progress is private
DEFAULT_PORT = 8000
EVENTS_PATH = "/__publish__/events"
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
    """Builds the web edition in memory, converting only chapters whose text changed."""

    def __init__(self, book_dir: Path, *, source_date_epoch: str | None = None):
        self.book_dir = book_dir
        self.source_date_epoch = source_date_epoch
        self._chapters: dict[str, str] = {}  # Source.digest -> chapter_html
        self._generation = 0

    def build(self, *, changed: tuple[Path, ...] = ()) -> Site:
        """The web edition as the book folder is now; never raises: any problem, the book's or a
        bug's, is a page listing it, and the next save builds again."""
        started = time.perf_counter()
        self._generation += 1
        known, converted = len(self._chapters), 0
        try:
            manuscript = load_manuscript(self.book_dir)
            try:
                book = parse_book(manuscript, source_date_epoch=self.source_date_epoch, cache=self._chapters)
            finally:
                # Keep only the chapters as they are now, so a long session does not grow without end.
                current = {s.digest for s in manuscript.sources}
                converted = len(self._chapters) - known
                for digest in set(self._chapters) - current:
                    del self._chapters[digest]
            files = render_html(book, live_reload=self._generation)
        except BuildFailed as failure:
            return self._failed(failure.diagnostics, started, converted, changed)
        except Exception as exc:  # noqa: BLE001 - a bug must not end the preview: it is shown like any error
            if os.environ.get("PUBLISH_DEBUG"):
                traceback.print_exc()
            self._chapters.clear()  # whatever state led here is not trusted for the next build
            problem = error("internal", f"publish failed while rebuilding: {type(exc).__name__}: {exc}",
                            hint="this is a bug in publish, not in your book: please report it (PUBLISH_DEBUG=1 "
                                 "shows the traceback). The preview goes on and builds again on the next save")
            return self._failed((problem,), started, converted, changed)
        return Site(self._generation, files, book.diagnostics, False, time.perf_counter() - started, converted, changed)

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


class _Hub:
    """The current site, and a way to wait until a newer one is published."""

    def __init__(self, site: Site):
        self.site = site
        self.closed = False
        self._changed = threading.Condition()

    def publish(self, site: Site) -> None:
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
            self._events()
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

    def _events(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        hub, seen = self.server.hub, None
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
    new `Site` (from the watcher thread), `log` with each HTTP request line.
    """

    def __init__(self, book_dir: Path, *, port: int = DEFAULT_PORT, source_date_epoch: str | None = None,
                 on_build: Callable[[Site], None] = lambda _: None, log: Callable[[str], None] = lambda _: None,
                 watch_styles: bool = True):
        self.book_dir = book_dir
        self.on_build = on_build
        self._rebuilder = Rebuilder(book_dir, source_date_epoch=source_date_epoch)
        self._hub = _Hub(self._rebuilder.build())
        self._watched = (book_dir, STYLES_DIR) if watch_styles else (book_dir,)
        self._stop = threading.Event()
        self._watching = threading.Event()  # set once the watcher sees saves
        self._httpd = _Server((HOST, port), _Handler)  # OSError (e.g. port in use) reaches the caller
        self._httpd.hub = self._hub
        self._httpd.log = log
        self._threads: list[threading.Thread] = []
        on_build(self._hub.site)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def site(self) -> Site:
        return self._hub.site

    def __enter__(self) -> PreviewServer:
        self._threads = [threading.Thread(target=self._httpd.serve_forever, name="preview-http", daemon=True),
                         threading.Thread(target=self._watch, name="preview-watch", daemon=True)]
        for thread in self._threads:
            thread.start()
        self._watching.wait(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._hub.close()
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
        try:
            self.on_build(site)
        except Exception as exc:  # noqa: BLE001 - printing a report must not stop the watcher
            print(f"publish preview: could not report build {site.generation}: {exc}", file=sys.stderr)

    def _report(self, problem: Diagnostic) -> None:
        self._show(self._rebuilder.failure(problem))
