"""Load stage: find and read a book folder into a typed, immutable `Manuscript`.

Nothing outside the book folder is read. Every problem found (configuration, missing or
undecodable chapters) is reported at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from .config import BookConfig, Overlay, parse_config
from .diagnostics import BuildFailed, Diagnostic, error, has_errors

CONFIG_NAME = "book.yaml"
CHAPTER_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True, slots=True)
class Source:
    """One chapter file: its path inside the book folder and its text."""

    path: Path  # relative to the book folder
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manuscript:
    root: Path
    config: BookConfig
    config_text: str
    sources: tuple[Source, ...]
    warnings: tuple[Diagnostic, ...] = ()
    shown_root: Path | None = None  # the folder as the user named it, for messages

    def shown(self, relative: Path | str) -> Path:
        return (self.shown_root or Path(self.root.name)) / relative


def read_text(path: Path, display: Path) -> tuple[str | None, Diagnostic | None]:
    """Read a UTF-8 text file; say where an undecodable byte sits if it is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, error("read", f"cannot read the file: {exc.strerror}", file=display,
                           hint="check that the file exists and is readable")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, error("encoding", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded",
                           file=display, line=line,
                           hint="save the file as UTF-8 (in most editors: 'Save with encoding' > UTF-8)")
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


def _chapter_paths(root: Path, config: BookConfig, config_path: Path) -> tuple[list[Path], list[Diagnostic]]:
    if config.chapters is None:
        found = sorted(p for p in root.iterdir()
                       if p.is_file() and p.suffix.lower() in CHAPTER_SUFFIXES and not p.name.startswith(".")
                       and p.name.lower() != "readme.md")
        # A symbolic link may lead out of the book folder; what lies there is not read.
        outside = [p for p in found if not p.resolve().is_relative_to(root)]
        problems = [error("chapter-outside", f"chapter '{p.name}' is a link to a file outside the book folder",
                          file=config_path.parent / p.name,
                          hint="copy the file into the book folder instead of linking to it")
                    for p in outside]
        return [p.resolve() for p in found if p not in outside], problems
    paths, problems = [], []
    seen: set[Path] = set()
    for name in config.chapters:
        candidate = (root / name).resolve()
        if Path(name).is_absolute() or not candidate.is_relative_to(root):
            problems.append(error("chapter-outside", f"chapter '{name}' is outside the book folder", file=config_path,
                                  hint="list only files inside the book folder, by their relative name"))
        elif candidate in seen:
            problems.append(error("chapter-twice", f"chapter '{name}' is listed twice in 'chapters'", file=config_path,
                                  hint="list each chapter file once"))
        elif not candidate.is_file():
            problems.append(error("chapter-missing", f"chapter '{name}' listed in 'chapters' does not exist",
                                  file=config_path, hint="check the file name, or remove it from the list"))
        else:
            seen.add(candidate)
            paths.append(candidate)
    return paths, problems


def load_manuscript(book_dir: Path, *, overlay: Overlay | None = None) -> Manuscript:
    """Read `book_dir`; raise `BuildFailed` with every problem if it cannot make a book.
    `overlay`: a catalogue's settings for its books (see config.Overlay)."""
    if not book_dir.exists():
        raise BuildFailed([error("book-missing", f"the book folder '{book_dir}' does not exist", file=book_dir,
                                 hint="pass the folder holding book.yaml, e.g. 'publish build manuscript'")])
    if not book_dir.is_dir():
        raise BuildFailed([error("book-not-folder", f"'{book_dir}' is not a folder", file=book_dir,
                                 hint="pass the folder holding book.yaml and the chapter files")])
    root = book_dir.resolve()
    config_path = root / CONFIG_NAME
    shown_config = book_dir / CONFIG_NAME
    if config_path.is_file() and not config_path.resolve().is_relative_to(root):
        raise BuildFailed([error("config-outside", "book.yaml is a link to a file outside the book folder",
                                 file=shown_config, hint="copy the file into the book folder instead of linking to it")])
    if not config_path.is_file():
        raise BuildFailed([error("config-missing", "the book folder has no book.yaml", file=shown_config,
                                 hint="create book.yaml with at least 'title: …' (or run 'publish new DIR')")])
    text, problem = read_text(config_path, shown_config)
    if problem:
        raise BuildFailed([problem])
    assert text is not None
    config, problems = parse_config(text, shown_config, defaults=dict(overlay.defaults) if overlay else None)
    if config is None:
        raise BuildFailed(problems)
    if overlay is not None and overlay.css:
        config = dataclasses.replace(config, css=overlay.css)

    try:
        paths, path_problems = _chapter_paths(root, config, shown_config)
    except OSError as exc:
        raise BuildFailed([error("book-unreadable", f"cannot list the book folder: {exc.strerror}", file=book_dir,
                                 hint="check the folder's permissions")]) from None
    problems += path_problems
    sources = []
    for path in paths:
        rel = path.relative_to(root)
        chapter_text, problem = read_text(path, book_dir / rel)
        if problem:
            problems.append(problem)
        else:
            assert chapter_text is not None
            sources.append(Source(rel, chapter_text))
    if not paths and not path_problems:
        problems.append(error("no-chapters", "the book folder has no chapter files", file=book_dir,
                              hint="add Markdown files such as '01-first-chapter.md' beside book.yaml"))
    if has_errors(problems):
        raise BuildFailed(problems)
    return Manuscript(root=root, config=config, config_text=text, sources=tuple(sources), warnings=tuple(problems),
                      shown_root=book_dir)
