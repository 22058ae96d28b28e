"""Tables as Pandoc reads them: pipe, simple, multiline and grid tables, with their captions.

Our own reader, because nothing on PyPI reads them as Pandoc does: Python-Markdown's `tables`
reads pipe tables only, and refuses one whose line of dashes has fewer cells than its header
(Pandoc takes the dashes as the columns); markdown-grid-tables 0.6 and markdown-grids 1.0 read
grid tables, but neither reads the alignment colons of a `+:==+` line, both turn a cell's lines
into `<br>`-broken lines where Pandoc joins them into one paragraph, and both fail on wide (CJK)
or zero-width characters; none reads simple or multiline tables, captions or relative widths.
One reader for all four kinds also gives every table one shape of HTML.

What Pandoc's reader does, and so what this one does (Pandoc's `table` parser, in its order):
pipe tables (a line with `|` over a line of `|---|:-:|`); multiline tables (a line of dashes,
header lines, dashes with gaps, rows separated by blank lines, a closing line of dashes); simple
tables (a header line over dashes with gaps, one line per row); headerless simple and multiline
tables (they open and close with the dashed line); grid tables (`+---+` borders, `=` under the
header and over a foot, cells holding blocks and spanning rows or columns). A caption is a
paragraph starting `Table:` or `:` just before or after the table; a `{#id .class}` at its end
goes to the table. Column widths are measured as Pandoc measures them (against 72 columns of
source text); alignment comes from colons, or, in simple and multiline tables, from where the
header text stands over its dashes.

The HTML follows Pandoc's HTML writer, with one change: alignment is a class (`align-left`,
`align-right`, `align-center`) on every cell of the column, not a style attribute, which the
sanitiser removes. Widths are `<col style="width: N%">` (the only style the sanitiser keeps).

One deliberate difference: Pandoc drops text standing left of a simple or multiline table's
first column of dashes (an indented header, say); here it stays in the first column. Text that
Pandoc drops too (cells past the last column of a pipe table's dashes) is named in a warning.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import xml.etree.ElementTree as etree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from markdown import Markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.preprocessors import NormalizeWhitespace

from ..diagnostics import Diagnostic, warning

Align = Literal["left", "right", "center"] | None

# Pandoc measures a table's source against this many columns (its default --columns).
COLUMNS = 72


@dataclass(frozen=True, slots=True)
class Cell:
    text: str  # the cell's Markdown
    blocks: bool = False  # a grid table's cell holds blocks; the others hold one line of inlines
    rowspan: int = 1
    colspan: int = 1


Row = tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Table:
    kind: str  # "pipe", "simple", "multiline" or "grid"
    aligns: tuple[Align, ...]
    head: tuple[Row, ...]
    body: tuple[Row, ...]
    foot: tuple[Row, ...] = ()
    widths: tuple[float, ...] = ()  # fractions of the text width, or none (the browser decides)
    caption: str | None = None
    id: str | None = None
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something an author should hear about a table, at a line of the text it was read from."""

    line: int  # index into the lines the table was read from
    code: str
    message: str
    hint: str


# --- Lines -----------------------------------------------------------------------------------

class Lines:
    """The lines of successive Markdown blocks, read only as far as a table needs them.

    Blocks are the text between blank lines, as Python-Markdown splits it; joined back with one
    blank line each they give the text again, so a line's index here is its line in that text."""

    def __init__(self, blocks: list[str]) -> None:
        self.blocks = blocks
        self.lines: list[str] = []
        self.starts: list[int] = []  # the index of each loaded block's first line
        self._next = 0

    def _load(self) -> bool:
        if self._next >= len(self.blocks):
            return False
        if self._next:
            self.lines.append("")
        self.starts.append(len(self.lines))
        self.lines.extend(self.blocks[self._next].split("\n"))
        self._next += 1
        return True

    def get(self, index: int) -> str | None:
        """The line, or None past the last line."""
        while index >= len(self.lines) and self._load():
            pass
        return self.lines[index] if 0 <= index < len(self.lines) else None

    def __getitem__(self, index: int) -> str:
        line = self.get(index)
        if line is None:
            raise IndexError(index)
        return line

    def block_start(self, block: int) -> int | None:
        while block >= len(self.starts) and self._load():
            pass
        return self.starts[block] if block < len(self.starts) else None

    def consume(self, end: int) -> None:
        """Take lines [0, end) off the blocks; what is left of a block cut through goes back."""
        self.get(end)
        block = 0
        while block + 1 < len(self.starts) and self.starts[block + 1] <= end:
            block += 1
        own = self.blocks[block].split("\n")
        rest = own[end - self.starts[block]:] if end >= self.starts[block] else own
        del self.blocks[:block + 1]
        if any(line.strip() for line in rest):
            self.blocks.insert(0, "\n".join(rest))


