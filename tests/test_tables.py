"""Tables as Pandoc reads them (publish.markdown.tables), compared with what Pandoc itself makes.

Each file in tests/tables/ is one case: its tables must come out as Pandoc's HTML writer makes
them, in meaning: the same rows in head, body and foot, each cell's tag, alignment, spans, text
and the blocks it holds, the caption, the table's id and classes, and the relative widths. Our
alignment is a class (`align-right`) where Pandoc writes a style; headings are one level deeper
here (a chapter's `#` is the book's second level).
"""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pypandoc
import pytest
from conftest import MakeBook, _corpus, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publish.markdown.tables import Lines, char_width, read_table, table_problems
from publish.parse import chapter_html
from publish.sanitize import sanitize, unsafe_html

CASES = sorted((Path(__file__).parent / "tables").glob("*.md"))
CORPUS = _corpus()


def pandoc(markdown: str) -> str:
    return pypandoc.convert_text(markdown, "html5", format="markdown")


def _align(cell: lxml.html.HtmlElement) -> str:
    if match := re.search(r"text-align: (\w+)", cell.get("style") or ""):
        return match[1]
    return (cell.get("class") or "").removeprefix("align-")


def _blocks(cell: lxml.html.HtmlElement, *, heading_shift: int) -> list[str]:
    tags = []
    for child in cell:
        if re.fullmatch(r"h[1-6]", child.tag):
            tags.append(f"h{int(child.tag[1]) - heading_shift}")
        else:
            tags.append(child.tag)
    return tags


def _tag(cell: lxml.html.HtmlElement, part: str) -> str:
    """An empty cell of the header is a <td> here and a <th> in Pandoc's HTML: the same place."""
    empty = not cell.text_content().strip() and not len(cell)
    return "th" if part == "thead" and empty else cell.tag


