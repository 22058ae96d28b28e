"""Problems as values: what went wrong, where, and how to fix it.

Stages never print and never exit; they return or raise these, and only the CLI decides how
to show them and which exit code they earn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    file: Path | None = None
    line: int | None = None
    hint: str | None = None

    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else str(self.file)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: " if where else ""
        text += f"{self.severity.name.lower()} {self.code}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def error(code: str, message: str, *, file: Path | None = None, line: int | None = None,
          hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, file, line, hint)


def warning(code: str, message: str, *, file: Path | None = None, line: int | None = None,
            hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, file, line, hint)


class BuildFailed(Exception):
    """Raised by a stage that cannot go on; carries every problem found so far."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def has_errors(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def refuse_warnings(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    """`--strict`: raise `BuildFailed` if there is any warning, so that nothing is written."""
    warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    if warnings:
        raise BuildFailed([*diagnostics, error(
            "strict", f"--strict: the build has {len(warnings)} warning{'s' * (len(warnings) != 1)}, treated as errors",
            hint="fix the warnings above, or build without --strict")])
