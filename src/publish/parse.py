"""Parse stage: every chapter's Markdown to HTML, then the whole `Book` with its links resolved.

One configured Python-Markdown instance turns each chapter into HTML; nh3 sanitises it (raw HTML
in a manuscript may come from anywhere); lxml then walks the result to lift out the title and the
notes, make ids unique across the book, and check every link and image. Links are resolved only
once every chapter is known, so a chapter may point at any other.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import lxml.html
import markdown
from lxml import etree
from markdown.extensions.toc import slugify_unicode

from .config import parse_date
from .diagnostics import BuildFailed, Diagnostic, error, has_errors, warning
from .manuscript import Manuscript, Source
from .markdown import make_markdown, source_problems
from .markdown.math import formula_problems
from .markdown.tables import table_problems
from .mathml import plain_text
from .model import Asset, Book, Chapter, Heading, Note
from .remote import RemoteImages
from .sanitize import (
    XML_FORBIDDEN,
    keep_open,
    repair_content_model,
    sanitize,
    unsafe_html,
)

# Builds with neither SOURCE_DATE_EPOCH nor a book date are stamped with this, so they stay
# reproducible; 1980 is the earliest time a zip entry can carry.
DEFAULT_MODIFIED = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml", ".webp": "image/webp"}
_WORD = re.compile(r"\w+(?:[’'-]\w+)*")
# XML's NCName: what an id may be in XHTML (EPUBCheck checks it).
_NAME_START = ("A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
               "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_NCNAME = re.compile(f"^[{_NAME_START}][{_NAME_START}\\-.0-9\xb7\u0300-\u036f\u203f\u2040]*$")



class _Locator:
    """Finds the line of successive occurrences of a pattern in a chapter's source."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.after: dict[str, int] = {}

    def line(self, pattern: str) -> int | None:
        match = re.compile(pattern, re.IGNORECASE).search(self.text, self.after.get(pattern, 0))
        if match is None:
            return None
        self.after[pattern] = match.end()
        return self.text.count("\n", 0, match.start()) + 1


def chapter_html(text: str, *, md: markdown.Markdown | None = None) -> str:
    """One chapter's Markdown as sanitised HTML: the costly part of parsing (about 95% of it).

    The result depends on nothing but `text` (book-wide ids and links are settled afterwards by
    `parse_book`), so callers may keep it keyed by `Source.digest` and pass that mapping to
    `parse_book(cache=...)`: the live preview re-parses only the chapter that was saved.
    """
    md = md or make_markdown()
    md.reset()
    return sanitize(md.convert(XML_FORBIDDEN.sub("", text)))



def _line_of(text: str, needle: str) -> int | None:
    position = text.find(needle)
    return text.count("\n", 0, position) + 1 if position >= 0 else None


def _plain(element: etree._Element) -> str:
    return plain_text(element)  # formulas as "x²", not "x2"


def _inner_html(element: etree._Element) -> str:
    keep_open(element)
    parts = [_escape(element.text or "")]
    parts += [etree.tostring(child, encoding="unicode", method="xml", with_tail=True) for child in element]
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Draft:
    """A chapter between the two passes: parsed, with ids unique, links not yet checked."""

    index: int
    source: Source
    shown: Path  # the path to show in messages
    root: etree._Element
    title: Heading
    titled: bool
    notes: list[Note] = field(default_factory=list)
    anchors: set[str] = field(default_factory=set)
    renamed: dict[str, str] = field(default_factory=dict)  # the author's id -> the book-wide unique one


