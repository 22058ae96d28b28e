"""Sanitise stage: the raw-HTML policy, the report of what it removes, and the content-model repair.

Raw HTML in a manuscript may come from anywhere. nh3 keeps only what a book may hold; `unsafe_html`
names, with its line, everything an author would miss; `repair_content_model` makes what survives
fit XHTML's content models, which EPUBCheck checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import langcodes
import lxml.html
import nh3
from lxml import etree

from .diagnostics import Diagnostic, warning

# What XML 1.0 forbids, and the C1 controls and noncharacters that HTML calls parse errors.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")

# Presentation MathML, as the math construct (publish.markdown.math) writes it and EPUB 3 allows it.
MATHML_TAGS = frozenset({
    "math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover", "mpadded", "mphantom",
    "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd",
    "mtext", "mtr", "munder", "munderover", "none", "semantics", "annotation"})
_MATHML_ATTRIBUTES = {"mathvariant", "mathsize", "mathcolor", "mathbackground", "displaystyle", "scriptlevel", "dir"}
_MATHML_ATTRIBUTES_OF = {
    "math": {"display", "alttext", "xmlns", "aria-label"},
    "mo": {"form", "fence", "separator", "lspace", "rspace", "stretchy", "symmetric", "maxsize", "minsize", "largeop",
           "movablelimits", "accent"},
    "mover": {"accent"}, "munder": {"accentunder"}, "munderover": {"accent", "accentunder"},
    "mfrac": {"linethickness", "bevelled"}, "mspace": {"width", "height", "depth", "linebreak"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"}, "menclose": {"notation"},
    "mtable": {"columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines", "frame",
               "framespacing", "equalrows", "equalcolumns", "width"},
    "mtr": {"columnalign", "rowalign"}, "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "ms": {"lquote", "rquote"}, "annotation": {"encoding"},
}
# Left out: obsolete elements; <rtc> and <bdo> without dir, which EPUBCheck's schema refuses; and <wbr>,
# which lxml's HTML parser does not know is empty (it would nest the rest of the paragraph in it).
_ALLOWED_TAGS = (nh3.ALLOWED_TAGS | {"section", "figure", "figcaption", "aside", "dfn", "small", "s", "u", "tfoot"} | MATHML_TAGS) - {
    "area", "map", "center", "strike", "tt", "acronym", "rtc", "bdo", "wbr"}
_ALLOWED_ATTRIBUTES = {
    "*": {"id", "class", "lang", "dir", "title", "role"},
    "a": {"href", "hreflang", "name"},  # name: the old way to make an anchor, made an id by the repair
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "reversed", "type"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "blockquote": {"cite"}, "q": {"cite"}, "time": {"datetime"}, "data": {"value"},
    "del": {"cite", "datetime"}, "ins": {"cite", "datetime"}, "col": {"span", "style"}, "colgroup": {"span"},
    "table": {"style"},
    **{tag: _MATHML_ATTRIBUTES | _MATHML_ATTRIBUTES_OF.get(tag, set()) for tag in MATHML_TAGS},
    "span": {"data-cites", "data-cite", "data-mode"},  # a citation's marks (publish.markdown.citations)
}
# The one style a book keeps: a table's or a column's relative width, as Pandoc's tables give it.
_WIDTH_STYLE = re.compile(r"^width: ?[0-9]{1,3}%;?$")


def _kept_style(element: str, value: str) -> bool:
    return element in {"table", "col"} and bool(_WIDTH_STYLE.match(value.strip()))

# Raw HTML in a manuscript may come from anywhere. What nh3 would drop silently and an author
# would miss is reported first: (kind, tags, hint).
_UNSAFE_TAGS = (
    ("script", {"script", "noscript"}, "a book runs no scripts; delete it"),
    ("embed", {"iframe", "frame", "frameset", "object", "embed", "applet", "portal"},
     "embedded pages and plug-ins cannot be printed or read offline; link to the page instead"),
    ("form", {"form", "input", "button", "select", "textarea", "option", "optgroup", "datalist", "output", "fieldset",
              "legend"}, "a book has no forms; write the text instead"),
    ("style", {"style", "link", "meta", "base"}, "the book's look comes from its styles; write plain Markdown"),
)
_SAFE_SCHEMES = {"http", "https", "mailto"}
# Elements whose content goes with them: a script's code or a form's options are not text of the book.
_DROP_CONTENT = {"script", "style", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet", "template",
                 "select", "textarea", "datalist", "noembed", "noframes", "xmp", "title", "svg", "math"} - _ALLOWED_TAGS
_DIRECTIONS = {"ltr", "rtl", "auto"}
_NUMBER = re.compile(r"^[0-9]{1,4}$")


# Every attribute that holds an address, in HTML and SVG: all go through one allow-list of schemes
# (nh3 checks only some of them: `cite` passed with javascript: in it).
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster", "srcset", "xlink:href", "action", "formaction", "data",
                            "background", "longdesc", "ping", "usemap", "codebase", "manifest", "icon", "profile"})


def unsafe_url(attribute: str, value: str) -> str | None:
    """The scheme that makes an address attribute's value unsafe, if one does (srcset holds several)."""
    addresses = [part.strip().split(" ")[0] for part in value.split(",")] if attribute == "srcset" else [value]
    return next((scheme for address in addresses if (scheme := _unsafe_scheme(address))), None)


