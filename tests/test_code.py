"""Code, as Pandoc authors write it (src/publish/markdown/code.py, styles/book.css, print.css):

* the markup: each block compared with what Pandoc makes of the same Markdown (its element, its
  classes, its id, where it sits and its text), fenced blocks anywhere, indented blocks, numbering;
* highlighting: Pygments' token classes and nothing inline; lexers made once;
* the code face (JetBrains Mono) in every edition and in the glyph check;
* the print edition of tests/books/code: only shipped fonts, no glyph past the text block, a
  block crossing a page with two lines or more on each side, a mark on every turned line, and
  highlighting that survives black-and-white printing;
* the corpus: every fence of the code books becomes a block (nothing leaks as text).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import lxml.html
import pypandoc
import pypdfium2 as pdfium
import pytest
from conftest import EPOCH, MakeBook, _corpus
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from validators import pdf_fonts, run_ace, run_epubcheck

from publish import fonts
from publish.build import build
from publish.html import render_html
from publish.manuscript import load_manuscript
from publish.markdown import code
from publish.parse import chapter_html, parse_book
from publish.pdf import margins_for

REPO = Path(__file__).resolve().parents[1]
CODE_BOOK = REPO / "tests" / "books" / "code"
ARTIFACTS = REPO / "tests" / "_artifacts" / "code"
CORPUS = _corpus()
POINTS = 72.0


def fragment(html: str) -> etree._Element:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def ours(markdown: str) -> etree._Element:
    return fragment(chapter_html(markdown))


def pandocs(markdown: str) -> etree._Element:
    return fragment(pypandoc.convert_text(markdown, "html", format="markdown"))


def blocks(root: etree._Element) -> list[dict[str, object]]:
    """What a block means: its classes, an id the author gave it, its container and its text.
    Pandoc wraps a highlighted block in <div class="sourceCode"> holding the id (its own ids are
    cb1, cb2, …); ours carries the id on the <pre>."""
    found = []
    for pre in root.iter("pre"):
        holder = pre.getparent() if pre.getparent().get("class") == "sourceCode" else pre
        given_id = holder.get("id") or pre.get("id")
        code_element = pre.find("code")
        found.append({
            "pre": pre.get("class", "").split(),
            "code": code_element.get("class", "").split(),
            "id": None if given_id is None or re.fullmatch(r"cb\d+", given_id) else given_id,
            "container": holder.getparent().tag,
            "text": code_text(code_element),
        })
    return found


def code_text(code_element: etree._Element) -> str:
    """A block's code as a reader copies it: without the line numbers (text in ours, CSS in Pandoc's)."""
    parts = [code_element.text or ""]
    for child in code_element:
        parts.append(_line_text(child) + (child.tail or ""))
    return "".join(parts)


def _line_text(line: etree._Element) -> str:
    parts = [line.text or ""]
    for child in line:
        if child.get("class") != "ln":
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return "".join(parts)


# --- the markup, against Pandoc's ----------------------------------------------------------------

SAME_AS_PANDOC = {
    "a language": '```go\nfunc main() {\n\tfmt.Println("hi") // x\n}\n```\n',
    "numbered": "``` {.c .numberLines}\nint x;\nint y;\n```\n",
    "numbered, the class first": "``` {.numberLines .c}\nint x;\n```\n",
    "numbered from 10": '```{.python .numberLines startFrom="10"}\nx = 1\n\ny = 2\n```\n',
    "an id and tildes": '~~~~ {#mycode .haskell .numberLines startFrom="100"}\nqsort []     = []\n~~~~\n',
    "a class before the language": "``` {.foo .c}\nint x;\n```\n",
    "a language and attributes": "```c {.numberLines}\nint x;\n```\n",
    "no language": "```\nplain <b>not</b> bold\n```\n",
    "a language no highlighter knows": "```nosuchlang\nhello\n```\n",
    "text": "```text\nx\n```\n",
    "tabs": "````\nx\t\ty\n````\n",
    "a longer fence around a shorter": "````markdown\n```go\ninner\n```\n````\n",
    "in a block quote": "> ```python\n> x = 1\n> ```\n",
    "in a list item": "1. item\n\n    ```go\n    x := 1\n    ```\n\n2. second\n",
    # as learn-go-with-tests/http-server.md writes it (with "- b:", Pandoc reads inline code; we, a block)
    "in a list item, after its text": "-   a\n-   b:\n    ```go\n    x := 1\n    ```\n-   c\n",
    "a fence indented by a space": " ```go\nassertion := 1\n\tif x {\n```\n",
    "indented": "Text.\n\n    indented <code>\n        more\n",
    # the item's text at column 4, where both read its blocks (list indentation itself is lists' business)
    "indented, in a list item": "1.  item\n\n        code in a list\n        line 2\n\n2.  next\n",
}


@pytest.mark.parametrize("markdown", SAME_AS_PANDOC.values(), ids=SAME_AS_PANDOC.keys())
def test_a_code_block_means_what_pandoc_makes_of_it(markdown: str) -> None:
    assert blocks(ours(markdown)) == blocks(pandocs(markdown))


def test_fenced_code_in_a_list_item_keeps_the_list_whole() -> None:
    root = ours("1. Write the test:\n\n    ```go\n    x := 1\n    ```\n\n2. Run it.\n")
    [ordered] = root.findall("ol")
    assert [len(item.findall("pre")) for item in ordered] == [1, 0]
    assert not root.xpath("//p[contains(., '```')]") and not root.xpath("//code[not(parent::pre)]")


def test_inline_code_is_unchanged() -> None:
    root = ours("Call `fmt.Println` and `os.Args[1:]`.\n")
    assert [c.text for c in root.iter("code")] == ["fmt.Println", "os.Args[1:]"]


def test_a_code_span_with_a_language_is_highlighted_as_pandoc_does() -> None:
    markdown = 'Run `if a < b && "&lt;" {`{.js} and `x`{.nothing}.\n'
    mine, theirs = ours(markdown), pandocs(markdown)
    assert [(c.get("class"), c.text_content()) for c in mine.iter("code")] == [
        ("sourceCode js", 'if a < b && "&lt;" {'), ("nothing", "x")]
    assert [c.text_content() for c in mine.iter("code")] == [c.text_content() for c in theirs.iter("code")]
    assert mine.xpath("//code/span[@class='k']/text()") == ["if"]  # and no smart quotes in it


# --- highlighting and lines ------------------------------------------------------------------------


def test_a_language_is_highlighted_with_pygments_token_classes_and_nothing_inline() -> None:
    root = ours('```go\nfunc main() {\n\treturn "x" // done\n}\n```\n')
    tokens = {span.text: span.get("class") for span in root.xpath("//code/span/span")}
    assert tokens["func"] == "kd" and tokens["return"] == "k" and tokens['"x"'] == "s"
    assert tokens["// done"] == "c1"
    assert not root.xpath("//*[@style]")


def test_a_block_without_a_language_is_not_highlighted() -> None:
    for markdown in ("```\nfunc main() {}\n```\n", "```mermaid\ngraph TD;\n```\n", "    func main() {}\n"):
        root = ours(markdown)
        assert not root.xpath("//code/span/span"), markdown
        assert root.xpath("//pre/code/span/text()") == [markdown.split("\n")[1 if "`" in markdown else 0].strip()]


def test_every_line_is_one_span_and_an_empty_line_only_its_newline() -> None:
    """An empty span would be serialised `<span/>`, which an HTML parser reads as an opening tag."""
    root = ours("```python\nx = 1\n\n  # two\n```\n\n    a\n\n    b\n")
    first, second = root.findall("pre")
    assert [_line_text(line) for line in first.find("code")] == ["x = 1", "  # two"]
    assert code_text(first.find("code")) == "x = 1\n\n  # two"
    assert code_text(second.find("code")) == "a\n\nb"
    assert not [span for span in root.iter("span") if not len(span) and not span.text]


def test_an_empty_block_leaves_nothing_open() -> None:
    """An empty <code> would be serialised <code/>, which HTML parsers leave open."""
    root = fragment(chapter_html("```go\n```\n\nAfter.\n"))
    assert [code.text for code in root.iter("code")] == ["\n"] and root.xpath("//p/text()") == ["After."]


def test_only_a_line_that_may_turn_is_marked_long() -> None:
    """A box per line is what lets a line turn under a mark, and costs layout time: only lines
    longer than a narrow page's measure get one."""
    short, long = "x" * code.LONG_LINE, "y" * (code.LONG_LINE + 1)
    for markdown in (f"```python\n{short}\n{long}\n```\n", f"    {short}\n    {long}\n"):
        lines = ours(markdown).xpath("//pre/code/span")
        assert [(line.get("class"), line.text) for line in lines] == [(None, short), ("long", long)]


