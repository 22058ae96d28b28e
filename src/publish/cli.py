"""The `publish` command: parse arguments, run the pipeline, print diagnostics, choose the exit code.

Exit codes: 0 success; 1 the book has errors (or warnings, with --strict; in a catalogue: any
book); 2 bad command line; 3 an unexpected internal error (a bug: please report it); 4 `check`
could not run a validator (EPUBCheck or Ace is not installed, or stopped without a report), or a
catalogue's Dask scheduler could not be reached.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from . import __version__
from .diagnostics import BuildFailed, Diagnostic, Severity, error

EXIT_OK, EXIT_BOOK, EXIT_USAGE, EXIT_BUG, EXIT_TOOL = 0, 1, 2, 3, 4

EXAMPLES = """examples:
  publish build                          build manuscript/ into output/
  publish build ../my-novel -o dist      build another book folder into dist/
  publish build --format epub,pdf        only the EPUB and the PDF
  publish build --edition paperback      one edition of book.yaml's editions: its PDF and cover
  publish build --pdf-profile print      the print-on-demand PDF and its full-wrap cover

A build writes all its outputs or none. It replaces only what an earlier build wrote (listed in
OUT_DIR/.publish-outputs.json): anything else in the way is an error, unless --force.

catalogues (many books; each into OUT_DIR/<slug>/, see docs/catalog.md):
  publish build novel-a novel-b          two books, side by side on this machine's cores
  publish build 'books/*' --check        every book folder under books/, then EPUBCheck and Ace
  publish build catalog.yaml             the books of a catalogue, with its shared settings
  publish build catalog.yaml --scheduler tcp://10.0.0.5:8786   on a Dask cluster

exit codes: 0 built; 1 a book has errors (or warnings, with --strict); 2 bad command line;
3 a bug in publish; 4 the Dask scheduler could not be reached
"""
MAIN_EXAMPLES = """examples:
  publish new my-novel                   start a book: book.yaml, a sample chapter, images/
  publish preview my-novel               read it in the browser as you write
  publish check my-novel                 find what needs fixing: lint, EPUBCheck, Ace
  publish build my-novel                 make the EPUB, the PDF and the web edition
"""
NEW_EXAMPLES = """examples:
  publish new my-novel                   a book titled "My Novel" in my-novel/
  publish new essays --title "On Drums"  choose the title
"""
PREVIEW_EXAMPLES = """examples:
  publish preview                        serve manuscript/ at http://127.0.0.1:8000/
  publish preview my-novel --port 8080   another book, another port
  publish preview my-novel --open        and open it in the browser

Saving a chapter rebuilds the page and reloads the browser; errors show in the page. The print
edition is laid out after the web edition, in the background, and shown at /__publish__/print.
"""
CHECK_EXAMPLES = """examples:
  publish check                          lint manuscript/, then EPUBCheck and Ace on its EPUB
  publish check my-novel --strict        fail on warnings too
  publish check my-novel --skip ace      leave out a validator (epubcheck, ace, covers)
  publish check my-novel --store kdp     only Kindle Direct Publishing's rules (default: all four stores)
  publish check output/book.epub         only the validators and the stores' rules, on any EPUB

exit codes:
  0  no errors (warnings are listed but pass, unless --strict)
  1  errors found (or, with --strict, warnings)
  2  bad command line
  3  internal error: a bug in publish
  4  a validator could not run (not installed, or stopped without a report)
"""

_console: Console | None = None


def console() -> Console:
    """Everything the CLI says goes to stderr, so stdout stays for what a script might read."""
    global _console
    if _console is None:
        _console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _console


class Progress:
    """Shows each stage of long work: a spinner on a terminal, a line each in a log.

    `--quiet` shows nothing; `--verbose` adds how long each stage took.
    """

    def __init__(self, *, verbosity: int):
        self.verbosity = verbosity
        self._status = None
        self._stage: tuple[str, float] | None = None

    def __call__(self, text: str) -> None:
        self._finish()
        self._stage = (text, time.perf_counter())
        if self.verbosity == 0:
            return
        if console().is_terminal:
            if self._status is None:
                self._status = console().status(text)
                self._status.start()
            else:
                self._status.update(text)
        elif self.verbosity == 1:
            console().print(f"· {text}", markup=False)

    def _finish(self) -> None:
        if self._stage is not None and self.verbosity >= 2:
            text, started = self._stage
            console().print(f"✓ {text} ({time.perf_counter() - started:.2f} s)", markup=False)
        self._stage = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self._finish()
        if self._status is not None:
            self._status.stop()
            self._status = None


def _formats(value: str) -> tuple[str, ...]:
    from .build import FORMATS

    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or value!r}: choose from {', '.join(FORMATS)}")
    return chosen


def _common() -> argparse.ArgumentParser:
    """The options every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    loudness.add_argument("-v", "--verbose", action="store_true", help="say more: stage timings, every request")
    return common


