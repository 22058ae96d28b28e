"""The print edition: `Book -> bytes`, a tagged PDF laid out by WeasyPrint from templates/print.html.

WeasyPrint reads only the book folder and styles/ (see `SandboxFetcher`). The gutter grows with the
page count, as printers ask, so the book is laid out once more if the first layout lands in
another gutter bracket than the estimate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import __version__
from .config import BookConfig
from .diagnostics import Diagnostic, warning
from .fonts import hide_installed_fonts, missing_glyphs
from .model import Book, Chapter
from .templates import STYLES_DIR, TYPEFACE, render

STYLESHEETS = ("fonts.css", "book.css", "print.css")
WORDS_PER_PAGE = 330  # at 10.5 pt on a 6x9 in page; only used to guess the gutter before layout


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


def margins_for(config: BookConfig, pages: int) -> Margins:
    scale = min(config.trim.width_in / 6.0, 1.4)
    return Margins(top=round(0.75 * scale, 3), bottom=round(0.8 * scale, 3),
                   gutter=gutter_for(pages), outside=round(0.6 * scale, 3))


BLEED = {"kdp": "0.125in", "lulu": "0.125in", "ingram": "0.125in"}


def _inline_notes(chapter: Chapter) -> Chapter:
    """Put each note where it is called, as WeasyPrint's `float: footnote` wants it."""
    if not chapter.notes:
        return chapter
    notes = {n.id: n for n in chapter.notes}

    def inline(match: re.Match[str]) -> str:
        note = notes.get(match[2])
        if note is None:
            return match[0]
        body = re.sub(r"<p\b[^>]*>", '<span class="para">', note.html).replace("</p>", "</span>")
        return f'<span class="footnote" id="{note.id}">{body}</span>'

    html = re.sub(r'<a class="noteref" id="([^"]+)" href="#([^"]+)" role="doc-noteref">[^<]*</a>', inline, chapter.html)
    return dataclasses.replace(chapter, html=html, notes=())


def print_html(book: Book, *, margins: Margins, bleed: str | None) -> str:
    page_css = render("print-page.css", trim=book.config.trim, margins=margins, bleed=bleed)
    return render("print.html", book=book, chapters=[_inline_notes(c) for c in book.chapters], page_css=page_css,
                  colophon=f"Set in {TYPEFACE}.", version=__version__,
                  modified=book.modified.strftime("%Y-%m-%dT%H:%M:%SZ"))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _fetcher(book: Book):  # noqa: ANN202 - a weasyprint.URLFetcher
    import weasyprint

    root = book.root.resolve()
    allowed = (root, STYLES_DIR.resolve())
    # Images the parse stage vetted but that live elsewhere (web images the author allowed, kept in
    # a cache outside the book folder) are served by their place in the book.
    elsewhere = {root / a.href: a.source for a in (*book.assets, *filter(None, [book.cover]))
                 if not a.source.resolve().is_relative_to(root)}

    class SandboxFetcher(weasyprint.URLFetcher):
        """Files inside the book folder and styles/, the book's own images, and data: URLs; never the network."""

        def fetch(self, url: str, headers: dict | None = None):  # noqa: ANN201
            parts = urlsplit(url)
            if parts.scheme == "data":
                return super().fetch(url, headers)
            if parts.scheme == "file" and parts.netloc in {"", "localhost"}:
                path = Path(unquote(parts.path))
                if path in elsewhere:
                    return weasyprint.urls.URLFetcherResponse(url, elsewhere[path].read_bytes())
                # resolve() follows links, so a link inside the book folder cannot lead out of it.
                if any(path.resolve().is_relative_to(place) for place in allowed):
                    return super().fetch(url, headers)
            raise ValueError(f"refused to read {url}: a build reads only files inside the book folder")

    return SandboxFetcher(allowed_protocols=("file", "data"), allow_redirects=False)


def render_pdf(book: Book, *, profile: str | None = None) -> tuple[bytes, tuple[Diagnostic, ...]]:
    """Lay out and write the PDF. Returns its bytes and WeasyPrint's complaints as diagnostics."""
    import weasyprint  # slow to import: only when a PDF is wanted
    from weasyprint.text.fonts import FontConfiguration

    profile = profile or book.config.pdf_profile
    bleed = BLEED[book.config.print_service] if profile == "print" else None
    fetcher = _fetcher(book)
    with hide_installed_fonts():  # only shipped fonts: what they lack is named by missing_glyphs
        fonts = FontConfiguration()
    stylesheets = [weasyprint.CSS(filename=str(STYLES_DIR / name), url_fetcher=fetcher, font_config=fonts)
                   for name in STYLESHEETS]
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        pages_guess = max(1, book.words // WORDS_PER_PAGE) + 8
        margins = margins_for(book.config, pages_guess)
        document = None
        for _ in range(2):
            html = weasyprint.HTML(string=print_html(book, margins=margins, bleed=bleed),
                                   base_url=str(book.root) + "/", url_fetcher=fetcher)
            document = html.render(stylesheets=stylesheets, font_config=fonts, pdf_tags=True)
            actual = margins_for(book.config, len(document.pages))
            if actual == margins:
                break
            margins = actual
        assert document is not None
        identifier = hashlib.sha256(book.identifier.encode()).hexdigest()[:32].encode()
        data = document.write_pdf(pdf_variant="pdf/ua-1", pdf_identifier=identifier, uncompressed_pdf=False,
                                  full_fonts=profile == "print")
    finally:
        logger.removeHandler(collect)
    missing = missing_glyphs(book)
    problems = tuple(warning("pdf-layout", message, file=Path(book.root.name),
                             hint="this comes from WeasyPrint while laying out the print edition")
                     for message in dict.fromkeys(collect.messages)
                     if not (missing and message.startswith(".notdef glyph")))  # already named, with their line
    return data, missing + problems
