"""Pandoc's and GitHub's automatic heading identifiers, as links written for either spell them.

Apart from `resolve`, which makes the book's ids, because the Markdown constructs need them too
(an implicit header reference `[Heading]` points at the id Pandoc gives that heading).
"""

from __future__ import annotations

import unicodedata


def allowed_in_identifier(char: str, *, gfm: bool) -> bool:
    category = unicodedata.category(char)
    if category[0] in "LN" or char in "-_":
        return True
    if gfm:
        return category in {"Mn", "Mc", "Me", "Pc"}
    return char == "."


def pandoc_identifier(text: str) -> str:
    """Pandoc's `auto_identifiers`: lower case, only letters, digits, '_', '-' and '.', words
    joined by '-', and nothing before the first letter."""
    kept = "".join(c for c in text.lower() if c.isspace() or allowed_in_identifier(c, gfm=False))
    joined = "-".join(kept.split())
    return joined[next((i for i, c in enumerate(joined) if c.isalpha()), len(joined)):]


def gfm_identifier(text: str) -> str:
    """GitHub's (and Pandoc's `gfm_auto_identifiers`): lower case, punctuation dropped, each space a '-'."""
    return "".join("-" if c.isspace() else c for c in text.lower() if c.isspace() or allowed_in_identifier(c, gfm=True))


def unique_identifier(base: str, used: set[str]) -> str:
    """Pandoc's rule for a repeated identifier: `intro`, then `intro-1`, `intro-2`…"""
    base = base or "section"
    if base not in used:
        return base
    return next(f"{base}-{n}" for n in range(1, len(used) + 2) if f"{base}-{n}" not in used)
