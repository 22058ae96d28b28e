"""The build cache: each input invalidates exactly what depends on it, and nothing else.

The dependency tests build a small book once into a warm cache, then, for each kind of input
(a chapter, book.yaml, an image, a template, a stylesheet, a font, the pipeline's version, the
build's date and options), change that one input and rebuild from a copy of the warm cache,
asserting exactly which results were made afresh. Builds run in a child Python process so that a
changed `PUBLISH_STYLES` (a copy of styles/ the test may edit) and a changed version number take
effect as they would for a user, and so the test can see which modules the build imported.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from publish import epub, html, pdf
from publish import keys as keys_module
from publish.cache import Cache, ChapterStore, default_root, digest

REPO = Path(__file__).resolve().parents[1]
STYLES = REPO / "styles"
EPOCH = "1700000000"
EVERYTHING = {"book", "cover", "epub", "pdf", "html"}


def write_book(root: Path) -> Path:
    """Two short chapters, a link between them, an image and a note: every kind of input."""
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (40, 30), (180, 30, 40)).save(root / "images" / "square.png")
    (root / "book.yaml").write_text("title: A Cached Book\nauthor: Ada Tester\nlang: en\n"
                                    "description: A book for the cache tests.\n", encoding="utf-8")
    (root / "01-first.md").write_text(
        "# The First Chapter\n\nIt begins with a red square.[^1]\n\n![A red square](images/square.png)\n\n"
        "[^1]: A note about the square.\n\nMore text follows, as [the second chapter](02-second.md) shows.\n",
        encoding="utf-8")
    (root / "02-second.md").write_text("# The Second Chapter\n\nIt ends here, quietly.\n", encoding="utf-8")
    return root


_CHILD = """
import json, sys
args = json.loads(sys.argv[1])
if args["version"]:
    import publish
    publish.__version__ = args["version"]
from pathlib import Path
from publish.build import build
result = build(Path(args["book"]), Path(args["out"]), formats=tuple(args["formats"]), pdf_profile=args["profile"],
               source_date_epoch=args["epoch"], clean=args["clean"], cache_dir=Path(args["cache"]))
print(json.dumps({"made": list(result.made), "converted": result.converted,
                  "outputs": [str(p) for p in result.outputs],
                  "imported": sorted(m for m in ("weasyprint", "ebooklib", "markdown") if m in sys.modules)}))
