"""Pandoc's Markdown, construct by construct: what publish makes of it means what Pandoc makes of it.

Each case is the smallest Markdown that shows one construct; `ours` and `pandoc` reduce both
HTMLs to (element, attributes, text) trees (tests/pandoc_html.py says what is left out), so a
failure prints both. Notes, raw TeX and page breaks have tests of their own below: their markup
is the book's own, not Pandoc's. docs/markdown.md names the test for each construct.
"""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pypandoc
import pytest
from conftest import MakeBook, Pdf, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandoc_html import ours, pandoc

from publish.markdown import source_problems
from publish.markdown.header_refs import heading_id
from publish.parse import chapter_html
from publish.pdf import render_pdf

INLINE = {
    "superscript": "a^bc^d a^*hello*^ a^hello\\ there^.",
    "superscript-not-with-spaces": "a^b c^d",
    "subscript": "H~2~O, H~23~O, H~many\\ of\\ them~O.",
    "subscript-not-with-spaces": "a~b c~d",
    "strikeout": "~~This is *strikeout*.~~",
    "span-classes": "[*foo* bar baz [link](url)]{.class #id key=val}",
    "span-smallcaps": "[Shaffer]{.smallcaps} Conservatory",
    "span-underline": "[underlined]{.underline}",
    "span-mark": "[marked]{.mark}",
    "span-nested": "[a [b]{.inner}]{.outer}",
    "span-lang": "[bonjour]{lang=fr}",
    "backslash-break": "hi\\\nthere",
    "escaped-space": "no\\ break",
    "implicit-header-reference": "## My header\n\nA link to [My header].\n",
    "implicit-header-reference-text": "## My header\n\nAnother link to [it][My header], [case][my header].\n",
    "implicit-header-reference-explicit-id": "## Header {#foobar .baz}\n\nLink to [Header].\n",
    "implicit-header-reference-defined-wins": "## My other header\n\n[my other header]: /foo\n\n"
                                              "Not a link to [My other header].\n",
    "example-reference": "(@foo) An example.\n\nAs (@foo) shows.\n",
    # Pandoc's markdown-reader-more.txt: an address of several words, spaces encoded as %20.
    "reference-spaces": "[baz][] [bam][] [bork][]\n\n[baz]: /foo foo\n[bam]:  /foo fee   \n"
                        "[bork]:  /foo/zee zob   (title)\n",
    "reference-spaces-titles": "[a], [b], [c], [d]\n\n[a]: my file.html \"A title\"\n[b]: <x y.html> 'z'\n"
                               "[c]: /p q\n    (next line)\n[d]: one  two\tthree\n",
    "reference-spaces-then-text": "[a]\n\n[a]: /p q \"t\" more words\n",
}

BLOCKS = {
    "fenced-div": "::: {#ep .epigraph}\nQuote\n:::\n",
    "fenced-div-word": "::: poem\nVerse\n:::\n",
    "fenced-div-trailing-colons": "::::: {.letter} ::::\nDear Sir\n:::::\n",
    "fenced-div-nested": "::: outer\nA\n\n::: inner\nB\n:::\n\nC\n:::\n",
    "fenced-div-closes-a-paragraph": "::: right\nsig\n:::\n\nAfter.\n",
    "fenced-div-unknown-class": "::: {.warning .big}\nText\n:::\n",
    "fenced-div-with-list": "::: note\n- a\n- b\n:::\n",
    "fenced-div-unclosed": "::: aside\nNever closed.\n",
    "line-block": "| But can a bee be said to be\n|     or not to be an entire bee,\n|         when half the bee is not a bee\n",
    "line-block-empty-line": "| one\n|\n| two\n",
    "line-block-continuation": "| Continuation\n line\n|   and\n       another\n",
    "line-block-markup": "| The *Whiplash* tempo\n| is **fast**\n",
}

LISTS = {
    "nested-by-two": "- a\n  - b\n - c\n",
    "nested-by-content-column": "1. a\n   1. b\n  1. c\n",
    "nested-under-wide-marker": "10. a\n    - b\n",
    "loose": "- a\n\n- b\n",
    "loose-by-one-item": "- a\n- b\n\n  c\n- d\n",
    "lazy-line": "- a\nb\n- c\n",
    "consecutive": "- one\n- two\n1. one\n2. two\n\n a. one\n b. two\n",
    "one-paren": "1) one\n2) two\n",
    "two-parens": "(1) one\n(2) two\n",
    "start": "5. five\n6. six\n",
    "default-marker": "#. one\n#. two\n    #. nested\n",
    "roman": "i. one\nii. two\niii. three\n",
    "upper-roman": "I.  one\nII.  two\n",
    "alpha": "a. one\nb. two\n",
    "upper-alpha-needs-two-spaces": "A.  Upper\nB.  Two\n",
    "not-a-list": "B. Williams\n\nM.A.\n",
    "paragraph-then-not-a-list": "Paragraph\n- not a list\n",
    "examples": "(@) First.\n(@foo) Second.\n\nSee (@foo).\n\n(@) Third.\n",
    "code-in-item": "- a\n\n      code\n",
    "code-as-item": "-     code\n      code\n",
    "tabs": "*\tTab\n\t*\tTab\n\t\t*\tTab\n",
    "tab-nesting": "1. First\n2. Second:\n\t* Fee\n\t* Fie\n3. Third\n",
    "item-paragraphs": "1.\tItem 1, graf one.\n\n\tItem 1. graf two.\n\n2.\tItem 2.\n",
    "in-quote": "> - quoted\n> - list\n",
    "ends-at-paragraph": "- one\n- two\n\ntext\n",
    "pandoc-fancy": "(2) begins with 2\n(3) and now 3\n\n    with a continuation\n\n    i.  sublist\n"
                    "        starting with i.\n    ii. more items\n        (A)  a subsublist\n        (B)  a subsublist\n",
    "pandoc-nesting": "D.  Upper Alpha\n    I.  Upper Roman.\n        (1) Decimal start with 1\n"
                      "            a)  Lower alpha with paren\n",
}