def _blank(line: str | None) -> bool:
    return line is None or not line.strip()


@functools.lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """How many columns of a monospaced source a character takes (0 for combining marks)."""
    if unicodedata.combining(char) or unicodedata.category(char) in {"Mn", "Me", "Cf"}:
        return 0
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


# Characters that may not take exactly one column: all but printable Latin and punctuation (a soft
# hyphen takes none).
_NOT_NARROW = re.compile("[^\x20-\x7e\xa0-\xac\xae-\u02ff\u2010-\u2027\u2030-\u205e]")


def _narrow(line: str) -> bool:
    """Whether every character of the line takes one column (most lines: a quick way through)."""
    return _NOT_NARROW.search(line) is None


def _split_columns(line: str, starts: Sequence[int]) -> list[str]:
    """The line cut at the given columns: the text before `starts[0]`, then one piece per column."""
    if _narrow(line):
        edges = [0, *starts, max(len(line), starts[-1])]
        return [line[a:b] for a, b in zip(edges, edges[1:])]
    pieces = [""] * (len(starts) + 1)
    column, piece = 0, 0
    for char in line:
        while piece < len(starts) and column >= starts[piece]:
            piece += 1
        pieces[piece] += char
        column += char_width(char)
    return pieces


def _crossing(line: str, starts: Sequence[int]) -> str | None:
    """A word of the line that a column edge cuts in two, if any."""
    edges = set(starts[1:])
    if _narrow(line):
        for edge in sorted(edges):
            if 0 < edge < len(line) and not line[edge].isspace() and not line[edge - 1].isspace():
                return line[:edge].split()[-1] + line[edge:].split()[0]
        return None
    column = 0
    previous = " "
    for index, char in enumerate(line):
        if column in edges and not char.isspace() and not previous.isspace():
            words = re.findall(r"\S+", line[:index])[-1:] + re.findall(r"\S+", line[index:])[:1]
            return "".join(words)
        column += char_width(char)
        previous = char
    return None


# --- Captions --------------------------------------------------------------------------------

_CAPTION = re.compile(r"^ {0,3}(?:Table:|:(?=\s|$))")
_ATTRIBUTES = re.compile(r"\s*\{([^{}]*)\}\s*$")
_ATTRIBUTE = re.compile(r"""#([^\s.#{}=]+)|\.([^\s.#{}=]+)|[A-Za-z_][\w.:-]*=(?:"[^"]*"|'[^']*'|[^\s"']+)""")


def _caption_at(lines: Lines, index: int) -> tuple[str, int] | None:
    """A caption paragraph starting at the line, with the index after it."""
    first = lines.get(index)
    if first is None or not (match := _CAPTION.match(first)):
        return None
    rest = first[match.end():]
    if rest[:1] and unicodedata.category(rest[0]).startswith("P"):
        return None
    parts = [rest]
    index += 1
    while not _blank(lines.get(index)):
        parts.append(lines[index])
        index += 1
    text = "\n".join(part.strip() for part in parts).strip()
    return (text, index) if text else None


def _attributes(caption: str) -> tuple[str, str | None, tuple[str, ...]]:
    """A caption without its trailing `{#id .class key=value}`, and the id and classes it names."""
    match = _ATTRIBUTES.search(caption)
    if not match:
        return caption, None, ()
    tokens = match[1].split()
    if not tokens or not all(_ATTRIBUTE.fullmatch(token) for token in tokens):
        return caption, None, ()
    ids = [token[1:] for token in tokens if token.startswith("#")]
    classes = tuple(token[1:] for token in tokens if token.startswith("."))
    return caption[:match.start()].rstrip(), (ids[-1] if ids else None), classes


# --- Simple and multiline tables ------------------------------------------------------------

_DASHES = re.compile(r"^( {0,3})(-+(?: +-+)*) *$")