def test_numbered_lines_count_from_start_from_and_an_unreadable_start_from_one() -> None:
    root = ours('```{.python .numberLines startFrom="10"}\na\n\nb\n```\n\n``` {.numberLines startFrom="x"}\nc\n```\n')
    first, second = root.findall("pre")
    assert first.xpath(".//span[@class='ln']/text()") == ["10", "11", "12"]
    assert second.xpath(".//span[@class='ln']/text()") == ["1"]
    assert "numberSource" in first.get("class").split() and "numberSource" in second.get("class").split()


def test_a_lexer_is_made_once_per_language() -> None:
    assert code.lexer("go") is code.lexer("Go".lower()) is not None
    assert code.lexer("text") is None and code.lexer("no-such-language") is None


def test_a_note_that_ends_in_code_has_no_empty_paragraphs(make_book: MakeBook) -> None:
    folder = make_book({"01-a.md": "# A\n\nText[^n].\n\n[^n]: A note with code:\n\n    ```sh\n    echo hi\n    ```\n"})
    [note] = parse_book(load_manuscript(folder)).chapters[0].notes
    root = fragment(note.html)
    assert [child.tag for child in root] == ["p", "pre"]
    assert not root.xpath("//p[not(node())]") and "\xa0" not in note.html


# Code text that is no fence line itself, and no whitespace-only last line (Markdown drops those).
_CODE = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="`~"), max_size=40),
                 min_size=1, max_size=6).filter(lambda lines: lines[-1].strip() != "")