class _Ids:
    """Hands out ids that are unique across the whole book."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, wanted: str, fallback: str) -> str:
        base = wanted or fallback
        if not _NCNAME.match(base):
            # An id must be an XML name: no spaces or colons, not starting with a digit or a dash.
            slug = slugify_unicode(base, "-").strip("-.")
            base = slug if _NCNAME.match(slug) else f"{fallback}-{slug}" if slug else fallback
        candidate, n = base, 2
        while candidate in self.taken:
            candidate, n = f"{base}-{n}", n + 1
        self.taken.add(candidate)
        return candidate


def _first_pass(index: int, source: Source, manuscript: Manuscript, html: str, ids: _Ids,
                problems: list[Diagnostic]) -> _Draft:
    shown = manuscript.shown(source.path)
    if forbidden := XML_FORBIDDEN.search(source.text):
        problems.append(warning("control-characters", "control characters that XML forbids were removed", file=shown,
                                line=_line_of(source.text, forbidden[0]),
                                hint="they are usually left over from a copy and paste; delete them"))
    problems += unsafe_html(source.text, shown)
    problems += table_problems(source.text, shown)
    problems += source_problems(source.text, shown)
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    repair_content_model(root)
    problems += formula_problems(root, source.text, shown)

    first = next(iter(root), None)
    if first is not None and first.tag == "h2" and not (root.text or "").strip() and not _plain(first):
        # Nothing left of the title once sanitised (it held only a script, say): a nameless entry
        # in the contents would be worse than the stand-in title below.
        problems.append(warning("chapter-title-empty", "the chapter's heading has no text", file=shown,
                                line=_line_of(source.text, "#") or 1, hint="write the chapter's title after the '#'"))
        _drop(first)
        first = None
    if first is not None and first.tag == "h2" and not (root.text or "").strip():
        titled = True
        title_element = first
        root.remove(first)
        if first.tail and first.tail.strip():
            root.text = (root.text or "") + first.tail
        title_text, title_html = _plain(title_element), _inner_html(title_element)
    else:
        titled = False
        if index == 1:
            # An untitled opening stands under the book's own title, as an essay's first page does.
            title_text = manuscript.config.title
        else:
            title_text = source.path.stem
            problems.append(warning("chapter-untitled", "the chapter has no heading, so its file name stands in the contents",
                                    file=shown, line=1, hint="start the file with a '# Chapter title' line"))
        title_html = _escape(title_text)
    chapter_id = ids.claim(slugify_unicode(title_text, "-"), f"chapter-{index}")
    title = Heading(2, chapter_id, title_text, title_html)
    draft = _Draft(index, source, shown, root, title, titled, anchors={chapter_id})

    _figures(root)
    renamed = _unique_ids(draft, ids, problems)
    draft.renamed.update(renamed)
    _lift_notes(draft, ids)
    for link in root.iter("a"):
        href = link.get("href", "")
        if href.startswith("#") and href[1:] in renamed:
            link.set("href", "#" + renamed[href[1:]])
    return draft


def _figures(root: etree._Element) -> None:
    """An image alone in its paragraph is a figure; its Markdown title, if any, is the caption."""
    for paragraph in list(root.iter("p")):
        children = list(paragraph)
        if len(children) != 1 or children[0].tag != "img" or (paragraph.text or "").strip() \
                or (children[0].tail or "").strip():
            continue
        image = children[0]
        image.tail = None
        paragraph.tag = "figure"
        caption = image.attrib.pop("title", "").strip()
        if caption:
            etree.SubElement(paragraph, "figcaption").text = caption


def _unique_ids(draft: _Draft, ids: _Ids, problems: list[Diagnostic]) -> dict[str, str]:
    """Give every element a book-wide unique id; returns the ids that had to change."""
    renamed: dict[str, str] = {}
    for element in draft.root.iter():
        old = element.get("id")
        if old is None or old.startswith(("fn:", "fnref")):
            continue  # footnote ids are replaced wholesale by _lift_notes
        new = ids.claim(old, f"{draft.title.id}-id")
        if new != old:
            renamed[old] = new
            element.set("id", new)
            if element.tag not in {"h2", "h3", "h4", "h5", "h6"}:
                problems.append(warning("duplicate-id", f"the id '{old}' is used elsewhere in the book; renamed '{new}'",
                                        file=draft.shown, line=_line_of(draft.source.text, "#" + old),
                                        hint="give each {#id} a name of its own"))
        draft.anchors.add(new)
    return renamed


def _lift_notes(draft: _Draft, ids: _Ids) -> None:
    """Turn Python-Markdown's footnotes into `Note`s, numbered per chapter, with book-wide ids."""
    container = next((d for d in draft.root.iter("div") if d.get("class") == "footnote"), None)
    if container is None:
        return
    container.getparent().remove(container)
    note_ids: dict[str, str] = {}
    for number, item in enumerate(container.iter("li"), start=1):
        note_id = ids.claim(f"{draft.title.id}-note-{number}", "note")
        note_ids[item.get("id", "")] = note_id
        for backref in item.xpath(".//a[contains(@class, 'footnote-backref')]"):
            _drop(backref)
        for paragraph in item.iter("p"):  # the extension leaves a no-break space before the backlink
            if len(paragraph):
                last = paragraph[-1]
                last.tail = (last.tail or "").rstrip("\u00a0 ") or None
            else:
                paragraph.text = (paragraph.text or "").rstrip("\u00a0 ")
        draft.notes.append(Note(number, note_id, "", _inner_html(item).strip()))
        draft.anchors.add(note_id)
    refs: dict[str, list[str]] = {}
    for sup in list(draft.root.iter("sup")):
        link = next(iter(sup), None)
        if link is None or "footnote-ref" not in (link.get("class") or ""):
            continue
        target = note_ids.get(link.get("href", "").lstrip("#"))
        if target is None:
            continue
        ref_id = ids.claim(target.replace("-note-", "-noteref-"), "noteref")
        refs.setdefault(target, []).append(ref_id)
        number = next(n.number for n in draft.notes if n.id == target)
        anchor = etree.Element("a", {"class": "noteref", "id": ref_id, "href": f"#{target}", "role": "doc-noteref"})
        anchor.text = str(number)
        anchor.tail = sup.tail
        sup.getparent().replace(sup, anchor)
        draft.anchors.add(ref_id)
    draft.notes[:] = [Note(n.number, n.id, (refs.get(n.id) or [""])[0], n.html) for n in draft.notes]


