"""Reading a built print edition back, as a reader and a printer see it.

The print tests assert layout facts found in the PDF itself: page boxes, page labels and
bookmarks through pypdf; the words on each page, with their positions and sizes, through
pdfplumber. A page is split the way a book designer sees it: the running head in the top margin,
the folio in the bottom margin, the text block, and the footnotes below the text.

Books are built once per test session (`built`), into tests/_artifacts/print/, where the
files stay for a look after a failure.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
from conftest import PRIDE
from pypdf import PdfReader

from publish.build import build
from publish.model import Book
from publish.pdf import margins_for

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "_artifacts" / "print"
BOOKS = {
    "sample": REPO / "manuscript",
    "features": REPO / "tests" / "books" / "features",
    "tables": REPO / "tests" / "books" / "tables",
    "roles": REPO / "tests" / "books" / "roles",
    "pride": PRIDE,
}
POINTS = 72.0  # per inch
NOTE_SIZE = 9.0  # footnotes are set at 8.5 pt; the smallest text type (tables, captions) at 9.45 pt


@dataclass(frozen=True, slots=True)
class Line:
    top: float
    bottom: float
    x0: float
    x1: float
    size: float  # the largest type on the line: a footnote call does not make a line small
    text: str  # without the footnote calls
    calls: tuple[str, ...] = ()  # footnote calls (superscript numbers) on the line


@dataclass(frozen=True, slots=True)
class Page:
    index: int  # 0-based, physical
    label: str  # the PDF page label, as a viewer shows it
    head: tuple[Line, ...]  # in the top margin
    text: tuple[Line, ...]  # the text block, footnotes excepted
    notes: tuple[Line, ...]  # footnotes: small type in the text block
    folio: tuple[Line, ...]  # in the bottom margin

    @property
    def number(self) -> int:
        """1-based physical page number: odd pages are right-hand (recto) pages."""
        return self.index + 1

    @property
    def recto(self) -> bool:
        return self.number % 2 == 1

    @property
    def blank(self) -> bool:
        return not (self.head or self.text or self.notes or self.folio)

    def words(self) -> str:
        return " ".join(line.text for line in self.text)


class PrintedPdf:
    """A built PDF, read lazily page by page (pdfplumber takes ~0.1 s a page)."""

    def __init__(self, path: Path, book: Book) -> None:
        self.path = path
        self.book = book
        self.reader = PdfReader(path)
        self.labels = list(self.reader.page_labels)
        self._plumber = pdfplumber.open(io.BytesIO(path.read_bytes()))  # no file left open
        self.margins = margins_for(book.config, len(self.reader.pages))

    def __len__(self) -> int:
        return len(self.reader.pages)

    def close(self) -> None:
        self._plumber.close()

    @functools.cache  # noqa: B019 - one PrintedPdf per book per session
    def page(self, index: int) -> Page:
        plumbed = self._plumber.pages[index]
        height = float(plumbed.height)
        lines = _lines(plumbed.extract_words(extra_attrs=["size"]))
        head_limit = self.margins.top * POINTS
        foot_limit = height - self.margins.bottom * POINTS
        head = tuple(line for line in lines if line.bottom <= head_limit)
        folio = tuple(line for line in lines if line.top >= foot_limit)
        block = [line for line in lines if line not in head and line not in folio]
        return Page(index, self.labels[index], head,
                    tuple(line for line in block if line.size >= NOTE_SIZE),
                    tuple(line for line in block if line.size < NOTE_SIZE), folio)

    def pages(self, *, until: int | None = None) -> list[Page]:
        return [self.page(i) for i in range(min(len(self), until or len(self)))]

    def outline(self) -> list[tuple[str, int, int]]:
        """(title, level, 0-based page) for every bookmark, in order."""
        found: list[tuple[str, int, int]] = []

        def walk(items: list, level: int) -> None:  # noqa: ANN001
            for item in items:
                if isinstance(item, list):
                    walk(item, level + 1)
                else:
                    found.append((str(item.title), level, self.reader.get_destination_page_number(item)))

        walk(self.reader.outline, 1)
        return found

    def chapter_openings(self) -> dict[str, int]:
        """Chapter id -> 0-based page where the chapter's bookmark points (a chapter in a part is
        a bookmark under the part's; a dedication or an epigraph has none)."""
        marks: dict[str, int] = {}
        for wanted in (1, 2):
            for title, level, page in self.outline():
                if level == wanted:
                    marks.setdefault(normalise(title), page)
        return {c.id: marks[normalise(c.title.text)] for c in self.book.chapters
                if not c.role.display or normalise(c.title.text) in marks}

    def chapter_of(self, index: int) -> str | None:
        """The id of the chapter a page belongs to (None in the front matter)."""
        current = None
        for chapter_id, opening in sorted(self.chapter_openings().items(), key=lambda item: item[1]):
            if opening <= index:
                current = chapter_id
        return current


def _lines(words: list[dict]) -> list[Line]:
    """Group words into lines: a word belongs to a line its height overlaps, so a superscript
    footnote call stays on its line (as one of the line's `calls`)."""
    rows: list[list[dict]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if rows and word["top"] < max(w["bottom"] for w in rows[-1]) - 1:
            rows[-1].append(word)
        else:
            rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        largest = max(w["size"] for w in row)
        own = [w for w in row if w["size"] > 0.8 * largest]  # the line's own type, calls excepted
        calls = tuple(w["text"] for w in row if w["size"] <= 0.8 * largest)
        lines.append(Line(min(w["top"] for w in own), max(w["bottom"] for w in own),
                          min(w["x0"] for w in own), max(w["x1"] for w in own), largest,
                          " ".join(w["text"] for w in own), calls))
    return sorted(lines, key=lambda line: line.top)


def normalise(text: str) -> str:
    """Letters and digits only, case-folded: how two editions of one text are compared."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def contents_entries(pdf: PrintedPdf) -> list[tuple[str, str]]:
    """(title, page label) for each entry of the printed contents."""
    first_text = min(pdf.chapter_openings().values())
    start = next(pdf.page(i) for i in range(first_text) if any(line.text.casefold() == "contents" for line in pdf.page(i).text))
    entries, pending = [], ""
    for index in range(start.index, first_text):
        for line in pdf.page(index).text:
            if line.text.casefold() == "contents":
                continue
            match = re.fullmatch(r"(.*?)\s+(\d+)", line.text)
            if match is None:
                pending += line.text + " "  # a long title wraps onto the next line
                continue
            entries.append(((pending + match[1]).strip(), match[2]))
            pending = ""
    return entries


@dataclass(frozen=True, slots=True)
class Built:
    book: Book
    pdf: Path
    epub: Path


@functools.cache
def built(name: str, *, pdf_profile: str | None = None) -> Built:
    """Build one of `BOOKS` (PDF and EPUB) once per session; fail on any diagnostic."""
    out = ARTIFACTS / (name if pdf_profile is None else f"{name}-{pdf_profile}")
    result = build(BOOKS[name], out, formats=("epub", "pdf"), pdf_profile=pdf_profile,
                   source_date_epoch="1700000000")
    assert not result.diagnostics, "\n".join(map(str, result.diagnostics))
    paths = {p.suffix: p for p in result.outputs}
    return Built(result.book, paths[".pdf"], paths[".epub"])


@functools.cache
def printed(name: str) -> PrintedPdf:
    made = built(name)
    return PrintedPdf(made.pdf, made.book)
