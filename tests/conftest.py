"""Shared test fixtures: small book folders written on the fly, and the `--update-goldens` flag.

Unit tests build their books in `tmp_path` with `make_book`, so each test shows, in a few lines,
exactly the book it is about. Builds are deterministic: everything here passes the same
`SOURCE_DATE_EPOCH`, so two runs give the same bytes.
"""

from __future__ import annotations

import io
import os
import subprocess
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

import pytest
from lxml import etree
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import Destination

from publish.epub import Cover
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import parse_book

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "manuscript"


def _corpus() -> Path:
    """The shared corpus: $PUBLISH_CORPUS, else beside this checkout (CI clones main next to
    shared/), else beside the checkout this one was cloned from (a clone made anywhere else)."""
    if explicit := os.environ.get("PUBLISH_CORPUS"):
        return Path(explicit)
    beside = REPO.parent / "shared" / "corpus"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, check=False, timeout=10).stdout.strip()
    except OSError:
        origin = ""
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared" / "corpus"
    return beside


CORPUS = _corpus()
PRIDE = CORPUS / "pride-and-prejudice"
GOLDEN = Path(__file__).resolve().parent / "golden"
# 2023-11-14T22:13:20Z: any fixed instant will do; it only has to be the same on every run.
EPOCH = "1700000000"
EPOCH_ISO = "2023-11-14T22:13:20Z"

# The shipped typeface's four files, which every edition must carry (fonts.css names them).
FONT_FILES = ("GentiumBookPlus-Regular.ttf", "GentiumBookPlus-Italic.ttf", "GentiumBookPlus-Bold.ttf",
              "GentiumBookPlus-BoldItalic.ttf")

MakeBook = Callable[..., Path]

NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="session", autouse=True)
def private_build_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Builds in the tests, and the `publish` processes they start, cache into a folder of their
    own: never the user's cache, and never a cache an earlier run left behind."""
    folder = tmp_path_factory.mktemp("publish-cache")
    before = os.environ.get("PUBLISH_CACHE_DIR")
    os.environ["PUBLISH_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("PUBLISH_CACHE_DIR", None)
    else:
        os.environ["PUBLISH_CACHE_DIR"] = before


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite tests/golden/*/golden/ from the current output instead of comparing with it")


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def make_book(tmp_path: Path) -> MakeBook:
    """Write a book folder and return its path.

    `config` is book.yaml's text (dedented, so tests can indent it; a string keeps exact line
    numbers for tests about them), `chapters` maps file names to Markdown, `files` adds anything
    else (images, stray files) by relative path. `config=None` writes no book.yaml at all.
    """
    made: list[str] = []

    def make(chapters: dict[str, str] | None = None, *, config: str | None = "title: A Small Book\n",
             files: dict[str, bytes | str] | None = None, name: str = "book") -> Path:
        root = tmp_path / name
        assert name not in made, f"make_book was already asked for a folder named {name!r}"
        made.append(name)
        root.mkdir(parents=True)
        if config is not None:
            (root / "book.yaml").write_text(dedent(config), encoding="utf-8")
        for file_name, text in (chapters if chapters is not None else {"01-one.md": "# One\n\nText.\n"}).items():
            (root / file_name).parent.mkdir(parents=True, exist_ok=True)
            (root / file_name).write_text(dedent(text), encoding="utf-8")
        for rel, data in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                path.write_text(data, encoding="utf-8")
            else:
                path.write_bytes(data)
        return root

    return make


def parse(root: Path) -> Book:
    """load + parse, as the build runs them, with the tests' fixed SOURCE_DATE_EPOCH."""
    return parse_book(load_manuscript(root), source_date_epoch=EPOCH)


def png(width: int = 4, height: int = 3, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def small_cover() -> Cover:
    """A stand-in cover, so EPUB unit tests need not lay out the generated one (tests/test_cover.py does)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 25), (20, 20, 20)).save(out, format="JPEG")
    return Cover(out.getvalue(), "image/jpeg", "images/cover.jpg", "Cover of the book")


# --- corpus builds, shared by the end-to-end tests ------------------------------------------------


@dataclass(frozen=True)
class CorpusBuild:
    """One `publish build` of a corpus book, as a user runs it."""

    name: str
    folder: Path
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def output(self, suffix: str) -> Path:
        """The EPUB (".epub"), the PDF (".pdf") or the web edition's page ("/index.html")."""
        if suffix.startswith("/"):
            return next(p for p in self.out.iterdir() if p.is_dir()) / suffix[1:]
        return next(self.out.glob(f"*{suffix}"))


_CORPUS_BUILDS: dict[str, CorpusBuild] = {}


def build_corpus_book(name: str, tmp_path_factory: pytest.TempPathFactory) -> CorpusBuild:
    """Build the corpus book `name` once per test session with the installed `publish` command."""
    if name not in _CORPUS_BUILDS:
        import sys
        import time

        folder = CORPUS / name
        if not folder.is_dir():
            pytest.fail(f"the corpus is missing: {folder}")
        out = tmp_path_factory.mktemp(f"corpus-{name}") / "out"
        started = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).with_name("publish")), "build", str(folder), "-o", str(out)],
                              env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH), capture_output=True, text=True,
                              timeout=1800, stdin=subprocess.DEVNULL, check=False)
        _CORPUS_BUILDS[name] = CorpusBuild(name, folder, out, proc.returncode, proc.stdout, proc.stderr,
                                           time.perf_counter() - started)
    return _CORPUS_BUILDS[name]


# --- reading editions back -------------------------------------------------------------------------


class Epub:
    """An EPUB's zip with its package document, nav and NCX parsed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.zip = zipfile.ZipFile(io.BytesIO(data))

    def xml(self, name: str) -> etree._Element:
        return etree.fromstring(self.zip.read(name))

    @cached_property
    def opf_path(self) -> str:
        return self.xml("META-INF/container.xml").xpath("//c:rootfile/@full-path", namespaces=NS)[0]

    @cached_property
    def opf(self) -> etree._Element:
        return self.xml(self.opf_path)

    def doc(self, href: str) -> etree._Element:
        return self.xml(self.path(href))

    def path(self, href: str) -> str:
        return str(PurePosixPath(self.opf_path).parent / href)

    def opf_xpath(self, query: str) -> list:
        return self.opf.xpath(query, namespaces=NS)

    def meta(self, prop: str) -> list[str]:
        return self.opf_xpath(f"/opf:package/opf:metadata/opf:meta[@property='{prop}']/text()")

    @property
    def spine(self) -> list[str]:
        return [self.opf_xpath(f"//opf:manifest/opf:item[@id='{idref}']/@href")[0]
                for idref in self.opf_xpath("//opf:spine/opf:itemref/@idref")]

    @cached_property
    def nav(self) -> etree._Element:
        [href] = self.opf_xpath("//opf:manifest/opf:item[contains(concat(' ', @properties, ' '), ' nav ')]/@href")
        return self.doc(href)

    def landmark(self, kind: str) -> list[str]:
        return self.nav.xpath(f"//x:nav[@epub:type='landmarks']//x:a[@epub:type='{kind}']/@href", namespaces=NS)

    def guide(self, kind: str) -> list[str]:
        return self.opf_xpath(f"//opf:guide/opf:reference[@type='{kind}']/@href")

    def xhtml(self) -> list[str]:
        return self.opf_xpath("//opf:manifest/opf:item[@media-type='application/xhtml+xml']/@href")


@dataclass
class Pdf:
    """A PDF read back with pypdf."""

    data: bytes

    @cached_property
    def reader(self) -> PdfReader:
        return PdfReader(io.BytesIO(self.data))

    def text(self, index: int) -> str:
        """The text of one page (0-based), with runs of white space made single spaces."""
        return " ".join(self.reader.pages[index].extract_text().split())

    @cached_property
    def texts(self) -> list[str]:
        return [self.text(i) for i in range(len(self.reader.pages))]

    def pages_with(self, text: str) -> list[int]:
        """0-based indexes of the pages that show `text`."""
        return [i for i, page in enumerate(self.texts) if text in page]

    @cached_property
    def bookmarks(self) -> list[tuple[int, str, int]]:
        """(level, title, 0-based page) in outline order."""
        found: list[tuple[int, str, int]] = []

        def walk(items: list, level: int) -> None:
            for item in items:
                if isinstance(item, list):
                    walk(item, level + 1)
                else:
                    assert isinstance(item, Destination)
                    found.append((level, item.title, self.reader.get_destination_page_number(item)))

        walk(self.reader.outline, 1)
        return found