def _resolve_links(draft: _Draft, drafts: dict[PurePosixPath, _Draft], all_ids: set[str],
                   problems: list[Diagnostic]) -> None:
    here = PurePosixPath(draft.source.path.as_posix()).parent
    for link in draft.root.iter("a"):
        href = link.get("href")
        if href is None:
            continue
        parts = urlsplit(href)
        if parts.scheme or href.startswith("//"):
            continue
        line = _line_of(draft.source.text, f"]({href}") or _line_of(draft.source.text, href)
        if not parts.path:
            if parts.fragment and parts.fragment not in draft.anchors and parts.fragment not in all_ids:
                problems.append(error("broken-anchor", f"the link '{href}' points at an anchor that does not exist",
                                      file=draft.shown, line=line, hint=_anchor_hint(parts.fragment, all_ids)))
            continue
        path = unquote(parts.path)
        if path.startswith("/") or PurePosixPath(path).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", path):
            problems.append(error("link-absolute", f"the link '{href}' is an absolute path", file=draft.shown, line=line,
                                  hint="link to a chapter by its file name relative to this one, e.g. 02-next.md"))
            continue
        target_path = PurePosixPath(_normalise(here / path))
        if str(target_path).startswith("../"):
            problems.append(error("link-outside", f"the link '{href}' leads outside the book folder", file=draft.shown,
                                  line=line, hint="a book links only to its own chapters, or to web pages (https://…)"))
            continue
        target = drafts.get(target_path)
        if target is None:
            names = ", ".join(str(p) for p in sorted(drafts)[:5])
            problems.append(error("broken-link", f"the link '{href}' points at a chapter that does not exist",
                                  file=draft.shown, line=line, hint=f"link to a chapter file of this book, e.g. {names}"))
            continue
        fragment = target.renamed.get(parts.fragment, parts.fragment) or target.title.id
        if fragment not in target.anchors:
            problems.append(error("broken-anchor", f"the link '{href}' points at an anchor that '{target_path}' does not have",
                                  file=draft.shown, line=line, hint=_anchor_hint(fragment, target.anchors)))
            continue
        link.set("href", f"#{fragment}")


