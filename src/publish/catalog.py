"""A catalogue: the books of one `publish build`, and the settings a press shares between them.

`publish build` accepts many books: folders, quoted patterns such as 'books/*' (the folders that
hold a book.yaml), and catalog.yaml files, which list book folders (and patterns) relative to
themselves and give their books shared settings:

    books: [books/*, ../backlist/pride-and-prejudice]
    output: "{slug}"          # the folder under -o of each book's editions: {slug} or {folder}
    defaults:                 # book.yaml keys for every book that leaves them out
      publisher: Tempo Press
    stylesheets: press.css    # CSS added after the house styles in every edition

The shared settings travel with each book as a `config.Overlay`, applied when the book is loaded:
no book folder is ever edited or written to. Everything here is checked at once, with its line,
before any book is built; catalog_build.py builds them.
"""

from __future__ import annotations

import difflib
import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import safe_yaml
from .config import KNOWN_KEYS, Overlay, _key_lines, parse_config
from .diagnostics import Diagnostic, error, has_errors, warning
from .manuscript import CONFIG_NAME

CATALOG_KEYS = ("books", "output", "defaults", "stylesheets")
DEFAULT_LAYOUT = "{slug}"
LAYOUT_FIELDS = ("slug", "folder")
# Keys that name one book and so cannot be shared by a catalogue's books.
PER_BOOK_KEYS = ("title", "subtitle", "identifier", "chapters", "cover-image", "description")


# -- the books ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogBook:
    """One book of the run: its folder, and what its catalogue (if any) lays over it."""

    folder: Path  # as the user named it, for messages
    overlay: Overlay | None = None
    layout: str = DEFAULT_LAYOUT  # where under the output folder its editions go
    catalog: Path | None = None  # the catalog.yaml that lists it


