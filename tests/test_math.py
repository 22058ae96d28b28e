"""Math: `$…$`, `$$…$$` (and `\\(…\\)`, `\\[…\\]` when asked) read as Pandoc reads them; MathML in
the EPUB and the web edition, drawn as SVG on the text's baseline in print."""

from __future__ import annotations

import html as html_module
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import lxml.html
import pypandoc
import pytest
from conftest import NS, Epub, MakeBook, Pdf, _corpus, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from publish.epub import render_epub
from publish.html import render_html
from publish.markdown import CONSTRUCTS, Construct, make_markdown
from publish.markdown.math import MathError, MathExtension, to_mathml
from publish.mathml import plain_text
from publish.model import Book
from publish.parse import chapter_html
from publish.pdf import render_pdf
from publish.print_math import draw, draw_formulas, x_height_ratio
from publish.sanitize import sanitize

CORPUS = _corpus()
MATHML = "{http://www.w3.org/1998/Math/MathML}math"


# --- finding formulas, compared with Pandoc -----------------------------------------------------------


def pandoc_formulas(markdown: str, *, extensions: str = "") -> list[tuple[str, str]]:
    """(TeX, display) of every formula Pandoc's Markdown reader finds, in order."""
    html = subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown" + extensions, "-t", "html", "--mathml"],
                          input=markdown, capture_output=True, text=True, check=True, timeout=60).stdout
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    found = []
    for element in root.iter(MATHML, "math", "span"):
        if element.tag == "span":  # a formula texmath could not convert: "$…$", in a span
            if "math" in (element.get("class") or "").split():
                display = "display" in element.get("class")
                found.append((_tex(element.text_content(), display), "block" if display else "inline"))
        else:
            found.append((" ".join("".join(element.xpath(".//*[local-name()='annotation']/text()")).split()),
                          element.get("display")))
    return found


def _tex(source: str, display: bool) -> str:
    """The TeX of a formula as written with its delimiters."""
    cut = 2 if display else 1
    return " ".join(source[cut:-cut].split())


