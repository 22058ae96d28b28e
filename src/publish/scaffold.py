"""`publish new DIR`: a book folder that builds at once, to be written over.

The files come from the `skeleton/` folder beside this module: a `book.yaml` with every key the
pipeline knows, commented; two short chapters showing the Markdown a book can use (notes, links
between chapters, an image with its description); and an `images/` folder.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from .diagnostics import BuildFailed, error
from .sanitize import XML_FORBIDDEN

SKELETON = files("publish") / "skeleton"
TITLE_PLACEHOLDER = "__TITLE__"


_TOP = PurePosixPath()


def _walk(folder: Traversable, prefix: PurePosixPath = _TOP) -> dict[PurePosixPath, bytes]:
    found: dict[PurePosixPath, bytes] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= _walk(entry, prefix / entry.name)
        elif not entry.name.startswith("."):
            found[prefix / entry.name] = entry.read_bytes()
    return found


def default_title(target: Path) -> str:
    """'my-first-novel' becomes 'My First Novel'."""
    words = target.resolve().name.replace("-", " ").replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or "Untitled"


def new_book(target: Path, *, title: str | None = None) -> tuple[Path, ...]:
    """Write a new book folder at `target`; refuse (writing nothing) if it exists and is not empty."""
    if target.exists() and not target.is_dir():
        raise BuildFailed([error("new-not-folder", f"'{target}' exists and is not a folder", file=target,
                                 hint="choose a new folder name, e.g. 'publish new my-book'")])
    if target.is_dir() and any(target.iterdir()):
        raise BuildFailed([error("new-not-empty", f"the folder '{target}' is not empty", file=target,
                                 hint="'publish new' never writes over files: choose a new or empty folder")])
    title = title if title is not None else default_title(target)
    bad = XML_FORBIDDEN.search(title)
    if not title.strip() or bad or "\n" in title:
        what = f"the character U+{ord(bad[0]):04X}, which XML (and so no book) can hold" if bad \
            else "a line break" if "\n" in title else "no text"
        raise BuildFailed([error("new-title", f"the title {title!r} has {what}", file=target,
                                 hint="give a title of one line of text, e.g. --title \"On Drums\"")])
    # JSON's string syntax is YAML's double-quoted one, so any title is written safely.
    quoted_title = json.dumps(title, ensure_ascii=False).encode()
    written = []
    for relative, data in sorted(_walk(SKELETON).items()):
        if relative.name == "book.yaml":
            data = data.replace(TITLE_PLACEHOLDER.encode(), quoted_title)
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return tuple(written)
