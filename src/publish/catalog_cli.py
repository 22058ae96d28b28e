"""`publish build` of a catalogue: its progress on the terminal, its closing table, its exit code.

The work itself is catalog.py's and catalog_build.py's; this module only shows it. One line per finished book (with
the counts and the time left, so that a log has them too) and, on a terminal, a progress bar
with the books done, failed and left, and the time left. The run ends with a table of every
book: its state, time, page count, the validators' results with --check, and its first problems.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .catalog import gather
from .catalog_build import BookOutcome, CatalogError, Counts, connect, exit_worthy, local_workers, plan, run
from .check import TOOLS
from .diagnostics import Severity, has_errors

STATE_STYLE = {"built": "green", "unchanged": "green", "failed": "red", "error": "red", "lost": "red"}
TOOL_NAMES = {"epubcheck": "EPUBCheck", "ace": "Ace", "covers": "covers"}
LOG_WIDTH = 160


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _problems(outcome: BookOutcome) -> str:
    first = outcome.first_problems()
    more = sum(d.severity >= Severity.WARNING for d in outcome.diagnostics) - len(first)
    parts = [f"{d.location() + ': ' if d.location() else ''}{d.code}: {d.message}" for d in first]
    if outcome.retried:
        parts.insert(0, f"its worker died {outcome.retried}× and it was built again")
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _checks(outcome: BookOutcome, tool: str) -> str:
    found = next((c for c in outcome.checks if c.tool == tool), None)
    if found is None:
        return "–"
    if not found.ran:
        return "[yellow]did not run[/]"
    if found.errors:
        return f"[red]{found.errors} error{'s' * (found.errors != 1)}[/]"
    return f"[yellow]{found.warnings} warning{'s' * (found.warnings != 1)}[/]" if found.warnings else "[green]0[/]"


class CatalogueProgress:
    """The lines and the bar while the books are built."""

    def __init__(self, console, *, verbosity: int, show) -> None:  # noqa: ANN001 - a rich Console, cli._show
        self.console = console
        self.verbosity = verbosity
        self.show = show
        self.bar = Progress(SpinnerColumn(), TextColumn("[bold]books"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[failed]} failed, {task.fields[left]} left, {task.fields[eta]}"),
                            TimeElapsedColumn(),
                            console=console, transient=True, disable=verbosity == 0 or not console.is_terminal)
        self.task = None

    def __enter__(self) -> CatalogueProgress:
        self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.bar.stop()

    def say(self, text: str) -> None:
        if self.verbosity:
            self.console.print(f"· {text}", markup=False, style="dim")

    def done(self, outcome: BookOutcome, counts: Counts) -> None:
        left = counts.seconds_left()
        eta = "done" if not counts.left else f"about {duration(left)} left" if left is not None else "time left unknown"
        if self.task is None:
            self.task = self.bar.add_task("books", total=counts.total, failed=0, left=counts.total, eta="")
        self.bar.update(self.task, completed=counts.done, failed=counts.failed, left=counts.left, eta=eta)
        if self.verbosity == 0 and outcome.ok:
            return
        mark = "✓" if outcome.ok else "✗"
        what = [duration(outcome.seconds)] if outcome.seconds else []
        if outcome.pages:
            what.append(f"{outcome.pages} pages")
        if outcome.retried:
            what.append(f"built again after its worker died{f' {outcome.retried}×' if outcome.retried > 1 else ''}")
        found = [d for d in outcome.diagnostics if d.severity >= Severity.WARNING]
        if found:
            errors = sum(d.severity is Severity.ERROR for d in found)
            what.append(f"{errors} error{'s' * (errors != 1)}, {len(found) - errors} warning{'s' * (len(found) - errors != 1)}")
        self.console.print(f"[{STATE_STYLE[outcome.state]}]{mark} {outcome.state}[/] {escape(str(outcome.shown))}"
                           f" ({', '.join(what)})" * bool(what)
                           + f"  [dim]{counts.done}/{counts.total}, {counts.failed} failed, {eta}[/]")
        if not outcome.ok:
            self.show([d for d in outcome.diagnostics if d.severity is Severity.ERROR][:5])
        elif self.verbosity >= 2:
            self.show(found)


def table(outcomes: Sequence[BookOutcome], *, checked: bool, quiet: bool) -> Table:
    grid = Table(title=None, show_lines=False, header_style="bold", expand=False)
    for name, justify in (("book", "left"), ("state", "left"), ("time", "right"), ("pages", "right")):
        grid.add_column(name, justify=justify, no_wrap=name != "book")
    if checked:
        for tool in TOOLS:
            grid.add_column(TOOL_NAMES[tool], justify="right", no_wrap=True)
    grid.add_column("first problems", overflow="fold")
    for outcome in outcomes:
        if quiet and outcome.ok and not outcome.diagnostics:
            continue
        row = [escape(str(outcome.shown)), f"[{STATE_STYLE[outcome.state]}]{outcome.state}[/]",
               duration(outcome.seconds) if outcome.seconds else "–", str(outcome.pages or "–")]
        if checked:
            row += [_checks(outcome, tool) for tool in TOOLS]
        grid.add_row(*row, escape(_problems(outcome)))
    return grid


def build_catalogue(args: argparse.Namespace, *, console, show) -> int:  # noqa: ANN001 - cli's console and _show
    from .cli import EXIT_BOOK, EXIT_OK, EXIT_TOOL, EXIT_USAGE

    verbosity = 0 if args.quiet else 2 if args.verbose else 1
    catalog = gather([str(b) for b in args.books])
    show(catalog.diagnostics, verbosity=verbosity)
    if has_errors(catalog.diagnostics):
        console.print("the catalogue has errors; no book was built", markup=False)
        return EXIT_BOOK
    if not catalog.books:
        console.print("no book to build", markup=False)
        return EXIT_BOOK
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if args.workers and scheduler not in (None, "local"):
        console.print(f"publish build: --workers is for this machine; the cluster at {scheduler} has the workers "
                      "started with 'dask worker'", markup=False)
        return EXIT_USAGE
    workers = args.workers or local_workers(len(catalog.books))
    jobs = plan(catalog.books, args.output, formats=args.format, pdf_profile=args.pdf_profile,
                source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"), clean=args.clean,
                check=TOOLS if args.check else (), strict=args.strict, force=args.force)
    started = time.perf_counter()
    with CatalogueProgress(console, verbosity=verbosity, show=show) as progress:
        try:
            with connect(scheduler, workers=workers, say=progress.say) as client:
                outcomes = run(jobs, client, on_done=progress.done, say=progress.say)
        except CatalogError as failure:
            show([failure.diagnostic])
            return EXIT_TOOL
    grid = table(outcomes, checked=bool(args.check), quiet=args.quiet)
    if console.is_terminal:
        console.print(grid)
    else:  # a log is read in a wider window than the 80 columns rich assumes without a terminal
        narrow, console.width = console.width, max(console.width, LOG_WIDTH)
        try:
            console.print(grid)
        finally:
            console.width = narrow
    return _summary(outcomes, console=console, strict=args.strict, quiet=args.quiet,
                    codes=(EXIT_OK, EXIT_BOOK, EXIT_TOOL), seconds=time.perf_counter() - started)


def _summary(outcomes: Sequence[BookOutcome], *, console, strict: bool, quiet: bool,  # noqa: ANN001
             codes: tuple[int, int, int], seconds: float | None = None) -> int:
    ok, failing, tool = codes
    states = {state: sum(o.state == state for o in outcomes) for state in ("built", "unchanged", "failed", "error", "lost")}
    worthy = [o for o in outcomes if exit_worthy(o, strict=strict)]
    missing = any(not c.ran for o in outcomes for c in o.checks)
    if not quiet or worthy:
        line = ", ".join(f"{n} {state}" for state, n in states.items() if n)
        took = f" in {duration(seconds)}" if seconds is not None else ""
        console.print(f"catalogue: {len(outcomes)} book{'s' * (len(outcomes) != 1)}{took}: {line}"
                      + (f"; {len(worthy)} failing" if worthy else ""), markup=False)
    if strict and any(o.ok and not any(c.errors for c in o.checks) for o in worthy):
        console.print("--strict: books with warnings count as failing", markup=False)
    if worthy:
        return failing
    return tool if missing else ok
