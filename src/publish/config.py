"""The typed book configuration (`book.yaml`) and its validation, in one place.

Metadata keys follow Pandoc's, so `pandoc --metadata-file book.yaml *.md` reads the same folder;
the pipeline's own keys are documented in the README. Every problem in the file is collected and
reported together, each with the line of the offending key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import langcodes
import yaml

from . import safe_yaml
from .diagnostics import Diagnostic, error, warning
from .isbn import Isbn, parse_isbn
from .roles import ROLES, role_named
from .sanitize import XML_FORBIDDEN

# Trim sizes in inches (width, height); A4/A5/Letter for home printing.
TRIM_PRESETS: dict[str, tuple[float, float]] = {
    "5x8": (5.0, 8.0),
    "5.25x8": (5.25, 8.0),
    "5.5x8.5": (5.5, 8.5),
    "6x9": (6.0, 9.0),
    "a5": (5.83, 8.27),
    "a4": (8.27, 11.69),
    "letter": (8.5, 11.0),
}
PDF_PROFILES = ("default", "print")
PRINT_SERVICES = ("kdp", "lulu", "ingram")
# Where a chapter opens in print (LaTeX's openright and openany, and an essay's run-on sections).
CHAPTER_OPENINGS = ("right", "any", "continuous")


@dataclass(frozen=True, slots=True)
class SpoilerNotice:
    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class Series:
    """The series a book belongs to, as a reader's library groups it."""

    name: str
    position: str | None = None  # "2", or "2.5" for a novella between two books


@dataclass(frozen=True, slots=True)
class TrimSize:
    name: str
    width_in: float
    height_in: float


BIBLIOGRAPHY_TYPES = (".bib", ".bibtex", ".json", ".yaml", ".yml", ".ris")  # the formats Pandoc's citeproc reads


@dataclass(frozen=True, slots=True)
class CitationConfig:
    """Pandoc's citation keys: where the references are, how they look, where the list goes."""

    bibliography: tuple[str, ...] = ()  # paths inside the book folder, in the order given
    csl: str | None = None  # a CSL style file inside the book folder; None: the shipped default
    nocite: tuple[str, ...] = ()  # keys listed without being cited; "*" is every entry
    reference_section_title: str | None = None  # the heading of a bibliography set as a chapter of its own
    link_citations: bool = True
    suppress_bibliography: bool = False


@dataclass(frozen=True, slots=True)
class Edition:
    """One edition of the book (`editions:` in book.yaml): the ebook, a paperback, a hardcover, a
    large-print paperback... Each has its own ISBN; a print edition its own trim, paper, service
    and binding (None: the book's own)."""

    name: str  # as written in book.yaml; also the edition's part of the file names
    binding: str  # "ebook", "paperback" or "hardcover"
    isbn: Isbn | None = None
    trim: TrimSize | None = None
    paper: str | None = None
    service: str | None = None
    font_size: float | None = None  # pt; large print is 16 pt or more
    caliper: str | None = None  # inches per page, from the service's own cover template

    @property
    def printed(self) -> bool:
        return self.binding != "ebook"

    @property
    def label(self) -> str:
        """How the copyright page names it: "paperback", "hardcover", "large print", "ebook"."""
        if self.font_size and self.font_size >= LARGE_PRINT_PT:
            return "large print" if self.binding == "paperback" else f"large print {self.binding}"
        return self.binding


@dataclass(frozen=True, slots=True)
class ChapterEntry:
    """A file of `chapters:` written as more than its name: its role, or the part it stands in."""

    file: str
    role: str = ""  # a name in roles.ROLES; "" when book.yaml gives none
    part: str = ""  # the title of the part it stands in, from book.yaml


