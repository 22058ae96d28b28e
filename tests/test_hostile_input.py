"""Issue 13: hostile or careless input gets a clear message (file, line, hint), never an internal
error (exit 3), a hang, or an invalid book. Each test is a case the issue found broken."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import yaml
from bookfolder import PNG, snapshot, write_book

from publish import safe_yaml
from publish.cli import EXIT_BOOK, EXIT_OK, main


def run(capsys: pytest.CaptureFixture[str], book: Path, out: Path, *extra: str,
        formats: str = "epub,html") -> tuple[int, str]:
    code = main(["build", str(book), "-o", str(out), "--format", formats, "-q", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def failing(capsys: pytest.CaptureFixture[str], book: Path, out: Path, formats: str = "epub,html") -> str:
    code, err = run(capsys, book, out, formats=formats)
    assert code == EXIT_BOOK, err
    assert "build failed" in err and "hint:" in err
    assert snapshot(out) == {}
    return err


def epub_of(out: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(next(out.glob("*.epub")))


# --- values from book.yaml, metadata blocks and the command line ---------------------------------

@pytest.mark.parametrize("date", ["9999-12-31", "'2108'", "2107-12-31"])
def test_a_date_past_what_a_zip_can_record_still_builds(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        date: str) -> None:
    book = write_book(tmp_path / "book", config=f"title: A Book\nlang: en\ndate: {date}\n")
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK, err
    with epub_of(tmp_path / "out") as epub:
        assert {info.date_time[0] for info in epub.infolist()} == {2107}
        assert epub.testzip() is None


@pytest.mark.parametrize("date", ["2020-02-30", "0000-00-00", "2021-13-01"])
def test_a_date_no_calendar_has_is_an_error_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          date: str) -> None:
    book = write_book(tmp_path / "book", config=f"title: A Book\nlang: en\ndate: {date}\n")
    assert f"book.yaml:3: error config-value: 'date': '{date}' is not a date" in failing(capsys, book, tmp_path / "out")


@pytest.mark.parametrize(("written", "code_point"), [
    (r'title: "a\x01b"', "U+0001"), (r'title: "a\uFFFEb"', "U+FFFE"), (r'title: "a\uD800b"', "U+D800"),
    (r'author: "A\fB"', "U+000C"), (r'spoiler: {text: "It ends\x1b"}', "U+001B"),
    (r'subject: [drums, "jazz\x7f"]', "U+007F"),
])
def test_text_xml_cannot_hold_is_an_error_naming_the_key_and_line(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path, written: str, code_point: str) -> None:
    config = "lang: en\n" + ("title: A Book\n" if not written.startswith("title") else "") + written + "\n"
    line = config.count("\n")
    book = write_book(tmp_path / "book", config=config)
    err = failing(capsys, book, tmp_path / "out")
    key = written.split(":")[0]
    assert f"book.yaml:{line}: error config-value: '{key}': contains the character {code_point}" in err
    assert "no title" not in err


def test_a_metadata_block_with_a_control_character_is_ignored_with_a_warning(capsys: pytest.CaptureFixture[str],
                                                                            tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": '---\nauthor: "A\\fB"\n---\n\n# One\n\nText.\n'})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert re.search(r"01-one\.md:2: warning config-value: 'author': contains the character U\+000C", err)
    with epub_of(tmp_path / "out") as epub:
        assert b"\x0c" not in b"".join(epub.read(n) for n in epub.namelist() if n.endswith((".xhtml", ".opf", ".ncx")))


def test_a_raw_control_byte_in_book_yaml_has_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book")
    (book / "book.yaml").write_bytes(b"title: T\nlang: en\nauthor: A\x01B\n")
    err = failing(capsys, book, tmp_path / "out")
    assert "book.yaml:3: error config-yaml: book.yaml is not valid YAML: unacceptable character #x0001" in err


def billion_laughs(levels: int = 9, under: str = "title") -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + f"\n{under}: *a{levels - 1}\n"


def test_nested_yaml_aliases_are_refused_at_once_with_the_line(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    # Nine levels stand for 9^9 = 387 million values: 44 s and 3 GB before MemoryError, before the fix.
    book = write_book(tmp_path / "book", config="lang: en\n" + billion_laughs())
    err = failing(capsys, book, tmp_path / "out")
    # a5 is the first value past 100,000 (9^6 = 531,441): its line is named.
    assert "book.yaml:7: error config-yaml-size: book.yaml is too large to read: its aliases expand to " \
           "more than 100,000 values (the limit)" in err


def test_nested_aliases_in_a_metadata_block_are_read_as_text_with_a_warning(capsys: pytest.CaptureFixture[str],
                                                                            tmp_path: Path) -> None:
    block = "---\n" + billion_laughs(under="author") + "---\n\n# One\n\nText.\n"
    book = write_book(tmp_path / "book", chapters={"01-one.md": block})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert "warning metadata-yaml: the metadata block is too large to read" in err


def test_the_alias_count_is_linear_in_the_document_not_in_its_expansion() -> None:
    # Counting by walking distinct nodes: a document of n levels costs n steps whatever 9^n is.
    visits = 0
    real = safe_yaml._children

    def counted(node: yaml.Node) -> list[yaml.Node]:
        nonlocal visits
        visits += 1
        return real(node)

    node = yaml.compose(billion_laughs(levels=4))  # 9^4 = 6,561 values: under the limit
    safe_yaml._children, before = counted, visits
    try:
        safe_yaml.check_size(node)
        small = visits - before
        safe_yaml.check_size(yaml.compose(billion_laughs(levels=4) + "b: *a3\nc: *a3\n"))
        assert visits - before - small < small + 10  # two more aliases: a few more visits, not 2 x 6,561
    finally:
        safe_yaml._children = real
    assert small < 200


def test_an_alias_inside_itself_is_refused() -> None:
    with pytest.raises(safe_yaml.YAMLTooLarge, match="refers to the value that contains it"):
        safe_yaml.load("title: &a [x, *a]\n")


def test_yaml_nested_too_deep_for_the_parser_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nsubject: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "error config-yaml-size: book.yaml nests lists or mappings too deeply" in failing(capsys, book,
                                                                                              tmp_path / "out")


@pytest.mark.parametrize("title", ["a\x01b", "", "two\nlines"])
def test_publish_new_refuses_a_title_no_book_can_hold(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      title: str) -> None:
    code = main(["new", str(tmp_path / "book"), "--title", title])
    err = capsys.readouterr().err
    assert code == EXIT_BOOK and "error new-title" in err and "hint:" in err
    assert not (tmp_path / "book").exists()


# --- one rule for every link and image, wherever it stands ------------------------------------------

def test_images_and_links_in_a_chapter_title_are_checked_and_rewritten(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={
        "01-one.md": "# One [see two](02-two.md#two) ![a drum](i.png) ![web](http://example.com/x.png)\n\nText.\n",
        "02-two.md": "# Two\n\nText.\n"}, files={"i.png": PNG})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert "01-one.md:1: warning image-remote: the image 'http://example.com/x.png' is on the web" in err
    with epub_of(tmp_path / "out") as epub:
        chapter = epub.read("EPUB/chapter-001.xhtml").decode()
        assert "EPUB/i.png" in epub.namelist()
    title = re.search(r"<h2[^>]*>(.*?)</h2>", chapter)[1]
    assert 'href="chapter-002.xhtml"' in title and 'src="i.png"' in title
    assert "example.com" not in chapter and "web" in title  # the description stays


def test_an_image_climbing_out_of_a_title_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One ![x](../../etc/x.png)\n\nText.\n"})
    assert "01-one.md:1: error image-outside" in failing(capsys, book, tmp_path / "out")


# --- algorithms on manuscript text are linear ----------------------------------------------------

def _profiled(text: str) -> tuple[int, int]:
    """(Python and C calls made converting `text`, calls of list.index among them): deterministic
    counts, so the test does not depend on how busy the machine is."""
    import sys

    from publish.parse import chapter_html
    calls = index_calls = 0

    def profile(frame, event, arg) -> None:  # noqa: ANN001
        nonlocal calls, index_calls
        if event in {"call", "c_call"}:
            calls += 1
            if event == "c_call" and getattr(arg, "__name__", "") == "index" and isinstance(
                    getattr(arg, "__self__", None), list):
                index_calls += 1

    sys.setprofile(profile)
    try:
        chapter_html(text)
    finally:
        sys.setprofile(None)
    return calls, index_calls


@pytest.mark.parametrize("unit", ["`` ` ", "`x` *y* ", "[a](b) "])
def test_the_inline_pass_is_linear_in_a_paragraphs_inline_elements(unit: str) -> None:
    # Python-Markdown's own pass looks every element up with list(parent).index(child): a
    # 127 KB paragraph of code spans took 83 s. Here: no lookup, and twice the text is twice the work.
    small, small_index = _profiled(unit * 1500)
    large, large_index = _profiled(unit * 3000)
    assert large_index == small_index < 20  # a few, whatever the size: none per element
    assert large / small < 2.2


# --- sanitising -------------------------------------------------------------------------------------

@pytest.mark.parametrize("markup", [
    '<blockquote cite="javascript:alert(1)">A quote.</blockquote>', '<q cite="data:text/html,x">A quote.</q>',
    '<del cite="vbscript:x">Gone.</del>', '<ins cite="file:///etc/passwd">Added.</ins>',
    '<blockquote cite=" JavaScript:alert(1)">A quote.</blockquote>',
])
def test_every_address_attribute_goes_through_the_one_allow_list(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                 markup: str) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": f"# One\n\n{markup}\n"})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert re.search(r"01-one\.md:3: warning html-unsafe-url: removed the \w+: address from <\w+>", err)
    with epub_of(tmp_path / "out") as epub:
        chapter = epub.read("EPUB/chapter-001.xhtml").decode()
    assert "cite=" not in chapter and ("quote" in chapter or "Gone" in chapter or "Added" in chapter)


def test_a_safe_cite_is_kept() -> None:
    from publish.sanitize import sanitize
    assert sanitize('<blockquote cite="https://example.org/speech">Q</blockquote>') == \
        '<blockquote cite="https://example.org/speech">Q</blockquote>'


def test_a_chapter_that_is_only_an_html_document_shell(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "<html></html>\n",
                                                   "02-two.md": "<html><body><script>x()</script><p>Hi.</p></body></html>\n"})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    assert "01-one.md:1: warning chapter-empty" in err and "02-two.md:1: warning html-script" in err


# --- files ------------------------------------------------------------------------------------------

def test_a_chapter_list_naming_a_symlink_that_loops(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nchapters: [loop.md]\n")
    (book / "loop.md").symlink_to("loop.md")
    assert "error chapter-link-loop: chapter 'loop.md' is a symbolic link that leads back to itself" in failing(
        capsys, book, tmp_path / "out")


def test_links_that_loop_for_an_image_a_cover_and_a_bibliography(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: A Book\nbibliography: refs.bib\ncover-image: cover.png\n",
                      chapters={"01-one.md": "# One\n\n![A drum](drum.png) as [@key] says.\n"})
    for name in ("refs.bib", "cover.png", "drum.png"):
        (book / name).symlink_to(name)
    err = failing(capsys, book, tmp_path / "out")
    assert "book.yaml:2: warning bibliography-missing" in err
    assert "01-one.md:3: error image-missing" in err and "book.yaml:3: error image-missing" in err


# --- limits -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "what", "line"), [
    ("# One\n\n" + ">" * 150 + " deep\n", "quotes ('>')", 3),
    ("# One\n\n" + "".join("  " * i + "- item\n" for i in range(80)), "lists (by their indentation)", 54),
    ("# One\n\nText.\n\n" + "<div>" * 150 + "deep" + "</div>" * 150 + "\n", "elements", 5),
    ("# One\n\n" + "<em>" * 200 + "deep" + "</em>" * 200 + "\n", "elements", 3),
    ("# One\n\n" + "".join("> " * (i // 2) + "  " * (i % 2) + "- x\n" for i in range(90)), "elements", 3),
])
def test_nesting_past_the_limit_is_an_error_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          text: str, what: str, line: int) -> None:
    # Before: RecursionError in the layout (exit 3), or minutes in the parser for 5,000 levels.
    book = write_book(tmp_path / "book", chapters={"01-one.md": text})
    err = failing(capsys, book, tmp_path / "out", formats="epub,pdf")
    assert f"01-one.md:{line}: error nesting-too-deep: {what} are nested more than 50 deep (the limit)" in err


def test_nesting_within_the_limit_builds_every_edition(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Corpus books nest 9 deep at most; 48 is the limit's worth, and every edition lays it out.
    text = "# One\n\n" + "".join("> " * (i // 2) + "  " * (i % 2) + "- x\n" for i in range(16))
    text += "\n" + "<div>" * 48 + "deep" + "</div>" * 48 + "\n"
    book = write_book(tmp_path / "book", chapters={"01-one.md": text})
    code, err = run(capsys, book, tmp_path / "out", formats="epub,html,pdf")
    assert code == EXIT_OK, err


def test_a_chapter_file_past_the_size_limit_is_refused_unread(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    book = write_book(tmp_path / "book")
    with (book / "02-two.md").open("wb") as big:
        big.truncate(10 * 1024 * 1024 + 1)  # sparse: no 10 MB written
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    err = failing(capsys, book, tmp_path / "out")
    assert "02-two.md:1: error file-too-large: the file is 10.0 MB, more than the limit of 10 MB for one file" in err
    assert "02-two.md" not in read


def test_too_many_chapter_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={f"{n:04d}.md": f"# {n}\n\nText.\n" for n in range(2001)})
    assert "error too-many-chapters: the book has 2,001 chapters, more than the limit of 2,000" in failing(
        capsys, book, tmp_path / "out")


def test_too_many_chapters_in_one_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "".join(f"# Chapter {n}\n\nText.\n\n" for n in range(2001))
    book = write_book(tmp_path / "book", chapters={"book.md": text})
    assert "error too-many-chapters: the book has 2,001 chapters" in failing(capsys, book, tmp_path / "out")


@pytest.mark.parametrize("note", ["Text[^{n}].\n\n[^{n}]: A note.\n\n", "Text^[An inline note {n}.]\n\n"])
def test_too_many_notes_in_one_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, note: str) -> None:
    text = "# One\n\n" + "".join(note.format(n=n) for n in range(5001))
    book = write_book(tmp_path / "book", chapters={"01-one.md": text})
    err = failing(capsys, book, tmp_path / "out")
    line = 3 + note.count("\n") * 5000 + note.split("[^")[0].count("\n") * 0
    assert re.search(r"01-one\.md:\d+: error too-many-notes: the file has more than 5,000 notes", err)
    assert int(re.search(r"01-one\.md:(\d+): error too-many-notes", err)[1]) >= line - note.count("\n")


def _bomb(width: int, height: int) -> bytes:
    import io

    from PIL import Image
    data = io.BytesIO()
    Image.new("1", (width, height)).save(data, "PNG", optimize=True)
    return data.getvalue()


def test_an_image_with_too_many_pixels_is_an_error_read_from_its_header(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    # 13,000 x 13,000 pixels in 20 KB: 1.4 GB and a raw Pillow warning before the limit.
    book = write_book(tmp_path / "book", config="title: A Book\ncover-image: bomb.png\n",
                      chapters={"01-one.md": "# One\n\n![A bomb](bomb.png)\n"}, files={"bomb.png": _bomb(13_000, 13_000)})
    err = failing(capsys, book, tmp_path / "out", formats="epub,pdf")
    assert "01-one.md:3: error image-too-large: the image 'bomb.png' has 169 million pixels, more than the limit " \
           "of 50 million" in err
    assert "book.yaml:2: error image-too-large" in err and "DecompressionBomb" not in err


def test_an_image_whose_bytes_are_not_an_image_is_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n![A drum](drum.png)\n"},
                      files={"drum.png": b"\x89PNG\r\n\x1a\n not really"})
    code, err = run(capsys, book, tmp_path / "out")
    assert code == EXIT_OK
    # Pillow's reason varies with the plugins it has loaded ("Truncated File Read", "cannot identify").
    assert "01-one.md:3: warning image-broken: the image 'drum.png' cannot be read: " in err


def test_a_slow_web_image_meets_a_deadline_for_the_whole_download(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading
    import time

    from publish import remote

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            try:
                for byte in PNG:  # one byte every 0.2 s: no read ever waits long
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                # The build gave up, as it should. Said nowhere: the server's traceback, printed by
                # this thread after the test had ended, reached the next test's captured stderr.
                return

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(remote, "DOWNLOAD_DEADLINE", 1.0)  # 30 s in a real build
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow.png"
        book = write_book(tmp_path / "book", config="title: Web\nremote-images: true\n",
                          chapters={"01-one.md": f"# One\n\n![Slow]({url})\n"})
        started = time.monotonic()
        err = failing(capsys, book, tmp_path / "out")
        assert time.monotonic() - started < 20  # the PNG alone would trickle for 14 s; the build gives up at 1 s
    finally:
        server.shutdown()
        server.server_close()
    assert "01-one.md:3: error image-download" in err and "took longer than 1 s (the limit)" in err


# --- SVG images -------------------------------------------------------------------------------------

HOSTILE_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" '
               b'height="20" onload="alert(1)"><script>alert(2)</script><foreignObject><p>html</p></foreignObject>'
               b'<image xlink:href="http://example.com/track.png" width="5" height="5"/>'
               b'<set attributeName="href" to="javascript:alert(3)"/><rect width="20" height="20" fill="#000"/></svg>')


def test_an_svg_image_is_cleaned_in_every_edition_and_the_authors_file_kept(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n![A square](pics/square.svg)\n"},
                      files={"pics/square.svg": HOSTILE_SVG})
    code, err = run(capsys, book, tmp_path / "out", formats="epub,html,pdf")
    assert code == EXIT_OK
    assert "01-one.md:3: warning svg-unsafe: removed foreign objects (HTML inside the picture), event handlers, " \
           "references to other files, scripts from the SVG image 'pics/square.svg'" in err
    assert "pdf-layout" not in err
    with epub_of(tmp_path / "out") as epub:
        carried = [epub.read("EPUB/pics/square.svg"), (tmp_path / "out" / "a-test-book" / "pics" / "square.svg").read_bytes()]
        opf = epub.read("EPUB/content.opf").decode()
    for svg in carried:
        for word in (b"script", b"onload", b"foreignObject", b"example.com", b"javascript"):
            assert word not in svg
        assert b"<rect" in svg
    assert "scripted" not in opf
    assert (book / "pics" / "square.svg").read_bytes() == HOSTILE_SVG  # the author's file is never changed


def test_svg_entities_and_styles_that_load_files_are_removed() -> None:
    from publish.svg import clean_svg
    laughs = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>'
              b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://x.org/a.css); rect {fill: url(#g)}'
              b'</style><text style="background: url(file:///etc/passwd)">&b;</text></svg>')
    cleaned = clean_svg(laughs)
    assert cleaned.removed == ("entity declarations", "references to other files")
    assert b"ENTITY" not in cleaned.data and b"x.org" not in cleaned.data and b"/etc/passwd" not in cleaned.data
    assert b"url(#g)" in cleaned.data
    plain = b'<svg xmlns="http://www.w3.org/2000/svg"><use href="#a"/><rect id="a" width="1"/></svg>'
    assert clean_svg(plain).data == plain and clean_svg(plain).removed == ()


def test_an_svg_that_is_not_an_svg_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", chapters={"01-one.md": "# One\n\n![A square](a.svg)\n"},
                      files={"a.svg": b"<svg><unclosed></svg>"})
    assert "01-one.md:3: error image-broken: the image 'a.svg' cannot be read: it is not well-formed XML" in failing(
        capsys, book, tmp_path / "out")


def test_an_html_label_with_a_text_fallback_goes_quietly() -> None:
    # What draw.io writes (Vulkan Tutorial's pipeline diagram): the <text> is the label without HTML.
    from publish.svg import clean_svg
    drawing = (b'<svg xmlns="http://www.w3.org/2000/svg"><switch><foreignObject width="9" height="9">'
               b'<div xmlns="http://www.w3.org/1999/xhtml">Input</div></foreignObject><text>Input</text></switch></svg>')
    cleaned = clean_svg(drawing)
    assert cleaned.removed == () and b"foreignObject" not in cleaned.data and b"<text>Input</text>" in cleaned.data


# --- ids ------------------------------------------------------------------------------------------

def test_author_ids_equal_to_the_templates_own_are_renamed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chapter = ("# Contents\n\nSee [main](#main) and [the page](#page-1).\n\n## Main\n\nText.\n\n## Page {#page-1}\n\n"
               "Text.\n\n## Spoiler notice\n\nText.\n")
    book = write_book(tmp_path / "book", config="title: A Book\nspoiler: It ends.\n", chapters={"01-one.md": chapter})
    code, err = run(capsys, book, tmp_path / "out", formats="epub,html,pdf")
    assert code == EXIT_OK, err
    documents = [(tmp_path / "out" / "a-book" / "index.html").read_text()]
    with epub_of(tmp_path / "out") as epub:
        documents += [epub.read(n).decode() for n in epub.namelist() if n.endswith(".xhtml")]
        assert 'id="page-1"' in epub.read("EPUB/chapter-001.xhtml").decode()  # the print edition's page marker
    for document in documents:
        ids = re.findall(r'\sid="([^"]+)"', document)
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    web = documents[0]
    assert 'href="#main-2"' in web and 'id="main-2"' in web and 'href="#page-1-2"' in web


def test_a_catalogue_with_nested_aliases_is_refused_at_once(tmp_path: Path) -> None:
    from publish.catalog import read_catalog
    path = tmp_path / "catalog.yaml"
    path.write_text(billion_laughs(under="books"))
    (problem,) = read_catalog(path).diagnostics
    assert problem.code == "catalog-yaml" and problem.line == 6 and "more than 100,000 values" in problem.message