def _verbosity(args: argparse.Namespace) -> int:
    return 0 if args.quiet else 2 if args.verbose else 1


def _tools(value: str) -> tuple[str, ...]:
    from .check import TOOLS

    chosen = tuple(v.strip().lower() for v in value.split(",") if v.strip())
    unknown = [v for v in chosen if v not in TOOLS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown validator {', '.join(unknown)}: choose from {', '.join(TOOLS)}")
    return chosen


def _stores(value: str) -> tuple[str, ...]:
    from .stores import STORES

    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    if chosen == ("none",):
        return ()
    unknown = [v for v in chosen if v not in STORES]
    if unknown or not chosen:
        shown = ', '.join(unknown) if unknown else repr(value)
        raise argparse.ArgumentTypeError(f"unknown store {shown}: choose from {', '.join(STORES)}, or none")
    return chosen


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0-65535; 0 picks a free one)")
    return int(value)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="publish", description="Publish a Markdown book folder as EPUB, PDF and a web edition.",
                                   epilog=MAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--version", action="version", version=f"publish {__version__}")
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    common = _common()
    _new_parser(commands, common)
    _preview_parser(commands, common)
    _check_parser(commands, common)
    build = commands.add_parser("build", help="build the editions of a book", epilog=EXAMPLES, parents=[common],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Build a book folder (book.yaml + Markdown chapters) into an EPUB, a PDF and a web edition.")
    build.add_argument("books", nargs="*", default=[Path("manuscript")], type=Path, metavar="BOOK_DIR",
                       help="a book folder (default: manuscript); several, a quoted pattern such as 'books/*', "
                            "or a catalog.yaml build a catalogue")
    build.add_argument("-o", "--output", default="output", type=Path, metavar="OUT_DIR",
                       help="where the editions are written (default: output)")
    build.add_argument("--format", default="epub,pdf,html", type=_formats, metavar="FORMATS",
                       help="comma-separated editions to build: epub, pdf, html (default: all)")
    build.add_argument("--pdf-profile", choices=("default", "print"), default=None,
                       help="'print' adds bleed and embeds whole fonts for print-on-demand (default: from book.yaml)")
    build.add_argument("--edition", metavar="NAME",
                       help="build only this edition of book.yaml's 'editions:' (default: every edition)")
    build.add_argument("--strict", action="store_true", help="treat warnings as errors: then nothing is written")
    build.add_argument("--force", action="store_true",
                       help="replace files and folders in OUT_DIR that are in the way of an output although "
                            "publish did not make them (it names each one it replaced)")
    build.add_argument("--clean", action="store_true",
                       help="make everything afresh, reading nothing from the build cache (which is then refreshed)")
    catalogue = build.add_argument_group("catalogues", "several books at once, each into OUT_DIR/<slug>/")
    catalogue.add_argument("--scheduler", metavar="ADDRESS",
                           help="build on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786; default: "
                                "$DASK_SCHEDULER_ADDRESS), or 'local' for a cluster on this machine (the default)")
    catalogue.add_argument("--workers", type=_count_of("workers"), metavar="N",
                           help="books built at once on this machine (default: as many as its cores and memory allow)")
    catalogue.add_argument("--check", action="store_true",
                           help="run EPUBCheck and DAISY Ace on each book's EPUB (on the workers)")
    return main


def _count_of(what: str):  # noqa: ANN202 - an argparse type
    def count(value: str) -> int:
        if not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of {what} (1 or more)")
        return int(value)

    return count


def _new_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    new = commands.add_parser("new", help="start a new book folder", epilog=NEW_EXAMPLES, parents=[common],
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Create a book folder that builds at once: book.yaml with every key "
                                          "explained, a sample chapter showing the Markdown a book can use, and images/.")
    new.add_argument("book_dir", type=Path, metavar="DIR", help="the folder to create (new, or empty)")
    new.add_argument("--title", help="the book's title (default: from the folder's name)")


# publish.preview.DEFAULT_PORT (a test keeps them equal): importing that module here would bring
# the Markdown parser and a web server into every command, a fifth of a no-change rebuild's time.
DEFAULT_PORT = 8000


def _preview_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    preview = commands.add_parser("preview", help="serve the web edition and reload it as you write",
                                  epilog=PREVIEW_EXAMPLES, parents=[common],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  description="Serve a book's web edition on this computer only (127.0.0.1), "
                                              "rebuild it when a file is saved, and reload the open page.")
    preview.add_argument("book_dir", nargs="?", default="manuscript", type=Path, metavar="BOOK_DIR",
                         help="the book folder (default: manuscript)")
    preview.add_argument("-p", "--port", type=_port, default=DEFAULT_PORT,
                         help=f"the port to listen on (default: {DEFAULT_PORT}; 0 picks a free one)")
    preview.add_argument("--open", action="store_true", help="open the page in the web browser")
    preview.add_argument("--no-print", action="store_true",
                         help="do not lay out the print edition after each save (it is shown at /__publish__/print)")


def _check_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser("check", help="lint a book and validate its EPUB (EPUBCheck, Ace)",
                                epilog=CHECK_EXAMPLES, parents=[common],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Find every problem in a book at once: broken links and anchors, missing "
                                            "images and alt text, skipped heading levels, empty chapters, straight "
                                            "quotes; then run EPUBCheck, DAISY Ace and the stores' rules (Kindle, "
                                            "Apple Books, Kobo, Google Play Books) on the EPUB publish build makes of it.")
    check.add_argument("target", nargs="?", default="manuscript", type=Path, metavar="BOOK_DIR|FILE.epub",
                       help="a book folder (default: manuscript), or an EPUB file to validate")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--skip", type=_tools, default=(), metavar="TOOLS",
                       help="comma-separated validators to leave out: epubcheck, ace, covers (the PDFs: "
                            "fonts embedded; each print edition's interior and cover as its service checks them)")
    check.add_argument("--store", type=_stores, default=None, metavar="STORES",
                       help="comma-separated stores whose rules to check: kdp, apple, kobo, google (default: all), or none")