def tables(html: str, *, heading_shift: int = 0, text_of=None) -> list[dict]:
    """Each table's meaning, as plain data both HTML writers' output can be compared in."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    found = []
    for table in root.iter("table"):
        caption = table.find("caption")
        found.append({
            "id": table.get("id"), "class": table.get("class"),
            "width": re.sub(r"[\s;]", "", table.get("style") or "") or None,
            "caption": " ".join(caption.text_content().split()) if caption is not None else None,
            "cols": [re.sub(r"[\s;]", "", col.get("style") or "") for col in table.iter("col")],
            **{part: [[(_tag(cell, part), _align(cell), cell.get("rowspan", "1"), cell.get("colspan", "1"),
                        (text_of or (lambda c: " ".join(c.text_content().split())))(cell),
                        _blocks(cell, heading_shift=heading_shift))
                       for cell in row] for section in table.findall(part) for row in section.findall("tr")]
               for part in ("thead", "tbody", "tfoot")},
        })
    return found


def ours(markdown: str) -> list[dict]:
    return tables(chapter_html(markdown))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_a_table_reads_as_pandoc_reads_it(case: Path) -> None:
    markdown = case.read_text(encoding="utf-8")
    expected = tables(pandoc(markdown))
    assert expected, "the case has no table for Pandoc: it tests nothing"
    assert ours(markdown) == expected


def test_pandocs_own_grid_table_tests_read_as_pandoc_reads_them() -> None:
    text = (CORPUS / "pandoc-test-suite" / "markdown-reader-more.txt").read_text(encoding="utf-8")
    section = text[text.index("## Grid Tables"):text.index("## Entities in links")]
    expected = tables(pandoc(section))
    assert len(expected) == 12
    assert ours(section) == expected


def _without_math(cell: lxml.html.HtmlElement) -> str:
    """A cell's text, with math (another construct's output) left out of the comparison."""
    text = " ".join(cell.text_content().split())
    return "<math>" if "$" in text or cell.xpath(".//*[contains(@class, 'math')] | .//*[local-name() = 'math']") else text


def test_curies_tables_read_as_pandoc_reads_them() -> None:
    """A real book: 35 simple and multiline tables with dash rules, math and ditto marks in cells."""
    text = (CORPUS / "curie-radioaktive-substanzen" / "curie.md").read_text(encoding="utf-8")
    expected = tables(pandoc(text), text_of=_without_math)
    got = tables(chapter_html(text), text_of=_without_math)
    assert len(expected) == 35
    for n, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        for key in mine:
            if key in {"thead", "tbody", "tfoot"}:
                # Smart quotes and superscripts are other constructs': a lone ditto mark is “ here
                # and ” there; `^*^` is a superscript once that construct is read.
                assert [[c[:4] + (re.sub(r"\^(\S+?)\^", r"\1", c[4]).replace("“", "”"),) for c in row]
                        for row in mine[key]] == \
                       [[c[:4] + (c[4],) for c in row] for row in theirs[key]], (n, key)
            else:
                assert mine[key] == theirs[key], (n, key)


def test_alignment_is_a_class_and_a_width_the_only_style(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n" + (Path(__file__).parent / "tables" / "multiline.md").read_text()}))
    root = lxml.html.fragment_fromstring(book.chapters[0].html, create_parent="div")
    assert root.xpath("//th/@class") == ["align-center", "align-left", "align-right", "align-left"]
    styles = root.xpath("//@style")
    assert styles and all(re.fullmatch(r"width: \d+%", s) for s in styles)
    assert {e.tag for e in root.xpath("//*[@style]")} == {"table", "col"}


def test_the_sanitiser_keeps_a_width_on_a_table_or_column_and_no_other_style() -> None:
    html = ('<table style="width: 50%"><colgroup><col style="width: 20%"><col style="color: red"></colgroup>'
            '<tbody><tr><td style="width: 10%">x</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>'
            '<p style="width: 10%">p</p><table style="width: 50%; position: fixed"></table>')
    clean = lxml.html.fragment_fromstring(sanitize(html), create_parent="div")
    assert [(e.tag, e.get("style")) for e in clean.xpath("//*[@style]")] == [("table", "width: 50%"),
                                                                            ("col", "width: 20%")]
    assert clean.xpath("//tfoot/tr/td/text()") == ["f"]
    warned = [(d.line, d.message) for d in unsafe_html(html.replace("><", ">\n<"), Path("a.md"))]
    assert [m for _, m in warned] == ["removed a style attribute from <col>", "removed a style attribute from <td>",
                                      "removed a style attribute from <p>", "removed a style attribute from <table>"]


def test_cells_hold_inline_markdown_and_notes(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n| Who | What |\n|---|---|\n| *Andrew* | plays `drums`[^1] |\n"
                                       "| [Fletcher](#a) | \\| conducts |\n\n[^1]: Jazz drums.\n"}))
    chapter = book.chapters[0]
    root = lxml.html.fragment_fromstring(chapter.html, create_parent="div")
    assert root.xpath("//td[1]/em/text()") == ["Andrew"]
    assert root.xpath("//td[2]/code/text()") == ["drums"]
    assert root.xpath("//td[2]/a[@class='noteref']/@href") == [f"#{chapter.notes[0].id}"]
    assert root.xpath("//td[1]/a/@href") == ["#a"]
    assert root.xpath("//tr[2]/td[2]/text()") == ["| conducts"]


def test_a_captions_id_names_the_table_for_links(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nSee [the table](#tbl-tempi).\n\n: Tempi {#tbl-tempi .small}\n\n"
                                       "  Piece    Tempo\n-------  ------\nWhiplash     400\n"}))
    root = lxml.html.fragment_fromstring(book.chapters[0].html, create_parent="div")
    assert root.xpath("//table/@id") == ["tbl-tempi"] and root.xpath("//table/@class") == ["small"]
    assert root.xpath("//table/caption/text()") == ["Tempi"]
    assert root.xpath("//a/@href") == ["#tbl-tempi"]
    assert not [d for d in book.diagnostics if d.code.startswith("table")]


def test_text_after_a_pipe_table_goes_on_as_a_paragraph() -> None:
    html = chapter_html("| a | b |\n|---|---|\n| 1 | 2 |\nNo pipe: a paragraph.\n\nTable: late caption\n")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert [e.tag for e in root] == ["table", "p", "p"]
    assert root.xpath("//p/text()") == ["No pipe: a paragraph.", "Table: late caption"]


def test_text_left_of_the_first_column_is_kept() -> None:
    """Pandoc drops it (the header's first letters, here); we keep every word."""
    html = chapter_html("Tempo   Bars\n  ----- ----\nfast    4\n")
    assert lxml.html.fragment_fromstring(html, create_parent="div").xpath("//th/text()") == ["Tempo", "Bars"]


def test_a_heading_is_not_a_one_column_table_and_a_code_block_stays_code() -> None:
    root = lxml.html.fragment_fromstring(chapter_html("Header\n------\nrow\n\n    | a | b |\n    |---|---|\n"),
                                         create_parent="div")
    assert [e.tag for e in root] == ["h2", "p", "pre"]  # `---` is a setext second-level heading


def test_lines_give_back_what_a_table_leaves_of_a_block() -> None:
    blocks = ["| a |\n|---|\n| 1 |\nrest of it", "next block"]
    lines = Lines(blocks)
    table, end = read_table(lines, 0)
    assert (table.kind, end) == ("pipe", 3)
    lines.consume(end)
    assert blocks == ["rest of it", "next block"]


def test_wide_and_zero_width_characters_take_their_columns() -> None:
    assert [char_width(c) for c in "a魚\u200b\u0301"] == [1, 2, 0, 0]


# --- What an author is told ------------------------------------------------------------------

PROBLEMS = {
    "table-grid-broken": ("Before.\n\n+-----+-----+\n| a   | b   |\n+-----+----+\n", 4),
    "table-grid-misaligned": ("+-----+-----+\n| a  | b   |\n+-----+-----+\n", 2),
    "table-cells-dropped": ("| a | b | c |\n|---|---|\n| 1 | 2 |\n", 1),
    "table-cell-split": ("Name    Value\n------  -----\nMetallisches  2,3\n", 3),
    "table-unclosed": ("Text.\n\n------------------\nHead    Other\n------- ----------\nrow     text\n\nmore\n", 3),
}


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_what_a_table_loses_is_a_warning_with_its_line(code: str, make_book: MakeBook) -> None:
    text, line = PROBLEMS[code]
    book = parse(make_book({"01-a.md": "# A\n\n" + text}))
    found = [d for d in book.diagnostics if d.code.startswith("table-")]
    assert [(d.code, d.line, d.file.name) for d in found] == [(code, line + 2, "01-a.md")]
    assert found[0].hint


def test_a_table_in_fenced_code_is_not_checked() -> None:
    assert table_problems("```\n| a | b | c |\n|---|---|\n```\n", Path("a.md")) == []


def test_no_book_in_the_corpus_has_a_table_problem() -> None:
    files = [f for f in CORPUS.rglob("*") if f.suffix in {".md", ".txt"} and f.name != "SOURCE.txt"]
    assert len(files) > 20
    assert [str(d) for f in files for d in table_problems(f.read_text(encoding="utf-8"), f)] == []


# --- Input nobody wrote yet ------------------------------------------------------------------

_WORDS = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), max_codepoint=0x2FFF), min_size=1,
                 max_size=8)
