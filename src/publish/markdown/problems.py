"""What a construct finds wrong in a chapter's source, before it is a `Diagnostic` with a file.

Constructs report from the source text, not from converting it: a chapter's HTML is cached by
its text, and its warnings must come back on every build, cached or not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    line: int
    hint: str
