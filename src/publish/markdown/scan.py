"""Reading a balanced group in Markdown or TeX source: `[…[…]…]`, `{…}`, with `\\x` escapes."""

from __future__ import annotations


def group_end(text: str, start: int, opening: str, closing: str) -> int | None:
    """The index just past the group that opens at `text[start]`, nested groups and `\\x` skipped."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None