def _anchor_hint(wanted: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(wanted, sorted(known), n=1)
    return f"did you mean '#{close[0]}'?" if close else "headings get ids from their text: '## A Title' is '#a-title'"


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return "../outside"
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _image_asset(src: str, here: PurePosixPath, root: Path, shown: Path, line: int | None,
                 problems: list[Diagnostic], *, remote: RemoteImages | None = None) -> Asset | None:
    """The image `src` names, relative to `here`, if it is a readable image inside the book folder."""
    parts = urlsplit(src)
    if (parts.scheme in {"http", "https"} or src.startswith("//")) and remote is not None:
        return remote.fetch(src if parts.scheme else "https:" + src, shown=shown, line=line, problems=problems)
    if parts.scheme in {"http", "https"} or src.startswith("//"):
        problems.append(error("image-remote", f"the image '{src}' is on the web; a build reads nothing from the network",
                              file=shown, line=line, hint="download it into the book folder, e.g. images/, and link "
                                                          "that; or allow downloads with 'remote-images: true' in book.yaml"))
        return None
    if parts.scheme and len(parts.scheme) > 1:
        problems.append(error("image-scheme", f"the image '{src[:60]}' is not a file of the book", file=shown, line=line,
                              hint="put the image in the book folder, e.g. images/photo.jpg, and link that"))
        return None
    if src.startswith("/") or Path(unquote(parts.path)).is_absolute() or parts.scheme:
        problems.append(error("image-absolute", f"the image path '{src}' is absolute", file=shown, line=line,
                              hint="use a path relative to the chapter, inside the book folder, e.g. images/photo.jpg"))
        return None
    relative = _normalise(here / unquote(parts.path))
    if relative.startswith("../"):
        problems.append(error("image-outside", f"the image '{src}' is outside the book folder", file=shown,
                              line=line, hint="copy it into the book folder, e.g. images/, and link that"))
        return None
    path = root / relative
    suffix = path.suffix.lower()
    if suffix not in IMAGE_TYPES:
        problems.append(error("image-type", f"the image '{src}' is not a PNG, JPEG, GIF, SVG or WebP file",
                              file=shown, line=line, hint="convert it to PNG or JPEG"))
        return None
    if path.exists() and not path.resolve().is_relative_to(root):
        problems.append(error("image-outside", f"the image '{src}' is a link to a file outside the book folder",
                              file=shown, line=line, hint="copy the file into the book folder instead of linking to it"))
        return None
    if not path.is_file():
        problems.append(error("image-missing", f"the image '{src}' does not exist", file=shown, line=line,
                              hint=f"put the file at {Path(root.name) / relative}, or fix the path"))
        return None
    return Asset(path, relative, IMAGE_TYPES[suffix])


def _collect_images(draft: _Draft, root: Path, assets: dict[str, Asset], problems: list[Diagnostic], *,
                    remote: RemoteImages | None) -> None:
    here = PurePosixPath(draft.source.path.as_posix()).parent
    find = _Locator(draft.source.text)
    for image in list(draft.root.iter("img")):
        src = image.get("src", "")
        if not src.strip():
            # The sanitiser took an address it does not allow (data:, javascript:…): the image goes too.
            problems.append(warning("image-no-source", "removed an image whose address is not a file of the book",
                                    file=draft.shown, line=find.line(r"!\[|<img\b"),
                                    hint="put the image in the book folder, e.g. images/photo.jpg, and link that"))
            _drop(image)
            continue
        line = _line_of(draft.source.text, src)
        if image.get("alt") is None:
            image.set("alt", "")
            problems.append(warning("image-alt", f"the image '{src}' has no alt text", file=draft.shown, line=line,
                                    hint="describe it for readers who cannot see it: ![a drum kit on a stage](images/drums.jpg)"))
        asset = _image_asset(src, here, root, draft.shown, line, problems, remote=remote)
        if asset is not None:
            image.set("src", asset.href)
            assets.setdefault(asset.href, asset)


def _drop(element: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _finish(draft: _Draft) -> Chapter:
    headings = tuple(Heading(int(h.tag[1]), h.get("id", ""), _plain(h), _inner_html(h))
                     for h in draft.root.iter("h3", "h4", "h5", "h6"))
    text = draft.root.text_content() + " " + " ".join(lxml.html.fromstring(f"<div>{n.html}</div>").text_content()
                                                      for n in draft.notes)
    return Chapter(index=draft.index, id=draft.title.id, source=draft.source.path, title=draft.title,
                   titled=draft.titled, html=_inner_html(draft.root).strip(), headings=headings,
                   notes=tuple(draft.notes), words=len(_WORD.findall(text)), anchors=frozenset(draft.anchors))


def book_identifier(manuscript: Manuscript) -> str:
    config = manuscript.config
    if config.identifier:
        return config.identifier
    seed = "\n".join([config.title, config.subtitle or "", *config.authors])
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'publish:' + seed)}"