@dataclass(frozen=True, slots=True)
class BookConfig:
    title: str
    lang: str = "en"
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    # How a library sorts each author ("Austen, Jane"): the author's `file-as`, else derived.
    authors_file_as: tuple[str, ...] = ()
    date: str | None = None
    rights: str | None = None
    publisher: str | None = None
    identifier: str | None = None
    description: str | None = None
    subjects: tuple[str, ...] = ()
    translators: tuple[str, ...] = ()
    cover_image: str | None = None
    spoiler: SpoilerNotice | None = None
    series: Series | None = None
    chapters: tuple[str, ...] | None = None
    chapter_entries: tuple[ChapterEntry, ...] = ()  # the files book.yaml gives a role or a part
    trim: TrimSize = field(default_factory=lambda: TrimSize("6x9", 6.0, 9.0))
    pdf_profile: str = "default"
    print_service: str = "kdp"
    chapter_openings: str = "right"
    # A build makes no network request unless the author opts in to downloading web images.
    remote_images: bool = False
    citations: CitationConfig = field(default_factory=lambda: CitationConfig())
    # Print covers and editions (docs/covers.md).
    isbn: Isbn | None = None  # the print edition's, for its barcode
    paper: str = "white"
    binding: str = "paperback"
    author_bio: str | None = None  # Markdown, for the back cover
    author_photo: str | None = None
    editions: tuple[Edition, ...] = ()
    edition: Edition | None = None  # the edition this configuration was made for (see `for_edition`)
    font_size: float | None = None  # pt, the print edition's body text; None: print.css's own
    # CSS added after the house stylesheets in every edition: a catalogue's stylesheet additions
    # (catalog.yaml's `stylesheets`, see `Overlay`); book.yaml has no such key.
    css: str = ""

    @property
    def slug(self) -> str:
        """The outputs' file stem: `publish build` writes `<slug>.epub`, `<slug>.pdf`, `<slug>/`."""
        from markdown.extensions.toc import slugify

        return slugify(self.title, "-") or "book"

    @property
    def direction(self) -> str:
        script = langcodes.Language.get(self.lang).maximize().script
        return "rtl" if script in {"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm"} else "ltr"


@dataclass(frozen=True, slots=True)
class Overlay:
    """What a catalogue lays over each of its books without touching their folders: values for
    the book.yaml keys a book leaves out (its own always win), and CSS for every edition. The
    catalogue has validated both (see catalog.py); a build only applies them."""

    defaults: tuple[tuple[str, Any], ...] = ()  # book.yaml keys and their values, as YAML reads them
    css: str = ""


KNOWN_KEYS = (
    "title", "subtitle", "author", "translator", "lang", "date", "rights", "publisher", "identifier",
    "description", "subject", "cover-image", "bibliography", "csl", "spoiler", "series", "belongs-to-collection",
    "group-position", "chapters", "trim", "pdf-profile", "print-service", "chapter-openings", "remote-images", "nocite",
    "reference-section-title", "link-citations", "suppress-bibliography",
    "isbn", "paper", "binding", "author-bio", "author-photo", "editions",
)
DEFAULT_SPOILER_HEADING = "Spoiler warning"


