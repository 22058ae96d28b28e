"""The web edition: `Book -> files`, one page with its styles, fonts and images beside it."""

from __future__ import annotations

from . import __version__
from .model import Book
from .fonts import edition_fonts
from .templates import STYLES_DIR, TYPEFACE, render

STYLESHEETS = ("fonts.css", "book.css", "web.css")


def render_html(book: Book, *, extra_head: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file of the web edition, by its path relative to the edition's folder."""
    start_id = "spoiler-notice" if book.config.spoiler else book.chapters[0].id
    page = render("web.html", book=book, start_id=start_id, colophon=f"Set in {TYPEFACE}.", version=__version__,
                  extra_head=extra_head)
    files = {"index.html": page.encode()}
    for name in STYLESHEETS:
        files[f"styles/{name}"] = (STYLES_DIR / name).read_bytes()
    fonts = edition_fonts(book)  # fonts.css and the fonts it names: fallbacks only for scripts the book uses
    files.update(fonts)
    licences = ["OFL.txt"] + (["OFL-Noto.txt"] if any("/Noto" in name for name in fonts) else [])
    for name in licences:
        files[f"styles/fonts/{name}"] = (STYLES_DIR / "fonts" / name).read_bytes()
    for asset in book.assets:
        files[asset.href] = asset.source.read_bytes()
    return files