@dataclass(frozen=True, slots=True)
class _Columns:
    starts: tuple[int, ...]  # where each column begins, in source columns
    dashes: tuple[int, ...]  # how many dashes each column has
    ends: tuple[int, ...]  # where each column's dashes and the spaces after them end

    @classmethod
    def read(cls, line: str | None) -> _Columns | None:
        if line is None or not (match := _DASHES.match(line)):
            return None
        starts, dashes, ends = [], [], []
        for run in re.finditer(r"-+ *", line[match.end(1):]):
            starts.append(len(match[1]) + run.start())
            dashes.append(len(run[0].rstrip()))
            ends.append(len(match[1]) + run.end())
        return cls(tuple(starts), tuple(dashes), tuple(ends))

    def chunks(self, line: str) -> list[str]:
        """Pandoc's pieces of the line, one per column, each as wide as its dashes and spaces."""
        return _split_columns(line, self.starts)[1:]

    def cells(self, line: str) -> list[str]:
        """The line's text per column; text left of the first column belongs to the first."""
        pieces = _split_columns(line, self.starts)
        pieces[1] = pieces[0] + pieces[1]
        return [piece.strip() for piece in pieces[1:]]

    def align(self, chunks: list[list[str]]) -> tuple[Align, ...]:
        """Where the header text stands over its dashes says how the column is aligned."""
        aligns: list[Align] = []
        for column, texts in enumerate(chunks):
            texts = [text.rstrip() for text in texts if text.rstrip()]
            if not texts:
                aligns.append(None)
                continue
            shortest = min(texts, key=len)
            left, right = shortest[0] in " \t", len(shortest) < self.dashes[column]
            aligns.append({(True, False): "right", (False, True): "left", (True, True): "center"}.get((left, right)))
        return tuple(aligns)

    def widths(self) -> tuple[float, ...]:
        """Pandoc's relative widths for a multiline table (widthsFromIndices)."""
        indices = [self.starts[0]] + [end for end in self.ends]
        indices[-1] += 1  # the last column has no space after it to count
        lengths = [indices[0]] + [b - a for a, b in zip(indices, indices[1:])]
        if len(lengths) > 2 and lengths[-1] < lengths[-2] <= lengths[-1] + 2:
            lengths[-1] = lengths[-2]
        total = sum(lengths)
        quotient = max(total, COLUMNS, indices[-1])
        return tuple(length / quotient for length in lengths[1:])


def _is_footer(lines: Lines, index: int) -> bool:
    """A line of dashes ends a simple or multiline table, whatever follows it (Pandoc 3)."""
    return _Columns.read(lines.get(index)) is not None


def _dash_line_is_setext(line: str) -> bool:
    """`Title` over `-----` is a heading, which Pandoc reads before tables."""
    return bool(re.fullmatch(r"-+ *", line))


def _headless(lines: Lines, start: int) -> tuple[_Columns, tuple[Align, ...]] | None:
    """A headless table opens with its line of dashes; its first row says how columns align."""
    columns = _Columns.read(lines.get(start))
    if columns is None or _blank(lines.get(start + 1)):
        return None
    return columns, columns.align([[chunk] for chunk in columns.chunks(lines[start + 1])])


def _simple(lines: Lines, start: int, *, headless: bool, problems: list[Problem]) -> tuple[Table, int] | None:
    if headless:
        if (opened := _headless(lines, start)) is None:
            return None
        columns, aligns = opened
        first, head = start + 1, ()
    else:
        header = lines.get(start)
        columns = _Columns.read(lines.get(start + 1))
        if _blank(header) or columns is None or _dash_line_is_setext(lines[start + 1]):
            return None
        aligns = columns.align([[chunk] for chunk in columns.chunks(header)])
        head: tuple[Row, ...] = (tuple(Cell(text) for text in columns.cells(header)),)
        first = start + 2
    index, body = first, []
    while not _blank(lines.get(index)) and not _is_footer(lines, index):
        _check_crossing(lines[index], columns, index, problems)
        body.append(tuple(Cell(text) for text in columns.cells(lines[index])))
        index += 1
    if not body:
        return None
    if _is_footer(lines, index):
        index += 1
    elif headless:
        return None
    return Table("simple", aligns, head, tuple(body)), index


def _check_crossing(line: str, columns: _Columns, index: int, problems: list[Problem]) -> None:
    if word := _crossing(line, columns.starts):
        problems.append(Problem(index, "table-cell-split", f"the table's column edge cuts '{word}' in two",
                                "start each cell's text under its column's dashes, or widen the column's dashes"))


