"""The print edition: `Book -> bytes`, a tagged PDF laid out by WeasyPrint from templates/print.html.

WeasyPrint reads only the book folder and styles/ (see `SandboxFetcher`). The gutter grows with the
page count, as printers ask, but the text block's width does not: the inside and outside margins
always add up to the same measure (see `margins_for`), so the page count only moves the block
towards the outer edge and the book is laid out once, whatever its length.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markupsafe import Markup

from . import __version__
from .config import BookConfig
from .diagnostics import Diagnostic, warning
from .fonts import hide_installed_fonts, missing_glyphs
from .model import Asset, Book, Chapter
from .pages import PageMap, page_map, tag_blocks
from .print_math import draw_math, undrawable
from .templates import COLOPHON, STYLES_DIR, render

STYLESHEETS = ("fonts.css", "book.css", "print.css")
# KDP's outside margin with bleed (the larger of its two minimums), and its largest inside one.
OUTSIDE_MIN, INSIDE_MAX = 0.375, 0.875


@dataclass(frozen=True, slots=True)
class Margins:
    top: float
    bottom: float
    gutter: float
    outside: float


def gutter_for(pages: int) -> float:
    """KDP's minimum inside margin for a page count, plus an eighth of an inch of comfort."""
    for limit, inches in ((150, 0.375), (300, 0.5), (500, 0.625), (700, 0.75)):
        if pages <= limit:
            return inches + 0.125
    return 0.875 + 0.125


def side_margins(config: BookConfig) -> float:
    """Inside plus outside margin, the same for every page count: the text block's width never
    depends on how many pages the book turns out to have, so the layout is never done twice. It
    is the 0.6 in outside margin (scaled with the trim) and the gutter of a 301-500 page book, and
    at least enough for KDP's largest gutter beside its outside margin with bleed."""
    scale = min(config.trim.width_in / 6.0, 1.4)
    return round(max(0.6 * scale + gutter_for(500), INSIDE_MAX + OUTSIDE_MIN), 3)


def margins_for(config: BookConfig, pages: int) -> Margins:
    """The gutter for the page count (never so wide that the outside margin falls below KDP's
    minimum: that still leaves at least KDP's inside margin) and the rest of `side_margins` outside.
    A shorter book's text block sits nearer the spine, a longer one's nearer the edge."""
    scale = min(config.trim.width_in / 6.0, 1.4)
    both = side_margins(config)
    gutter = round(min(gutter_for(pages), both - OUTSIDE_MIN), 3)
    return Margins(top=round(0.75 * scale, 3), bottom=round(0.8 * scale, 3),
                   gutter=gutter, outside=round(both - gutter, 3))


def shift_to_gutter(document, config: BookConfig, *, laid_out: Margins, final: Margins | None = None) -> Margins:
    """Move every page's content sideways, from the gutter it was laid out with to the gutter for
    the page count it came to (`final`: the whole book's margins, when `document` is one run of
    it). The text block is as wide with either (`side_margins`), so nothing reflows: the pages are
    those a layout with the final gutter makes (tests/test_pdf.py compares them). Links, anchors
    and bookmarks are read again from the moved boxes."""
    from weasyprint.document import Page

    final = final or margins_for(config, len(document.pages))
    delta = final.gutter - laid_out.gutter
    if delta:
        dx = delta * 96  # CSS pixels
        for n, page in enumerate(document.pages):
            box = page._page_box
            # A right-hand page has its gutter on the left: a wider one moves the block right.
            shift = dx if box.page_type.side == "right" else -dx
            box.margin_left, box.margin_right = box.margin_left + shift, box.margin_right - shift
            for child in box.children:
                child.translate(shift, 0)
                _move_backgrounds(child, shift)
            document.pages[n] = Page(box)
    return final


