"""What a book may hold: each limit far above any real book, so that a mistake (a generated file,
a runaway script, a hostile manuscript) is a clear error in seconds instead of a build that runs
for an hour or exhausts the memory.

The corpus (/work/shared/corpus, six real books) was measured to choose them; docs/errors.md lists
each with its measure. Checked on the source text before it is converted (file size, chapter
files, notes, nesting written with '>' or indentation), and on the converted tree (nesting written
in raw HTML), so no stage sees an input it cannot handle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .diagnostics import Diagnostic, error, warning

# The largest chapter file in the corpus is 271 KB (Curie's whole book in one file); a 120,000-word
# novel in one file is about 700 KB. 10 MB is fourteen such novels in one file.
MAX_FILE_BYTES = 10 * 1024 * 1024
# The corpus's most is 61 (Pride and Prejudice, a file per chapter).
MAX_CHAPTERS = 2_000
# Notes in one chapter file (numbered or inline); the corpus's most is 24.
MAX_NOTES = 5_000
# Elements nested in a chapter (quotes, lists, divs, emphasis); the corpus's deepest is 9. Python-
# Markdown's parser and WeasyPrint's layout recurse: about 130 levels exhaust Python's stack.
MAX_NESTING = 50
# Pixels of one image: the corpus's largest is 3 million; a full page at 600 dpi is 34 million.
# Pillow decodes every pixel (4 bytes each) to print an image: 50 million is 200 MB.
MAX_IMAGE_PIXELS = 50_000_000
# Seconds to download one web image (remote-images: true), in all: a server that sends one byte
# every few seconds is given up, not waited for.
DOWNLOAD_DEADLINE = 30.0


def too_large(size: int, shown: Path) -> Diagnostic | None:
    if size <= MAX_FILE_BYTES:
        return None
    return error("file-too-large", f"the file is {size / 1024 / 1024:.1f} MB, more than the limit of "
                 f"{MAX_FILE_BYTES // 1024 // 1024} MB for one file", file=shown, line=1,
                 hint="split the book into chapter files, or check that this is the file you meant")


_NOTE = re.compile(r"^ {0,3}\[\^[^\]\n]+\]:|\^\[", re.MULTILINE)
_QUOTES = re.compile(r"^(?:[ \t]*>)+", re.MULTILINE)
_LIST_ITEM = re.compile(r"^([ \t]*)(?:[-+*]|[0-9]+[.)]|\(?[0-9a-zA-Z#@]+[.)])[ \t]", re.MULTILINE)


def source_limits(text: str, shown: Path) -> Iterator[Diagnostic]:
    """The limits one chapter file's Markdown passes beyond, each with the line where it does."""
    def line(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    for count, match in enumerate(_NOTE.finditer(text), start=1):
        if count > MAX_NOTES:
            yield error("too-many-notes", f"the file has more than {MAX_NOTES:,} notes (the limit for one file)",
                        file=shown, line=line(match.start()),
                        hint="split the chapter into several files; no real chapter has this many notes")
            break
    for match in _QUOTES.finditer(text):
        if match[0].count(">") > MAX_NESTING:
            yield nesting_error(shown, line(match.start()), "quotes ('>')")
            break
    for match in _LIST_ITEM.finditer(text):
        # Pandoc nests a list by its item's indentation: two columns or more a level.
        if len(match[1].expandtabs(4)) > 2 * MAX_NESTING:
            yield nesting_error(shown, line(match.start()), "lists (by their indentation)")
            break


def nesting_error(shown: Path, line: int | None, what: str) -> Diagnostic:
    return error("nesting-too-deep", f"{what} are nested more than {MAX_NESTING} deep (the limit)", file=shown,
                 line=line, hint="no book nests this deep; it is usually a generated or damaged file")


def image_pixels(source: Path | bytes) -> int | str:
    """How many pixels a raster image has, from its header (nothing is decoded); or why it cannot be
    read as an image."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns of (and past twice its own limit refuses) a "decompression bomb": the
            # limit here is ours, reported as an error naming the file.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                    return image.width * image.height
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except UnidentifiedImageError:
        return "its bytes are not a PNG, JPEG, GIF or WebP image"
    except (OSError, ValueError, SyntaxError) as exc:
        return str(exc) or type(exc).__name__


def too_many_pixels(source: Path | bytes, name: str, shown: Path, line: int | None) -> Diagnostic | None:
    """An error if the image has more pixels than the limit; a warning if it cannot be read at all
    (it is carried as it is, as before: a reader may still show it, and the book still builds)."""
    pixels = image_pixels(source)
    if isinstance(pixels, str):
        return warning("image-broken", f"the image '{name}' cannot be read: {pixels}", file=shown, line=line,
                       hint="open it in an image editor and save it again as PNG or JPEG")
    if pixels <= MAX_IMAGE_PIXELS:
        return None
    return error("image-too-large", f"the image '{name}' has {pixels / 1e6:.0f} million pixels, more than the limit "
                 f"of {MAX_IMAGE_PIXELS // 1_000_000} million", file=shown, line=line,
                 hint="scale it down: 300 pixels an inch of the printed page is all a printer uses")


def too_many_chapters(count: int, shown: Path, line: int | None) -> Diagnostic | None:
    if count <= MAX_CHAPTERS:
        return None
    return error("too-many-chapters", f"the book has {count:,} chapters, more than the limit of {MAX_CHAPTERS:,}",
                 file=shown, line=line, hint="group short pieces into chapters with '##' sections")


def depth(root: object) -> tuple[int, object]:
    """How deep elements nest under `root` (an lxml element), and the deepest; iterative, so any
    depth is measured."""
    deepest, found = 0, root
    stack = [(root, 0)]
    while stack:
        element, level = stack.pop()
        if level > deepest:
            deepest, found = level, element
        stack.extend((child, level + 1) for child in element)  # type: ignore[attr-defined]
    return deepest, found
