"""The web edition: `Book -> files`, one page with its styles, script, fonts and images beside it.

The folder opens from disk as it is (every reference is relative, nothing is fetched from the
network); `publish preview` serves the very same files, asking only for a live-reload hook.
"""

from __future__ import annotations

from . import __version__
from .fonts import edition_fonts
from .model import Book
from .templates import COLOPHON, STYLES_DIR, render

# fonts.css comes after book.css: it restates book.css's font stack with the names of the subset
# fonts the edition carries (see fonts.edition_fonts).
STYLESHEETS = ("book.css", "fonts.css", "web.css")
SCRIPTS = ("web.js",)
EXTRA_CSS = "extra.css"  # the name of a catalogue's stylesheet additions in the web edition and the EPUB


def render_html(book: Book, *, live_reload: int | None = None) -> dict[str, bytes]:
    """Every file of the web edition, by its path relative to the edition's folder.

    `live_reload` is the preview's build number: when given, the page loads the preview's
    reload script, which reloads it as soon as a newer build exists.
    """
    start_id = "spoiler-notice" if book.config.spoiler else book.chapters[0].id
    extra = (EXTRA_CSS,) if book.config.css else ()  # a catalogue's stylesheet additions, last
    page = render("web.html", book=book, start_id=start_id, colophon=COLOPHON, version=__version__,
                  stylesheets=STYLESHEETS + extra, live_reload=live_reload).encode()
    files = {"index.html": page, **static_files(page)}
    if extra:
        files[f"styles/{EXTRA_CSS}"] = book.config.css.encode()
    for asset in book.assets:
        files[asset.href] = asset.source.read_bytes()
    return files


def static_files(page: bytes | None = None) -> dict[str, bytes]:
    """The edition's styles, script and fonts: the faces the `page` is set in, each cut down to its
    characters, or without a page the typeface whole."""
    files = {f"styles/{name}": (STYLES_DIR / name).read_bytes() for name in STYLESHEETS + SCRIPTS if name != "fonts.css"}
    sheets = [files[f"styles/{name}"].decode() for name in STYLESHEETS if name != "fonts.css"]
    fonts = edition_fonts(None if page is None else [page], sheets)
    files.update(fonts)
    licences = ["OFL.txt"] + (["OFL-Noto.txt"] if any("/Noto" in name for name in fonts) else []) \
        + (["OFL-STIX.txt"] if any("/STIX" in name for name in fonts) else []) \
        + (["OFL-JetBrainsMono.txt"] if any("/JetBrainsMono" in name for name in fonts) else [])
    for name in licences:
        files[f"styles/fonts/{name}"] = (STYLES_DIR / "fonts" / name).read_bytes()
    return files