def _key_lines(text: str) -> dict[str, int]:
    """Map each top-level key to its 1-based line, so messages can point at it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _as_text(value: Any) -> str | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip() or None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return None


def _forbidden_character(value: Any) -> str | None:
    """The first character XML forbids in any text of `value` (a YAML value: text, lists, mappings)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if found := XML_FORBIDDEN.search(item):
                return found[0]
        elif isinstance(item, dict):
            stack.extend(reversed([part for pair in item.items() for part in pair]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return None


def chapter_files(value: Any) -> tuple[str, ...] | None:
    """The file names a `chapters:` list gives, in reading order, whatever its entries' form."""
    entries, _ = read_chapter_list(value)
    return None if entries is None else tuple(e.file for e in entries)


def read_chapter_list(value: Any) -> tuple[tuple[ChapterEntry, ...] | None, str]:
    """`chapters:` as entries, or None and what is wrong. An entry is a file name, a mapping
    `file:` with `role:`, or a part: `part:` (its title) with `chapters:` (entries of those kinds)."""
    if not isinstance(value, list):
        return None, "must be a list of chapter file names"
    entries: list[ChapterEntry] = []

    def read(items: list, part: str) -> str:
        for item in items:
            name = _as_text(item) if not isinstance(item, (dict, list)) else None
            if name is not None:
                entries.append(ChapterEntry(name, part=part))
            elif isinstance(item, dict) and "part" in item:
                title = _as_text(item.get("part"))
                if not title:
                    return "a part's 'part:' must be its title, a line of text"
                if part:
                    return f"the part '{title}' stands inside the part '{part}': parts do not nest"
                if not isinstance(item.get("chapters"), list) or not item["chapters"]:
                    return f"the part '{title}' needs its own 'chapters:' list"
                if unknown := set(item) - {"part", "chapters"}:
                    return f"the part '{title}' has '{sorted(unknown)[0]}', which a part cannot have"
                if problem := read(item["chapters"], title):
                    return problem
            elif isinstance(item, dict) and "file" in item:
                name = _as_text(item.get("file"))
                if not name:
                    return "an entry's 'file:' must be a file name"
                role = item.get("role")
                found = role_named(role) if isinstance(role, str) else None
                if role is not None and found is None:
                    return (f"'{name}' has the role {role!r}, which publish does not know (roles: "
                            f"{', '.join(ROLES)})")
                if unknown := set(item) - {"file", "role"}:
                    return f"'{name}' has '{sorted(unknown)[0]}', which an entry cannot have (only 'file' and 'role')"
                entries.append(ChapterEntry(name, found.name if found else "", part))
            else:
                return f"{item!r} is neither a file name, a 'file:' with its 'role:', nor a 'part:' with its 'chapters:'"
        return ""

    problem = read(value, "")
    return (None, problem) if problem else (tuple(entries), "")


def _as_text_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list):
        items = [_as_text(v) for v in value]
        return None if any(i is None for i in items) else tuple(items)  # type: ignore[misc]
    single = _as_text(value)
    return None if single is None else (single,)


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, reading a date as the text it is written as (as Pandoc does): then a
    date no calendar has (2020-02-30) is a `config-value` error naming the key, not a crash."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a configuration value was written: book.yaml, or a metadata block in a chapter file."""

    file: Path
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


def read_yaml_mapping(text: str, path: Path, *, what: str = "book.yaml",
                      first_line: int = 1) -> tuple[dict[str, Any] | None, dict[str, int], list[Diagnostic]]:
    """A YAML mapping's data and the line of each top-level key (offset by `first_line`)."""
    try:
        data = safe_yaml.load(text, _Loader)
    except safe_yaml.YAMLTooLarge as exc:
        mark = exc.problem_mark
        return None, {}, [error("config-yaml-size", f"{what} is too large to read: {exc.problem}",
                                file=path, line=mark.line + first_line if mark else None,
                                hint="write the values out instead of nesting aliases ('*name') inside each other")]
    except RecursionError:
        return None, {}, [error("config-yaml-size", f"{what} nests lists or mappings too deeply to read", file=path,
                                line=first_line, hint="a book's metadata needs a few levels of nesting at most")]
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a constructor's, e.g. a bad !!int
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else _first_bad_line(text, first_line)
        reason = getattr(exc, "problem", None) or str(exc)
        hint = ("delete the character: it is usually left over from a copy and paste" if isinstance(exc, yaml.reader.ReaderError)
                else "check the indentation and quote values that contain ': ' or start with a symbol")
        return None, {}, [error("config-yaml", f"{what} is not valid YAML: {reason}", file=path, line=line, hint=hint)]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, {}, [error("config-not-mapping", f"{what} must be a mapping of keys to values, not a {type(data).__name__}",
                                file=path, line=first_line, hint="write one 'key: value' per line, e.g. 'title: My Book'")]
    lines = {key: line + first_line - 1 for key, line in _key_lines(text).items()}
    return {str(k): v for k, v in data.items()}, lines, []


def _first_bad_line(text: str, first_line: int) -> int | None:
    """The line of the first character YAML refuses outright (its reader's errors carry no mark)."""
    bad = re.search("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", text)
    return text.count("\n", 0, bad.start()) + first_line if bad else None


def parse_config(text: str, path: Path) -> tuple[BookConfig | None, list[Diagnostic]]:
    """Validate `book.yaml`'s text. Returns the config (None if unusable) and every problem."""
    data, lines, problems = read_yaml_mapping(text, path)
    if data is None:
        return None, problems
    return build_config(data, {key: Place(path, lines.get(key)) for key in data}, home=path, text=text)


def same_value(key: str, a: Any, b: Any) -> bool:
    """Whether two places give a key the same value, as the book would use it (so a metadata
    block's "July 17, 2006" agrees with book.yaml's 2006-07-17, and "A" with ["A"])."""
    if key == "author":
        return _authors(a) == _authors(b)
    if key in {"translator", "subject", "bibliography"}:
        return _as_text_list(a) == _as_text_list(b)
    if key == "date":
        first, second = parse_date(_as_text(a) or ""), parse_date(_as_text(b) or "")
        if first and second:
            return first == second
    if key == "lang" and isinstance(a, str) and isinstance(b, str) and langcodes.tag_is_valid(a) \
            and langcodes.tag_is_valid(b):
        return langcodes.standardize_tag(a) == langcodes.standardize_tag(b)
    if isinstance(a, (str, int, float)) and isinstance(b, (str, int, float)):
        return " ".join(str(a).split()) == " ".join(str(b).split())
    return a == b


def build_config(data: dict[str, Any], places: dict[str, Place], *, home: Path,
                 lenient: frozenset[str] = frozenset(), text: str | None = None) -> tuple[BookConfig | None, list[Diagnostic]]:
    """Validate configuration `data` whose keys were written at `places` (`text`: book.yaml's, for
    the lines of nested keys).

    A bad value is an error, except for the keys in `lenient` (those a metadata block gave, written
    for Pandoc, which takes any text): such a value is ignored with a warning."""
    problems: list[Diagnostic] = []
    data = dict(data)

    def place(key: str) -> Place:
        return places.get(key) or Place(home)

    def bad(key: str, message: str, hint: str) -> None:
        where = place(key)
        if key in lenient:
            problems.append(warning("config-value", f"'{key}': {message}; the metadata block's value is ignored",
                                    file=where.file, line=where.line, hint=hint))
        else:
            problems.append(error("config-value", f"'{key}': {message}", file=where.file, line=where.line, hint=hint))

    refused: set[str] = set()
    for key in list(data):
        if (char := _forbidden_character(data[key])) is not None:
            refused.add(key)
            bad(key, f"contains the character U+{ord(char):04X}, which XML (and so no book) can hold",
                "delete it: it is usually left over from a copy and paste, or an escape such as \\x01 in quotes")
            data.pop(key)
            continue
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
            problems.append(warning("config-unknown-key", f"unknown key '{key}' is ignored", file=place(key).file,
                                    line=place(key).line, hint=hint))
    if "title" in lenient and "title" not in refused and _as_text(data.get("title")) is None:
        bad("title", "is not a single line of text", "write it as 'title: The Name of the Book'")
        data.pop("title")

    values: dict[str, Any] = {}
    title = _as_text(data.get("title"))
    if title is None and data.get("title") is not None and not isinstance(data["title"], str):
        problems.append(error("config-title", f"'title': {data['title']!r} is not a single line of text",
                              file=place("title").file, line=place("title").line,
                              hint="write it as 'title: The Name of the Book'"))
    elif title is None and "title" not in refused:
        problems.append(error("config-title", "the book has no title", file=home, line=place("title").line or 1,
                              hint="add a line such as 'title: The Name of the Book'"))

    for key in ("subtitle", "rights", "publisher", "identifier", "description", "cover-image"):
        if key in data and data[key] is not None:
            text_value = _as_text(data[key])
            if text_value is None:
                bad(key, "must be a single line of text", f"write it as '{key}: some text'")
            else:
                values[key.replace("-", "_")] = text_value

    for key, attr in (("translator", "translators"), ("subject", "subjects")):
        if key in data and data[key] is not None:
            items = _as_text_list(data[key])
            if items is None:
                bad(key, "must be text or a list of texts", f"write '{key}: Name' or a list of '- Name' lines")
            else:
                values[attr] = items

    if "author" in data and data["author"] is not None:
        authors = _authors(data["author"])
        if authors is None:
            bad("author", "must be a name, a list of names, or a list of 'name:' and 'file-as:' pairs",
                "write 'author: Jane Austen', or '- name: Ursula K. Le Guin' with 'file-as: Le Guin, Ursula K.' under it")
        else:
            values["authors"] = tuple(name for name, _ in authors)
            values["authors_file_as"] = tuple(file_as or sort_name(name) for name, file_as in authors)

    series = _series(data, bad)
    if series is not None:
        values["series"] = series

    if "lang" in data:
        lang = _as_text(data["lang"])
        if lang is None or not langcodes.tag_is_valid(lang):
            bad("lang", f"{data['lang']!r} is not a valid BCP 47 language tag",
                "use a tag such as 'en', 'en-GB', 'fr' or 'zh-Hant'")
        else:
            values["lang"] = langcodes.standardize_tag(lang)

    if "date" in data and data["date"] is not None:
        date = _as_text(data["date"])
        if date is None or parse_date(date) is None:
            bad("date", f"{data['date']!r} is not a date", "write it as YYYY, YYYY-MM or YYYY-MM-DD")
        else:
            values["date"] = iso_date(date)

    if "spoiler" in data and data["spoiler"] is not None:
        raw = data["spoiler"]
        if isinstance(raw, dict) and _as_text(raw.get("text")):
            values["spoiler"] = SpoilerNotice(_as_text(raw.get("heading")) or DEFAULT_SPOILER_HEADING,
                                              _as_text(raw["text"]) or "")
        elif _as_text(raw):
            values["spoiler"] = SpoilerNotice(DEFAULT_SPOILER_HEADING, _as_text(raw) or "")
        else:
            bad("spoiler", "must be the notice's text, or a mapping with 'heading' and 'text'",
                "write 'spoiler: This book reveals the ending.'")

    if "chapters" in data and data["chapters"] is not None:
        entries, problem = read_chapter_list(data["chapters"])
        if entries is None:
            bad("chapters", problem, "write one '- 01-name.md' line per chapter, or '- file: 01-name.md' with "
                "'role: dedication' under it, or '- part: Part One' with its own 'chapters:' (docs/authoring.md)")
        else:
            values["chapters"] = tuple(e.file for e in entries)
            values["chapter_entries"] = tuple(e for e in entries if e.role or e.part)

    if "trim" in data and data["trim"] is not None:
        trim = parse_trim(data["trim"])
        if trim is None:
            bad("trim", f"{data['trim']!r} is not a trim size",
                f"use one of {', '.join(TRIM_PRESETS)}, or 'width: 6in' and 'height: 9in' (in, mm or cm)")
        else:
            values["trim"] = trim

    for key, choices in (("pdf-profile", PDF_PROFILES), ("print-service", PRINT_SERVICES),
                         ("chapter-openings", CHAPTER_OPENINGS)):
        if key in data and data[key] is not None:
            choice = _as_text(data[key])
            if choice not in choices:
                close = difflib.get_close_matches(str(choice), choices, n=1)
                bad(key, f"{data[key]!r} is not one of {', '.join(choices)}",
                    f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(choices)}")
            else:
                values[key.replace("-", "_")] = choice

    if "remote-images" in data and data["remote-images"] is not None:
        if isinstance(data["remote-images"], bool):
            values["remote_images"] = data["remote-images"]
        else:
            bad("remote-images", f"{data['remote-images']!r} is not true or false",
                "write 'remote-images: true' to let the build download images from the web, or leave it out")

    citations = _citation_config(data, bad)
    if citations is not None:
        values["citations"] = citations

    def report(where: tuple[str, ...], message: str, hint: str, make: Any = error) -> None:
        at = place(where[0])
        line = _nested_line(text, where) if text is not None and at.file == home else None
        problems.append(make("config-value", f"'{' → '.join(where)}': {message}", file=at.file, line=line or at.line,
                             hint=hint))

    values.update(print_values(data, report=report))

    problems.sort(key=lambda p: (p.file != home, str(p.file), p.line or 0))  # in the order the author reads them
    if title is None or any(p.severity.name == "ERROR" for p in problems):
        return None, problems
    return BookConfig(title=title, **values), problems


def _authors(value: Any) -> list[tuple[str, str | None]] | None:
    """(name, file-as) for each author: a name, or a mapping with `name` (Pandoc: `text`) and `file-as`."""
    items = value if isinstance(value, list) else [value]
    authors = []
    for item in items:
        if isinstance(item, dict):
            name = _as_text(item.get("name", item.get("text")))
            file_as = _as_text(item.get("file-as"))
            if name is None or (item.get("file-as") is not None and file_as is None):
                return None
            authors.append((name, file_as))
        elif (name := _as_text(item)) is not None:
            authors.append((name, None))
        else:
            return None
    return authors


# Words that belong to the surname and follow the given names in a sorted name ("Beethoven,
# Ludwig van"), and generational suffixes that stay at the end ("King, Martin Luther, Jr.").
_PARTICLES = {"van", "von", "de", "der", "den", "du", "da", "di", "del", "della", "des", "ten", "ter", "zu"}
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d."}


def sort_name(name: str) -> str:
    """How a library files a personal name: "Jane Austen" as "Austen, Jane". A name of one word,
    one with a comma already, or one in a script written without spaces stays as it is; an
    author whose name this gets wrong (a company, "Le Guin") gives `file-as` in book.yaml."""
    words = name.split()
    if len(words) < 2 or "," in name:
        return name
    suffix = []
    while len(words) > 2 and words[-1].lower().rstrip(",") in _SUFFIXES:
        suffix.insert(0, words.pop().rstrip(","))
    surname = words.pop()
    particles = []
    while len(words) > 1 and words[-1].lower() in _PARTICLES:
        particles.insert(0, words.pop())
    given = " ".join(words + particles)
    return ", ".join([surname, given, *([" ".join(suffix)] if suffix else [])])


def _series(data: dict, bad: Any) -> Series | None:
    """`series: Name`, or `series:` with `name` and `position`; or Pandoc's `belongs-to-collection`
    with `group-position`."""
    if data.get("series") is not None:
        raw = data["series"]
        if isinstance(raw, dict):
            name, position = _as_text(raw.get("name")), raw.get("position")
        else:
            name, position = _as_text(raw), None
        key = "series"
    elif data.get("belongs-to-collection") is not None:
        name, position, key = _as_text(data["belongs-to-collection"]), data.get("group-position"), "belongs-to-collection"
    else:
        return None
    if name is None:
        bad(key, "must be the series' name, or a mapping with 'name' and 'position'",
            "write 'series: The Name' or, under 'series:', 'name: The Name' and 'position: 2'")
        return None
    if position is None:
        return Series(name)
    if isinstance(position, bool) or not isinstance(position, (int, float)) or position < 0:
        bad(key, f"the position {position!r} is not a number", "write the book's number in the series, e.g. 'position: 2'")
        return None
    return Series(name, f"{position:g}")


def _citation_config(data: dict[str, Any], bad: Callable[[str, str, str], None]) -> CitationConfig | None:
    values: dict[str, Any] = {}
    if data.get("bibliography") is not None:
        paths = _as_text_list(data["bibliography"])
        if paths is None:
            bad("bibliography", "must be a file name or a list of file names",
                "write 'bibliography: references.bib', or one '- file.bib' line per file")
        elif unknown := [p for p in paths if not p.lower().endswith(BIBLIOGRAPHY_TYPES)]:
            bad("bibliography", f"'{unknown[0]}' is not a bibliography file Pandoc's citeproc reads",
                f"name a file ending in {', '.join(BIBLIOGRAPHY_TYPES)} (BibLaTeX, BibTeX, CSL JSON, CSL YAML, RIS)")
        else:
            values["bibliography"] = paths
    for key in ("csl", "reference-section-title"):
        if data.get(key) is not None:
            text_value = _as_text(data[key])
            if text_value is None:
                bad(key, "must be a single line of text", f"write it as '{key}: some text'")
            else:
                values[key.replace("-", "_")] = text_value
    if data.get("nocite") is not None:
        # Pandoc writes it as citations: "@item1, @item2" or "@*".
        keys = _as_text_list(data["nocite"])
        if keys is None:
            bad("nocite", "must be citations such as '@item1, @item2', or '@*' for every entry",
                "write 'nocite: \"@item1, @item2\"' (quoted: YAML reads a leading @ as reserved)")
        else:
            values["nocite"] = tuple(braced or plain for text in keys
                                     for braced, plain in re.findall(r"@(?:\{([^{}\s]+)\}|(\*|[^\s,;@]+))", text))
    for key in ("link-citations", "suppress-bibliography"):
        if data.get(key) is not None:
            if isinstance(data[key], bool):
                values[key.replace("-", "_")] = data[key]
            else:
                bad(key, f"{data[key]!r} is not true or false", f"write '{key}: true' or '{key}: false'")
    return CitationConfig(**values) if values else None


# Dates as Pandoc users write them in a title block ("July 17, 2006", "17 July 2006"); English
# month names only, as strptime reads them in the C locale the build runs in.
_LONG_DATES = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %Y", "%b %Y")
_DATE_PATTERNS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y-%m", "%Y", *_LONG_DATES)


def iso_date(text: str) -> str:
    """A date written in words as YYYY-MM-DD (or YYYY-MM), as the EPUB's metadata must give it;
    an ISO date as written."""
    text = text.strip()
    for pattern in _LONG_DATES:
        try:
            parsed = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m" if "%d" not in pattern else "%Y-%m-%d")
    return text


def parse_date(text: str) -> dt.datetime | None:
    """A date written as YYYY, YYYY-MM or YYYY-MM-DD (or a full ISO timestamp, or "July 17, 2006"), in UTC."""
    for pattern in _DATE_PATTERNS:
        try:
            parsed = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=parsed.tzinfo or dt.timezone.utc).astimezone(dt.timezone.utc)
    return None


_LENGTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(in|mm|cm)\s*$")
_PER_INCH = {"in": 1.0, "mm": 25.4, "cm": 2.54}


def _inches(value: Any) -> float | None:
    match = _LENGTH.match(str(value))
    if not match:
        return None
    inches = float(match[1]) / _PER_INCH[match[2]]
    return inches if 2.0 <= inches <= 20.0 else None


def parse_trim(value: Any) -> TrimSize | None:
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "").replace("×", "x").removesuffix("in")
        if key in TRIM_PRESETS:
            return TrimSize(key, *TRIM_PRESETS[key])
        return None
    if isinstance(value, dict):
        width, height = _inches(value.get("width")), _inches(value.get("height"))
        if width and height:
            return TrimSize(f"{width:g}x{height:g}", width, height)
    return None


# -- print covers and editions ----------------------------------------------------------------

PAPERS = ("white", "cream", "color")
BINDINGS = ("ebook", "paperback", "hardcover")
LARGE_PRINT_PT = 16.0  # the least size large print is set in (UKAAF, APH and RNIB all say 16 pt)
_EDITION_KEYS = ("isbn", "binding", "trim", "paper", "service", "font-size", "caliper")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(pt)?\s*$")
_CALIPER = re.compile(r"^\s*(0?\.[0-9]+)\s*(in)?\s*$")