def modified_time(manuscript: Manuscript, source_date_epoch: str | None) -> dt.datetime:
    if source_date_epoch and source_date_epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(source_date_epoch), tz=dt.timezone.utc)
    if manuscript.config.date and (parsed := parse_date(manuscript.config.date)):
        # A classic's date (1813) says when the text was published, not when this file was made;
        # a file cannot be older than the default, which is also the earliest a zip can record.
        return max(parsed, DEFAULT_MODIFIED)
    return DEFAULT_MODIFIED


def parse_book(manuscript: Manuscript, *, source_date_epoch: str | None = None,
               cache: MutableMapping[str, str] | None = None) -> Book:
    """Parse every chapter and resolve links between them; raise `BuildFailed` on any error.

    `cache` maps `Source.digest` to `chapter_html` of that text; chapters found there are not
    converted again, and the ones converted are added to it.
    """
    problems: list[Diagnostic] = list(manuscript.warnings)
    md = make_markdown()
    cache = {} if cache is None else cache
    for source in manuscript.sources:
        if source.digest not in cache:
            cache[source.digest] = chapter_html(source.text, md=md)
    ids = _Ids()
    drafts = [_first_pass(i, s, manuscript, cache[s.digest], ids, problems)
              for i, s in enumerate(manuscript.sources, start=1)]
    by_path = {PurePosixPath(d.source.path.as_posix()): d for d in drafts}
    assets: dict[str, Asset] = {}
    remote = RemoteImages() if manuscript.config.remote_images else None
    for draft in drafts:
        _resolve_links(draft, by_path, ids.taken, problems)
        _collect_images(draft, manuscript.root, assets, problems, remote=remote)
    cover = None
    if manuscript.config.cover_image:
        shown = manuscript.shown("book.yaml")
        cover = _image_asset(manuscript.config.cover_image, PurePosixPath("."), manuscript.root, shown,
                             _line_of(manuscript.config_text, "cover-image"), problems, remote=remote)
    if has_errors(problems):
        raise BuildFailed(problems)
    chapters = tuple(_finish(d) for d in drafts)
    for chapter in chapters:
        if chapter.words == 0 and not chapter.html:
            problems.append(warning("chapter-empty", "the chapter has a heading but no text", file=manuscript.shown(chapter.source),
                                    line=1, hint="write the chapter, or remove the file"))
    slug = manuscript.config.slug
    return Book(root=manuscript.root, config=manuscript.config, chapters=chapters,
                assets=tuple(sorted(assets.values(), key=lambda a: a.href)), identifier=book_identifier(manuscript),
                modified=modified_time(manuscript, source_date_epoch), slug=slug, cover=cover, diagnostics=tuple(problems))