_ROWS = st.integers(1, 4).flatmap(lambda columns: st.lists(st.lists(_WORDS, min_size=columns, max_size=columns),
                                                           min_size=2, max_size=5))


def _cell_texts(html: str) -> list[list[str]]:
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return [[" ".join(c.text_content().split()) for c in tr] for tr in root.iter("tr")]


def _simple_source(rows: list[list[str]]) -> str:
    widths = [max(sum(char_width(ch) for ch in row[c]) for row in rows) + 2 for c in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        return "".join(text + " " * (width - sum(char_width(ch) for ch in text)) for text, width in zip(row, widths))

    return "\n".join([line(rows[0]), "".join("-" * (w - 2) + "  " for w in widths), *map(line, rows[1:])]) + "\n"


def _grid_source(rows: list[list[str]]) -> str:
    widths = [max(sum(char_width(ch) for ch in row[c]) for row in rows) + 2 for c in range(len(rows[0]))]
    rule = "+" + "+".join("-" * w for w in widths) + "+"
    lines = [rule]
    for row in rows:
        lines.append("|" + "|".join(" " + t + " " * (w - 1 - sum(char_width(ch) for ch in t))
                                    for t, w in zip(row, widths)) + "|")
        lines.append(rule)
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ROWS, st.sampled_from(["pipe", "simple", "grid"]))
def test_every_cell_of_a_generated_table_comes_back(rows: list[list[str]], kind: str) -> None:
    if kind == "pipe":
        source = "\n".join(["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0]),
                            *("| " + " | ".join(r) + " |" for r in rows[1:])]) + "\n"
    elif kind == "simple":
        if len(rows[0]) == 1:  # one column over a single run of dashes is a heading, as in Pandoc
            rows = [row + ["x"] for row in rows]
        source = _simple_source(rows)
    else:
        source = _grid_source(rows)
    assert _cell_texts(chapter_html(source)) == rows
    assert table_problems(source, Path("a.md")) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="+-=:| ab\u9b5a", max_size=14), min_size=1, max_size=7))
def test_table_like_junk_never_raises(lines: list[str]) -> None:
    source = "\n".join(lines) + "\n"
    lxml.html.fragment_fromstring(chapter_html(source), create_parent="div")
    table_problems(source, Path("a.md"))


# --- How tables look in every edition (real builds, real validators) -----------------------

@pytest.fixture(scope="module")
def printed_tables():  # noqa: ANN201 - printed.PrintedPdf
    from printed import printed

    return printed("tables")