@dataclass(frozen=True, slots=True)
class Catalog:
    books: tuple[CatalogBook, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


_GLOB_CHARS = frozenset("*?[")


def is_catalog_file(path: Path) -> bool:
    """A catalogue is named by a .yaml file; a book's own book.yaml, or a chapter file, is a
    mistaken book folder, which that book's build reports ("not a folder"), with its hint."""
    return path.suffix.lower() in {".yaml", ".yml"} and path.name != CONFIG_NAME


def is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _expand(pattern: str, base: Path) -> list[Path]:
    """The book folders (those holding a book.yaml) that `pattern` matches, relative to `base`."""
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    return [Path(m) for m in sorted(glob.glob(full, recursive=True)) if (Path(m) / CONFIG_NAME).is_file()]


def gather(targets: Sequence[str]) -> Catalog:
    """The books named by `targets`: folders, globs (quoted, so that the shell leaves them to
    us; only folders holding a book.yaml count), and catalog.yaml files."""
    books: list[CatalogBook] = []
    problems: list[Diagnostic] = []
    for target in targets:
        path = Path(target)
        if is_catalog_file(path):
            catalog = read_catalog(path)
            books += catalog.books
            problems += catalog.diagnostics
        elif is_glob(target) and not path.exists():
            matched = _expand(target, Path("."))
            if not matched:
                problems.append(error("catalog-no-match", f"'{target}' matches no book folder", file=path,
                                      hint="a pattern counts the folders that hold a book.yaml; check the pattern"))
            books += [CatalogBook(folder) for folder in matched]
        else:
            books.append(CatalogBook(path))  # a folder that is not a book is that book's failure
    return Catalog(*_once(books, problems))


def _once(books: list[CatalogBook], problems: list[Diagnostic]) -> tuple[tuple[CatalogBook, ...], tuple[Diagnostic, ...]]:
    """Each folder once, as first named: a book built twice at once would race with itself."""
    seen: dict[Path, CatalogBook] = {}
    for book in books:
        key = book.folder.resolve()
        if key in seen:
            first = seen[key]
            problems.append(warning("catalog-twice", f"the book '{book.folder}' is named twice; it is built once",
                                    file=book.catalog or book.folder,
                                    hint=f"it was first named as '{first.folder}'"
                                         + (f" in {first.catalog}" if first.catalog else "")))
        else:
            seen[key] = book
    return tuple(seen.values()), tuple(problems)


def _nested_lines(text: str, key: str) -> dict[str, int]:
    """Lines of the keys of the mapping under the top-level `key`."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for k, value in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(value, yaml.MappingNode):
            return {kk.value: kk.start_mark.line + 1 for kk, _ in value.value if isinstance(kk, yaml.ScalarNode)}
    return {}


def read_catalog(path: Path) -> Catalog:
    """Read a catalog.yaml: its books (folders and globs, relative to the file), the layout of the
    output folder, the book.yaml defaults and the stylesheets its books share. Every problem is
    reported at once, each with its line."""
    from .manuscript import read_text

    text, problem = read_text(path, path) if path.is_file() else (None, error(
        "catalog-missing", f"the catalogue '{path}' does not exist", file=path,
        hint="pass a catalog.yaml file, book folders, or a quoted pattern such as 'books/*'"))
    if problem:
        return Catalog((), (problem,))
    assert text is not None
    try:
        data = safe_yaml.load(text)  # aliases bounded, as in book.yaml (safe_yaml.py)
    except RecursionError:
        return Catalog((), (error("catalog-yaml", "the catalogue nests lists or mappings too deeply to read", file=path,
                                  line=1, hint="a catalogue is a 'books' list and a few keys"),))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return Catalog((), (error("catalog-yaml", f"the catalogue is not valid YAML: {getattr(exc, 'problem', None) or exc}",
                                  file=path, line=mark.line + 1 if mark else None,
                                  hint="check the indentation and quote values that contain ': ' or start with '*'"),))
    if not isinstance(data, dict):
        return Catalog((), (error("catalog-not-mapping", "the catalogue must be a mapping with a 'books' list", file=path,
                                  line=1, hint="write 'books:' and then one '- folder' line per book"),))
    lines = _key_lines(text)  # as book.yaml's keys are placed
    problems: list[Diagnostic] = []

    def bad(key: str, message: str, hint: str) -> None:
        problems.append(error("catalog-value", f"'{key}': {message}", file=path, line=lines.get(key), hint=hint))

    for key in data:
        if str(key) not in CATALOG_KEYS:
            close = difflib.get_close_matches(str(key), CATALOG_KEYS, n=1)
            problems.append(warning("catalog-unknown-key", f"unknown key '{key}' is ignored", file=path,
                                    line=lines.get(str(key)),
                                    hint=f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(CATALOG_KEYS)}"))
    base = path.parent

    layout = data.get("output", DEFAULT_LAYOUT)
    if layout is None:
        layout = ""
    if not isinstance(layout, str) or not _layout_ok(layout):
        bad("output", f"{layout!r} is not a layout of the output folder",
            "write 'output: \"{slug}\"' (a folder per book, named after its title), or '{folder}' (after its "
            "book folder), optionally under a folder of their own, e.g. 'press/{slug}'")
        layout = DEFAULT_LAYOUT

    overlay = Overlay(defaults=_defaults(data, text, path, lines, problems), css=_stylesheets(data, base, path, lines, problems))

    listed = data.get("books")
    entries = [listed] if isinstance(listed, str) else listed
    books: list[CatalogBook] = []
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) and e.strip() for e in entries):
        bad("books", "must be a list of book folders (or patterns such as 'books/*')",
            "write 'books:' and then one '- folder' line per book, relative to the catalogue")
        entries = []
    shared = overlay if overlay != Overlay() else None
    for entry in entries:
        if is_glob(entry):
            matched = _expand(entry, base)
            if not matched:
                problems.append(error("catalog-no-match", f"'{entry}' matches no book folder", file=path,
                                      line=lines.get("books"),
                                      hint="a pattern counts the folders that hold a book.yaml, relative to the catalogue"))
            books += [CatalogBook(folder, shared, layout, path) for folder in matched]
        else:
            books.append(CatalogBook(Path(entry) if Path(entry).is_absolute() else base / entry, shared, layout, path))
    if has_errors(problems):
        return Catalog((), tuple(problems))
    return Catalog(tuple(books), tuple(problems))


def _layout_ok(layout: str) -> bool:
    import string

    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(layout) if name is not None]
    except ValueError:
        return False
    # Each book a folder of its own: publish records what it wrote in each output folder
    # (.publish-outputs.json), and two builds at once must not share one record.
    if any(name not in LAYOUT_FIELDS for name in fields) or not fields:
        return False
    shown = Path(layout.format(slug="x", folder="x"))
    return not shown.is_absolute() and ".." not in shown.parts


def _defaults(data: dict, text: str, path: Path, lines: dict[str, int], problems: list[Diagnostic]) -> tuple[tuple[str, Any], ...]:
    """The `defaults` mapping, each key checked as book.yaml's own would be (config.parse_config),
    so a bad value is reported once, here, with its line in the catalogue."""
    raw = data.get("defaults")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.append(error("catalog-value", "'defaults': must be a mapping of book.yaml keys",
                              file=path, line=lines.get("defaults"), hint="write 'defaults:' and then '  publisher: …' lines"))
        return ()
    where = _nested_lines(text, "defaults")
    kept = []
    for key, value in raw.items():
        key = str(key)
        line = where.get(key, lines.get("defaults"))
        if key in PER_BOOK_KEYS:
            problems.append(error("catalog-per-book-key", f"'{key}' names one book and cannot be shared", file=path,
                                  line=line, hint=f"set '{key}' in each book's book.yaml instead"))
            continue
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            problems.append(warning("catalog-unknown-key", f"unknown book.yaml key '{key}' in 'defaults' is ignored",
                                    file=path, line=line,
                                    hint=f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"))
            continue
        _, found = parse_config(yaml.safe_dump({"title": "-", key: value}, allow_unicode=True), path)
        for problem in found:
            problems.append(Diagnostic(problem.code, problem.severity, problem.message.replace(f"'{key}':", f"'defaults.{key}':", 1),
                                       path, line, problem.hint))
        if not has_errors(found):
            kept.append((key, value))
    return tuple(kept)


def _stylesheets(data: dict, base: Path, path: Path, lines: dict[str, int], problems: list[Diagnostic]) -> str:
    """The `stylesheets` files' text, one after another: read here, so that a worker needs only
    the book folders, and never anything outside them."""
    from .manuscript import read_text

    raw = data.get("stylesheets")
    if raw is None:
        return ""
    names = [raw] if isinstance(raw, str) else raw
    line = lines.get("stylesheets")
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        problems.append(error("catalog-value", "'stylesheets': must be a CSS file or a list of them", file=path,
                              line=line, hint="write 'stylesheets: press.css', relative to the catalogue"))
        return ""
    parts = []
    for name in names:
        css_path = base / name
        if not css_path.is_file():
            problems.append(error("catalog-stylesheet", f"the stylesheet '{name}' does not exist", file=path, line=line,
                                  hint=f"looked for {css_path}; stylesheets are named relative to the catalogue"))
            continue
        css, problem = read_text(css_path, css_path)
        if problem:
            problems.append(problem)
            continue
        assert css is not None
        problems += _css_problems(css, css_path)
        parts.append(f"/* {Path(name).as_posix()} */\n{css.rstrip()}\n")
    return "".join(parts)


def _css_problems(css: str, path: Path) -> list[Diagnostic]:
    """What the editions could not use: CSS that does not parse, and files named by url() or
    @import, which no edition can carry (a book reads nothing outside its folder); data: URLs
    are fine."""
    import tinycss2

    found = []

    def refers(line: int, what: str) -> None:
        found.append(warning("catalog-css-url", f"a stylesheet addition names a file ({what}); no edition can carry it",
                             file=path, line=line, hint="embed it as a data: URL, or leave it to the house styles"))

    def walk(tokens: list) -> None:
        for token in tokens:
            if token.type == "url" and not token.value.startswith("data:"):
                refers(token.source_line, f"url({token.value})")
            elif token.type == "function" and token.lower_name == "url":
                value = next((t.value for t in token.arguments if t.type == "string"), "")
                if not value.startswith("data:"):
                    refers(token.source_line, f"url({value!r})")
            walk(list(getattr(token, "content", None) or getattr(token, "arguments", None) or []))

    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "error":
            found.append(warning("catalog-css", f"CSS that cannot be read: {rule.message}", file=path, line=rule.source_line,
                                 hint="the editions skip this rule; check its braces and semicolons"))
        elif rule.type == "at-rule" and rule.lower_at_keyword == "import":
            refers(rule.source_line, "@import")
        else:
            walk(list(rule.prelude or []) + list(rule.content or []))
    return found
