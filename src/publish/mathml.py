"""A formula's MathML as plain text, for what shows no markup: the contents of the EPUB's nav and
NCX, PDF bookmarks and running heads. Apart from the Markdown construct (publish.markdown.math),
so that an edition can read formulas without importing Python-Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

WORD_JOINER = "\u2060"  # keeps a formula on the line of the word it is written against

_SUPERSCRIPTS = str.maketrans("0123456789+-−=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱ")
_SUBSCRIPTS = str.maketrans("0123456789+-−=()aeoxhklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜ")


def _script(text: str, table: dict[int, str], mark: str) -> str:
    """A sub- or superscript in Unicode's small figures where it has them all, else as "^(…)"."""
    if text and all(ord(c) in table for c in text):
        return text.translate(table)
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _linear(node) -> str:  # noqa: ANN001 - an lxml or xml.etree element
    """A MathML element as plain text: "x²", "a/b", "√2", for contents, bookmarks and running heads."""
    tag = node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""
    parts = [_linear(child) for child in node]
    if tag in {"msup", "msub", "msubsup"} and len(parts) == (3 if tag == "msubsup" else 2):
        base, rest = parts[0], parts[1:]
        subscript = rest[0] if tag != "msup" else None
        superscript = rest[-1] if tag != "msub" else None
        return (base + (_script(subscript, _SUBSCRIPTS, "_") if subscript else "")
                + (_script(superscript, _SUPERSCRIPTS, "^") if superscript else ""))
    if tag == "mfrac" and len(parts) == 2:
        wrap = lambda s: s if len(s) <= 1 or s.isalnum() else f"({s})"  # noqa: E731
        return f"{wrap(parts[0])}/{wrap(parts[1])}"
    if tag == "msqrt":
        inner = "".join(parts)
        return f"√{inner}" if len(inner) <= 1 else f"√({inner})"
    if tag == "mroot" and len(parts) == 2:
        return f"{parts[1]}√({parts[0]})"
    if tag == "mspace":
        return " "
    return (node.text or "") + "".join(parts) if tag in {"mi", "mn", "mo", "mtext", "ms"} else "".join(parts)


def plain_text(element) -> str:  # noqa: ANN001 - an lxml element
    """An element's text, with its formulas as plain text ("x²" rather than "x2")."""
    def walk(node) -> Iterator[str]:  # noqa: ANN001
        if isinstance(node.tag, str) and node.tag.rsplit("}", 1)[-1] == "math":
            yield _linear(node)
        else:
            yield node.text or "" if isinstance(node.tag, str) else ""
            for child in node:
                yield from walk(child)
        if node is not element:
            yield node.tail or ""

    return re.sub(r"\s+", " ", "".join(walk(element)).replace(WORD_JOINER, "")).strip()
