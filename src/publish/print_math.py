"""The print edition's formulas: each MathML `<math>` drawn as an SVG image, since WeasyPrint
lays out no MathML (it would print the formula's letters in a row, "x2" for x²).

Why ziamath (pinned in pyproject.toml): it lays out MathML itself, with the OpenType MATH table
of a real math font (STIX Two Math, shipped in styles/fonts/ and set by the EPUB and web edition
too), and writes the glyphs as SVG paths, in pure Python: no TeX installation, no browser, no
font left for the printer to embed. It reads the MathML the parse stage wrote, so every edition
shows the same formula.

Each image is sized in `em`, so it follows the size of the text around it (a heading, a note),
scaled so that the math face's x-height matches the book face's; its `vertical-align` puts the
formula's baseline on the line's. A formula in a heading also leaves its plain text ("β") in a
hidden span, for the running head and the PDF bookmark, which read text, not images.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from lxml import etree

from .diagnostics import Diagnostic, warning
from .mathml import WORD_JOINER, plain_text
from .model import Book, Chapter, Heading
from .templates import STYLES_DIR

MATH_FONT = STYLES_DIR / "fonts" / "STIXTwoMath-Regular.ttf"
TEXT_FONT = STYLES_DIR / "fonts" / "GentiumBookPlus-Regular.ttf"
_SIZE = 100.0  # the drawing's units per em: ziamath writes coordinates to a thousandth of a unit
_MARGIN = 2.0  # units of white around the ink, so no antialiased edge is cut off
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_MATH = re.compile(r"<math[\s>]")


@dataclass(frozen=True, slots=True)
class Drawing:
    uri: str  # the SVG, as a data: URI
    width: float  # em of the surrounding text
    depth: float  # em below the baseline (negative: the bottom is below it)


@functools.cache
def x_height_ratio() -> float:
    """How much to scale the math face so that its x-height is the book face's."""
    from fontTools.ttLib import TTFont

    def x_height(path) -> float:  # noqa: ANN001
        with TTFont(path, lazy=True) as font:
            return font["OS/2"].sxHeight / font["head"].unitsPerEm

    return x_height(TEXT_FONT) / x_height(MATH_FONT)


@functools.lru_cache(maxsize=4096)
def draw(mathml: str) -> Drawing:
    """The MathML (a serialised `<math>`) as an SVG drawing. Raises on MathML ziamath cannot lay out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ziamath 0.13 finds its font the old way
        import ziamath

    formula = ziamath.Math(mathml, size=_SIZE, font=str(MATH_FONT), margin=_MARGIN)
    svg = formula.svg()
    box = formula.node.bbox
    scale = x_height_ratio() / _SIZE
    return Drawing("data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"),
                   round((box.xmax - box.xmin + 2 * _MARGIN) * scale, 4), round((box.ymin - _MARGIN) * scale, 4))


def _drawing(math: etree._Element) -> Drawing | None:
    try:
        return draw(etree.tostring(math, encoding="unicode", method="xml", with_tail=False))
    except Exception:  # noqa: BLE001 - ziamath's own errors, for MathML it cannot lay out
        return None  # reported by `undrawable`


def _image(math: etree._Element) -> etree._Element:
    display = math.get("display") == "block"
    alt = math.get("alttext") or plain_text(math)
    drawing = _drawing(math)
    if drawing is None:
        # The formula still reads in the EPUB; in print, its TeX is better than a wrong drawing.
        code = etree.Element("code", {"class": "math-error"})
        code.text = alt
        return code
    style = f"width: {drawing.width}em; vertical-align: {drawing.depth}em"
    return etree.Element("img", {"class": "math display" if display else "math", "alt": alt, "src": drawing.uri,
                                 "style": style})


def _no_joiners(element: etree._Element) -> None:
    # A bookmark or running head would carry the word joiners as characters of their own.
    for node in element.iter():
        node.text = node.text.replace(WORD_JOINER, "") if node.text else node.text
        if node is not element:
            node.tail = node.tail.replace(WORD_JOINER, "") if node.tail else node.tail


def draw_formulas(html: str, *, heading: bool = False) -> str:
    """The HTML fragment with every formula drawn as an image; `heading`: the fragment is a
    heading's content (a chapter's title, which the template puts in its heading element)."""
    if not _MATH.search(html):
        return html
    container = lxml.html.fragment_fromstring(html, create_parent="div")
    for math in list(container.iter("math")):
        image = _image(math)
        image.tail = math.tail
        holder = next((a for a in math.iterancestors() if a.tag in _HEADINGS), container if heading else None)
        if holder is not None:
            hidden = etree.Element("span", {"class": "math-text"})
            hidden.text, hidden.tail, image.tail = plain_text(math), math.tail, None
            math.addnext(hidden)
            _no_joiners(holder)
        math.getparent().replace(math, image)
    text = (container.text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text + "".join(etree.tostring(child, encoding="unicode", method="xml", with_tail=True) for child in container)


def _heading(heading: Heading) -> Heading:
    return dataclasses.replace(heading, html=draw_formulas(heading.html, heading=True))


def draw_math(book: Book) -> Book:
    """The book as the print edition sets it: its formulas drawn (`draw_formulas`) everywhere."""
    def chapter(c: Chapter) -> Chapter:
        return dataclasses.replace(c, html=draw_formulas(c.html), title=_heading(c.title),
                                   headings=tuple(_heading(h) for h in c.headings),
                                   notes=tuple(dataclasses.replace(n, html=draw_formulas(n.html)) for n in c.notes))

    return dataclasses.replace(book, chapters=tuple(chapter(c) for c in book.chapters))


def undrawable(book: Book) -> tuple[Diagnostic, ...]:
    """A warning for each formula the print edition shows as TeX because it could not be drawn."""
    found = []
    for chapter in book.chapters:
        fragments = [chapter.title.html, chapter.html, *(n.html for n in chapter.notes)]
        for fragment in filter(_MATH.search, fragments):
            for math in lxml.html.fragment_fromstring(fragment, create_parent="div").iter("math"):
                if _drawing(math) is None:
                    tex = math.get("alttext") or plain_text(math)
                    source = book.root / chapter.source
                    text = source.read_text(encoding="utf-8-sig") if source.is_file() else ""
                    line = text.count("\n", 0, text.find(tex)) + 1 if tex and tex in text else None
                    found.append(warning("math-print", f"the formula {tex} cannot be drawn for print; the PDF shows "
                                         "its TeX (the EPUB and the web edition show it as MathML)",
                                         file=Path(book.root.name) / chapter.source, line=line,
                                         hint="write it with more common TeX commands"))
    return tuple(found)