@settings(max_examples=60, deadline=None)
@given(lines=_CODE, language=st.sampled_from(["python", "go", "c++", "js", "", "nosuch", "text"]))
def test_any_code_comes_back_exactly(lines: list[str], language: str) -> None:
    source = "\n".join(lines)
    root = ours(f"```{language}\n{source}\n```\n")
    [pre] = root.findall("pre")
    # Python-Markdown empties a line of nothing but spaces before any construct reads the text
    # (its NormalizeWhitespace), fences included.
    expected = "\n".join(re.sub(r"^ +$", "", line.rstrip("\r")) for line in source.expandtabs(4).split("\n"))
    assert code_text(pre.find("code")).replace("\r", "") == expected.replace("\r", "")


# --- the code face ---------------------------------------------------------------------------------


def test_a_book_with_code_carries_the_code_face_and_one_without_does_not(make_book: MakeBook) -> None:
    with_code = parse_book(load_manuscript(make_book({"01-a.md": "# A\n\nRun `go test`.\n"}, name="code")))
    without = parse_book(load_manuscript(make_book({"01-a.md": "# A\n\nRun the tests.\n"}, name="prose")))
    # The web edition's files (the EPUB's fonts are cut the same way, from its own documents).
    assert "styles/fonts/JetBrainsMono-Regular.ttf" in render_html(with_code)
    assert not [name for name in render_html(without) if "JetBrains" in name]


def test_box_drawing_is_set_in_the_code_face_not_a_cjk_fallback() -> None:
    families = {face.family for face in fonts.needed_faces("├── hello.go\n│   └── x", code=True)}
    assert families == {"Gentium Book Plus", "JetBrains Mono"}
    assert not fonts.unsettable("├──│└ Καλημέρα Привет π ЀѐЍѝ")