def _multiline(lines: Lines, start: int, *, headless: bool, problems: list[Problem]) -> tuple[Table, int] | None:
    if headless:
        if (opened := _headless(lines, start)) is None:
            return None
        columns, aligns = opened
        first, head = start + 1, ()
    else:
        if _Columns.read(lines.get(start)) is None or _blank(lines.get(start + 1)):
            return None
        index = start + 1
        header_lines = []
        while (line := lines.get(index)) is not None and _Columns.read(line) is None:
            header_lines.append(line)
            index += 1
            if _blank(line):  # a header is one paragraph of lines
                return None
        columns = _Columns.read(lines.get(index))
        if columns is None or not header_lines:
            return None
        aligns = columns.align([list(chunks) for chunks in zip(*(columns.chunks(line) for line in header_lines))])
        texts = zip(*(columns.cells(line) for line in header_lines))
        head: tuple[Row, ...] = (tuple(Cell("\n".join(parts).strip()) for parts in texts),)
        first = index + 1
    index, body = first, []
    while True:
        row_lines = []
        while not _blank(lines.get(index)) and not _is_footer(lines, index):
            row_lines.append(lines[index])
            _check_crossing(lines[index], columns, index, problems)
            index += 1
        if not row_lines:
            break
        texts = zip(*(columns.cells(line) for line in row_lines))
        body.append(tuple(Cell("\n".join(parts).strip()) for parts in texts))
        if _is_footer(lines, index):
            break
        while lines.get(index) is not None and _blank(lines.get(index)):
            index += 1
    if not body or not _is_footer(lines, index):
        if body and not headless:
            problems.append(Problem(start, "table-unclosed", "the multiline table has no closing line of dashes, "
                                    "so it is not read as one table", "end the table with a line of dashes"))
        return None
    return Table("multiline", aligns, head, tuple(body), widths=columns.widths()), index + 1


# --- Pipe tables -----------------------------------------------------------------------------

_DELIMITER_CELL = r"[ \t]*:?-+:?[ \t]*"
_DELIMITER = re.compile(rf"^ {{0,3}}(\|)?({_DELIMITER_CELL}(?:[|+]{_DELIMITER_CELL})*)(\|)?[ \t]*$")
# What a pipe inside does not split: code spans, math, raw HTML tags and backslash escapes.
_PROTECTED = re.compile(r"(`+)(?:.*?[^`])?\1(?!`)|\$\$.+?\$\$|\$(?!\s)(?:[^$\\]|\\.)+?(?<!\s)\$(?!\d)"
                        r"|\\\(.+?\\\)|<[A-Za-z/!][^<>]*>|\\.")
_MARKUP = re.compile(r"\]\([^)]*\)|<[^<>]*>|[*_`\\]")


def _pipe_cells(line: str) -> list[str] | None:
    """A pipe table row's cells, or None if the line is not a row."""
    if "|" not in line:
        return None
    text = line.strip()
    opened = text.startswith("|")
    if opened:
        text = text[1:]
    cells, cell, position = [], [], 0
    while position < len(text):
        if text[position] == "|":
            cells.append("".join(cell))
            cell = []
            position += 1
            continue
        match = _PROTECTED.match(text, position)
        end = match.end() if match else position + 1
        cell.append(text[position:end])
        position = end
    cells.append("".join(cell))
    if len(cells) == 1 and not opened:
        return None
    return [c.strip() for c in cells]


def _plain_length(markdown: str) -> int:
    """About how long a cell's text is once its markup is gone (Pandoc's `stringify`)."""
    return len(_MARKUP.sub("", markdown))


def _pipe(lines: Lines, start: int, *, problems: list[Problem]) -> tuple[Table, int] | None:
    header = lines.get(start)
    if header is None or len(header) - len(header.lstrip(" ")) > 3 or _blank(header):
        return None
    delimiter = lines.get(start + 1)
    heads = _pipe_cells(header)
    if heads is None or delimiter is None or not (match := _DELIMITER.match(delimiter)):
        return None
    parts = re.split(r"[|+]", match[2])
    if len(parts) == 1 and not match[1]:
        return None
    aligns: list[Align] = []
    dashes = []
    for part in parts:
        part = part.strip()
        aligns.append({(True, False): "left", (False, True): "right", (True, True): "center"}.get(
            (part.startswith(":"), part.endswith(":"))))
        dashes.append(len(part))
    count = len(parts)
    rows, index = [], start + 2
    while (line := lines.get(index)) is not None and (cells := _pipe_cells(line)) is not None:
        rows.append(cells)
        index += 1
    for offset, cells in enumerate([heads, *rows]):
        # A trailing pipe leaves an empty last cell behind it, which is nothing to lose.
        lost = [c for c in cells[count:] if c]
        if lost:
            written = len(cells) - (not cells[-1])
            problems.append(Problem(start if offset == 0 else start + 1 + offset, "table-cells-dropped",
                                    f"the row has {written} cells but the line of dashes under the header has {count}: "
                                    f"'{' | '.join(lost)}' is left out, as Pandoc leaves it out",
                                    "add a ---| to the line under the header for each column"))

    def row(cells: list[str]) -> Row:
        cells = (cells + [""] * count)[:count]
        return tuple(Cell(text) for text in cells)

    head = (row(heads),) if any(heads[:count]) else ()
    longest = max(sum(_plain_length(c) for c in cells[:count]) for cells in [heads, *rows])
    widths = tuple(d / sum(dashes) for d in dashes) if longest > COLUMNS else ()
    return Table("pipe", tuple(aligns), head, tuple(row(r) for r in rows), widths=widths), index