def _move_backgrounds(box, dx: float) -> None:
    """`Box.translate` leaves the backgrounds where the layout put them: their painting and
    positioning areas and clip boxes are page coordinates, worked out at the end of the layout."""

    def moved(area):
        return area if isinstance(area, str) else (area[0] + dx, *area[1:])

    background = getattr(box, "background", None)
    if background is not None:
        box.background = background._replace(layers=[
            layer._replace(painting_area=moved(layer.painting_area), positioning_area=moved(layer.positioning_area),
                           clipped_boxes=[moved(clip) for clip in layer.clipped_boxes])
            for layer in background.layers])
    for child in getattr(box, "all_children", tuple)():
        _move_backgrounds(child, dx)


@dataclass(frozen=True, slots=True)
class Bleed:
    """Bleed per edge, in inches: KDP and IngramSpark bleed the top, bottom and outside edges
    only; Lulu every edge."""

    top: float
    bottom: float
    outside: float
    inside: float


BLEED = {"kdp": Bleed(0.125, 0.125, 0.125, 0.0), "ingram": Bleed(0.125, 0.125, 0.125, 0.0),
         "lulu": Bleed(0.125, 0.125, 0.125, 0.125)}


@dataclass(frozen=True, slots=True)
class PdfEdition:
    data: bytes
    diagnostics: tuple[Diagnostic, ...]
    page_map: PageMap
    pages: int


def _one_line(html: str) -> str:
    """A note's text with its line breaks made spaces (code aside): WeasyPrint 70 stops with an
    AssertionError on a space before a line break inside a `float: footnote` element."""
    parts = re.split(r"(<pre\b.*?</pre>)", html, flags=re.DOTALL)
    return "".join(part if part.startswith("<pre") else re.sub(r"[ \t]*\n[ \t]*", " ", part) for part in parts)


def _inline_notes(chapter: Chapter) -> Chapter:
    """Put each note where it is called, as WeasyPrint's `float: footnote` wants it."""
    if not chapter.notes:
        return chapter
    notes = {n.id: n for n in chapter.notes}

    def inline(match: re.Match[str]) -> str:
        note = notes.get(match[2])
        if note is None:
            return match[0]
        body = re.sub(r"<p\b[^>]*>", '<span class="para">', _one_line(note.html)).replace("</p>", "</span>")
        return f'<span class="footnote" id="{note.id}">{body}</span>'

    html = re.sub(r'<a class="noteref" id="([^"]+)" href="#([^"]+)" role="doc-noteref">[^<]*</a>', inline, chapter.html)
    return dataclasses.replace(chapter, html=html, notes=())


def print_html(book: Book, *, margins: Margins, bleed: Bleed | None) -> str:
    return print_source(book)(margins=margins, bleed=bleed)