def our_formulas(html: str, *, unreadable: bool = False) -> list[tuple[str, str]]:
    """(TeX, display) of every formula in the HTML; with `unreadable`, also those shown as code."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    found = []
    for element in root.iter("math", "code"):
        if element.tag == "math":
            found.append((" ".join(element.get("alttext", "").split()), element.get("display")))
        elif unreadable and element.get("class") == "math-error":
            display = element.text.startswith(("$$", "\\["))
            found.append((_tex(element.text, display), "block" if display else "inline"))
    return found


CASES = {
    # Pandoc's manual and its test suite: what is math and what is not.
    "$x^2$ and $$\\frac{a}{b}$$": [("x^2", "inline"), ("\\frac{a}{b}", "block")],
    "$5 and $10": [],
    "$22,000 is a *lot* of money.  So is $34,000.": [],
    "Shoes ($20) and socks ($5).": [],
    "Escaped `$`:  $73 *this should be emphasized* 23\\$.": [],
    "costs US$5 or US$10 today": [],
    "$a$1 and $ a$ and $a $": [],
    "\\$x$ is a dollar and x": [],
    "\\\\$x$ is math after an escaped backslash": [("x", "inline")],
    "$\\$2 + \\$3$": [("\\$2 + \\$3", "inline")],
    "$x = \\text{the $n$th root of $y$}$": [("x = \\text{the $n$th root of $y$}", "inline")],
    "a $b\nc$ d": [("b c", "inline")],
    "$$\n\\sum_{i=1}^n i\n$$": [("\\sum_{i=1}^n i", "block")],
    "$$ x $$ with spaces": [("x", "block")],
    "`$x$` is code": [],
    "H$_2$O and $p$-Tree": [("_2", "inline"), ("p", "inline")],
    "\\(x\\) and \\[y\\] are escaped brackets by default": [],
    "[a $b$ link](https://example.com/) then $c$": [("b", "inline"), ("c", "inline")],
    "[link](https://example.com/$x$y$) is an address": [],
    "<span title=\"$5 to $6$\">raw</span> HTML": [],
}


@pytest.mark.parametrize("text", list(CASES))
def test_formulas_are_found_as_pandoc_finds_them(text: str) -> None:
    assert our_formulas(chapter_html(text)) == CASES[text]
    assert pandoc_formulas(text) == CASES[text]


# Paragraphs made of the characters the delimiter rules turn on; block syntax (lists, headings,
# indented code) is left out, as it would compare the block parsers instead.
_PIECES = st.sampled_from(["$", "$", "$$", "\\$", "\\", " ", "  ", "\n", "x", "ab", "1", "20", "{", "}", "\\text{",
                           "*", "_", "^", ",", ".", "(", ")", "\\alpha", "-"])
_PARAGRAPH = st.lists(_PIECES, min_size=1, max_size=14).map("".join).map(lambda s: "a " + s.strip() + " z")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PARAGRAPH, min_size=1, max_size=20))
def test_random_paragraphs_hold_the_formulas_pandoc_finds(paragraphs: list[str]) -> None:
    text = "\n\n".join(paragraphs) + "\n"
    # Readable or not (texmath and latex2mathml do not refuse the same TeX), the same formulas.
    assert our_formulas(chapter_html(text), unreadable=True) == pandoc_formulas(text), text


def test_single_backslash_delimiters_are_read_when_asked() -> None:
    md = make_markdown((*[c for c in CONSTRUCTS if c.name != "math"],
                        Construct("math", lambda: MathExtension(single_backslash=True))))
    text = "Inline \\(x^2\\), display \\[\\frac{a}{b}\\], not \\\\(y\\)."
    expected = [("x^2", "inline"), ("\\frac{a}{b}", "block")]
    assert our_formulas(sanitize(md.convert(text))) == expected
    assert pandoc_formulas(text, extensions="+tex_math_single_backslash") == expected


def test_a_newcommand_paragraph_defines_macros_and_is_not_printed() -> None:
    html = chapter_html("\\newcommand{\\tuple}[1]{\\langle #1 \\rangle}\n\n$\\tuple{x,y}$\n")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert "newcommand" not in root.text_content()
    [math] = root.iter("math")
    assert math.get("alttext") == "\\tuple{x,y}"  # what the author wrote
    assert [t for t in math.itertext()] == ["⟨", "x", ",", "y", "⟩"]


def test_macros_do_not_leak_into_the_next_chapter() -> None:
    md = make_markdown()
    chapter_html("\\newcommand{\\R}{\\mathbb{R}}\n\n$\\R$\n", md=md)
    assert "math-error" in chapter_html("$\\R$\n", md=md)


# --- MathML ---------------------------------------------------------------------------------------------


def test_mathml_carries_the_tex_as_alttext_and_a_sign_after_an_operator_is_a_prefix() -> None:
    math = to_mathml("k = -0{,}40", display=True)
    assert (math.get("xmlns"), math.get("display"), math.get("alttext")) == (
        "http://www.w3.org/1998/Math/MathML", "block", "k = -0{,}40")
    signs = [mo for mo in math.iter("mo") if mo.text == "−"]
    assert [mo.get("form") for mo in signs] == ["prefix"]
    assert [mo.get("form") for mo in to_mathml("a - b", display=False).iter("mo")] == [None]


def test_latex2mathml_is_amended_where_tex_sets_it_otherwise() -> None:
    def xml(tex: str) -> str:
        return ET.tostring(to_mathml(tex, display=True), encoding="unicode")

    assert '<munder><mo movablelimits="true">lim</mo>' in xml("\\lim_{h\\to 0} f")  # under it, in display
    assert xml("|x|").count('form="prefix">|') == 1 and xml("|x|").count('form="postfix">|') == 1
    assert '<mo lspace="0" rspace="0">,</mo>' in xml("0{,}40")  # a braced comma is no punctuation
    assert "<mi>arg</mi>" in xml("\\arg z")  # an operator name latex2mathml lacks
    assert 'columnspacing="0.8em"' in xml("\\begin{matrix} a & b \\end{matrix}")


def _leaves(math: etree._Element) -> list[tuple[str, str]]:
    """What a formula shows, in order: each token element's kind and text (spacing left out)."""
    leaves = [(etree.QName(e).localname, " ".join((e.text or "").replace("\u00a0", " ").split()))
              for e in math.iter() if isinstance(e.tag, str) and etree.QName(e).localname in {"mi", "mn", "mo", "mtext"}]
    return [(kind, text) for kind, text in leaves if text or kind != "mtext"]


