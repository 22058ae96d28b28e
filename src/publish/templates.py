"""The Jinja2 environment over `styles/`: templates own the markup, Python hands them data."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import jinja2
from markupsafe import Markup

# The look of the book lives beside the code, in the repository's styles/ folder; a house style
# elsewhere can be chosen with PUBLISH_STYLES.
STYLES_DIR = Path(os.environ.get("PUBLISH_STYLES") or Path(__file__).resolve().parents[2] / "styles")
TYPEFACE = "Gentium Book Plus"
MATH_TYPEFACE = "STIX Two Math"  # formulas: MathML on screen, drawn as SVG in print (see print_math)
CODE_TYPEFACE = "JetBrains Mono"  # code, kbd and samp (book.css)
COLOPHON = f"Set in {TYPEFACE}."  # every edition's copyright page names the typeface


# The parse stage writes ARIA roles, which every edition understands; the EPUB adds the matching
# epub:type that reading systems use for pop-up notes and page navigation.
EPUB_TYPES = {"doc-noteref": "noteref", "doc-pagebreak": "pagebreak", "doc-biblioref": "biblioref"}


def with_epub_types(html: str) -> Markup:
    text = str(html)
    for role, epub_type in EPUB_TYPES.items():
        text = text.replace(f'role="{role}"', f'epub:type="{epub_type}" role="{role}"')
    return Markup(text)


@functools.lru_cache(maxsize=4)
def environment(styles_dir: Path = STYLES_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(styles_dir / "templates"),
        autoescape=True,  # every template, whatever its extension: text from book.yaml is never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["with_epub_types"] = with_epub_types
    return env


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