def print_source(book: Book) -> Callable[..., str]:
    """The print edition's HTML, made ready once: `print_source(book)(margins=, bleed=, run=)` is
    the whole book's HTML, or with a `pdf_runs.Run` one run's (the chapters prepared once for all)."""
    book = draw_math(book)  # WeasyPrint lays out no MathML
    matter = book.matter
    # The front matter is not tagged for the page map: its pages are numbered in roman, not listed.
    front = [_inline_notes(c) for c, m in zip(book.chapters, matter, strict=True) if m == "front"]
    text = [_inline_notes(dataclasses.replace(c, html=tag_blocks(c)))
            for c, m in zip(book.chapters, matter, strict=True) if m != "front"]
    # What the contents page lists: what follows it (a dedication and an epigraph come before it).
    contents = [e for e in book.contents(1) if not e.before_contents]

    def html(*, margins: Margins, bleed: Bleed | None, run: object = None) -> str:
        # Our own stylesheet, made from numbers and keywords: markup-safe, not to be HTML-escaped.
        page_css = Markup(render("print-page.css", trim=book.config.trim, margins=margins, bleed=bleed,
                                 direction=book.config.direction, font_size=book.config.font_size, run=run))
        return render("print.html", book=book, front=front, chapters=text, contents=contents, page_css=page_css,
                      colophon=COLOPHON, version=__version__, run=run,
                      modified=book.modified.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return html


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# The book folder as the print edition's HTML sees it: one fixed address, so that nothing in the
# PDF depends on where the book lies on the author's disk (WeasyPrint names each image by a hash
# of its address, and resolves a link it cannot follow against the base address). The fetcher
# reads the real folder behind it.
BOOK_URL = "file:///publish-book/"


def _fetcher(book_root: Path, *, assets: Iterable[Asset] = ()):  # noqa: ANN202 - a sandbox.SandboxFetcher
    from .sandbox import SandboxFetcher  # imports WeasyPrint: only when a PDF is wanted

    root, alias = book_root.resolve(), Path(BOOK_URL.removeprefix("file://"))
    # Images the parse stage vetted that live elsewhere (web images the author allowed, kept in a
    # cache outside the book folder; files whose names were made URL-safe) are served from where
    # the print edition's HTML says they are.
    elsewhere = {root / a.href: a.source for a in assets if a.source.resolve() != (root / a.href).resolve()}
    return SandboxFetcher(root, STYLES_DIR, served=elsewhere, aliases={alias: root})


def _page_labels(first_text_page: int | None, *, whole_fonts: bool = False, dead_links: list[str] | None = None,
                 then: Callable[[object, object], None] | None = None):  # noqa: ANN202 - a WeasyPrint finisher
    """Roman numerals for the front matter and arabic from the text's first page, so viewers show
    "iii" and "1" as the folios do (none with `first_text_page` None: a run's, whose binder labels
    the book). WeasyPrint writes no /PageLabels of its own. With `whole_fonts`, fonts embedded
    whole are named as such (see `_untag_whole_fonts`). No link leads into the author's machine
    (see `_inert_local_links`): those made inert are added to `dead_links`. `then(document, pdf)`
    finishes the PDF further, before the fonts are renamed and the streams compressed."""
    import pydyf

    def finish(document, pdf) -> None:  # noqa: ANN001
        if first_text_page is not None:
            numbers = [0, pydyf.Dictionary({"S": "/r"})] if first_text_page > 0 else []
            numbers += [first_text_page, pydyf.Dictionary({"S": "/D", "St": 1})]
            pdf.catalog["PageLabels"] = pydyf.Dictionary({"Nums": pydyf.Array(numbers)})
        found = _inert_local_links(pdf)
        if dead_links is not None:
            dead_links.extend(found)
        if then is not None:
            then(document, pdf)
        if whole_fonts:
            _untag_whole_fonts(pdf)
        if _SPED_UP:
            _compress_ahead(pdf)

    return finish


def _inert_local_links(pdf) -> list[str]:  # noqa: ANN001 - a pydyf.PDF
    """WeasyPrint resolves a link it cannot follow inside the document (a chapter's file name the
    parse stage left as it was) against the base address, and writes `file:///…/02-two.md`: a
    link to nowhere for a reader, and once the author's own path. Whatever `file:` link reaches
    the PDF, it is made inert, its description keeping only what the author wrote. Returns those
    links as the author wrote them."""
    import pydyf

    found = []
    for obj in pdf.objects:
        if not (isinstance(obj, dict) and obj.get("Subtype") == "/Link"):
            continue
        action = obj.get("A")
        uri = action.get("URI") if isinstance(action, dict) and action.get("S") == "/URI" else None
        target = uri.string if isinstance(uri, pydyf.String) else None
        if target is None or urlsplit(target).scheme.lower() != "file":
            continue
        parts = urlsplit(target)
        written = unquote(target[len(BOOK_URL):] if target.startswith(BOOK_URL) else Path(parts.path).name
                          + (f"#{parts.fragment}" if parts.fragment else ""))
        del obj["A"]
        obj["Contents"] = pydyf.String(written)
        found.append(written)
    return found


def _untag_whole_fonts(pdf) -> None:  # noqa: ANN001 - a pydyf.PDF
    """WeasyPrint names every font "ABCDEF+Name", the PDF's mark of a subset, even when it embeds
    the whole font; preflight checks (and pdffonts) then report subsets. Drop the mark."""
    for obj in pdf.objects:
        if isinstance(obj, dict) and obj.get("Type") in {"/Font", "/FontDescriptor"}:
            for key in ("BaseFont", "FontName"):
                if isinstance(obj.get(key), bytes):
                    obj[key] = re.sub(rb"^/[A-Z]{6}\+", b"/", obj[key])


def _fast_page_references() -> None:
    """pydyf rebuilds `PDF.page_references`, a tuple naming every page, each time it is read, and
    WeasyPrint reads it for every tagged element it writes: quadratic in a tagged novel (2 s of 16 s
    for Pride and Prejudice). Kept per page count instead; the PDF's bytes are the same."""
    import pydyf

    def page_references(pdf: pydyf.PDF) -> tuple[bytes, ...]:
        kids = pdf.pages["Kids"]
        known = pdf.__dict__.get("_publish_page_references")
        if known is None or known[0] != len(kids):
            known = (len(kids), tuple(f"{number} 0 R".encode("ascii") for number in kids[::3]))
            pdf.__dict__["_publish_page_references"] = known
        return known[1]

    pydyf.PDF.page_references = property(page_references)


def _compress_streams_once() -> None:
    """pydyf compresses a stream each time its bytes are read, and a PDF with an identifier reads
    every stream twice: once to hash the file, once to write it. Kept after the first read,
    which comes only once the document is complete; the PDF's bytes are the same."""
    import pydyf

    compress = pydyf.Stream.data.fget

    def data(stream: pydyf.Stream) -> bytes:
        done = stream.__dict__.get("_publish_data")
        if done is None:
            done = stream.__dict__["_publish_data"] = compress(stream)
        return done

    pydyf.Stream.data = property(data)


def _compress_ahead(pdf) -> None:  # noqa: ANN001 - a pydyf.PDF
    """Compress every stream before pydyf writes the file, on every core: zlib lets go of the
    interpreter while it works, and `_compress_streams_once` keeps what it made. The novel's
    streams take 0.5 s on one core."""
    import pydyf

    streams = [obj for obj in pdf.objects if isinstance(obj, pydyf.Stream)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for _ in pool.map(lambda stream: stream.data, streams, chunksize=8):
            pass


class _DesignWidths(dict):
    """A font's glyph widths (thousandths of an em) as WeasyPrint writes them, each from the font's
    own advance. WeasyPrint keeps for each glyph the width Pango gave it at the first size it was
    drawn at, rounded at that size, and uses it in the PDF's font widths and in every later
    text-positioning offset: which page of a book happened to draw a glyph first then moved
    glyphs by a thousandth of an em (0.01 pt), and a run of chapters laid out on its own
    (publish.pdf_runs) could not draw the pages a whole layout draws. Every glyph the drawing asks
    about is "known" and given its design width; once the drawing is done, `_plain_widths` leaves
    a plain dict of the glyphs used, which is all the PDF's font dictionaries read."""

    def __init__(self, font) -> None:
        super().__init__()
        self._font = font
        self._advances = None

    def __contains__(self, glyph: object) -> bool:
        return dict.__contains__(self, glyph) or (isinstance(glyph, int) and 0 < glyph < self._font.glyph_count)

    def __missing__(self, glyph: int) -> int:
        if self._advances is None:
            import uharfbuzz

            face = uharfbuzz.Face(uharfbuzz.Blob(self._font.file_content), self._font.index)
            self._advances = uharfbuzz.Font(face)  # scaled in font units
        width = self[glyph] = round(self._advances.get_glyph_h_advance(glyph) * 1000 / self._font.upem)
        return width


_WIDTHS_FIXED = False


def design_widths() -> None:
    """Glyph widths from the font (`_DesignWidths`), in WeasyPrint's drawing of every PDF. Applied
    once per process, on the first PDF."""
    global _WIDTHS_FIXED
    if _WIDTHS_FIXED:
        return
    _WIDTHS_FIXED = True
    import weasyprint.pdf
    from weasyprint.pdf.fonts import Font

    init = Font.__init__

    def font_init(font, *args, **kwargs) -> None:
        init(font, *args, **kwargs)
        if not font.variations and not font.bitmap:  # a variable font's advances are its instance's
            font.widths = _DesignWidths(font)

    build_fonts = weasyprint.pdf.build_fonts_dictionary

    def build_fonts_dictionary(pdf, fonts, *args, **kwargs):
        for font in fonts.values():
            font.widths = dict(font.widths)  # the glyphs drawn, and only those
        return build_fonts(pdf, fonts, *args, **kwargs)

    Font.__init__ = font_init
    weasyprint.pdf.build_fonts_dictionary = build_fonts_dictionary


_SPED_UP = False


def speed_up_pydyf() -> None:
    """Two fixes to pydyf, the library WeasyPrint writes PDFs with; the PDF's bytes are the same
    (tests/test_parallel.py). Applied once per process, on the first PDF."""
    global _SPED_UP
    if not _SPED_UP:
        _fast_page_references()
        _compress_streams_once()
        _SPED_UP = True


def parallel_jobs() -> int:
    """How many runs the print edition is laid out in: `$PUBLISH_JOBS`, else the cores this process
    may run on (`taskset` counts: one core, one layout)."""
    wanted = os.environ.get("PUBLISH_JOBS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def layout_tools(root: Path, assets: Iterable[Asset], css: str | None):
    """What WeasyPrint lays the print edition out with: the sandboxed fetcher, the shipped fonts
    alone, and a function that parses the stylesheets (call it once a `_Collect` listens)."""
    import weasyprint  # slow to import: only when a PDF is wanted
    from weasyprint.text.fonts import FontConfiguration

    fetcher = _fetcher(root, assets=assets)
    with hide_installed_fonts():  # only shipped fonts: what they lack is named by missing_glyphs
        fonts = FontConfiguration()

    def stylesheets() -> list:
        sheets = [weasyprint.CSS(filename=str(STYLES_DIR / name), url_fetcher=fetcher, font_config=fonts)
                  for name in STYLESHEETS]
        if css:  # a catalogue's stylesheet additions, last
            sheets.append(weasyprint.CSS(string=css, base_url=str(STYLES_DIR) + "/", url_fetcher=fetcher,
                                         font_config=fonts))
        return sheets

    return fetcher, fonts, stylesheets


def page_source(book: Book) -> str:
    """How the EPUB names the print edition its pages come from: an edition's pages by its ISBN,
    as EPUB Accessibility asks of pageBreakSource."""
    trim = book.config.trim
    return book.config.isbn.urn if book.config.edition and book.config.isbn else \
        f"{book.config.title}, print edition, {trim.width_in:g} × {trim.height_in:g} in"


def pdf_identifier(book: Book) -> bytes:
    return hashlib.sha256(book.identifier.encode()).hexdigest()[:32].encode()


def render_pdf(book: Book, *, profile: str | None = None,
               glyph_check: Callable[[], tuple[Diagnostic, ...]] | None = None,
               laid_out_with: Margins | None = None, jobs: int | None = None,
               runs_cache: object = None) -> PdfEdition:
    """Lay out and write the PDF, and read from the layout where each page begins.

    `glyph_check` gives `fonts.missing_glyphs(book)` once the PDF is written: the build runs that
    check in another process while WeasyPrint works. Without it, the check runs here, before the
    layout (reading the fonts' tables after it added 20 MB to the peak memory).

    With `jobs` (else `parallel_jobs()`) above 1, a book whose chapters open on rectos is laid out
    in that many runs of chapters at once, each in a process of its own, and bound into one PDF
    that cannot be told from one laid out in one piece (`pdf_runs`; tests/test_parallel_pdf.py);
    for now only with `$PUBLISH_PARALLEL_PDF` 1 (`pdf_runs.SWITCH` says why). With `runs_cache`
    (a `pdf_runs.RunCache`), a run whose inputs are an earlier build's is not laid out again.
    """
    from . import pdf_runs

    profile = profile or book.config.pdf_profile
    jobs = parallel_jobs() if jobs is None else jobs
    runs = pdf_runs.plan(book, jobs) if pdf_runs.enabled() else None
    if runs:
        return pdf_runs.render(book, runs, profile=profile, glyph_check=glyph_check, jobs=jobs,
                               margins=laid_out_with or margins_for(book.config, 1), cache=runs_cache)
    return _render_whole(book, profile=profile, glyph_check=glyph_check, laid_out_with=laid_out_with)


def _render_whole(book: Book, *, profile: str, glyph_check: Callable[[], tuple[Diagnostic, ...]] | None,
                  laid_out_with: Margins | None) -> PdfEdition:
    """The whole book in one layout, in this process."""
    import weasyprint

    from .pdf_fonts import keep_set_text

    speed_up_pydyf()
    design_widths()
    bleed = BLEED[book.config.print_service] if profile == "print" else None
    fetcher, fonts, stylesheets_of = layout_tools(book.root, (*book.assets, *filter(None, [book.cover])),
                                                  book.config.css)
    missing = missing_glyphs(book) if glyph_check is None else ()
    # Everything alive now outlives the PDF: out of the collector's sight, it stops postponing
    # full collections (their pace follows the number of long-lived objects; langcodes' tables
    # alone, imported with the book's configuration, added 30 MB of WeasyPrint's garbage to the
    # peak). The same for the laid-out pages while the PDF is written.
    gc.collect()
    gc.freeze()
    collect = _Collect()  # before the stylesheets are parsed, so their complaints are heard too
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        stylesheets = stylesheets_of()
        # Laid out once, with the narrowest gutter, and then moved to the page count's own
        # (`laid_out_with`: another gutter to lay out with, for the tests that compare the two).
        margins = laid_out_with or margins_for(book.config, 1)
        html = weasyprint.HTML(string=print_html(book, margins=margins, bleed=bleed), base_url=BOOK_URL,
                               url_fetcher=fetcher)
        # Presentational hints: an <ol start="3"> counts from 3, as in every browser.
        document = html.render(stylesheets=stylesheets, font_config=fonts, pdf_tags=True,
                               presentational_hints=True)
        shift_to_gutter(document, book.config, laid_out=margins)
        gc.collect()  # the layout's own garbage, which must not be frozen with its pages
        gc.freeze()
        front = frozenset(c.id for c, m in zip(book.chapters, book.matter, strict=True) if m == "front")
        pages = page_map(document, source=page_source(book), front=front)
        dead_links: list[str] = []
        # In print, fonts whole, with the text and widths of the glyphs set as a subset has them
        # (a ligature's letters, the widths the layout placed glyphs with; `pdf_fonts`).
        whole = profile == "print"
        data = document.write_pdf(pdf_variant="pdf/ua-1", pdf_identifier=pdf_identifier(book), full_fonts=whole,
                                  finisher=_page_labels(pages.first_text_page, whole_fonts=whole, dead_links=dead_links,
                                                        then=keep_set_text if whole else None))
    finally:
        logger.removeHandler(collect)
        gc.unfreeze()
    if glyph_check is not None:
        missing = glyph_check()
    return PdfEdition(data, edition_problems(book, collect.messages, dead_links, missing), pages, len(document.pages))


def edition_problems(book: Book, messages: Iterable[str], dead_links: Iterable[str],
                     missing: tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    """What laying out the print edition found: the glyphs no font has, the formulas not drawn,
    WeasyPrint's warnings (each once) and the links made inert."""
    problems = tuple(warning("pdf-layout", message, file=Path(book.root.name),
                             hint="this comes from WeasyPrint while laying out the print edition")
                     for message in dict.fromkeys(messages)
                     if not (missing and message.startswith(".notdef glyph"))  # already named, with their line
                     and not message.endswith("has no required alt description"))  # so is this (image-alt)
    problems += tuple(warning("pdf-dead-link", f"the link to '{href}' leads nowhere in the print edition: it is "
                              "printed as plain text", file=Path(book.root.name),
                              hint="check the link's target: a chapter file of the book with an id in it, or a "
                                   "web address") for href in dict.fromkeys(dead_links))
    return missing + undrawable(book) + problems