def _show(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic], *, verbosity: int = 1) -> None:
    styles = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
    for d in diagnostics:
        if d.severity is Severity.INFO and verbosity == 0:
            continue
        where = d.location()
        # One Text, printed whole: nothing in it is read as markup, and a progress bar redrawn
        # between two prints cannot split the line.
        console().print(Text.assemble(f"{where}: " if where else "", (d.severity.name.lower(), styles[d.severity]),
                                      f" {d.code}: {d.message}"))
        if d.hint:
            console().print(f"    hint: {d.hint}", markup=False, style="dim")


def _count(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def _new(args: argparse.Namespace) -> int:
    from .scaffold import new_book

    try:
        written = new_book(args.book_dir, title=args.title)
    except BuildFailed as failure:
        _show(failure.diagnostics)
        return EXIT_BOOK
    if args.verbose:
        for path in written:
            console().print(f"wrote {path}", markup=False)
    if not args.quiet:
        folder = str(args.book_dir)
        console().print(f"Created the book folder {folder}/. Next:\n"
                        f"  publish preview {folder}   read it in the browser as you write\n"
                        f"  publish check {folder}     find what needs fixing\n"
                        f"  publish build {folder}     make the EPUB, PDF and web edition", markup=False)
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    from .preview import PreviewServer, PrintEdition, Site

    verbosity = _verbosity(args)
    if not args.book_dir.is_dir():
        _show([error("book-missing", f"the book folder '{args.book_dir}' does not exist", file=args.book_dir,
                     hint="pass the folder holding book.yaml, or create one with 'publish new DIR'")])
        return EXIT_BOOK

    def on_build(site: Site) -> None:
        if site.failed:
            _show(site.diagnostics, verbosity=verbosity)
            console().print(f"[red]build {site.generation} failed[/]: {_count(site.diagnostics)}; "
                            "the page shows them, and reloads when you save a fix")
            return
        _show([d for d in site.diagnostics if d.severity >= Severity.WARNING], verbosity=verbosity)
        if verbosity and site.generation > 1:
            names = ", ".join(p.name for p in site.changed[:3]) + (" …" if len(site.changed) > 3 else "")
            console().print(f"[green]rebuilt[/] in {site.seconds * 1000:.0f} ms after {names} changed "
                            f"({site.converted} chapter{'s' * (site.converted != 1)} re-parsed)")

    def on_print(state: PrintEdition) -> None:
        if state.failed:
            _show(state.diagnostics, verbosity=verbosity)
            console().print(f"[red]the print edition could not be laid out[/]: {_count(state.diagnostics)}")
        elif verbosity and state.pdf is not None:
            console().print(f"[green]print edition[/] of build {state.built_for} laid out in {state.seconds:.1f} s")

    say = (lambda line: console().print(line, markup=False, style="dim")) if args.verbose else (lambda _: None)
    try:
        with Progress(verbosity=verbosity) as progress:
            progress("preview: first build")
            server = PreviewServer(args.book_dir, port=args.port, on_build=on_build, log=say,
                                   source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"),
                                   print_edition=not args.no_print, on_print=on_print)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        console().print(f"publish preview: port {args.port} is in use; "
                        f"try --port {args.port + 1}, or --port 0 for any free port", markup=False)
        return EXIT_BOOK
    with server:
        if not args.quiet:
            console().print(f"Serving [bold]{args.book_dir}[/] at [link={server.url}]{server.url}[/link] "
                            "(this computer only). Press Ctrl-C to stop.")
            if not args.no_print:
                console().print(f"The print edition, laid out after each save: [link={server.print_url}]{server.print_url}[/link]")
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    if not args.quiet:
        console().print("stopped")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from .check import TOOLS, check_book, check_epub
    from .stores import STORES

    tools = tuple(t for t in TOOLS if t not in args.skip)
    stores = STORES if args.store is None else args.store
    verbosity = _verbosity(args)
    try:
        with Progress(verbosity=verbosity) as progress:
            if args.target.suffix.lower() == ".epub":
                report = check_epub(args.target, tools=tools, stores=stores, progress=progress)
            else:
                report = check_book(args.target, tools=tools, stores=stores, progress=progress,
                                    source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"))
    except BuildFailed as failure:  # a validator timed out or crashed: not the book's fault
        _show(failure.diagnostics)
        return EXIT_TOOL
    _show(report.diagnostics, verbosity=verbosity)
    errors = any(d.severity is Severity.ERROR and d.code != "tool-missing" for d in report.diagnostics)
    warnings = any(d.severity is Severity.WARNING for d in report.diagnostics)
    if not args.quiet or errors or warnings or report.missing:
        console().print(f"check ({', '.join(report.ran) or 'nothing'}): {_count(report.diagnostics)}"
                        + (f"; not run: {', '.join(report.missing)}" if report.missing else ""), markup=False)
    if errors:
        return EXIT_BOOK
    if report.missing:
        return EXIT_TOOL
    if args.strict and warnings:
        console().print("--strict: the book has warnings", markup=False)
        return EXIT_BOOK
    return EXIT_OK


def _is_catalogue(args: argparse.Namespace) -> bool:
    """A catalogue: several books, a pattern, a catalog.yaml, or an option only catalogues have."""
    if len(args.books) != 1 or args.scheduler or args.workers or args.check:
        return True
    from .catalog import is_catalog_file, is_glob

    target = args.books[0]
    return is_catalog_file(target) or (not target.exists() and is_glob(str(target)))


def _build_catalogue(args: argparse.Namespace) -> int:
    from .catalog_cli import build_catalogue

    return build_catalogue(args, console=console(), show=_show)


def _build(args: argparse.Namespace) -> int:
    from .build import build

    if _is_catalogue(args):
        return _build_catalogue(args)
    args.book_dir = args.books[0]
    try:
        with Progress(verbosity=_verbosity(args)) as say:
            result = build(args.book_dir, args.output, formats=args.format, pdf_profile=args.pdf_profile,
                           source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"), progress=say,
                           clean=args.clean, strict=args.strict, force=args.force, edition=args.edition)
    except BuildFailed as failure:
        _show(failure.diagnostics)
        errors = sum(d.severity is Severity.ERROR for d in failure.diagnostics)
        if any(d.code == "write-incomplete" for d in failure.diagnostics):
            outcome = "the output folder is part-written, as said above"
        else:
            outcome = "nothing was written"
        print(f"build failed: {errors} error(s); {outcome}", file=sys.stderr)
        return EXIT_BOOK
    _show(result.diagnostics)
    if not args.quiet:
        for path in result.outputs:
            print(f"wrote {path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return EXIT_USAGE
    try:
        return {"new": _new, "preview": _preview, "check": _check, "build": _build}[args.command](args)
    except KeyboardInterrupt:
        print("interrupted; outputs already in place were left untouched", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches a user
        print(f"publish: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in publish, not in your book. Run with PUBLISH_DEBUG=1 for details.", file=sys.stderr)
        if os.environ.get("PUBLISH_DEBUG"):
            raise
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
