"""SVG images made safe to carry: an SVG is a document that can run scripts and load other files.

An EPUB that holds an SVG with a `<script>` is a scripted book (and EPUBCheck says so), and the web
edition would run it. So every SVG image the book links is read here (with an XML parser that
resolves no entity and reads no other file) and what a picture does not need is removed, each kind
reported once: scripts, event handlers (`onload=`), `<foreignObject>` (HTML inside the picture),
and references to anything outside the image itself (`href`/`xlink:href` that do not start with
'#', except a `data:` raster image, and `url(...)` in styles). The cleaned bytes are what every
edition carries; the author's file is never changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_SAFE_DATA = re.compile(r"^\s*data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)
_EXTERNAL_URL = re.compile(r"url\(\s*(?!['\"]?#)[^)]*\)|@import[^;]*;?", re.IGNORECASE)
_DROPPED = {"script": "scripts", "foreignObject": "foreign objects (HTML inside the picture)",
            "handler": "event handlers", "reference": "references to other files", "entity": "entity declarations"}


def _remove_keeping_tail(node: etree._Element) -> None:
    parent, tail = node.getparent(), node.tail or ""
    previous = node.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(node)


@dataclass(frozen=True, slots=True)
class CleanSvg:
    data: bytes  # the image as every edition carries it
    removed: tuple[str, ...]  # what was taken out that the author would miss, in words
    error: str | None = None  # why it is not an SVG image at all


def _no_url(match: re.Match[str]) -> str:
    return "" if match[0].startswith("@") else "none"


def _local_name(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def clean_svg(data: bytes) -> CleanSvg:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return CleanSvg(data, (), f"it is not well-formed XML: {exc.msg}")
    if _local_name(root.tag) != "svg":
        return CleanSvg(data, (), "its root element is not <svg>")
    removed: set[str] = set()
    for element in list(root.iter()):
        name = _local_name(element.tag)
        if name in {"script", "foreignObject"}:
            parent = element.getparent()
            # Drawing programs (draw.io) put HTML labels in a <switch> with a <text> to fall back on:
            # the fallback is the label, so nothing the author would miss goes.
            fallback = name == "foreignObject" and _local_name(parent.tag) == "switch" and any(
                sibling is not element and isinstance(sibling.tag, str) for sibling in parent)
            removed.add("fallback" if fallback else name)
            parent.remove(element)
            continue
        if not isinstance(element.tag, str):
            if isinstance(element, etree._Entity):  # an entity the parser was told not to expand
                removed.add("entity")
                _remove_keeping_tail(element)
            continue
        target = (element.get("attributeName") or "").lower()
        if name in {"set", "animate"} and (target.endswith("href") or target.startswith("on")):
            removed.add("handler")  # animating an address into javascript: is a script too
            element.getparent().remove(element)
            continue
        for attribute, value in list(element.attrib.items()):
            local = _local_name(attribute)
            if local.lower().startswith("on"):
                removed.add("handler")
                del element.attrib[attribute]
            elif local == "href" and not value.strip().startswith("#") and not (
                    name == "image" and _SAFE_DATA.match(value)):
                removed.add("reference")
                del element.attrib[attribute]
                if name != "a":  # an <image> or <use> with nothing to show: the print edition would look for it
                    element.getparent().remove(element)
                    break
            elif local == "style" and _EXTERNAL_URL.search(value):
                removed.add("reference")
                element.set(attribute, _EXTERNAL_URL.sub(_no_url, value))
        if element.getparent() is None and element is not root:
            continue
        if name == "style" and element.text and _EXTERNAL_URL.search(element.text):
            removed.add("reference")
            element.text = _EXTERNAL_URL.sub(_no_url, element.text)
    if root.getroottree().docinfo.internalDTD is not None:
        removed.add("entity")  # entity declarations ("billion laughs" for the reading system)
    if not removed:
        return CleanSvg(data, ())
    cleaned = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return CleanSvg(cleaned, tuple(_DROPPED[k] for k in sorted(removed - {"fallback"})))