# --- Grid tables -----------------------------------------------------------------------------

_GRID_TOP = re.compile(r"^\+(?::?-+:?\+)+[ \t]*$")
_WIDE_PAD, _MISSING = "\x00wide", "\x00missing"


@dataclass(slots=True)
class _Grid:
    """A grid table's characters on a grid of source columns, wide characters taking two."""

    chars: list[list[str]]  # what stands at each place: a character, _WIDE_PAD or _MISSING
    texts: list[list[str]]  # the text at each place, with any zero-width characters before it
    width: int = 0

    @classmethod
    def of(cls, lines: list[str]) -> _Grid:
        chars, texts = [], []
        for line in lines:
            row, text, pending = [], [], ""
            for char in line:
                size = char_width(char)
                if size == 0:
                    pending += char
                    continue
                row.append(char)
                text.append(pending + char)
                pending = ""
                if size == 2:
                    row.append(_WIDE_PAD)
                    text.append("")
            if pending:
                row.append(_MISSING)
                text.append(pending)
            chars.append(row)
            texts.append(text)
        width = max(len(row) for row in chars)
        for row, text in zip(chars, texts):
            row += [_MISSING] * (width - len(row))
            text += [""] * (width - len(text))
        return cls(chars, texts, width)

    def at(self, row: int, column: int) -> str | None:
        if 0 <= row < len(self.chars) and 0 <= column < self.width:
            return self.chars[row][column]
        return None


@dataclass(frozen=True, slots=True)
class _Traced:
    top: int
    left: int
    bottom: int
    right: int


def _separator(grid: _Grid, row: int, char: str) -> list[tuple[int, int, Align]] | None:
    """The parts of a `+---+` (or `+===+`) line: start, end and the alignment its colons give."""
    if grid.at(row, 0) != "+":
        return None
    parts, column = [], 1
    line = grid.chars[row]
    while column < grid.width and line[column] != _MISSING:
        end = column
        left = line[end] == ":"
        if left:
            end += 1
        while end < grid.width and line[end] == char:
            end += 1
        right = end < grid.width and line[end] == ":"
        if right:
            end += 1
        if end == column or end >= grid.width or line[end] != "+" or (end - column) - left - right < 1:
            return None
        align = {(True, False): "left", (False, True): "right", (True, True): "center"}.get((left, right))
        parts.append((column, end, align))
        column = end + 1
    return parts or None