@pytest.mark.parametrize("markdown", INLINE.values(), ids=INLINE.keys())
def test_inline_constructs_mean_what_pandoc_makes_of_them(markdown: str) -> None:
    assert ours(markdown) == pandoc(markdown)


@pytest.mark.parametrize("markdown", BLOCKS.values(), ids=BLOCKS.keys())
def test_block_constructs_mean_what_pandoc_makes_of_them(markdown: str) -> None:
    assert ours(markdown) == pandoc(markdown)


@pytest.mark.parametrize("markdown", LISTS.values(), ids=LISTS.keys())
def test_lists_are_what_pandoc_makes_of_them(markdown: str) -> None:
    assert ours(markdown) == pandoc(markdown)


def test_a_note_definition_with_spaces_stays_a_note() -> None:
    # Footnote definitions are read before references (priority 17 over 15), as before.
    html = chapter_html("A note[^1] and [r].\n\n[^1]: a note with words\n\n[r]: /a b\n")
    assert '<a href="/a%20b">r</a>' in html and "a note with words" in html and "[^1]" not in html


def test_caret_insert_is_not_read_pandoc_has_none() -> None:
    assert "<ins>" not in chapter_html("^^not inserted^^")


# --- notes ------------------------------------------------------------------------------------------


def _pandoc_notes(markdown: str) -> list[str]:
    html = pypandoc.convert_text(markdown, "html5", format="markdown", extra_args=["--wrap=none"])
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for back in root.xpath("//a[contains(@class, 'footnote-back')]"):
        back.drop_tree()
    return [" ".join(li.text_content().split()) for li in root.xpath("//section[@id='footnotes']//li")]


NOTES = ("Here is a reference,[^1] and an inline note.^[This is *easier* to type. It may contain\n"
         "[links](http://google.com) and `]` verbatim characters, as well as [bracketed text].]\n"
         "A second reference[^long] and a last ^[inline] note.\n\n"
         "> Notes can go in quotes.^[In quote.]\n\n1.  And in list items.^[In list.]\n\n"
         "[^long]: The long note, defined first.\n\n[^1]: The first note, defined last.\n")