@pytest.mark.parametrize("tex", ["\\$2 + \\$3", "x = \\text{the $n$th root of $y$}",
                                 "\\text{if $a_1$ then $\\text{$b$}$}", "\\text{{for} $x$ \\$}"])
def test_dollars_and_math_inside_text_are_what_pandoc_makes_of_them(tex: str) -> None:
    # Pandoc's markdown-reader-more.txt: \$ in math is a dollar sign; in \text{…}, $…$ is math again.
    markdown = f"${tex}$\n"
    [ours] = lxml.html.fragment_fromstring(chapter_html(markdown), create_parent="div").iter("math")
    html = subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "html", "--mathml"],
                          input=markdown, capture_output=True, text=True, check=True, timeout=60).stdout
    [theirs] = lxml.html.fragment_fromstring(html, create_parent="div").iter(MATHML, "math")
    for element in theirs.xpath(".//*[local-name()='annotation']"):
        element.getparent().remove(element)
    assert _leaves(ours) == _leaves(theirs)
    assert not any(re.search(r"\$[^$\s]+\$", text) for kind, text in _leaves(ours) if kind == "mtext")  # no TeX shows


@pytest.mark.parametrize(("tex", "reason"), [
    ("\\frac{a", "'{' is never closed"),
    ("x^{2", "'{' is never closed"),
    ("a}", "'}' closes nothing"),
    ("\\foo{x}", "\\foo is not a command"),
    ("\\frac{a}", "missing an argument"),
    ("x^", "nothing after it"),
    ("\\left( x", "\\left has no \\right"),
    ("\\begin{matrix} a", "has no \\end"),
])
def test_an_unreadable_formula_says_why(tex: str, reason: str) -> None:
    with pytest.raises(MathError, match=reason.replace("\\", "\\\\").replace("(", "\\(").replace("{", "\\{")):
        to_mathml(tex, display=False)


