"""Shared test fixtures: small book folders written on the fly, and the `--update-goldens` flag.

Unit tests build their books in `tmp_path` with `make_book`, so each test shows, in a few lines,
exactly the book it is about. Builds are deterministic: everything here passes the same
`SOURCE_DATE_EPOCH`, so two runs give the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from publish.epub import Cover
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import parse_book

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "manuscript"
PRIDE = Path("/work/shared/corpus/pride-and-prejudice")
GOLDEN = Path(__file__).resolve().parent / "golden"
# 2023-11-14T22:13:20Z: any fixed instant will do; it only has to be the same on every run.
EPOCH = "1700000000"
EPOCH_ISO = "2023-11-14T22:13:20Z"

MakeBook = Callable[..., Path]


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