def test_inline_notes_are_the_same_notes_as_footnotes_in_pandoc_order(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n" + NOTES}))
    [chapter] = book.chapters
    texts = [" ".join(lxml.html.fromstring(f"<div>{n.html}</div>").text_content().split()) for n in chapter.notes]
    assert texts == _pandoc_notes(NOTES)
    assert [n.number for n in chapter.notes] == [1, 2, 3, 4, 5, 6]
    # The references in the text are numbered in the same order, and point at their notes.
    root = lxml.html.fragment_fromstring(chapter.html, create_parent="div")
    refs = root.xpath("//a[@class='noteref']")
    assert [r.text for r in refs] == ["1", "2", "3", "4", "5", "6"]
    assert [r.get("href") for r in refs] == [f"#{n.id}" for n in chapter.notes]
    assert "^[" not in chapter.html and "]" not in root.text_content().replace("[bracketed text]", "")
    assert book.diagnostics == ()


def test_an_inline_note_keeps_its_markup_and_a_nested_bracket() -> None:
    html = chapter_html("Text.^[A *note* with [a](b) link, `]` and [square] brackets.]")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    [item] = root.xpath("//div[@class='footnote']//li")
    assert item.xpath(".//em/text()") == ["note"] and item.xpath(".//code/text()") == ["]"]
    assert "[square] brackets." in item.text_content()


def test_an_unclosed_inline_note_is_text() -> None:
    assert "^[never closed" in chapter_html("A ^[never closed\n\nNext.")


def test_inline_notes_in_print_sit_at_the_foot_of_their_page(make_book: MakeBook) -> None:
    # A space before a line break inside a note once stopped WeasyPrint with an AssertionError.
    book = parse(make_book({"01-a.md": "# A\n\nText.^[An inline \n  note.] More.[^n]\n\n[^n]: A \n    footnote.\n"}))
    pdf = Pdf(render_pdf(book).data)
    [page] = pdf.pages_with("An inline note.")
    assert pdf.pages_with("A footnote.") == [page] and "More." in pdf.text(page)


# --- raw TeX ----------------------------------------------------------------------------------------


RAW_TEX = ("# A\n\nBefore.\n\n\\newpage\n\nAfter \\emph{gone} the break.\n\n\\thispagestyle{empty}\n\n"
           "\\begin{center}\n\\begin{tikzpicture}\n\n\\node {x};\n\n\\end{tikzpicture}\n\\end{center}\n\n"
           "\\newcommand{\\tuple}[1]{\\langle #1 \\rangle}\n\nKept: `\\newpage`, \\\\newpage, $\\alpha$.\n")


def test_raw_tex_is_never_printed_and_each_command_is_one_warning(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": RAW_TEX}))
    [chapter] = book.chapters
    text = lxml.html.fragment_fromstring(chapter.html, create_parent="div").text_content()
    assert "thispagestyle" not in text and "tikz" not in text and "gone" not in text and "newcommand" not in text
    assert "x" not in text.replace("Kept", "")  # the picture's content goes with it
    assert "`" not in text and "\\newpage" in text and "α" in text  # code, an escape, math
    found = [(d.code, d.line, d.message) for d in book.diagnostics]
    assert found == [("raw-tex", 7, "removed the raw TeX \\emph{gone}"),
                     ("raw-tex", 9, "removed the raw TeX \\thispagestyle{empty}"),
                     ("raw-tex", 11, "removed the raw TeX \\begin{center} … \\end{center}")]
    # A paragraph of \newcommand definitions is Pandoc's latex_macros, for the math: no warning.
    assert all(d.file.name == "01-a.md" and d.hint for d in book.diagnostics)


def test_a_page_break_is_an_empty_element_print_breaks_on() -> None:
    html = chapter_html("One.\n\n\\newpage\n\nTwo.\n\n\\cleardoublepage\n\nThree.\n")
    assert html.count('<div class="page-break"></div>') == 1 and '<div class="page-break recto"></div>' in html


def test_the_page_break_starts_a_new_printed_page_and_shows_nowhere_else(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nOne.\n\n\\pagebreak\n\nTwo.\n\n\\clearpage\n\nThree.\n"}))
    pdf = Pdf(render_pdf(book).data)
    one, two, three = (pdf.pages_with(w) for w in ("One.", "Two.", "Three."))
    assert len(one) == len(two) == len(three) == 1 and one[0] < two[0] < three[0]
    styles = Path(__file__).resolve().parents[1] / "styles"
    assert ".page-break { display: none; }" in (styles / "book.css").read_text()
    assert "break-before: page" in (styles / "print.css").read_text()


def test_a_page_break_inside_a_paragraph_is_a_warning() -> None:
    [problem] = source_problems("Text \\newpage more.\n", Path("a.md"))
    assert problem.code == "tex-page-break-inline" and problem.line == 1


# --- fenced divs ------------------------------------------------------------------------------------


def test_an_unclosed_div_runs_to_the_end_with_a_warning(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nText.\n\n::: poem\nVerse.\n\nMore verse.\n"}))
    [chapter] = book.chapters
    assert ":::" not in chapter.html and chapter.html.count("<p>") == 3
    [problem] = book.diagnostics
    assert (problem.code, problem.line, problem.file.name) == ("div-unclosed", 5, "01-a.md")


def test_colons_in_code_are_no_div() -> None:
    assert source_problems("```\n::: poem\n```\n\n    ::: x\n", Path("a.md")) == []
    assert "::: poem" in chapter_html("```\n::: poem\n```\n")


def test_implicit_references_follow_the_heading_ids(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## Same\n\n## Same\n\nSee [Same] and [the tempo][Tempo].\n\n## Tempo\n"}))
    [chapter] = book.chapters
    root = lxml.html.fragment_fromstring(chapter.html, create_parent="div")
    first, _, tempo = root.xpath("//h3/@id")
    assert root.xpath("//p/a/@href") == [f"#{first}", f"#{tempo}"]
    assert heading_id("My header") == "my-header"


# --- whatever the input ---------------------------------------------------------------------------

_PIECES = st.sampled_from(["^[", "]", "[", "^", "~", "~~", ":::", "::: {.x}", "| ", "\\", "\\newpage", "\\begin{x}",
                           "\\end{x}", "(@)", "(@a)", "1)", "(1)", "#.", "- ", "  ", "\n", "\n\n", "{", "}", "{.a}",
                           "`", "$", "a", "word", "[^1]", "[^1]: n", "i.", "A.  "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_any_mix_of_constructs_converts_without_an_error(text: str) -> None:
    html = chapter_html(text)
    lxml.html.fragment_fromstring(html or "<p></p>", create_parent="div")
    source_problems(text, Path("a.md"))