def test_an_unreadable_formula_is_a_warning_with_its_line_and_shown_as_code(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nFine $x$.\n\nBroken $\\frac{a$ here,\nand $\\oops$ too.\n"}))
    problems = [d for d in book.diagnostics if d.code == "math-unreadable"]
    assert [(p.file.name, p.line) for p in problems] == [("01-a.md", 5), ("01-a.md", 6)]
    assert "$\\frac{a$" in problems[0].message and "never closed" in problems[0].message
    assert all(p.hint for p in problems)
    root = lxml.html.fragment_fromstring(book.chapters[0].html, create_parent="div")
    assert [c.text for c in root.xpath("//code[@class='math-error']")] == ["$\\frac{a$", "$\\oops$"]
    assert len(list(root.iter("math"))) == 1  # the rest of the chapter is read as before


# What books write: every kind of construct latex2mathml knows, one formula each.
FORMULAS = [
    "x^2 + y_i^2 = z_{ij}", "\\frac{d}{dx}f(x)=\\lim_{h\\to 0}\\frac{f(x+h)-f(x)}{h}", "\\sqrt{2}\\,\\sqrt[3]{x}",
    "\\sum_{n=1}^\\infty \\frac{1}{n^2} = \\frac{\\pi^2}{6}", "\\int_0^1 x\\,dx", "\\iint_D f\\,dA", "\\prod_i a_i",
    "\\binom{n}{k}", "\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}", "\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}",
    "|x| = \\begin{cases} x & x \\ge 0 \\\\ -x & x < 0 \\end{cases}", "\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}",
    "\\left( \\frac{a}{b} \\right)", "\\left\\{ x \\right\\}", "\\langle x, y \\rangle", "\\lVert v \\rVert",
    "\\hat{a}\\bar{b}\\vec{c}\\dot{d}\\ddot{e}\\tilde{f}", "\\overline{AB}", "\\underbrace{a+b}_{n}",
    "\\overset{!}{=}", "\\mathbb{R}\\mathcal{L}\\mathfrak{g}\\mathbf{v}\\mathrm{d}\\mathit{x}", "\\text{U}_2\\text{O}_5",
    "\\alpha\\beta\\gamma\\Gamma\\Delta\\omega\\Omega", "a \\le b \\ge c \\ne d \\approx e \\equiv f", "f'(x) + g''(x)",
    "\\nabla \\cdot \\vec{E} = \\frac{\\rho}{\\varepsilon_0}", "x \\in A \\cup B \\cap C \\subset D", "\\forall x \\exists y",
    "a \\to b \\Rightarrow c \\iff d", "\\sin x + \\cos y + \\log z + \\exp w", "10^{-11}", "{}^{1}/_{100}",
    "\\lambda = 381,47\\,\\mu\\mu", "k = 1,05 \\,\\cdot\\, 10^{-6}.", "\\operatorname{sgn}(x)", "x \\bmod 3",
    "\\displaystyle\\sum_i x_i", "\\tfrac{1}{2}", "\\dfrac{1}{2}", "a \\quad b \\qquad c", "\\{1, 2, 3\\}",
    "\\underset{x}{\\arg\\max}", "\\xrightarrow{f}", "\\boxed{x}", "\\cancel{x}", "\\color{red}{x}",
    "\\$2 + \\$3", "x = \\text{the $n$th root of $y$}", "\\text{a {b $c_1$} d \\$}",
]


@pytest.mark.parametrize("tex", FORMULAS)
def test_every_construct_survives_the_sanitiser_and_is_drawn_for_print(tex: str) -> None:
    html = chapter_html(f"${tex}$ and $${tex}$$\n")
    assert "math-error" not in html
    maths = lxml.html.fragment_fromstring(html, create_parent="div").findall(".//math")
    assert len(maths) == 2
    for element in maths:
        serialised = lxml.html.tostring(element, encoding="unicode")
        # Nothing of it is dropped by the raw-HTML policy (which writes a \text's spaces as characters).
        assert html_module.unescape(sanitize(serialised)) == html_module.unescape(serialised)
    drawn = draw_formulas(html)
    assert "<math" not in drawn and "math-error" not in drawn  # ziamath lays every one of them out


def test_raw_mathml_is_kept_inside_math_only(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nStray <mi>x</mi> and <math><mfrac><mi>y</mi><mn>2</mn></mfrac></math>.\n"}))
    root = lxml.html.fragment_fromstring(book.chapters[0].html, create_parent="div")
    assert [e.getparent().tag for e in root.iter("mi")] == ["mfrac"]  # an <mi> outside <math> means nothing
    assert root.find(".//p/math/mfrac") is not None  # and the content-model repair leaves MathML alone
    # In MathML's namespace, written or not: XHTML has no default one (EPUBCheck's RSC-005, OPF-015).
    assert root.find(".//p/math").get("xmlns") == "http://www.w3.org/1998/Math/MathML"


def test_plain_text_of_formulas_is_what_a_reader_would_type() -> None:
    def plain(tex: str) -> str:
        return plain_text(lxml.html.fragment_fromstring(chapter_html(f"A ${tex}$-B"), create_parent="div"))

    assert plain("\\beta") == "A β-B"  # no word joiner left
    assert plain("x^2") == "A x²-B"
    assert plain("10^{-11}") == "A 10⁻¹¹-B"
    assert plain("x_{ij}") == "A x_(ij)-B"
    assert plain("\\frac{a}{b+c}") == "A a/(b+c)-B"
    assert plain("\\sqrt{2}") == "A √2-B"


# --- the book: headings, tables, notes; EPUB and web -----------------------------------------------------

CHAPTERS = {
    "01-rays.md": """\
        # Die $\\alpha$-Strahlen

        ## Ablenkbare $\\beta$-Strahlen

        Die $\\beta$-Strahlen, $10^{-11}$ Ampère, $$k = -0{,}40 \\cdot 10^{-6}.$$ Dazu.[^n]

        | Stoff | $i\\cdot 10^{11}$ |
        |-------|------------------|
        | $\\text{U}_2\\text{O}_5$ | 2,6 |

        [^n]: Mit $\\sqrt{2}$ gerechnet.
        """,
    "02-plain.md": "# Ohne\n\nNo math here, $5 and $10.\n",
}


@pytest.fixture(scope="module")
def rays(tmp_path_factory: pytest.TempPathFactory) -> Book:
    from conftest import dedent

    root = tmp_path_factory.mktemp("math") / "book"
    root.mkdir()
    (root / "book.yaml").write_text("title: Strahlen\nlang: de\n", encoding="utf-8")
    for name, text in CHAPTERS.items():
        (root / name).write_text(dedent(text), encoding="utf-8")
    return parse(root)


def test_math_in_titles_headings_tables_and_notes(rays: Book) -> None:
    first, second = rays.chapters
    assert rays.diagnostics == ()
    assert first.title.text == "Die α-Strahlen" and "<math" in first.title.html
    assert [h.text for h in first.headings] == ["Ablenkbare β-Strahlen"]
    root = lxml.html.fragment_fromstring(first.html, create_parent="div")
    assert [m.get("alttext") for m in root.iter("math")][:3] == ["\\beta", "\\beta", "10^{-11}"]
    assert [m.get("alttext") for m in root.xpath("//td/math | //th/math")] == ["i\\cdot 10^{11}", "\\text{U}_2\\text{O}_5"]
    assert "<math" in first.notes[0].html
    assert "<math" not in second.html and "$5 and $10" in second.html


def test_the_epub_marks_documents_with_math_and_carries_the_math_face(rays: Book, small_cover) -> None:  # noqa: ANN001
    epub = Epub(render_epub(rays, cover=small_cover))
    with_math = epub.opf_xpath("//opf:item[contains(concat(' ', @properties, ' '), ' mathml ')]/@href")
    assert with_math == [rays.chapters[0].file_name]  # not the chapter without, nor the nav (plain labels)
    assert "MathML" in epub.meta("schema:accessibilityFeature")
    assert epub.opf_xpath("//opf:item[@href='styles/fonts/STIXTwoMath-Regular.ttf']/@media-type") == ["font/ttf"]
    assert "STIX Two Math" in epub.zip.read(epub.path("styles/fonts.css")).decode()
    chapter = epub.doc(rays.chapters[0].file_name)
    maths = chapter.xpath("//m:math", namespaces={"m": "http://www.w3.org/1998/Math/MathML"})
    assert len(maths) == 8 and all(m.get("alttext") for m in maths)  # title, heading, text, table, note
    labels = epub.nav.xpath("//x:nav[@epub:type='toc']//x:a/text()", namespaces=NS)
    assert "Die α-Strahlen" in labels


def test_a_book_without_math_carries_no_math_face(make_book: MakeBook, small_cover) -> None:  # noqa: ANN001
    epub = Epub(render_epub(parse(make_book({"01-a.md": "# A\n\nIt costs $5 and $10.\n"})), cover=small_cover))
    assert not [n for n in epub.zip.namelist() if "STIX" in n]
    assert not epub.opf_xpath("//opf:item[contains(@properties, 'mathml')]")


def test_the_web_edition_carries_the_math_face_and_its_licence(rays: Book) -> None:
    files = render_html(rays)
    assert {"styles/fonts/STIXTwoMath-Regular.ttf", "styles/fonts/OFL-STIX.txt"} <= set(files)
    page = lxml.html.fromstring(files["index.html"])
    assert len(page.xpath("//math")) >= 8  # the chapter's, and the title's in the contents


# --- print -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def printed(rays: Book) -> Pdf:
    edition = render_pdf(rays)
    assert edition.diagnostics == (), edition.diagnostics
    return Pdf(edition.data)


def test_print_draws_every_formula_and_keeps_their_text_for_bookmarks_and_running_heads(printed: Pdf) -> None:
    titles = [title for _, title, _ in printed.bookmarks]
    assert "Die α-Strahlen" in titles and "Ablenkbare β-Strahlen" in titles
    [page] = printed.pages_with("Ampère")
    assert "i·10" not in printed.texts[page]  # drawn, not set as text; the TeX does not show either
    assert "\\beta" not in " ".join(printed.texts)


def _boxes(pixels, width: int, height: int) -> list[tuple[int, int, int, int]]:  # noqa: ANN001
    """The ink box (x0, x1, top, bottom) of each run of inked columns, left to right."""
    columns = [x for x in range(width) if any(pixels[x, y] < 128 for y in range(height))]
    runs, start = [], columns[0]
    for previous, x in zip(columns, [*columns[1:], None]):
        if x is None or x > previous + 1:
            runs.append((start, previous))
            start = x
    boxes = []
    for x0, x1 in runs:
        ys = [y for y in range(height) if any(pixels[x, y] < 128 for x in range(x0, x1 + 1))]
        boxes.append((x0, x1, ys[0], ys[-1]))
    return boxes


def _line_of_xs(tmp: Path) -> tuple[list[tuple[int, int, int, int]], float]:
    """Lay out "xxxx x x x xxxx", the middle x a formula, and render that line alone at 1200 dpi."""
    import pypdfium2

    (tmp / "book.yaml").write_text("title: Metrics\n", encoding="utf-8")
    # Not the chapter's first line, which is set in small capitals.
    (tmp / "01-a.md").write_text("# Metrics\n\nThe opening line.\n\nxxxx x $x$ x xxxx\n", encoding="utf-8")
    edition = render_pdf(parse(tmp))
    assert edition.diagnostics == ()
    document = pypdfium2.PdfDocument(edition.data)
    for index in range(len(document)):
        page = document[index]
        text = page.get_textpage()
        where = text.get_text_range().find("xxxx x")
        if where >= 0:
            break
    else:
        raise AssertionError("the line of xs is on no page")
    first, last = text.get_charbox(where), text.get_charbox(where + len("xxxx x x xxxx"))
    width, height = page.get_size()
    left, bottom = first[0] - 3, min(first[1], last[1]) - 4
    right, top = last[2] + 3, max(first[3], last[3]) + 4
    scale = 1200 / 72
    image = page.render(scale=scale, grayscale=True, crop=(left, bottom, width - right, height - top)).to_pil()
    return _boxes(image.load(), *image.size), scale


def test_a_formula_sits_on_the_baseline_at_the_size_of_the_text(tmp_path: Path) -> None:
    boxes, scale = _line_of_xs(tmp_path)
    assert len(boxes) == 11  # four x, one x, the formula's x, one x, four x
    text_x, math_x, after_x = boxes[4], boxes[5], boxes[6]
    point = scale  # pixels per point
    # STIX's italic x dips 0.01 em below the baseline (its overshoot): 0.13 pt at 10.5 pt.
    assert abs(math_x[3] - text_x[3]) <= 0.25 * point, "the formula's baseline is the line's"
    assert after_x[3] == text_x[3]
    text_height, math_height = text_x[3] - text_x[2], math_x[3] - math_x[2]
    assert abs(math_height / text_height - 1) < 0.05, "the math x-height matches the text's"
    assert x_height_ratio() == pytest.approx(0.96, abs=0.01)


def test_a_display_formula_wider_than_the_text_block_is_scaled_into_it(tmp_path: Path) -> None:
    import pypdfium2

    long = " + ".join(f"a_{{{n}}} x^{{{n}}}" for n in range(1, 40))
    (tmp_path / "book.yaml").write_text("title: Wide\n", encoding="utf-8")
    (tmp_path / "01-a.md").write_text(f"# Wide\n\nBefore.\n\n$${long}$$\n\nAfter.\n", encoding="utf-8")
    book = parse(tmp_path)
    assert draw(ET.tostring(to_mathml(long, display=True), encoding="unicode")).width > 30  # em: far too wide
    pdf = render_pdf(book)
    document = pypdfium2.PdfDocument(pdf.data)
    index = next(i for i in range(len(document)) if "Before." in document[i].get_textpage().get_text_range())
    page = document[index]
    width, _ = page.get_size()
    bitmap = page.render(scale=2, grayscale=True).to_pil()
    pixels, (w, h) = bitmap.load(), bitmap.size
    inked = [x for x in range(w) if any(pixels[x, y] < 128 for y in range(0, h, 2))]
    from publish.pdf import margins_for

    margins = margins_for(book.config, 10)
    inner = min(margins.gutter, margins.outside) * 72 * 2
    assert inked[0] >= inner - 2 and inked[-1] <= w - inner + 2, "the formula stays inside the text block"


# --- real manuscripts ---------------------------------------------------------------------------------

# What Pandoc's annotation holds differs from the author's TeX where a macro was expanded.
_EXPANDED = {("\\tuple{x,y}", "inline"): ("\\langle x,y \\rangle", "inline")}


@pytest.mark.parametrize("path", ["curie-radioaktive-substanzen/curie.md", "pandoc-test-suite/testsuite.txt",
                                  "pandoc-test-suite/markdown-reader-more.txt", "functional-light-js/ch2.md",
                                  "learn-go-with-tests/arrays-and-slices.md"])
def test_corpus_formulas_are_the_ones_pandoc_finds(path: str) -> None:
    source = CORPUS / path
    if not source.is_file():
        pytest.fail(f"the corpus is missing: {source}")
    text = source.read_text(encoding="utf-8")
    html = chapter_html(text)
    ours = [_EXPANDED.get(f, f) for f in our_formulas(html)]
    theirs = pandoc_formulas(text)
    assert "math-error" not in html
    # Until simple tables are read (issue 11b), a table whose header is indented is a code block
    # here, and the formulas in it are code; every other formula is the one Pandoc finds.
    code = " ".join(lxml.html.fragment_fromstring(html, create_parent="div").xpath("//pre//text()"))
    missing = list(theirs)
    for formula in ours:
        assert formula in missing, f"{formula} is not a formula Pandoc finds"
        missing.remove(formula)
    assert all(tex in " ".join(code.split()) for tex, _ in missing), missing


def test_the_lint_reads_no_quotes_inside_a_formula(make_book: MakeBook) -> None:
    from publish.lint import lint_manuscript
    from publish.manuscript import load_manuscript

    found = lint_manuscript(load_manuscript(make_book({"01-a.md": "# A\n\n“Quoted,” and $f'(x) = \\text{it's}$.\n"})))
    assert [d.code for d in found if "quote" in d.code] == []


def test_a_header_cell_that_is_only_a_formula_is_named_by_it() -> None:
    # Checkers do not count MathML as a header's text (Ace's empty-table-header on Curie's tables).
    html = chapter_html("$x^2$        Wert $y$\n-----------  --------\n1            2\n")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    only, mixed = root.findall(".//thead/tr/th")
    assert only.find("math").get("aria-label") == "x²"
    assert mixed.find("math").get("aria-label") is None  # the header has words of its own
