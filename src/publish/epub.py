"""The EPUB edition: `Book -> bytes`, an EPUB 3 with an EPUB 2 NCX and guide for older readers.

Every XHTML document comes from a template and goes to ebooklib as a plain `EpubItem`, because
ebooklib re-parses `EpubHtml` and drops `epub:type`, `<link>`s and namespaces. ebooklib builds
the package document and the NCX; the result is then re-zipped with fixed timestamps and
`xml:lang` on the package, so the same book always gives the same bytes.

It is made for the reading systems that honour less of EPUB 3 as much as for those that honour
all of it (tests/test_reading_systems.py reads it with MuPDF and calibre): the reader's contents
is a page of its own, and the navigation document, whose landmarks and page list are for
machines, is kept out of the reading order; the fonts are the faces the documents are set in,
cut to the characters set (see `fonts.edition_fonts`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ebooklib import epub
from lxml import etree

from .fonts import MEDIA_TYPES, edition_fonts, has_math
from .html import EXTRA_CSS
from .model import Book, Chapter, Entry
from .pages import PART, TITLE, PageMap, mark_pages
from .templates import COLOPHON, STYLES_DIR, render

FOLDER = "EPUB"
_MATH = re.compile(r"<math[\s>]")
# fonts.css comes after book.css: it restates book.css's font stack with the names of the subset
# fonts this EPUB carries (see fonts.edition_fonts).
STYLESHEETS = ("book.css", "fonts.css", "epub.css")


@dataclass(frozen=True, slots=True)
class Cover:
    data: bytes
    media_type: str
    href: str  # where the image sits inside the EPUB
    alt: str


@dataclass(frozen=True, slots=True)
class NavEntry:
    href: str
    label: str
    type: str = ""
    children: tuple[NavEntry, ...] = ()


# The contents list chapters with two levels of their sections (h3, h4), under their parts.
NAV_DEPTH = 2


def _nav_entry(book: Book, entry: Entry) -> NavEntry:
    children = tuple(_nav_entry(book, child) for child in entry.children)
    page = next((p for p in book.parts_declared if p.id == entry.id), None) if entry.kind == "part" else None
    if page is not None:
        return NavEntry(page.file_name, entry.text, children=children)
    holder = book.chapter_of(entry.id)
    assert holder is not None
    href = holder.file_name if entry.id == holder.id else f"{holder.file_name}#{entry.id}"
    return NavEntry(href, entry.text, children=children)


def _ncx(entries: list[NavEntry] | tuple[NavEntry, ...], counter: list[int]) -> list:
    """The contents as ebooklib writes the NCX: a link, or a (link, entries under it) pair."""
    items: list = []
    for entry in entries:
        counter[0] += 1
        link = epub.Link(entry.href, entry.label, f"toc-{counter[0]}")
        items.append((link, _ncx(entry.children, counter)) if entry.children else link)
    return items


@dataclass(frozen=True, slots=True)
class _Document:
    uid: str
    file_name: str
    title: str
    content: str
    properties: tuple[str, ...] = ()


def _xhtml(template: str, book: Book, title: str, body_type: str = "", **context: object) -> str:
    return render(template, book=book, title=title, body_type=body_type, stylesheets=STYLESHEETS, **context)


def _documents(book: Book, cover: Cover, pages: PageMap | None) -> tuple[list[_Document], _Document, list[NavEntry], list[NavEntry]]:
    """The XHTML documents in reading order and the navigation document, which is not in it,
    with the contents and the landmarks that point at them."""
    config = book.config
    docs = [
        _Document("cover", "cover.xhtml", "Cover",
                  _xhtml("epub/cover.xhtml", book, "Cover", "cover", cover_href=cover.href, cover_alt=cover.alt)),
        _Document("titlepage", "titlepage.xhtml", "Title Page",
                  _xhtml("epub/titlepage.xhtml", book, config.title, "frontmatter")),
    ]
    toc: list[NavEntry] = []
    matter = book.matter
    chapter_docs: dict[str, list[_Document]] = {"before": [], "after": [], "text": []}
    page_list: list[NavEntry] = []
    start = ""  # the first document of the text
    for c, place in zip(book.chapters, matter, strict=True):
        starts = pages.for_chapter(c.id) if pages else ()
        opening = [s.label for s in starts if s.block == TITLE]
        page_list += [NavEntry(f"{c.part.file_name if s.block == PART and c.part else c.file_name}#page-{s.label}",
                               s.label) for s in starts]
        linked = _split_links(book, c)
        body = dataclasses.replace(linked, html=mark_pages(linked, starts))
        group = "text" if place != "front" else "before" if c.role.display else "after"
        opens = place == "body" and not start
        if c.part is not None:
            start = start or c.part.file_name
            chapter_docs[group].append(_Document(f"part-{c.part.index:03d}", c.part.file_name, c.part.title,
                                                 _xhtml("epub/part.xhtml", book, c.part.title,
                                                        "bodymatter" if opens and not config.spoiler else "",
                                                        part=c.part,
                                                        opening_pages=[s.label for s in starts if s.block == PART])))
            opens = False
        start = start or (c.file_name if place == "body" else "")
        body_type = {"front": "frontmatter", "back": "backmatter"}.get(place, "bodymatter" if opens and not config.spoiler else "")
        chapter_docs[group].append(_Document(f"chapter-{c.index:03d}", c.file_name, c.title.text,
                                             _xhtml("epub/chapter.xhtml", book, c.title.text, body_type,
                                                    chapter=body, opening_pages=opening)))
    docs += chapter_docs["before"]
    if config.spoiler:
        docs.append(_Document("notice", "notice.xhtml", config.spoiler.heading,
                              _xhtml("epub/notice.xhtml", book, config.spoiler.heading, "bodymatter")))
        toc.append(NavEntry("notice.xhtml", config.spoiler.heading))
    # The contents lists the front matter too, in its reading order (a dedication comes before the notice).
    entries = book.contents(NAV_DEPTH)
    shown_first = [e for e in entries if e.before_contents]
    toc[:0] = [_nav_entry(book, e) for e in shown_first]
    toc += [_nav_entry(book, e) for e in entries if e not in shown_first]
    toc.append(NavEntry("copyright.xhtml", "Copyright"))
    # Readers that open a book at its start (landmark bodymatter, guide "text": Kindle, Apple Books)
    # must meet the spoiler notice, so the text starts there when the book has one.
    start = "notice.xhtml" if config.spoiler else start or book.chapters[0].file_name
    landmarks = [NavEntry("cover.xhtml", "Cover", "cover"), NavEntry("titlepage.xhtml", "Title Page", "titlepage"),
                 NavEntry("contents.xhtml", "Contents", "toc"), NavEntry(start, "Start of Content", "bodymatter")]
    # The first of each role's chapters, as reading systems and assistive technology look them up.
    marked: set[str] = set()
    for c in book.chapters:
        if c.role_name and c.role.epub_type and c.role.epub_type not in marked:
            marked.add(c.role.epub_type)
            landmarks.append(NavEntry(c.file_name, c.title.text, c.role.epub_type))
    landmarks.append(NavEntry("copyright.xhtml", "Copyright", "copyright-page"))
    nav = _Document("nav", "nav.xhtml", "Contents",
                    _xhtml("epub/nav.xhtml", book, "Contents", "frontmatter", toc=toc, landmarks=landmarks, pages=page_list),
                    ("nav",))
    contents = _Document("contents", "contents.xhtml", "Contents",
                         _xhtml("epub/contents.xhtml", book, "Contents", "frontmatter", toc=toc))
    copyright_doc = _Document("copyright", "copyright.xhtml", "Copyright",
                              _xhtml("epub/copyright.xhtml", book, "Copyright", "backmatter", colophon=COLOPHON))
    return [*docs, contents, *chapter_docs["after"], *chapter_docs["text"], copyright_doc], nav, toc, landmarks


def _split_links(book: Book, chapter: Chapter) -> Chapter:
    """Point "#id" links at the document that holds the id, now that the book is split into files."""

    def retarget(match: re.Match[str]) -> str:
        target = match[1]
        if target in chapter.anchors:
            return match[0]
        holder = book.chapter_of(target)
        if holder is None:
            return match[0]
        return f'href="{holder.file_name}#{target}"' if target != holder.id else f'href="{holder.file_name}"'

    def split(html: str) -> str:
        return re.sub(r'href="#([^"]+)"', retarget, html)

    # Notes link too: a citation in a note goes to the bibliography's document.
    notes = tuple(dataclasses.replace(note, html=split(note.html)) for note in chapter.notes)
    title = dataclasses.replace(chapter.title, html=split(chapter.title.html))
    return dataclasses.replace(chapter, html=split(chapter.html), notes=notes, title=title)


def _accessibility(eb: epub.EpubBook, book: Book, *, has_pages: bool) -> None:
    has_images = bool(book.assets)
    meta = lambda prop, value: eb.add_metadata(None, "meta", value, {"property": prop})  # noqa: E731
    meta("schema:accessMode", "textual")
    if has_images:
        meta("schema:accessMode", "visual")
    meta("schema:accessModeSufficient", "textual")
    features = ["tableOfContents", "readingOrder", "structuralNavigation", "displayTransformability", "ARIA"]
    if has_images:
        features.append("alternativeText")
    if has_pages:
        features.append("printPageNumbers")
    if has_math(book):
        features.append("MathML")
    for feature in features:
        meta("schema:accessibilityFeature", feature)
    meta("schema:accessibilityHazard", "none")
    summary = ("This publication meets WCAG 2.2 Level AA. It has a table of contents, landmarks and a logical "
               "reading order; every chapter is structured with headings and the language of the text is declared. "
               "The text can be resized and restyled by the reading system.")
    if has_images:
        summary += " Every image has a text alternative."
    if has_pages:
        summary += " Page numbers of the print edition are marked in the text and listed."
    if book.config.spoiler:
        summary += " A spoiler notice comes before the text."
    meta("schema:accessibilitySummary", summary + " It contains no flashing, motion or sound.")
    meta("dcterms:conformsTo", "EPUB Accessibility 1.1 - WCAG 2.2 Level AA")


def _metadata(eb: epub.EpubBook, book: Book) -> None:
    config = book.config
    eb.set_identifier(book.identifier)
    eb.title = config.title  # the NCX's docTitle; the OPF's titles are written below, with refinements
    eb.add_metadata("DC", "title", config.title, {"id": "title"})
    eb.add_metadata(None, "meta", "main", {"refines": "#title", "property": "title-type"})
    if config.subtitle:
        eb.add_metadata("DC", "title", config.subtitle, {"id": "subtitle"})
        eb.add_metadata(None, "meta", "subtitle", {"refines": "#subtitle", "property": "title-type"})
    eb.set_language(config.lang)
    for n, (author, file_as) in enumerate(zip(config.authors, config.authors_file_as, strict=True), start=1):
        eb.add_metadata("DC", "creator", author, {"id": f"creator-{n}"})
        eb.add_metadata(None, "meta", "aut", {"refines": f"#creator-{n}", "property": "role", "scheme": "marc:relators"})
        eb.add_metadata(None, "meta", file_as, {"refines": f"#creator-{n}", "property": "file-as"})
    if config.series:
        # EPUB 3's collection (Apple Books, calibre), and calibre's own pair, which Kobo and older
        # readers take a series from.
        eb.add_metadata(None, "meta", config.series.name, {"property": "belongs-to-collection", "id": "series"})
        eb.add_metadata(None, "meta", "series", {"refines": "#series", "property": "collection-type"})
        if config.series.position:
            eb.add_metadata(None, "meta", config.series.position, {"refines": "#series", "property": "group-position"})
        eb.add_metadata(None, "meta", "", {"name": "calibre:series", "content": config.series.name})
        eb.add_metadata(None, "meta", "", {"name": "calibre:series_index", "content": config.series.position or "1"})
    for key in ("description", "publisher", "rights"):
        if value := getattr(config, key):
            eb.add_metadata("DC", key, value)
    if config.date:
        eb.add_metadata("DC", "date", config.date)
    for subject in config.subjects:
        eb.add_metadata("DC", "subject", subject)


def _item(uid: str, file_name: str, media_type: str, content: bytes | str, properties: tuple[str, ...] = ()) -> epub.EpubItem:
    item = epub.EpubItem(uid=uid, file_name=file_name, media_type=media_type,
                         content=content.encode() if isinstance(content, str) else content)
    item.properties = list(properties)  # ebooklib writes manifest properties only if the attribute exists
    return item


def render_epub(book: Book, *, cover: Cover, pages: PageMap | None = None) -> bytes:
    """Build the EPUB. With the print edition's `pages`, it carries the printed page numbers:
    page-break markers in the text, a page-list, and pageBreakSource naming the print edition."""
    eb = epub.EpubBook()
    eb.FOLDER_NAME = FOLDER
    eb.direction = book.config.direction
    _metadata(eb, book)
    _accessibility(eb, book, has_pages=bool(pages and pages.starts))
    if pages and pages.starts:
        eb.add_metadata(None, "meta", pages.source, {"property": "pageBreakSource"})

    documents, nav, toc, landmarks = _documents(book, cover, pages)
    # The fonts follow from the documents: the faces their text is set in, cut to its characters.
    static = {name: (STYLES_DIR / name).read_bytes() for name in STYLESHEETS if name != "fonts.css"}
    fonts = edition_fonts([d.content for d in (*documents, nav)], [css.decode() for css in static.values()])
    for name in STYLESHEETS:
        href = f"styles/{name}"
        eb.add_item(_item(f"css-{Path(name).stem}", href, "text/css", fonts.get(href) or static[name]))
    if book.config.css:  # a catalogue's stylesheet additions: page.xhtml links them last
        eb.add_item(_item("css-extra", f"styles/{EXTRA_CSS}", "text/css", book.config.css))
    for n, href in enumerate((h for h in fonts if not h.endswith(".css")), start=1):
        eb.add_item(_item(f"font-{n}", href, MEDIA_TYPES[Path(href).suffix], fonts[href]))
    eb.add_item(_item("cover-image", cover.href, cover.media_type, cover.data, ("cover-image",)))
    eb.add_metadata(None, "meta", "", {"name": "cover", "content": "cover-image"})
    for n, asset in enumerate(book.assets, start=1):
        if asset.href != cover.href:
            eb.add_item(_item(f"image-{n}", asset.href, asset.media_type, asset.source.read_bytes()))

    items = {}
    for doc in (*documents, nav):
        mathml = ("mathml",) if _MATH.search(doc.content) else ()  # EPUBCheck's OPF-014 without it
        items[doc.file_name] = _item(doc.uid, doc.file_name, "application/xhtml+xml", doc.content, doc.properties + mathml)
        eb.add_item(items[doc.file_name])
    eb.spine = [items[d.file_name] for d in documents]
    eb.toc = _ncx(toc, [0])
    eb.add_item(epub.EpubNcx())
    guide_types = {"cover": "cover", "titlepage": "title-page", "toc": "toc", "bodymatter": "text",
                   **{t: t for t in ("dedication", "epigraph", "foreword", "preface", "glossary", "bibliography")},
                   "acknowledgments": "acknowledgements"}
    eb.guide = [{"type": guide_types[e.type], "href": e.href, "title": e.label} for e in landmarks if e.type in guide_types]
    display = render("epub/display-options.xml")
    eb.add_item(epub.EpubItem(uid="display-options", file_name="META-INF/com.apple.ibooks.display-options.xml",
                              content=display.encode(), manifest=False))

    raw = io.BytesIO()
    # Level 0: `_repackage` compresses every entry again anyway, and deflating the fonts twice
    # at level 9 was half the EPUB's build time. The bytes that come out are the same.
    epub.write_epub(raw, eb, {"epub3_pages": False, "epub3_landmark": False, "raise_exceptions": True,
                              "mtime": book.modified, "compresslevel": 0})
    return _repackage(raw.getvalue(), book)


def _repackage(data: bytes, book: Book) -> bytes:
    """Re-zip with `mimetype` first and stored, fixed timestamps, and `xml:lang` on the package."""
    stamp = max(book.modified, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == f"{FOLDER}/content.opf":
                content = _package_language(content, book)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            stored = info.filename == "mimetype"
            entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            target.writestr(entry, content, compresslevel=None if stored else 9)
    return out.getvalue()


def _package_language(opf: bytes, book: Book) -> bytes:
    root = etree.fromstring(opf)
    root.set("{http://www.w3.org/XML/1998/namespace}lang", book.config.lang)
    if book.config.direction == "rtl":
        root.set("dir", "rtl")
    return etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)