Report = Any  # (path of keys, message, hint[, make=warning]) -> None: an error unless made a warning


def print_values(data: dict[str, Any], *, report: Report) -> dict[str, Any]:
    """The print keys of book.yaml (isbn, paper, binding, author-bio, author-photo, editions),
    checked; each problem goes to `report` with the keys that lead to it."""
    values: dict[str, Any] = {}
    if data.get("isbn") is not None:
        isbn, why = parse_isbn(str(data["isbn"]))
        if isbn is None:
            report(("isbn",), f"{data['isbn']!r} is not a valid ISBN: {why}",
                   "copy the ISBN from the agency's record (Bowker, Nielsen, ...), 10 or 13 digits")
        else:
            values["isbn"] = isbn
    for key, choices in (("paper", PAPERS), ("binding", BINDINGS[1:])):
        if data.get(key) is not None:
            choice = _choice(data[key], choices, (key,), report)
            if choice:
                values[key] = choice
    for key in ("author-bio", "author-photo"):
        if data.get(key) is not None:
            if not isinstance(data[key], (str, int, float)) or not str(data[key]).strip():
                report((key,), "must be text", f"write '{key}: ...' on one line, or as a '|' block")
            else:
                values[key.replace("-", "_")] = str(data[key]).strip()
    if data.get("editions") is not None:
        values["editions"] = _editions(data["editions"], report)
    return values