def _trace(grid: _Grid) -> tuple[list[_Traced], list[int], list[int]] | None:
    """Follow the borders from the top-left corner to every cell, as Pandoc's gridtables does.

    Every `+` met on the way marks a row or column line, even where no cell's corner is: a cell
    whose border is out of line then spans the columns it covers, as in Pandoc."""
    last_column = grid.width - 1
    row_lines, column_lines = {0}, {0}

    def closes(top: int, left: int, bottom: int, right: int, seen_rows: set[int], seen_columns: set[int]) -> bool:
        if grid.at(bottom, left) != "+":
            return False
        for column in range(left + 1, right):
            char = grid.at(bottom, column)
            if char == "+":
                seen_columns.add(column)
            elif char != "-":
                return False
        for row in range(top + 1, bottom):
            char = grid.at(row, left)
            if char == "+":
                seen_rows.add(row)
            elif char != "|":
                return False
        return True

    def down(top: int, left: int, right: int, seen_columns: set[int]) -> int | None:
        seen_rows: set[int] = set()
        for row in range(top + 1, len(grid.chars)):
            char = grid.at(row, right)
            if char == "+":
                seen_rows.add(row)
                if closes(top, left, row, right, seen_rows, seen_columns):
                    row_lines.update(seen_rows)
                    return row
            elif char != "|" and right != last_column:
                return None
        return None

    def cell_at(top: int, left: int) -> _Traced | None:
        seen_columns: set[int] = set()
        for column in range(left + 1, grid.width):
            char = grid.at(top, column)
            if char == "+":
                seen_columns.add(column)
                bottom = down(top, left, column, seen_columns)
                if bottom is not None:
                    column_lines.update(seen_columns)
                    return _Traced(top, left, bottom, column)
            elif char != "-":
                return None
        return None

    corners, done, cells = {(0, 0)}, set(), {}
    while corners:
        corner = min(corners)
        corners.remove(corner)
        done.add(corner)
        cell = cell_at(*corner)
        if cell is None:
            continue
        cells[(cell.top, cell.left)] = cell
        corners |= {(cell.top, cell.right), (cell.bottom, cell.left)} - done
    if not cells:
        return None
    return sorted(cells.values(), key=lambda c: (c.top, c.left)), sorted(row_lines), sorted(column_lines)


def _cell_text(grid: _Grid, cell: _Traced) -> str:
    lines = ["".join(grid.texts[row][cell.left + 1:cell.right]).rstrip()
             for row in range(cell.top + 1, cell.bottom)]
    if all(not line or line.startswith(" ") for line in lines):
        lines = [line[1:] for line in lines]
    return "\n".join(lines)


def _grid_problems(grid: _Grid, cells: list[_Traced], start: int) -> list[Problem]:
    """What a grid table's out-of-line borders cost: text no cell holds, or a border read as text."""
    inside = {(row, column) for c in cells for row in range(c.top + 1, c.bottom) for column in range(c.left + 1, c.right)}
    problems = []
    for row in range(len(grid.chars)):
        outside = "".join(" " if (row, column) in inside else grid.texts[row][column] for column in range(grid.width))
        lost = [word for chunk in outside.split() if (word := chunk.strip("+-|=:"))]
        if lost:
            problems.append(Problem(start + row, "table-grid-broken", f"the grid table's borders leave '{' '.join(lost)}' "
                                    "outside every cell, so it is left out, as Pandoc leaves it out",
                                    "every | and + must stand in the columns of the + signs above it"))
            break
    for cell in cells:
        for row in range(cell.top + 1, cell.bottom):
            text = re.sub(r"(`+).*?\1", "", "".join(grid.texts[row][cell.left + 1:cell.right]))
            if "|" in text:
                problems.append(Problem(start + row, "table-grid-misaligned", "a | in the grid table stands out of line "
                                        "with the borders above it, so it shows as text and the cell spans its neighbour",
                                        "every | and + must stand in the columns of the + signs above it"))
                return problems
    return problems


def _grid(lines: Lines, start: int, *, problems: list[Problem]) -> tuple[Table, int] | None:
    top = lines.get(start)
    if top is None or not _GRID_TOP.match(top):
        return None
    index, own = start, []
    while (line := lines.get(index)) is not None and line[:1] in {"+", "|"}:
        own.append(line.rstrip())
        index += 1
    grid = _Grid.of(own)
    parts_separators = [row for row in range(1, len(own)) if _separator(grid, row, "=")]
    first_line = _separator(grid, 0, "-")
    aligns_from = _separator(grid, parts_separators[0], "=") if parts_separators else first_line
    for row in [0, *parts_separators]:
        grid.chars[row] = ["-" if char in {"=", ":"} else char for char in grid.chars[row]]
    traced = _trace(grid)
    if traced is None or len(own) < 3:
        problems.append(Problem(start, "table-grid-broken", "the grid table's borders do not line up, so it shows as text",
                                "every | and + must stand in the columns of the + signs above it; pad short cells "
                                "with spaces"))
        return None
    cells, row_lines, column_lines = traced
    problems += _grid_problems(grid, cells, start)
    row_of = {line: n for n, line in enumerate(row_lines)}
    column_of = {line: n for n, line in enumerate(column_lines)}
    count = len(column_lines) - 1
    origins: dict[tuple[int, int], Cell] = {}
    covered: set[tuple[int, int]] = set()
    for cell in cells:
        row, column = row_of[cell.top], column_of[cell.left]
        rowspan, colspan = row_of[cell.bottom] - row, column_of[cell.right] - column
        covered |= {(r, c) for r in range(row, row + rowspan) for c in range(column, column + colspan)}
        origins[(row, column)] = Cell(_cell_text(grid, cell), blocks=True, rowspan=rowspan, colspan=colspan)
    # A place no traced cell covers (the borders left a hole) is an empty cell, as Pandoc fills it.
    rows = [tuple(origins.get((row, column), Cell("", blocks=True)) for column in range(count)
                  if (row, column) in origins or (row, column) not in covered)
            for row in range(len(row_lines) - 1)]
    aligns = [a for _, _, a in aligns_from or []]
    aligns = tuple((aligns + [None] * count)[:count])
    widths = [b - a for a, b in zip(column_lines, column_lines[1:])]
    norm = max(sum(widths) + count - 2, COLUMNS)
    head_rows = row_of.get(parts_separators[0], 0) if parts_separators else 0
    foot_from = None
    if len(parts_separators) >= 2 and parts_separators[-1] == len(own) - 1:
        foot_from = row_of.get(parts_separators[-2])
    head, body = rows[:head_rows], rows[head_rows:]
    foot: list[Row] = []
    if foot_from is not None and foot_from >= head_rows:
        body, foot = rows[head_rows:foot_from], rows[foot_from:]
    if len(head) == 1 and all(not c.text.strip() and c.rowspan == c.colspan == 1 for c in head[0]):
        head = []
    return Table("grid", aligns, tuple(head), tuple(body), tuple(foot), widths=tuple(w / norm for w in widths)), index