# --- the print edition -----------------------------------------------------------------------------


@functools.cache
def printed_code_book() -> tuple[Path, object]:
    result = build(CODE_BOOK, ARTIFACTS, formats=("epub", "pdf", "html"), source_date_epoch=EPOCH)
    assert not result.diagnostics, "\n".join(map(str, result.diagnostics))
    return next(p for p in result.outputs if p.suffix == ".pdf"), result.book


def glyphs_past_the_text_block(pdf_path: Path, book: object) -> list[str]:
    """Every glyph whose box reaches past the text block's left or right edge, as 'page: char'."""
    document = pdfium.PdfDocument(pdf_path)
    try:
        margins = margins_for(book.config, len(document))
        stray = []
        for index in range(len(document)):
            page = document[index]
            width = page.get_width()
            inside, outside = margins.gutter * POINTS, margins.outside * POINTS
            left, right = (inside, width - outside) if index % 2 == 0 else (outside, width - inside)
            text = page.get_textpage()
            chars = text.get_text_range(0, text.count_chars())
            for number in range(text.count_chars()):
                char = chars[number] if number < len(chars) else ""
                if not char.strip():
                    continue
                x0, _, x1, _ = text.get_charbox(number)
                # 2 pt: the overhang of a j or an italic f at the edge is typography, not overflow
                if x0 < left - 2 or x1 > right + 2:
                    stray.append(f"page {index + 1}: {char!r} at {x0:.0f}-{x1:.0f} (text block {left:.0f}-{right:.0f})")
        return stray
    finally:
        document.close()


def test_only_shipped_fonts_are_embedded() -> None:
    pdf, _ = printed_code_book()
    names = {font.name.split("+")[-1] for font in pdf_fonts(pdf)}
    assert {"JetBrains-Mono", "JetBrains-Mono-Bold", "JetBrains-Mono-Italic"} <= names
    assert all(name.startswith(("Gentium-Book-Plus", "JetBrains-Mono")) for name in names), names
    assert all(font.embedded for font in pdf_fonts(pdf))


def test_no_glyph_runs_past_the_text_block() -> None:
    pdf, book = printed_code_book()
    assert glyphs_past_the_text_block(pdf, book) == []


def _code_lines(pdf_path: Path) -> list[list[tuple[float, float, str]]]:
    """Per page, the lines set in the code face: (top, left, text)."""
    import pdfplumber

    pages = []
    with pdfplumber.open(pdf_path) as pdf:
        for page in pdf.pages:
            rows: dict[float, list[dict]] = {}
            for char in page.chars:
                if "JetBrains" in char["fontname"]:
                    rows.setdefault(round(char["top"]), []).append(char)
            pages.append([(top, min(c["x0"] for c in row), "".join(c["text"] for c in sorted(row, key=lambda c: c["x0"])))
                          for top, row in sorted(rows.items())])
    return pages


def test_a_long_block_crosses_pages_with_two_lines_or_more_on_each_side() -> None:
    pdf, _ = printed_code_book()
    pages = _code_lines(pdf)
    crossing = [i for i, page in enumerate(pages[:-1]) if page and "step" in page[-1][2] and pages[i + 1]
                and "step" in pages[i + 1][0][2]]
    assert len(crossing) >= 2, "the long block should cross at least two page breaks"
    for index in crossing:
        assert len(pages[index]) >= 2 and len(pages[index + 1]) >= 2