def _choice(value: Any, choices: tuple[str, ...], where: tuple[str, ...], report: Report) -> str | None:
    choice = _as_text(value)
    if choice in choices:
        return choice
    close = difflib.get_close_matches(str(choice), choices, n=1)
    report(where, f"{value!r} is not one of {', '.join(choices)}",
           f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(choices)}")
    return None


def _editions(raw: Any, report: Report) -> tuple[Edition, ...]:
    if not isinstance(raw, dict) or not raw:
        report(("editions",), "must be a mapping of edition names to their settings",
               "write 'editions:' and under it one name a line, e.g. 'paperback: {isbn: 978-..., paper: cream}'")
        return ()
    editions = []
    isbns: dict[str, str] = {}
    for key, settings in raw.items():
        name = str(key)
        if not _NAME.match(name):
            report(("editions", name), "an edition's name is part of its file names: lower-case letters, digits and '-'",
                   "e.g. 'paperback', 'hardcover', 'large-print'")
            continue
        settings = {} if settings is None else settings
        if not isinstance(settings, dict):
            report(("editions", name), "must be a mapping of settings", f"known settings: {', '.join(_EDITION_KEYS)}")
            continue
        edition = _edition(name, settings, report)
        if edition is None:
            continue
        if edition.isbn is not None:
            if edition.isbn.ean in isbns:
                report(("editions", name, "isbn"), f"is the ISBN of the '{isbns[edition.isbn.ean]}' edition too",
                       "each edition (ebook, paperback, hardcover, large print) needs an ISBN of its own")
            isbns.setdefault(edition.isbn.ean, name)
        editions.append(edition)
    return tuple(editions)