"""


@dataclass
class Built:
    made: set[str]
    converted: int
    imported: list[str]
    outputs: dict[str, bytes]  # every file written, by its path relative to the output folder
    seconds: float


def run_build(book: Path, out: Path, cache: Path, *, styles: Path = STYLES, formats: tuple[str, ...] = ("epub", "pdf", "html"),
              profile: str | None = None, epoch: str | None = EPOCH, clean: bool = False, version: str | None = None) -> Built:
    args = {"book": str(book), "out": str(out), "cache": str(cache), "formats": list(formats), "profile": profile,
            "epoch": epoch, "clean": clean, "version": version}
    env = {**os.environ, "PUBLISH_STYLES": str(styles)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True, env=env,
                          check=False, timeout=300)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Built(set(report["made"]), report["converted"], report["imported"], read_tree(out), seconds)


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Workspace:
    root: Path
    book: Path
    styles: Path
    cache: Path
    out: Path
    first: Built


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("warm")
    write_book(root / "pristine-book")
    shutil.copytree(STYLES, root / "pristine-styles")
    shutil.copytree(root / "pristine-book", root / "book")
    shutil.copytree(root / "pristine-styles", root / "styles")
    first = run_build(root / "book", root / "out", root / "cache", styles=root / "styles")
    return Workspace(root, root / "book", root / "styles", root / "cache", root / "out", first)


@pytest.fixture
def ws(warm: Workspace, tmp_path: Path) -> Workspace:
    """The warm workspace with the book and styles as they were, and a copy of the warm cache.
    The book stays at the same path: where it lives is part of its key."""
    for live, pristine in ((warm.book, "pristine-book"), (warm.styles, "pristine-styles")):
        shutil.rmtree(live)
        shutil.copytree(warm.root / pristine, live)
    shutil.copytree(warm.cache, tmp_path / "cache")
    return Workspace(warm.root, warm.book, warm.styles, tmp_path / "cache", tmp_path / "out", warm.first)


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def change_font(ws: Workspace) -> None:
    # Bytes past the font's last table change its digest and nothing a renderer reads.
    with (ws.styles / "fonts" / "GentiumBookPlus-Regular.ttf").open("ab") as handle:
        handle.write(b"\0" * 4)


def change_image(ws: Workspace) -> None:
    Image.new("RGB", (40, 30), (20, 60, 200)).save(ws.book / "images" / "square.png")


# (what is changed, how, what must be made afresh, how many chapters are converted again)
CHANGES: list[tuple[str, Callable[[Workspace], None], set[str], int]] = [
    ("nothing", lambda ws: None, set(), 0),
    ("a chapter", lambda ws: append(ws.book / "02-second.md", "\nA new last line.\n"), {"book", "epub", "pdf", "html"}, 1),
    ("book.yaml", lambda ws: append(ws.book / "book.yaml", "subtitle: Now With a Subtitle\n"), EVERYTHING, 0),
    ("an image", change_image, {"epub", "pdf", "html"}, 0),
    ("a font", change_font, {"cover", "epub", "pdf", "html"}, 0),
    ("the web template", lambda ws: append(ws.styles / "templates" / "web.html", "<!-- changed -->\n"), {"html"}, 0),
    ("an EPUB template", lambda ws: append(ws.styles / "templates" / "epub" / "chapter.xhtml", "\n"), {"epub"}, 0),
    ("the cover template", lambda ws: append(ws.styles / "templates" / "cover.html", "\n"), {"cover", "epub"}, 0),
    # A change that moves no page break: the PDF is laid out again, and the EPUB, which depends
    # on where the pages break and not on the PDF's bytes, is taken from the cache.
    ("the print template", lambda ws: append(ws.styles / "templates" / "print.html", "{# changed #}\n"), {"pdf"}, 0),
    ("the shared template parts", lambda ws: append(ws.styles / "templates" / "parts.j2", "{# changed #}\n"),
     {"epub", "pdf", "html"}, 0),
    ("the web stylesheet", lambda ws: append(ws.styles / "web.css", "\n/* changed */\n"), {"html"}, 0),
    ("the EPUB stylesheet", lambda ws: append(ws.styles / "epub.css", "\n/* changed */\n"), {"epub"}, 0),
    ("the print stylesheet", lambda ws: append(ws.styles / "print.css", "\n/* changed */\n"), {"pdf"}, 0),
    ("the cover stylesheet", lambda ws: append(ws.styles / "cover.css", "\n/* changed */\n"), {"cover", "epub"}, 0),
    ("the shared stylesheet", lambda ws: append(ws.styles / "book.css", "\n/* changed */\n"), {"epub", "pdf", "html"}, 0),
]


@pytest.mark.e2e
def test_the_first_build_makes_everything_and_converts_every_chapter(warm: Workspace) -> None:
    assert warm.first.made == EVERYTHING
    assert warm.first.converted == 2


@pytest.mark.e2e
@pytest.mark.parametrize(("what", "change", "expected", "converted"), CHANGES, ids=[c[0] for c in CHANGES])
def test_changing_an_input_remakes_exactly_what_depends_on_it(ws: Workspace, what: str, change: Callable[[Workspace], None],
                                                             expected: set[str], converted: int) -> None:
    change(ws)
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles)
    assert (built.made, built.converted) == (expected, converted), what


@pytest.mark.e2e
def test_a_new_pipeline_version_remakes_everything(ws: Workspace) -> None:
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, version="99.0-test")
    assert (built.made, built.converted) == (EVERYTHING, 2)


@pytest.mark.e2e
def test_the_build_date_remakes_the_book_and_editions_but_not_the_chapters_or_cover(ws: Workspace) -> None:
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, epoch="1800000000")
    assert (built.made, built.converted) == ({"book", "epub", "pdf", "html"}, 0)


@pytest.mark.e2e
def test_the_pdf_profile_remakes_the_pdf_only(ws: Workspace) -> None:
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, profile="print")
    assert "pdf" in built.made and not built.made & {"book", "cover", "html"}


@pytest.mark.e2e
def test_an_epub_without_the_print_edition_is_another_epub(ws: Workspace) -> None:
    # Built alone, the EPUB has no print page numbers: it is not the one the full build cached.
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, formats=("epub",))
    assert (built.made, built.converted) == ({"epub"}, 0)
    again = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, formats=("epub",))
    assert again.made == set()


@pytest.mark.e2e
def test_a_rebuild_with_nothing_changed_imports_neither_weasyprint_nor_ebooklib(ws: Workspace) -> None:
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles)
    assert built.made == set()
    assert built.imported == []  # nor Python-Markdown: nothing is parsed
    assert built.outputs == ws.first.outputs


@pytest.mark.e2e
def test_a_cached_build_is_byte_identical_to_a_clean_build(ws: Workspace, tmp_path: Path) -> None:
    # The subtle cases together: one chapter converted again, the rest from the cache; a PDF laid
    # out again whose EPUB is taken from the cache; a cover taken from the cache.
    append(ws.book / "01-first.md", "\nA sentence added at the end.\n")
    run_build(ws.book, ws.out, ws.cache, styles=ws.styles)
    append(ws.styles / "print.css", "\n/* changed */\n")
    cached = run_build(ws.book, ws.out, ws.cache, styles=ws.styles)
    assert cached.made == {"pdf"}
    clean = run_build(ws.book, tmp_path / "clean-out", tmp_path / "empty-cache", styles=ws.styles)
    assert clean.made == EVERYTHING
    assert cached.outputs.keys() == clean.outputs.keys()
    for name, data in clean.outputs.items():
        assert cached.outputs[name] == data, name


@pytest.mark.e2e
def test_clean_reads_nothing_from_the_cache_and_makes_the_same_bytes(ws: Workspace) -> None:
    built = run_build(ws.book, ws.out, ws.cache, styles=ws.styles, clean=True)
    assert (built.made, built.converted) == (EVERYTHING, 2)
    assert built.outputs == ws.first.outputs


@pytest.mark.e2e
def test_the_cli_clean_flag_ignores_the_cache(ws: Workspace) -> None:
    env = {**os.environ, "PUBLISH_STYLES": str(ws.styles), "PUBLISH_CACHE_DIR": str(ws.cache), "SOURCE_DATE_EPOCH": EPOCH}
    command = [sys.executable, "-m", "publish.cli", "build", str(ws.book), "-o", str(ws.out), "--format", "html"]
    cached = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    clean = subprocess.run([*command, "--clean"], capture_output=True, text=True, env=env, check=True)
    assert "parse:" not in cached.stderr and "render:" not in cached.stderr
    assert "parse: 2 chapters" in clean.stderr and "render: web edition" in clean.stderr


@pytest.mark.e2e
def test_nothing_is_written_into_the_book_folder(ws: Workspace) -> None:
    append(ws.book / "02-second.md", "\nOne more line.\n")
    before = read_tree(ws.book)
    run_build(ws.book, ws.out, ws.cache, styles=ws.styles, formats=("html",))
    assert read_tree(ws.book) == before


# -- the cache itself ---------------------------------------------------------------------------


def test_the_cache_lives_in_the_users_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PUBLISH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "publish"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "publish"
    monkeypatch.setenv("PUBLISH_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere"


def test_keys_tell_apart_parts_that_join_to_the_same_text() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest(["a", "b"]) != digest("a", "b")
    assert digest(None) != digest("")
    assert digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})


def test_a_damaged_or_missing_blob_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    stored = cache.put("k", files={"a.txt": b"hello"}, meta="meta")
    assert cache.get("k").file_bytes(cache) == {"a.txt": b"hello"}
    blob = tmp_path / "blobs" / stored.files["a.txt"][:2] / stored.files["a.txt"]
    blob.write_bytes(b"hellp")
    assert cache.get("k").file_bytes(cache) is None
    blob.unlink()
    assert cache.get("k") is None


def test_a_damaged_record_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_value("k", {"x": 1})
    (tmp_path / "entries" / "k"[:2] / "k").write_bytes(pickle.dumps(("not", "a", "record"))[:-3])
    assert cache.get("k") is None


def test_a_cache_that_cannot_be_written_never_fails_a_build(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    cache = Cache(tmp_path / "a-file")
    cache.put("k", files={"a": b"x"}, meta=1)
    assert cache.get("k") is None


def test_a_clean_cache_reads_nothing_but_still_keeps_what_is_made(tmp_path: Path) -> None:
    Cache(tmp_path).put_value("k", "old")
    clean = Cache(tmp_path, read=False)
    assert clean.get_value("k") is None
    clean.put_value("k", "new")
    assert Cache(tmp_path).get_value("k") == "new"


def test_pruning_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for n, key in enumerate(("old", "middle", "new")):
        stored = cache.put(key, files={"f": bytes([n]) * 1000})
        blob = stored.files["f"]
        for path in (tmp_path / "entries" / key[:2] / key, tmp_path / "blobs" / blob[:2] / blob):
            os.utime(path, (1_000_000 + n, 1_000_000 + n))
    assert cache.get("old").file_bytes(cache)  # reading it makes it the most recently used
    cache.prune(max_bytes=2500)
    assert cache.get("old") is not None and cache.get("new") is not None
    assert cache.get("middle") is None


def test_the_chapter_store_keeps_html_under_the_text_and_the_pipeline(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    store = ChapterStore(cache, "pipeline-1")
    assert "digest-a" not in store
    store["digest-a"] = "<p>a</p>"
    assert store.converted == 1
    assert ChapterStore(cache, "pipeline-1")["digest-a"] == "<p>a</p>"
    assert "digest-a" not in ChapterStore(cache, "pipeline-2")


# -- what each edition is declared to read ---------------------------------------------------


# Files under styles/ that the live preview reads, and no edition.
PREVIEW_ONLY = {"live-reload.js", "templates/preview-error.html", "templates/preview-print.html"}
# The default citation style (and its licence note), which the parse stage reads: it is keyed in the
# book's own key (publish.citations.input_files), as a book's own .csl is.
PARSE_ONLY = {"csl/chicago-author-date.csl", "csl/README.md"}


def test_each_edition_is_keyed_on_the_stylesheets_and_scripts_it_reads() -> None:
    for module, edition in ((epub, "epub"), (html, "html"), (pdf, "pdf")):
        read = set(module.STYLESHEETS) | set(getattr(module, "SCRIPTS", ()))
        assert read <= set(keys_module.STYLE_INPUTS[edition]), edition
        assert "fonts/" in keys_module.STYLE_INPUTS[edition]


def test_every_file_under_styles_is_an_input_of_some_edition(tmp_path: Path) -> None:
    styles = keys_module.StyleInputs(STYLES, Cache(tmp_path), "pipeline")
    reached = {name for edition in keys_module.STYLE_INPUTS for name, _ in styles.of(edition)}
    present = {p.relative_to(STYLES).as_posix() for p in STYLES.rglob("*") if p.is_file()}
    assert present - PREVIEW_ONLY - PARSE_ONLY <= reached
    # parts.j2 is imported by the three editions' templates: Jinja's own parser finds it.
    for edition in ("epub", "html", "pdf"):
        assert "templates/parts.j2" in {name for name, _ in styles.of(edition)}


def test_the_command_line_knows_the_preview_port_without_importing_the_preview() -> None:
    from publish import cli, preview

    assert cli.DEFAULT_PORT == preview.DEFAULT_PORT
    done = subprocess.run([sys.executable, "-c", "import sys; from publish.cli import parser; parser(); "
                           "print(sorted(m for m in ('publish.preview', 'markdown', 'weasyprint') if m in sys.modules))"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_pruning_removes_only_the_caches_own_files(tmp_path: Path) -> None:
    # PUBLISH_CACHE_DIR may point at a folder that holds other things, even under blobs/.
    cache = Cache(tmp_path)
    cache.put(digest("a"), files={"x": b"x" * 1000})
    theirs = [tmp_path / "blobs" / "ab" / "notes.txt", tmp_path / "entries" / "photos" / "cat.jpg",
              tmp_path / "blobs" / "cd" / ("cd" + "0" * 62).upper(), tmp_path / "todo.txt"]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"mine" * 1000)
    assert cache.prune(max_bytes=0) > 0
    assert not list(cache.files()) and all(path.read_bytes() == b"mine" * 1000 for path in theirs)
