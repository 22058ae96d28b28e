"""The Jinja2 environment over `styles/`: templates own the markup, Python hands them data."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from lxml import etree
from markupsafe import Markup

from .imprint import imprint

if TYPE_CHECKING:
    from .model import Book, Entry

# The look of the book lives beside the code, in the repository's styles/ folder; a house style
# elsewhere can be chosen with PUBLISH_STYLES.
STYLES_DIR = Path(os.environ.get("PUBLISH_STYLES") or Path(__file__).resolve().parents[2] / "styles")
TYPEFACE = "Gentium Book Plus"
MATH_TYPEFACE = "STIX Two Math"  # formulas: MathML on screen, drawn as SVG in print (see print_math)
CODE_TYPEFACE = "JetBrains Mono"  # code, kbd and samp (book.css)
COLOPHON = f"Set in {TYPEFACE}."  # every edition's copyright page names the typeface


# The parse stage writes ARIA roles, which every edition understands; the EPUB adds the matching
# epub:type that reading systems use for pop-up notes and page navigation.
EPUB_TYPES = {"doc-noteref": "noteref", "doc-pagebreak": "pagebreak", "doc-biblioref": "biblioref"}
_EPUB_NS = "http://www.idpf.org/2007/ops"
_WRAPPER = f'<div xmlns:epub="{_EPUB_NS}">'


def _fragment(html: str) -> etree._Element | None:
    """Block markup as the children of a wrapper element, or None if it is not well-formed XML
    (then a filter leaves it as it is: the EPUB's checkers will say what is wrong)."""
    try:
        return etree.fromstring(f"{_WRAPPER}{html}</div>", etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return None


# Elements HTML writes without an end tag; any other element is written with one even when empty
# (<span></span>, not <span/>), as the chapter's markup had it.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _markup(wrapper: etree._Element) -> Markup:
    for element in wrapper.iter():
        if element is not wrapper and element.text is None and not len(element) and isinstance(element.tag, str) \
                and etree.QName(element).localname not in _VOID and etree.QName(element).namespace in {None, ""}:
            element.text = ""
    text = etree.tostring(wrapper, encoding="unicode")
    return Markup(text[text.index(">") + 1:-len("</div>")] if not text.endswith("/>") else "")


def with_epub_types(html: str, scene_break: str = "") -> Markup:
    """The chapter's markup for the EPUB: each ARIA role with its epub:type, and each scene break
    (`<hr/>`, whose ornament the other editions draw with CSS generated content, which many
    reading systems do not show) replaced by `scene_break`, an ornament in the text itself."""
    wrapper = _fragment(str(html))
    if wrapper is None:  # not XML (the checkers will say so): the types at least, as text
        text = str(html)
        for role, epub_type in EPUB_TYPES.items():
            text = text.replace(f'role="{role}"', f'epub:type="{epub_type}" role="{role}"')
        return Markup(text)
    ornament = _fragment(str(scene_break)) if scene_break else None
    for element in list(wrapper.iter()):
        epub_type = EPUB_TYPES.get(element.get("role", ""))
        if epub_type:
            element.set(f"{{{_EPUB_NS}}}type", epub_type)
        if element.tag == "hr" and ornament is not None and len(ornament):
            replacement = copy.deepcopy(ornament[0])
            replacement.tail = element.tail
            element.getparent().replace(element, replacement)
    return _markup(wrapper)


def lead_with(html: str, lead: str) -> Markup:
    """Block markup with the inline markup `lead` at the start of its first paragraph (a note's
    number before its text), or in a paragraph of its own before a first block that is not one."""
    wrapper, head = _fragment(str(html)), _fragment(f"<p>{lead}</p>")
    if wrapper is None or head is None:
        return Markup(f"<p>{lead}</p>") + Markup(html)
    paragraph = head[0]
    first = wrapper[0] if len(wrapper) else None
    if first is None or first.tag != "p" or (wrapper.text or "").strip():
        paragraph.tail = wrapper.text
        wrapper.text = None
        wrapper.insert(0, paragraph)
        return _markup(wrapper)
    # Move the lead's text and elements in front of the paragraph's own.
    if len(paragraph):
        paragraph[-1].tail = (paragraph[-1].tail or "") + (first.text or "")
        first.text = paragraph.text
        for n, child in enumerate(list(paragraph)):
            first.insert(n, child)
    else:
        first.text = (paragraph.text or "") + (first.text or "")
    return _markup(wrapper)


def without_untitled_opening(entries: tuple[Entry, ...], book: Book) -> tuple[Entry, ...]:
    """The contents without the line of an untitled opening (a book's first chapter, which the
    author wrote no heading for, stands under the book's own title): its sections stay, in its place."""
    chapters = book.chapters
    if not chapters or chapters[0].titled or chapters[0].role_name:
        return tuple(entries)
    opening = chapters[0].id
    return tuple(kept for e in entries for kept in (e.children if e.id == opening and e.kind == "chapter" else (e,)))


def css_string(text: str) -> Markup:
    """`text` as the inside of a CSS string in a <style> element, whose text HTML never unescapes:
    backslashes, quotes, line breaks and angle brackets escaped the CSS way, nothing the HTML way."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>\n\r\f' else ch for ch in text)
    return Markup(escaped)


@functools.lru_cache(maxsize=4)
def environment(styles_dir: Path = STYLES_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(styles_dir / "templates"),
        autoescape=True,  # every template, whatever its extension: text from book.yaml is never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["with_epub_types"] = with_epub_types
    env.filters["lead_with"] = lead_with
    env.filters["without_untitled_opening"] = without_untitled_opening
    env.filters["css_string"] = css_string
    env.globals["imprint"] = imprint
    return env


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