# --- Any table -------------------------------------------------------------------------------

# Problems that say why something that looks like a table is not read as one.
_FAILURES = {"table-grid-broken", "table-unclosed"}

def read_table(lines: Lines, start: int, problems: list[Problem] | None = None) -> tuple[Table, int] | None:
    """The table (with its caption) that starts at the line, and the index of the line after it."""
    caption = None
    at = start
    if (front := _caption_at(lines, start)) is not None:
        caption, at = front
        while lines.get(at) is not None and _blank(lines.get(at)):
            at += 1
    # Pandoc's order. Only what the reading that succeeds found is the author's problem; when
    # none does, what the failed ones found says why the table shows as text.
    attempts = (lambda found: _pipe(lines, at, problems=found),
                lambda found: _multiline(lines, at, headless=False, problems=found),
                lambda found: _simple(lines, at, headless=True, problems=found),
                lambda found: _simple(lines, at, headless=False, problems=found),
                lambda found: _multiline(lines, at, headless=True, problems=found),
                lambda found: _grid(lines, at, problems=found))
    failed: list[Problem] = []
    read = None
    for attempt in attempts:
        found: list[Problem] = []
        read = attempt(found)
        if read is not None:
            # A multiline table left open is read as something else: say so all the same.
            failed = [p for p in failed if p.code == "table-unclosed"] + found
            break
        failed += [p for p in found if p.code in _FAILURES]
    if problems is not None:
        problems += failed
    if read is None:
        return None
    table, end = read
    if caption is None:
        after = end
        while lines.get(after) is not None and _blank(lines.get(after)):
            after += 1
        if (back := _caption_at(lines, after)) is not None:
            caption, end = back
    if caption is not None:
        text, table_id, classes = _attributes(caption)
        table = Table(table.kind, table.aligns, table.head, table.body, table.foot, table.widths,
                      text or None, table_id, classes)
    return table, end


def _could_start(block: str) -> bool:
    """A quick look at a block's first lines: could a table (or its caption) start here?"""
    first, _, rest = block.partition("\n")
    second = rest.partition("\n")[0]
    return bool(_CAPTION.match(first) or first.startswith("+") or ("|" in first and "-" in second)
                or _DASHES.match(first) or _DASHES.match(second))


# --- Python-Markdown -------------------------------------------------------------------------

def _percent(fraction: float) -> str:
    return f"{int(100 * fraction)}%"  # Pandoc's HTML writer truncates too