def _edition(name: str, settings: dict[str, Any], report: Report) -> Edition | None:
    for key in settings:
        if str(key) not in _EDITION_KEYS:
            close = difflib.get_close_matches(str(key), _EDITION_KEYS, n=1)
            report(("editions", name, str(key)), "is not an edition setting, and is ignored",
                   f"did you mean '{close[0]}'?" if close else f"known settings: {', '.join(_EDITION_KEYS)}",
                   make=warning)
    where = lambda key: ("editions", name, key)  # noqa: E731
    binding = _choice(settings["binding"], BINDINGS, where("binding"), report) if settings.get("binding") is not None \
        else _binding_of(name)
    if binding is None:
        return None
    values: dict[str, Any] = {}
    if settings.get("isbn") is not None:
        isbn, why = parse_isbn(str(settings["isbn"]))
        if isbn is None:
            report(where("isbn"), f"{settings['isbn']!r} is not a valid ISBN: {why}",
                   "copy the ISBN from the agency's record, 10 or 13 digits")
        else:
            values["isbn"] = isbn
    printed = binding != "ebook"
    for key in ("trim", "paper", "service", "font-size", "caliper"):
        if settings.get(key) is not None and not printed:
            report(where(key), "is a print setting, and this edition is an ebook",
                   "remove it, or give the edition 'binding: paperback' or 'binding: hardcover'")
    if not printed:
        return Edition(name, binding, **values)
    if settings.get("trim") is not None:
        trim = parse_trim(settings["trim"])
        if trim is None:
            report(where("trim"), f"{settings['trim']!r} is not a trim size",
                   f"use one of {', '.join(TRIM_PRESETS)}, or 'width: 6in' and 'height: 9in' (in, mm or cm)")
        else:
            values["trim"] = trim
    if settings.get("paper") is not None:
        values["paper"] = _choice(settings["paper"], PAPERS, where("paper"), report)
    if settings.get("service") is not None:
        values["service"] = _choice(settings["service"], PRINT_SERVICES, where("service"), report)
    size = settings.get("font-size")
    if size is None and "large" in name:
        size = LARGE_PRINT_PT  # what an edition named large print means
    if size is not None:
        match = _SIZE.match(str(size))
        points = float(match[1]) if match else None
        if points is None or not 6 <= points <= 30:
            report(where("font-size"), f"{size!r} is not a type size", "write it in points, e.g. 'font-size: 16pt'")
        else:
            if "large" in name and points < LARGE_PRINT_PT:
                report(where("font-size"), f"{points:g} pt is too small for large print",
                       f"large print is set in {LARGE_PRINT_PT:g} pt or more (UKAAF, APH, RNIB)", make=warning)
            values["font_size"] = points
    if settings.get("caliper") is not None:
        match = _CALIPER.match(str(settings["caliper"]))
        if match is None or not 0.001 <= float(match[1]) <= 0.01:
            report(where("caliper"), f"{settings['caliper']!r} is not a paper thickness per page",
                   "inches per page as the service's cover template states it, e.g. 'caliper: 0.0025'")
        else:
            values["caliper"] = match[1]
    return Edition(name, binding, **{k: v for k, v in values.items() if v is not None})


def _binding_of(name: str) -> str:
    if name in {"ebook", "epub", "kindle"}:
        return "ebook"
    return "hardcover" if "hardcover" in name or "hardback" in name else "paperback"


def for_edition(config: BookConfig, edition: Edition) -> BookConfig:
    """The configuration an edition is made from: the book's, with the edition's own settings."""
    import dataclasses

    changes: dict[str, Any] = {"edition": edition}
    if edition.isbn is not None:
        changes["identifier"] = edition.isbn.urn
    if edition.printed:
        changes.update(binding=edition.binding, pdf_profile="print", isbn=edition.isbn,
                       trim=edition.trim or config.trim, paper=edition.paper or config.paper,
                       print_service=edition.service or config.print_service, font_size=edition.font_size)
    return dataclasses.replace(config, **changes)


def _nested_line(text: str, where: tuple[str, ...]) -> int | None:
    """The line of a nested key (("editions", "paperback", "isbn")), for messages."""
    if len(where) < 2:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in where:
        if not isinstance(node, yaml.MappingNode):
            break
        found = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if found is None:
            break
        line, node = found[0].start_mark.line + 1, found[1]
    return line
