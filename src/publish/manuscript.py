"""Load stage: find and read a book folder into a typed, immutable `Manuscript`.

Nothing outside the book folder is read. Every problem found (configuration, missing or
undecodable chapters) is reported at once. A chapter file may open with metadata, as Pandoc reads
it: a YAML metadata block (`---` … `---` or `...`) or a title block (`% Title`, `% Author`,
`% Date`). It is read into the configuration, merged with book.yaml (book.yaml first, then the
files in reading order: the first place to give a key wins, and a later place that gives another
value is a warning naming both), and its lines are left blank so that no one prints it and every
line number stays right.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import safe_yaml
from .config import BookConfig, Overlay, Place, build_config, chapter_files, read_yaml_mapping, same_value
from .diagnostics import BuildFailed, Diagnostic, error, has_errors, warning
from .limits import source_limits, too_large, too_many_chapters

CONFIG_NAME = "book.yaml"
CHAPTER_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True, slots=True)
class Source:
    """One chapter file: its path inside the book folder and its text."""

    path: Path  # relative to the book folder
    text: str  # the Markdown, its metadata block's lines left blank
    metadata: str = ""  # the metadata block as written, if the file opens with one

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode() + b"\0" + self.metadata.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manuscript:
    root: Path
    config: BookConfig
    config_text: str
    sources: tuple[Source, ...]
    warnings: tuple[Diagnostic, ...] = ()
    shown_root: Path | None = None  # the folder as the user named it, for messages
    places: dict[str, Place] = field(default_factory=dict)  # where each configuration key was written

    def shown(self, relative: Path | str) -> Path:
        return (self.shown_root or Path(self.root.name)) / relative


def read_text(path: Path, display: Path) -> tuple[str | None, Diagnostic | None]:
    """Read a UTF-8 text file; say where an undecodable byte sits if it is not UTF-8."""
    try:
        if too_large_problem := too_large(path.stat().st_size, display):  # before reading it: memory stays bounded
            return None, too_large_problem
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


def resolved(path: Path) -> Path | None:
    """The path with every symbolic link followed; None if links lead round in a loop (Python 3.11
    raises RuntimeError for that, later versions OSError)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def _chapter_paths(root: Path, chapters: tuple[str, ...] | None,
                   config_path: Path) -> tuple[list[Path], list[Diagnostic]]:
    if chapters is None:
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
    for name in chapters:
        candidate = resolved(root / name)
        if candidate is None:
            problems.append(error("chapter-link-loop", f"chapter '{name}' is a symbolic link that leads back to itself",
                                  file=config_path, hint="replace the link with the chapter file itself"))
        elif Path(name).is_absolute() or not candidate.is_relative_to(root):
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


@dataclass(frozen=True, slots=True)
class Metadata:
    """A metadata block at the top of a chapter file: its keys, each with its line."""

    data: dict[str, Any]
    lines: dict[str, int]
    text: str  # as written
    end: int  # the number of lines it takes


_YAML_END = re.compile(r"^(---|\.\.\.)[ \t]*$")