def _text_block_of(pdf, page) -> tuple[float, float]:  # noqa: ANN001
    from printed import POINTS

    width = float(pdf.reader.pages[page.index].trimbox.width)
    inside, outside = pdf.margins.gutter * POINTS, pdf.margins.outside * POINTS
    return (inside, width - outside) if page.recto else (outside, width - inside)


def _table_pages(pdf) -> list:  # noqa: ANN001
    first = min(pdf.chapter_openings().values())
    return [pdf.page(i) for i in range(first, len(pdf))]


@pytest.mark.e2e
def test_no_table_runs_past_the_text_block(printed_tables) -> None:  # noqa: ANN001
    pages = _table_pages(printed_tables)
    wide = [p for p in pages if "Crash" in p.words() + " ".join(line.text for line in p.notes)]
    assert wide, "the wide table is missing from the print edition"
    for page in pages:
        left, right = _text_block_of(printed_tables, page)
        for line in page.text + page.notes:
            assert left - 1 <= line.x0 and line.x1 <= right + 1, f"page {page.label}: {line.text!r} runs past the text"


@pytest.mark.e2e
def test_a_long_table_repeats_its_head_on_every_page_it_crosses(printed_tables) -> None:  # noqa: ANN001
    crossed = []
    for page in _table_pages(printed_tables):
        texts = [line.text for line in page.text]
        rows = [n for n, text in enumerate(texts) if re.fullmatch(r"\d+ June \w+ \d+ .+", text)]
        if rows:
            crossed.append(page.index)
            assert texts[rows[0] - 1] == "Date Item Shillings Note", f"page {page.label} lacks the head"
    assert len(crossed) >= 3 and crossed == list(range(crossed[0], crossed[-1] + 1))


@pytest.mark.e2e
def test_a_caption_shares_its_page_with_the_head_of_its_table(printed_tables) -> None:  # noqa: ANN001
    captions = {"Tempos a drummer meets.": "Tempo", "A grid table with lists in cells.": "Fruit",
                "The household accounts for June.": "Date", "Two charts from the film.": "Piece"}
    seen = {}
    for page in _table_pages(printed_tables):
        texts = [line.text for line in page.text]
        for caption in captions:
            if caption in texts:
                # A head set at the foot of its row (a two-line neighbour) may stand a line lower.
                after = texts[texts.index(caption) + 1:texts.index(caption) + 3]
                seen[caption] = captions[caption] if any(t.startswith(captions[caption]) for t in after) else after
    assert seen == captions


@pytest.mark.e2e
def test_the_book_of_tables_passes_epubcheck_and_ace() -> None:
    from printed import built
    from validators import run_ace, run_epubcheck

    epub = built("tables").epub
    report = run_epubcheck(epub)
    assert report.ok and not report.messages, report.summary()
    ace = run_ace(epub)
    assert ace.outcome == "pass" and not ace.violations, ace


@pytest.mark.e2e
def test_no_table_outgrows_a_phone_in_the_web_edition(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from publish.build import build

    result = build(Path(__file__).parent / "books" / "tables", tmp_path, formats=("html",), source_date_epoch="1700000000")
    assert not result.diagnostics, "\n".join(map(str, result.diagnostics))
    index = next(p for p in result.outputs if p.is_dir()) / "index.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in (390, 1366):
                page = browser.new_page(viewport={"width": width, "height": 844})
                page.goto(index.as_uri())
                overflowing = page.evaluate("""() => [...document.querySelectorAll('table')]
                    .filter(t => t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 1)
                    .map(t => t.rows[0].textContent.trim().slice(0, 40))""")
                assert page.evaluate("document.querySelectorAll('table').length") == 10
                assert overflowing == [], f"at {width}px"
                page.close()
        finally:
            browser.close()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab -|é„\u00ad\u200b\u0301魚"), max_size=24),
       st.lists(st.integers(0, 24), min_size=1, max_size=4, unique=True))
def test_a_line_is_cut_into_columns_by_what_each_character_takes(line: str, starts: list[int]) -> None:
    from publish.markdown.tables import _split_columns

    starts = sorted(starts)
    expected, column = [""] * (len(starts) + 1), 0
    for char in line:  # a character belongs to the column it starts in
        expected[sum(column >= s for s in starts)] += char
        column += char_width(char)
    assert _split_columns(line, starts) == expected


def test_an_empty_header_cell_is_no_header() -> None:
    # Over a column of row labels: a <th> with no text is announced as nothing (Ace's
    # empty-table-header); a <td> in the header row is read as what it is, an empty corner.
    html = chapter_html("        Strom\n------  -----\nUran     2,3\n")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert [cell.tag for cell in root.find(".//thead/tr")] == ["td", "th"]
