"""Which characters an edition sets in which style: a CSS cascade of the font properties only.

An EPUB or web edition embeds only the font faces its text uses, each subset to the characters
set in it (see `fonts.edition_fonts`). To know them, the edition's own documents are read with
its own stylesheets, as a reading system reads them: every element gets its `font-family`,
`font-style`, `font-weight`, small capitals and text transform from the rules that match it
(cssselect2 matches the selectors; specificity, then order, decides; the rest is inherited),
and every piece of text is filed under the style it is set in. Text that CSS generates
(`content` in `::before` and `::after`), list markers, the quotation marks of `<q>` and the
hyphen a justified line breaks at count too, since the engine sets them in the same font.

The cascade is deliberately small: it knows the properties that choose a font and nothing
else, and it treats every `@media` block as applying, so that a face a reader might see is
never left out. Inline `style` attributes do not occur (the sanitiser removes them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import cssselect2
import tinycss2
from lxml import etree

# The font rules of the HTML standard's own style sheet (WHATWG HTML, "Rendering", 15.3):
# what a reading system applies before the book's stylesheets.
USER_AGENT_CSS = """
h1, h2, h3, h4, h5, h6, b, strong, th, dt { font-weight: bold; }
b, strong { font-weight: bolder; }
i, em, cite, var, dfn, address { font-style: italic; }
pre, code, kbd, samp, tt { font-family: monospace; }
"""

FONT_PROPERTIES = ("font-family", "font-style", "font-weight", "font-variant", "font-variant-caps",
                   "text-transform", "font", "content")
# Characters an engine sets by itself: hyphens at line breaks (U+2010 where the font has it),
# the numbers of ordered list items (bullets are drawn, not set), and the quotation marks of <q>
# (by language; the common ones).
HYPHENS = "-\u2010"
LIST_MARKERS = "0123456789."
QUOTES = "“”‘’«»„‚‹›「」『』"
_SKIPPED = {"head", "script", "style", "title"}
_KEYWORD_WEIGHTS = {"normal": 400, "bold": 700}


@dataclass(frozen=True, slots=True)
class TextStyle:
    """What chooses the font for a run of text."""

    families: tuple[str, ...]  # as the author wrote them, generic families included
    italic: bool = False
    weight: int = 400
    caps: bool = False  # small capitals or a text transform: both cases of a letter may be set


_ROOT = TextStyle(("serif",))


@dataclass(frozen=True, slots=True)
class _Declarations:
    values: tuple[tuple[str, list], ...]  # (property, tinycss2 tokens), in source order
    pseudo: str | None


def family_names(tokens: list) -> tuple[str, ...]:
    """The families of a font-family value, as written (tinycss2 tokens)."""
    families, words = [], []
    for token in tokens:
        if token.type == "literal" and token.value == ",":
            if words:
                families.append(" ".join(words))
            words = []
        elif token.type == "string" or token.type == "ident":
            words.append(token.value)
    if words:
        families.append(" ".join(words))
    return tuple(families)


def _weight(tokens: list, inherited: int) -> int:
    for token in tokens:
        if token.type == "ident":
            word = token.lower_value
            if word in _KEYWORD_WEIGHTS:
                return _KEYWORD_WEIGHTS[word]
            if word == "bolder":  # CSS Fonts 4, 2.4: the relative weights
                return 400 if inherited < 350 else 700 if inherited < 550 else 900 if inherited < 750 else inherited
            if word == "lighter":
                return inherited if inherited < 100 else 100 if inherited < 550 else 400 if inherited < 750 else 700
        elif token.type == "number" and token.is_integer:
            return int(token.value)
    return inherited


def _idents(tokens: list) -> list[str]:
    return [t.lower_value for t in tokens if t.type == "ident"]


def _apply(style: TextStyle, declarations: Iterable[tuple[str, list]]) -> TextStyle:
    families, italic, weight, caps = style.families, style.italic, style.weight, style.caps
    for name, tokens in declarations:
        words = _idents(tokens)
        if name == "font-family":
            families = family_names(tokens) or families
        elif name == "font-style" and words:
            italic = words[0] in {"italic", "oblique"}
        elif name == "font-weight":
            weight = _weight(tokens, weight)
        elif name in {"font-variant", "font-variant-caps"} and words:
            caps = any(w.endswith("small-caps") or w in {"unicase", "titling-caps"} for w in words)
        elif name == "text-transform" and words:
            caps = words[0] != "none"
        elif name == "font":
            # The shorthand: optional style, variant and weight, then size, then the families.
            families_from = next((i for i, t in enumerate(tokens) if t.type in {"dimension", "percentage"}), None)
            if families_from is None:
                continue  # a system font keyword: nothing we ship
            head = _idents(tokens[:families_from])
            italic = any(w in {"italic", "oblique"} for w in head)
            caps = "small-caps" in head
            weight = _weight(tokens[:families_from], 400) if any(
                t.type == "number" or (t.type == "ident" and t.lower_value in {"bold", "bolder", "lighter"})
                for t in tokens[:families_from]) else 400
            rest = tokens[families_from + 1:]
            # Skip "/ line-height".
            while rest and (rest[0].type == "whitespace" or (rest[0].type == "literal" and rest[0].value == "/")):
                rest = rest[1:]
                if rest and rest[0].type in {"dimension", "percentage", "number"}:
                    rest = rest[1:]
            families = family_names(rest) or families
    return TextStyle(families, italic, weight, caps)


def _content_text(tokens: list) -> str:
    return "".join(t.value for t in tokens if t.type == "string")


class StyleSheets:
    """Stylesheets compiled once, to style any number of documents."""

    def __init__(self, sheets: Iterable[str]) -> None:
        self.matcher = cssselect2.Matcher()
        for sheet in (USER_AGENT_CSS, *sheets):
            self._add(tinycss2.parse_stylesheet(sheet, skip_comments=True, skip_whitespace=True))

    def _add(self, rules: Iterable) -> None:
        for rule in rules:
            if rule.type == "at-rule" and rule.lower_at_keyword in {"media", "supports"} and rule.content:
                self._add(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
            elif rule.type == "qualified-rule":
                values = tuple((d.lower_name, d.value) for d in tinycss2.parse_blocks_contents(
                    rule.content, skip_comments=True, skip_whitespace=True)
                    if d.type == "declaration" and d.lower_name in FONT_PROPERTIES)
                if not values:
                    continue
                try:
                    selectors = cssselect2.compile_selector_list(rule.prelude)
                except cssselect2.SelectorError:
                    continue  # a selector this engine does not know matches nothing here
                for selector in selectors:
                    self.matcher.add_selector(selector, _Declarations(values, selector.pseudo_element))


def styled_text(documents: Iterable[bytes | str], sheets: StyleSheets) -> dict[TextStyle, set[str]]:
    """Every character of `documents` (XHTML or HTML), by the style it is set in."""
    found: dict[TextStyle, set[str]] = defaultdict(set)
    for document in documents:
        data = document.encode() if isinstance(document, str) else document
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
            wrapper = cssselect2.ElementWrapper.from_xml_root(root)
        except etree.XMLSyntaxError:
            root = etree.fromstring(data, etree.HTMLParser(no_network=True))
            wrapper = cssselect2.ElementWrapper.from_html_root(root)
        _walk(wrapper, _ROOT, sheets, found)
    return found


def _walk(element: cssselect2.ElementWrapper, inherited: TextStyle, sheets: StyleSheets,
          found: dict[TextStyle, set[str]]) -> None:
    # Iterative, so that deeply nested markup cannot exhaust the stack.
    stack: list[tuple[cssselect2.ElementWrapper, TextStyle]] = [(element, inherited)]
    while stack:
        node, parent_style = stack.pop()
        tag = node.local_name
        if not isinstance(tag, str) or tag.lower() in _SKIPPED:
            continue
        own, pseudo = [], defaultdict(list)
        for _specificity, _order, _pseudo, declarations in sheets.matcher.match(node):
            (pseudo[declarations.pseudo] if declarations.pseudo else own).extend(declarations.values)
        style = _apply(parent_style, own)
        text = node.etree_element.text or ""
        if tag == "li":
            text += LIST_MARKERS
        elif tag == "q":
            text += QUOTES
        if text:
            found[style].update(text)
        for kind in ("before", "after", "first-line", "first-letter", "marker"):
            if kind in pseudo:
                generated = "".join(_content_text(v) for n, v in pseudo[kind] if n == "content")
                pseudo_style = _apply(style, pseudo[kind])
                # ::first-line and ::first-letter restyle text the element already has.
                found[pseudo_style].update(generated or (node.etree_element.text or "") + _descendant_text(node))
        for child in reversed(list(node.iter_children())):
            stack.append((child, style))
            tail = child.etree_element.tail
            if tail:
                found[style].update(tail)


def _descendant_text(node: cssselect2.ElementWrapper) -> str:
    return "".join(node.etree_element.itertext())