def test_every_turned_line_is_marked_in_the_indent() -> None:
    """A line too long for the measure goes on under a hanging indent, where an arrow is drawn: ink
    left of every turned line, none left of a line that starts the code's own line."""
    pdf, _ = printed_code_book()
    # pdfplumber gives no spaces: compare without them
    sources = {"".join(line.split()) for path in CODE_BOOK.glob("*.md") for line in path.read_text().splitlines()}
    document = pdfium.PdfDocument(pdf)
    try:
        turned = 0
        for index, lines in enumerate(_code_lines(pdf)):
            if not lines:
                continue
            bitmap = document[index].render(scale=2, grayscale=True).to_pil()
            block_left = min(left for _, left, _ in lines)
            for top, left, text in lines:
                own = "".join(text.split()).lstrip("0123456789")  # a numbered line starts with its number
                starts_a_line = any(source.startswith(own) for source in sources if source)
                # the indent's last two character widths, left of the turned line's first glyph
                gutter = bitmap.crop((int((left - 10) * 2), int(top * 2) + 2, int((left - 1) * 2), int(top * 2) + 16))
                inked = gutter.getextrema()[0] < 160
                if not starts_a_line and left > block_left + 4:
                    turned += 1
                    assert inked, f"page {index + 1}: no mark before the turned line {text!r}"
        assert turned >= 10
    finally:
        document.close()


def test_highlighting_survives_black_and_white() -> None:
    """Keywords are bold and comments italic, so a grey page tells them apart; every colour keeps
    4.5:1 against the paper."""
    import pdfplumber

    pdf, _ = printed_code_book()
    with pdfplumber.open(pdf) as document:
        chars = [c for page in document.pages for c in page.chars if "JetBrains" in c["fontname"]]
    chars = [c for c in chars if c["text"].strip()]
    text = "".join(c["text"] for c in chars)
    for keyword, rest, face in (("func", "Hello", "Bold"), ("return", "greeting", "Bold"), ("//", "Package", "Italic")):
        start = text.index(keyword + rest)
        assert all(face in c["fontname"] for c in chars[start:start + len(keyword)]), keyword
        assert (face in chars[start + len(keyword)]["fontname"]) == (face == "Italic"), rest

    def luminance(colour: tuple[float, ...]) -> float:
        channels = [colour[0]] * 3 if len(colour) == 1 else list(colour[:3])
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    colours = {tuple(c["non_stroking_color"] or (0,)) for c in chars}
    assert len(colours) >= 4  # highlighted in colour as well
    for colour in colours:
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, colour


def test_every_edition_sets_code_in_the_code_face() -> None:
    printed_code_book()
    web = (ARTIFACTS / "notes-on-code" / "styles" / "fonts.css").read_text()
    assert "JetBrainsMono-Regular.ttf" in web
    assert (ARTIFACTS / "notes-on-code" / "styles" / "fonts" / "OFL-JetBrainsMono.txt").is_file()
    book_css = (REPO / "styles" / "book.css").read_text()
    assert re.search(r'pre, code, kbd, samp \{ font-family: "JetBrains Mono"', book_css)


@pytest.mark.e2e
def test_the_code_books_epub_passes_epubcheck_and_ace() -> None:
    """The turn marks are a data: URL in the CSS, the numbers text, the tokens spans: all valid."""
    printed_code_book()
    epub = ARTIFACTS / "notes-on-code.epub"
    report = run_epubcheck(epub, usage=True)
    assert [m.id for m in report.messages if m.id != "CSS-028"] == [], report.summary()  # CSS-028: @font-face used
    assert run_ace(epub).violations == ()


# --- the corpus ------------------------------------------------------------------------------------

FENCE = re.compile(r"^ {0,8}(`{3,}|~{3,})", re.MULTILINE)


@pytest.mark.parametrize("name", ["learn-go-with-tests", "vulkan-tutorial-fr", "functional-light-js"])
def test_every_fence_of_the_corpus_code_books_becomes_a_block(name: str) -> None:
    folder = CORPUS / name
    if not folder.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    for source in load_manuscript(folder).sources:
        root = fragment(chapter_html(source.text))
        fences = len(FENCE.findall(source.text)) // 2
        assert len(root.xpath("//pre")) >= fences, source.path
        leaked = root.xpath("//*[not(ancestor-or-self::pre)][contains(text(), '```')]")
        assert not leaked, (source.path, [etree.tostring(e, encoding="unicode")[:120] for e in leaked])
        # a fence read as a code span comes out as "<code>go\nfunc …": its language, then a newline
        spans = [c.text_content() for c in root.xpath("//code[not(parent::pre)]")]
        assert not [s for s in spans if re.match(r"[\w+#.-]*\n", s)], source.path