class TableProcessor(BlockProcessor):
    """Reads a table (and its caption) into <table>, cells' Markdown left for the inline stage."""

    def test(self, parent: etree.Element, block: str) -> bool:
        return _could_start(block)

    def run(self, parent: etree.Element, blocks: list[str]) -> bool | None:
        lines = Lines(blocks)
        read = read_table(lines, 0)
        if read is None:
            return False
        table, end = read
        lines.consume(end)
        self._element(parent, table)
        return None

    def _element(self, parent: etree.Element, table: Table) -> None:
        element = etree.SubElement(parent, "table")
        if table.id:
            element.set("id", table.id)
        if table.classes:
            element.set("class", " ".join(table.classes))
        if table.caption:
            etree.SubElement(element, "caption").text = table.caption
        if table.widths:
            if sum(table.widths) < 1:
                element.set("style", f"width: {round(100 * sum(table.widths))}%")  # rounded, as Pandoc does
            group = etree.SubElement(element, "colgroup")
            for width in table.widths:
                etree.SubElement(group, "col", {"style": f"width: {_percent(width)}"})
        for tag, rows in (("thead", table.head), ("tbody", table.body), ("tfoot", table.foot)):
            if not rows and tag != "tbody":
                continue
            section = etree.SubElement(element, tag)
            for row in rows:
                self._row(section, row, table.aligns, "th" if tag == "thead" else "td")

    def _row(self, section: etree.Element, row: Row, aligns: tuple[Align, ...], tag: str) -> None:
        tr = etree.SubElement(section, "tr")
        column = 0
        for cell in row:
            # An empty header cell (over a column of row labels, say) is a <td>, not a <th>: a header
            # with no text is announced as nothing by a screen reader (Ace's empty-table-header).
            empty = tag == "th" and not cell.text.strip()
            td = etree.SubElement(tr, "td" if empty else tag)
            align = aligns[column] if column < len(aligns) else None
            if align:
                td.set("class", f"align-{align}")
            if cell.rowspan > 1:
                td.set("rowspan", str(cell.rowspan))
            if cell.colspan > 1:
                td.set("colspan", str(cell.colspan))
            column += cell.colspan
            if cell.blocks:
                self.parser.parseChunk(td, self._prepared(cell.text))
                if len(td) == 1 and td[0].tag == "p" and not (td.text or "").strip() and not len(td[0]):
                    # One paragraph alone in a cell is the cell's text, as Pandoc makes it "Plain".
                    td.text = td[0].text
                    td.remove(td[0])
            else:
                td.text = cell.text


    def _prepared(self, text: str) -> str:
        """A grid cell's text through the preprocessors the document went through: a fenced code
        block or raw HTML is read by a preprocessor, which never saw it behind the cell's border."""
        lines = text.split("\n")
        for preprocessor in self.parser.md.preprocessors:
            # Normalising again would strip the placeholders earlier preprocessors left in the text.
            if not isinstance(preprocessor, NormalizeWhitespace):
                lines = preprocessor.run(lines)
        return "\n".join(lines)


class PandocTablesExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        if "|" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS.append("|")
        # After list items take their indented blocks, before indented code: Pandoc reads a table
        # before an indented code block, and a simple table's header may be indented.
        md.parser.blockprocessors.register(TableProcessor(md.parser), "pandoc-tables", 85)


def makeExtension(**kwargs: object) -> PandocTablesExtension:  # Python-Markdown's entry point
    return PandocTablesExtension(**kwargs)


# --- Problems, for the author ----------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _source_blocks(text: str) -> list[str]:
    """The chapter's blocks as Python-Markdown splits them, fenced code made inert."""
    lines = text.expandtabs(4).split("\n")
    fence = None
    for n, line in enumerate(lines):
        if fence is None and (match := _FENCE.match(line)):
            fence = match[1]
            lines[n] = "\x00"
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
            lines[n] = "\x00"
        elif not line.strip():
            lines[n] = ""
    return "\n".join(lines).split("\n\n")


def table_problems(text: str, shown: Path) -> list[Diagnostic]:
    """Warnings, with their lines, for what the chapter's tables lose or show as text."""
    blocks = _source_blocks(text)
    lines = Lines(blocks)
    found: list[Problem] = []
    block = 0
    while block < len(blocks):
        start = lines.block_start(block)
        if start is None:
            break
        if not _could_start(blocks[block]):
            block += 1
            continue
        read = read_table(lines, start, found)
        if read is None:
            block += 1
            continue
        end = read[1]
        while (block_start := lines.block_start(block + 1)) is not None and block_start < end:
            block += 1
        block += 1
    seen: set[tuple[int, str]] = set()
    diagnostics = []
    for problem in found:
        if (problem.line, problem.code) in seen:
            continue
        seen.add((problem.line, problem.code))
        diagnostics.append(warning(problem.code, problem.message, file=shown, line=problem.line + 1, hint=problem.hint))
    return sorted(diagnostics, key=lambda d: d.line or 0)