def _keep_attribute(element: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: drop values that would make the XHTML invalid."""
    if attribute in URL_ATTRIBUTES and unsafe_url(attribute, value):
        return None
    if element in MATHML_TAGS and attribute != "dir":
        # MathML's lengths are not HTML's numbers; its namespace may only be its own.
        return value if attribute != "xmlns" or value == "http://www.w3.org/1998/Math/MathML" else None
    if attribute in {"lang", "hreflang"}:
        return value if value == "" or langcodes.tag_is_valid(value) else None
    if attribute == "dir":
        return value.lower() if value.lower() in _DIRECTIONS else None
    if attribute in {"width", "height", "start", "colspan", "rowspan", "span"}:
        return value if _NUMBER.match(value.strip()) and int(value) > 0 else None
    if attribute == "type":
        return value if element == "ol" and value in {"1", "a", "A", "i", "I"} else None
    if attribute == "role":
        return None  # the editions write their own roles; an author's may be invalid ARIA
    if attribute == "id":
        return value if value.strip() else None
    if attribute == "style":
        return value if _kept_style(element, value) else None
    return value


def sanitize(html: str) -> str:
    """The manuscript's HTML with only what a book may hold, and only characters XML allows."""
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, attribute_filter=_keep_attribute,
                      clean_content_tags=_DROP_CONTENT, link_rel=None, url_schemes=_SAFE_SCHEMES,
                      # An author's raw <math> is MathML only in MathML's namespace (XHTML has no default).
                      set_tag_attribute_values={"math": {"xmlns": "http://www.w3.org/1998/Math/MathML"}})
    # A character reference such as "&#1;" survives as the character it names.
    return XML_FORBIDDEN.sub("", clean)