def _yaml_block(text: str, shown: Path, problems: list[Diagnostic]) -> Metadata | None:
    """Pandoc's YAML metadata block at the top of a file: '---', not followed by a blank line,
    then YAML that is a mapping, up to a line '---' or '...'."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[0].rstrip() != "---" or not lines[1].strip():
        return None
    end = next((n for n in range(1, len(lines)) if _YAML_END.match(lines[n])), None)
    if end is None:
        return None
    block = "\n".join(lines[1:end])
    try:
        loaded = safe_yaml.load(block)
    except (yaml.YAMLError, RecursionError):
        loaded = None
        if re.match(r"^[\w-]+:", lines[1]):  # it was meant as metadata: say why it is not
            data, _, found = read_yaml_mapping(block, shown, what="the metadata block", first_line=2)
            problems += [warning("metadata-yaml", d.message + "; it is read as text", file=d.file, line=d.line,
                                 hint=d.hint) for d in found]
    if not isinstance(loaded, dict):
        return None  # a rule and text after all, as Pandoc reads it
    data, lines_of, _ = read_yaml_mapping(block, shown, first_line=2)
    return Metadata(data or {}, lines_of, "\n".join(lines[:end + 1]), end + 1)


def _title_block(text: str) -> Metadata | None:
    """Pandoc's title block: up to three lines starting with '%' (title, authors, date), each
    continued on lines that start with a space; authors are separated by ';' or line breaks."""
    lines = text.split("\n")
    if not lines[0].startswith("%"):
        return None
    fields: list[list[str]] = []
    end = 0
    for line in lines:
        if line.startswith("%") and len(fields) < 3:
            fields.append([line[1:].strip()])
        elif fields and line[:1] in {" ", "\t"} and line.strip():
            fields[-1].append(line.strip())
        else:
            break
        end += 1
    data: dict[str, Any] = {}
    lines_of: dict[str, int] = {}
    line = 1
    for key, parts in zip(("title", "author", "date"), fields):
        if key == "author":
            value: Any = [a.strip() for part in parts for a in part.split(";") if a.strip()]
        else:
            value = " ".join(p for p in parts if p)
        if value:
            data[key] = value
            lines_of[key] = line
        line += len(parts)
    return Metadata(data, lines_of, "\n".join(lines[:end]), end)


def read_metadata(text: str, shown: Path, problems: list[Diagnostic]) -> tuple[str, Metadata | None]:
    """The file's text with its metadata block's lines left blank, and the block."""
    block = _yaml_block(text, shown, problems) or _title_block(text)
    if block is None:
        return text, None
    lines = text.split("\n")
    return "\n" * block.end + "\n".join(lines[block.end:]), block


def merge_metadata(data: dict[str, Any], places: dict[str, Place],
                   blocks: list[tuple[Path, Metadata]]) -> tuple[dict[str, Any], dict[str, Place], frozenset[str],
                                                                 list[Diagnostic]]:
    """book.yaml's keys, then each block's in reading order: the first place to give a key wins."""
    merged, where, problems = dict(data), dict(places), []
    lenient: set[str] = set()
    for shown, block in blocks:
        for key, value in block.data.items():
            place = Place(shown, block.lines.get(key))
            if key == "chapters":
                problems.append(warning("metadata-chapters", "a metadata block cannot list the chapters; ignored",
                                        file=place.file, line=place.line, hint="list them in book.yaml"))
            elif key not in merged:
                merged[key], where[key] = value, place
                lenient.add(key)
            elif not same_value(key, merged[key], value):
                first = where[key]
                problems.append(warning("metadata-conflict",
                                        f"'{key}' is {_shown_value(value)} here, but {_shown_value(merged[key])} in "
                                        f"{first}; the value in {first.file.name} is used",
                                        file=place.file, line=place.line,
                                        hint=f"give '{key}' in one place only, or the same value in both"))
    return merged, where, frozenset(lenient), problems


def _shown_value(value: Any) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return repr(text if len(text) <= 60 else text[:57] + "…")


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
    data, lines, problems = read_yaml_mapping(text, shown_config)
    if data is None:
        raise BuildFailed(problems)
    chapters = chapter_files(data.get("chapters"))

    try:
        paths, path_problems = _chapter_paths(root, chapters, shown_config)
    except OSError as exc:
        raise BuildFailed([error("book-unreadable", f"cannot list the book folder: {exc.strerror}", file=book_dir,
                                 hint="check the folder's permissions")]) from None
    problems += path_problems
    if too_many := too_many_chapters(len(paths), shown_config, lines.get("chapters")):
        raise BuildFailed([*problems, too_many])  # and read none of them
    sources = []
    blocks: list[tuple[Path, Metadata]] = []
    for path in paths:
        rel = path.relative_to(root)
        chapter_text, problem = read_text(path, book_dir / rel)
        if problem:
            problems.append(problem)
        else:
            assert chapter_text is not None
            problems += source_limits(chapter_text, book_dir / rel)
            body, block = read_metadata(chapter_text, book_dir / rel, problems)
            if block is not None:
                blocks.append((book_dir / rel, block))
            sources.append(Source(rel, body, block.text if block else ""))
    if not paths and not path_problems:
        problems.append(error("no-chapters", "the book folder has no chapter files", file=book_dir,
                              hint="add Markdown files such as '01-first-chapter.md' beside book.yaml"))
    places = {key: Place(shown_config, lines.get(key)) for key in data}
    merged, places, lenient, merge_problems = merge_metadata(data, places, blocks)
    if overlay is not None:  # a catalogue's values, for the keys neither book.yaml nor a block gives
        merged = {**dict(overlay.defaults), **merged}
    config, config_problems = build_config(merged, places, home=shown_config, lenient=lenient, text=text)
    if config is not None and overlay is not None and overlay.css:
        config = dataclasses.replace(config, css=overlay.css)
    problems += merge_problems + config_problems
    if config is None or has_errors(problems):
        raise BuildFailed(problems)
    return Manuscript(root=root, config=config, config_text=text, sources=tuple(sources), warnings=tuple(problems),
                      shown_root=book_dir, places=places)
