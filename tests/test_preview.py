"""The preview server without a browser: incremental builds, what it serves, where, and errors."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from publish.html import render_html
from publish.manuscript import load_manuscript
from publish.parse import parse_book
from publish.preview import EVENTS_PATH, PreviewServer, Rebuilder, Site

REPO = Path(__file__).resolve().parents[1]
CHAPTER = "02-power-games.md"


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "manuscript", tmp_path / "book")
    return tmp_path / "book"


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as failure:
        with failure:
            return failure.code, failure.read()


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_only_the_saved_chapter_is_parsed_again(book: Path) -> None:
    rebuilder = Rebuilder(book, cache_dir=book.parent / "cache")
    first = rebuilder.build()
    assert (first.failed, first.converted) == (False, 6)
    assert rebuilder.build().converted == 0
    chapter = book / CHAPTER
    chapter.write_text(chapter.read_text() + "\nA sentence added while previewing.\n")
    again = rebuilder.build()
    assert again.converted == 1
    assert b"A sentence added while previewing." in again.files["index.html"]


def test_an_incremental_build_is_the_same_as_a_fresh_one(book: Path) -> None:
    rebuilder = Rebuilder(book, cache_dir=book.parent / "cache")
    rebuilder.build()
    chapter = book / "01-leadership.md"
    chapter.write_text(chapter.read_text() + "\n## Fear {#fear}\n\nSee [the games](02-power-games.md).[^n]\n\n[^n]: A note.\n")
    (book / CHAPTER).write_text((book / CHAPTER).read_text() + "\nBack to [fear](01-leadership.md#fear).\n")
    incremental = rebuilder.build()
    fresh = render_html(parse_book(load_manuscript(book)), live_reload=incremental.generation)
    assert incremental.files == fresh


def test_the_published_edition_has_no_live_reload(book: Path) -> None:
    page = render_html(parse_book(load_manuscript(book)))["index.html"]
    assert b"__publish__" not in page
    assert b"__publish__/live-reload.js" in Rebuilder(book, cache_dir=book.parent / "cache").build().files["index.html"]


@pytest.fixture()
def server(book: Path) -> Iterator[tuple[PreviewServer, list[Site]]]:
    sites: list[Site] = []
    with PreviewServer(book, port=0, on_build=sites.append, watch_styles=False, cache_dir=book.parent / "cache") as running:
        yield running, sites


def test_serves_the_web_edition_on_localhost_only(server: tuple[PreviewServer, list[Site]]) -> None:
    running, _ = server
    assert running.url.startswith("http://127.0.0.1:")
    port = int(running.url.rsplit(":", 1)[1].strip("/"))
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for address in addresses:  # another interface of this machine cannot reach it
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=2).close()
    status, page = fetch(running.url)
    assert status == 200 and b"Whiplash" in page
    assert fetch(running.url + "styles/web.css")[0] == 200
    css = fetch(running.url + "styles/fonts.css")[1].decode()
    assert all(fetch(running.url + "styles/" + url)[0] == 200 for url in re.findall(r'url\("([^"]+)"\)', css))
    assert fetch(running.url + "__publish__/live-reload.js")[0] == 200
    for outside in ("book.yaml", CHAPTER, "../book.yaml", "%2e%2e/book.yaml", "styles/../../book.yaml"):
        assert fetch(running.url + outside)[0] == 404, outside


def test_unchanged_files_are_not_sent_again(server: tuple[PreviewServer, list[Site]]) -> None:
    running, _ = server
    font = running.url + "styles/" + re.findall(r'url\("([^"]+)"\)', fetch(running.url + "styles/fonts.css")[1].decode())[0]
    with urllib.request.urlopen(font) as response:
        etag = response.headers["ETag"]
        assert response.headers["Cache-Control"] == "no-cache"
    request = urllib.request.Request(font, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request)
    assert not_modified.value.code == 304
    not_modified.value.close()


def test_saving_a_chapter_rebuilds_and_tells_the_page(server: tuple[PreviewServer, list[Site]], book: Path) -> None:
    running, sites = server
    host, port = running.url[len("http://"):].strip("/").split(":")
    stream = http.client.HTTPConnection(host, int(port), timeout=10)
    stream.request("GET", EVENTS_PATH)
    events = stream.getresponse()
    assert events.getheader("Content-Type") == "text/event-stream"
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(events.readline, b"")), daemon=True)
    reader.start()
    wait_for(lambda: b"data: 1\n" in lines)

    chapter = book / CHAPTER
    chapter.write_text(chapter.read_text() + "\nSaved while the server runs.\n")
    wait_for(lambda: len(sites) >= 2)
    assert sites[-1].converted == 1
    assert sites[-1].changed == (chapter.resolve(),) or chapter.name in {p.name for p in sites[-1].changed}
    assert b"Saved while the server runs." in fetch(running.url)[1]
    wait_for(lambda: f"data: {sites[-1].generation}\n".encode() in lines)
    running.close()  # ends the stream, so the reader stops
    reader.join(timeout=10)
    events.close()
    stream.close()


def test_an_error_shows_in_the_page_and_the_server_keeps_running(server: tuple[PreviewServer, list[Site]],
                                                                  book: Path) -> None:
    running, sites = server
    chapter = book / CHAPTER
    good = chapter.read_text()
    chapter.write_text(good + "\nSee ![this](no-such-place.png).\n")
    wait_for(lambda: len(sites) >= 2)
    assert sites[-1].failed
    status, page = fetch(running.url)
    assert status == 200
    assert b"The book has 1 error" in page and b"no-such-place" in page and b"02-power-games.md:" in page
    assert b"__publish__/live-reload.js" in page  # so the page reloads itself once the error is fixed
    chapter.write_text(good)
    wait_for(lambda: len(sites) >= 3 and not sites[-1].failed)
    assert b"The book has" not in fetch(running.url)[1]


def test_a_port_in_use_is_an_error_the_caller_sees(book: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            PreviewServer(book, port=taken.getsockname()[1])


# -- every bad save: the page shows it, the terminal says it, and the next save rebuilds ---------


def page_after_next_build(running: PreviewServer, sites: list[Site], seen: int) -> tuple[Site, bytes]:
    """The site and page once a build newer than the `seen` first ones has been published,
    and the burst of builds one save can cause has settled."""
    wait_for(lambda: len(sites) > seen)
    time.sleep(0.6)  # a save made of several writes may bring one more build
    return sites[-1], fetch(running.url)[1]


@pytest.fixture()
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[threading.ExceptHookArgs]:
    caught: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", caught.append)
    return caught


def test_the_preview_survives_every_bad_save_and_recovers_from_each(
        server: tuple[PreviewServer, list[Site]], book: Path, thread_errors: list,
        capfd: pytest.CaptureFixture[str]) -> None:
    running, sites = server
    config = book / "book.yaml"
    chapter = book / CHAPTER
    good_config, good_chapter = config.read_text(), chapter.read_bytes()
    heading = b"Professional Relationships and Power Games"  # the chapter's title, in the contents
    assert heading in fetch(running.url)[1]

    def save(path: Path, data: bytes | None) -> tuple[Site, bytes]:
        seen = len(sites)
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
        return page_after_next_build(running, sites, seen)

    def recovered(site: Site, page: bytes) -> None:
        assert not site.failed and b"The book has" not in page and b"Whiplash" in page

    # 1. a date no calendar has
    site, page = save(config, (good_config + "date: 2020-02-30\n").encode())
    assert site.failed and [d.code for d in site.diagnostics] == ["config-value"]
    assert b"2020-02-30" in page and b"is not a date" in page and b"book.yaml:" in page
    recovered(*save(config, good_config.encode()))

    # 2. book.yaml deleted
    site, page = save(config, None)
    assert site.failed and b"config-missing" in page
    recovered(*save(config, good_config.encode()))

    # 3. a chapter deleted while an editor has it open
    with chapter.open("rb"):
        site, page = save(chapter, None)
        recovered(site, page)
        assert heading not in page
    site, page = save(chapter, good_chapter)
    recovered(site, page)
    assert heading in page

    # 4. a binary file saved as a chapter
    site, page = save(chapter, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 64)
    assert site.failed and b"encoding" in page and b"not UTF-8" in page
    recovered(*save(chapter, good_chapter))

    assert running._threads[1].is_alive() and thread_errors == []
    assert "Traceback" not in capfd.readouterr().err


def test_an_internal_error_in_a_rebuild_is_a_page_and_the_next_save_rebuilds(
        server: tuple[PreviewServer, list[Site]], book: Path, thread_errors: list,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import publish.plan

    running, sites = server
    real = publish.plan.render_html
    monkeypatch.setattr(publish.plan, "render_html", lambda *a, **k: (_ for _ in ()).throw(KeyError("boom")))
    chapter = book / CHAPTER
    seen = len(sites)
    chapter.write_text(chapter.read_text() + "\nOne more line.\n")
    site, page = page_after_next_build(running, sites, seen)
    assert site.failed and [d.code for d in site.diagnostics] == ["internal"]
    assert b"KeyError" in page and b"a bug in publish" in page
    monkeypatch.setattr(publish.plan, "render_html", real)
    seen = len(sites)
    chapter.write_text(chapter.read_text() + "\nAnd another.\n")
    site, page = page_after_next_build(running, sites, seen)
    assert not site.failed and b"And another." in page
    assert running._threads[1].is_alive() and thread_errors == []
    assert "Traceback" not in capfd.readouterr().err


def test_the_terminal_shows_a_bad_save_as_a_diagnostic_and_then_the_rebuild(book: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PUBLISH_DEBUG"}
    process = subprocess.Popen([str(Path(sys.executable).with_name("publish")), "preview", str(book), "--port", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("Serving" in line for line in lines), timeout=60)
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))[0]
        config = book / "book.yaml"
        good = config.read_text()
        config.write_text(good + "date: 2020-02-30\n")
        wait_for(lambda: any("failed" in line for line in lines), timeout=30)
        assert b"is not a date" in fetch(url)[1]
        config.write_text(good)
        wait_for(lambda: any("rebuilt" in line for line in lines), timeout=30)
        assert b"The book has" not in fetch(url)[1]
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
        process.stderr.close()
    said = "".join(lines)
    assert "book.yaml:" in said and "error config-value: 'date': '2020-02-30' is not a date" in said
    assert "Traceback" not in said


# --- issue 13: hostile clients and a folder that goes away ------------------------------------------

def _raw_get(url: str, path: str, host: str) -> int:
    address, port = url[len("http://"):].strip("/").split(":")
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_only_requests_for_its_own_address_are_answered(server: tuple[PreviewServer, list[Site]]) -> None:
    # DNS rebinding: a page at evil.example, its name pointed at 127.0.0.1, sends Host: evil.example.
    running, _ = server
    port = running.url.rsplit(":", 1)[1].strip("/")
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "", f"127.0.0.1:{int(port) + 1}"):
        assert _raw_get(running.url, "/", host) == 421, host
        assert _raw_get(running.url, EVENTS_PATH, host) == 421, host
    assert _raw_get(running.url, "/", f"127.0.0.1:{port}") == 200
    assert _raw_get(running.url, "/", f"localhost:{port}") == 200
    assert _raw_get(running.url, "/", f"LOCALHOST:{port}") == 200


def test_a_client_that_resets_the_connection_gets_no_traceback(server: tuple[PreviewServer, list[Site]],
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    import struct
    running, _ = server
    address, port = running.url[len("http://"):].strip("/").split(":")
    for _ in range(5):
        client = socket.create_connection((address, int(port)), timeout=10)
        client.sendall(f"GET /styles/fonts/GentiumBookPlus-Regular.ttf HTTP/1.1\r\nHost: {address}:{port}\r\n\r\n".encode())
        client.recv(1)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        client.close()
    time.sleep(0.5)
    assert fetch(running.url)[0] == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err


def test_the_preview_recovers_when_the_book_folder_is_deleted_and_recreated(
        server: tuple[PreviewServer, list[Site]], book: Path, tmp_path: Path) -> None:
    running, sites = server
    saved = tmp_path / "saved"
    shutil.copytree(book, saved)
    shutil.rmtree(book)
    wait_for(lambda: sites[-1].failed, timeout=60)
    assert b"book-missing" in fetch(running.url)[1] or b"does not exist" in fetch(running.url)[1]
    shutil.copytree(saved, book)
    wait_for(lambda: not sites[-1].failed, timeout=60)
    assert b"Whiplash" in fetch(running.url)[1]
    count = len(sites)
    chapter = book / CHAPTER
    chapter.write_text(chapter.read_text() + "\nWritten into the new folder.\n")  # and the new folder is watched
    wait_for(lambda: len(sites) > count and b"Written into the new folder." in fetch(running.url)[1], timeout=60)


# --- the print edition: the build's plan, laid out after the web edition ---------------------------


def test_without_the_print_edition_its_page_is_not_found(server: tuple[PreviewServer, list[Site]]) -> None:
    running, _ = server
    assert running.print_edition is None
    for path in ("__publish__/print", "__publish__/print.pdf", "__publish__/print-events"):
        assert fetch(running.url + path)[0] == 404


@pytest.mark.e2e
def test_the_print_edition_is_laid_out_after_the_web_edition_and_again_after_a_save(book: Path, tmp_path: Path) -> None:
    import io

    from pypdf import PdfReader

    from publish.build import build

    epoch = "1700000000"
    sites: list[Site] = []
    with PreviewServer(book, port=0, on_build=sites.append, watch_styles=False, cache_dir=tmp_path / "cache",
                       source_date_epoch=epoch, print_edition=True) as running:
        wait_for(lambda: running.print_edition.pdf is not None, timeout=180)
        first = running.print_edition
        assert (first.built_for, first.failed, first.laying_out) == (1, False, None)
        status, page = fetch(running.print_url)
        assert status == 200 and b'src="/__publish__/print.pdf' in page
        assert b'data-events="/__publish__/print-events"' in page  # it reloads when the next PDF is laid out
        status, pdf = fetch(running.url + "__publish__/print.pdf")
        assert status == 200 and pdf == first.pdf
        # The PDF `publish build` ships, laid out afresh: the same plan makes the same bytes.
        shipped = build(book, tmp_path / "out", formats=("pdf",), source_date_epoch=epoch, clean=True,
                        cache_dir=tmp_path / "other-cache")
        assert pdf == next(p for p in shipped.outputs if p.suffix == ".pdf").read_bytes()

        chapter = book / CHAPTER
        chapter.write_text(chapter.read_text() + "\nA sentence for the printer.\n")
        wait_for(lambda: len(sites) >= 2)
        assert b"A sentence for the printer." in fetch(running.url)[1]
        assert running.print_edition.built_for == 1  # the web edition first; the PDF is still being laid out
        wait_for(lambda: (running.print_edition.built_for or 0) >= 2, timeout=180)
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(running.print_edition.pdf)).pages)
        assert "A sentence for the printer." in " ".join(text.split())