# HTML's content models, as far as sanitised HTML can break them: an HTML parser keeps a <details>
# inside a heading or an <li> outside a list, and EPUBCheck refuses both. Such an element gives way
# to its content.
_PHRASING = {"math", "a", "abbr", "b", "bdi", "br", "cite", "code", "data", "del", "dfn", "em", "i", "img", "ins", "kbd", "mark",
             "q", "ruby", "rp", "rt", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
_PHRASING_ONLY = (_PHRASING - {"a", "ins", "del", "ruby"}) | {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "summary"}
_PARENTS = {"li": {"ul", "ol"}, "dt": {"dl"}, "dd": {"dl"}, "summary": {"details"}, "figcaption": {"figure"},
            "rt": {"ruby"}, "rp": {"ruby"}, "caption": {"table"}, "colgroup": {"table"}, "col": {"colgroup"},
            "thead": {"table"}, "tbody": {"table"}, "tfoot": {"table"}, "tr": {"table", "thead", "tbody", "tfoot"},
            "td": {"tr"}, "th": {"tr"}}


# Elements whose content is elements only: text directly inside them is not allowed.
_NO_TEXT = {"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "colgroup"}
_TABLE_PARTS = {"caption", "colgroup", "thead", "tbody", "tfoot", "tr"}


def _misplaced(element: etree._Element) -> bool:
    parent = element.getparent()
    tag = element.tag
    if tag in MATHML_TAGS and tag != "math":
        return False  # MathML's own content model is not HTML's (nh3 drops MathML outside <math>)
    if tag in _PARENTS and (parent is None or parent.tag not in _PARENTS[tag]):
        return True
    if tag == "details" and (not len(element) or element[0].tag != "summary" or (element.text or "").strip()):
        return True
    if tag in {"ul", "ol"} and any(child.tag != "li" for child in element):
        return True
    if tag == "dl" and any(child.tag not in {"dt", "dd"} for child in element):
        return True
    if tag == "table" and any(child.tag not in _TABLE_PARTS for child in element):
        return True
    if tag == "caption" and parent is not None and parent.index(element) != 0:
        return True
    if tag in _NO_TEXT and ((element.text or "").strip() or any((child.tail or "").strip() for child in element)):
        return True
    if tag == "a" and any(ancestor.tag == "a" for ancestor in element.iterancestors()):
        return True  # a link inside a link: the inner one gives way to its text
    if tag not in _PHRASING:
        # a, ins and del take their parent's model: look through them to the nearest real one.
        ancestor = parent
        while ancestor is not None and ancestor.tag in {"a", "ins", "del"}:
            ancestor = ancestor.getparent()
        return ancestor is not None and ancestor.tag in _PHRASING_ONLY
    return False


def _place_captions(root: etree._Element) -> None:
    """A figure has one caption, first or last: a caption in the middle moves to the end, and a
    second one gives way to its content."""
    for figure in root.iter("figure"):
        captions = [child for child in figure if child.tag == "figcaption"]
        for extra in captions[1:]:
            extra.drop_tag()
        if captions and figure.index(captions[0]) not in {0, len(figure) - 1}:
            caption = captions[0]
            if caption.tail and caption.tail.strip():
                previous = caption.getprevious()
                previous.tail = (previous.tail or "") + caption.tail
            caption.tail = None
            figure.append(caption)


def repair_content_model(root: etree._Element) -> None:
    """Make sanitised HTML fit XHTML's content models: an element that may not stand where it is
    gives way to its content (text and children kept in its place), so nothing is lost."""
    for anchor in root.iter("a"):
        # <a name="x"> is how Markdown authors (and GitHub) make an anchor; XHTML knows only id.
        name = anchor.attrib.pop("name", None)
        if name and name.strip() and anchor.get("id") is None:
            anchor.set("id", name.strip())
    changed = True
    while changed:
        changed = False
        for element in list(root.iterdescendants()):
            if isinstance(element.tag, str) and _misplaced(element):
                if element.tag not in _PHRASING:  # a block's edges separate words: keep them apart
                    element.text = " " + (element.text or "")
                    element.tail = " " + (element.tail or "")
                element.drop_tag()  # keeps its text and children in its place
                changed = True
    _place_captions(root)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def keep_open(root: etree._Element) -> None:
    """Give every empty element that is not void an empty text, so that serialised as XML it is
    `<div></div>`: an HTML parser reads `<div/>` as a div that never closes, holding the rest."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag not in _VOID and element.text is None and not len(element):
            element.text = ""


# Markdown shows code as text: raw HTML there is not HTML. Fenced blocks, code spans and indented
# blocks (after a blank line) are blanked out, line breaks kept, before the source is scanned.
_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|(`+)(?!`).+?(?<!`)\2(?!`)|(?:(?<=\n\n)|\A)(?:(?: {4}|\t)[^\n]*(?:\n|\Z))+",
                   re.MULTILINE | re.DOTALL)
_MARKDOWN_LINK = re.compile(r"\]\(\s*<?\s*([A-Za-z][A-Za-z0-9+.\-]*):|^ {0,3}\[[^\]]+\]:\s*<?([A-Za-z][A-Za-z0-9+.\-]*):",
                            re.MULTILINE)


_NUMERIC_REFERENCE = re.compile(r"&#([xX][0-9a-fA-F]+|[0-9]+);?")


def _xml_reference(match: re.Match[str]) -> str:
    """A character reference, or nothing if it names a character XML forbids (lxml would refuse it)."""
    digits = match[1]
    code = int(digits[1:], 16) if digits[0] in "xX" else int(digits)
    if code == 0 or code > 0x10FFFF or XML_FORBIDDEN.match(chr(code)):
        return ""
    return match[0]


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match[0])


def without_code(text: str) -> str:
    """The Markdown source with its code (fenced, indented, spans) blanked out, lines kept."""
    return _CODE.sub(_blank, text)


def _unsafe_scheme(address: str) -> str | None:
    scheme = urlsplit(address.strip()).scheme.lower()
    # A one-letter "scheme" is a Windows drive (C:\...): reported as an absolute path instead.
    return scheme if scheme and len(scheme) > 1 and scheme not in _SAFE_SCHEMES else None


def unsafe_html(text: str, shown: Path) -> list[Diagnostic]:
    """A warning, with its line, for each thing in the chapter's raw HTML that sanitising removes.

    The Markdown source itself is scanned (an HTML parser keeps every element's line), so the
    report does not depend on converting the chapter, which the preview caches."""
    found: list[Diagnostic] = []
    url_hint = "link only to web pages (https:), mail (mailto:) and files of the book"
    source = _CODE.sub(_blank, XML_FORBIDDEN.sub("", text))
    for match in _MARKDOWN_LINK.finditer(source):
        if scheme := _unsafe_scheme((match[1] or match[2]) + ":"):
            found.append(warning("html-unsafe-url", f"removed the {scheme}: address from a link", file=shown,
                                 line=source.count("\n", 0, match.start()) + 1, hint=url_hint))
    if "<" not in source or not source.strip():
        return found
    markup = _NUMERIC_REFERENCE.sub(_xml_reference, source)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except AssertionError:  # lxml's "too many bodies": the chapter holds <html> or <body> tags
        root = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return found
    for element in root.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        tag, line = element.tag.lower(), element.sourceline

        def add(code: str, message: str, hint: str, line: int | None = line) -> None:
            found.append(warning(code, message, file=shown, line=line, hint=hint))

        for kind, tags, hint in _UNSAFE_TAGS:
            if tag in tags:
                add(f"html-{kind}", f"removed the <{tag}> element", hint)
        for name, value in element.attrib.items():
            name = name.lower()
            if name.startswith("on"):
                add("html-event-handler", f'removed the event handler {name}="…" from <{tag}>',
                    "a book runs no scripts; delete the attribute")
            elif name == "style" and not _kept_style(tag, value):
                add("html-style", f"removed a style attribute from <{tag}>",
                    "the book's look comes from its styles; use Markdown emphasis instead")
            elif name == "hidden":
                add("html-style", f"removed the hidden attribute from <{tag}>: its text shows",
                    "a book hides nothing from its readers; delete the text instead")
            elif name in URL_ATTRIBUTES and (scheme := unsafe_url(name, value)):
                add("html-unsafe-url", f"removed the {scheme}: address from <{tag}>", url_hint)
    found.sort(key=lambda d: d.line or 0)
    return found
