"""The `publish` command: parse arguments, run the pipeline, print diagnostics, choose the exit code.

Exit codes: 0 success; 1 the book has errors (or warnings, with --strict); 2 bad command line;
3 an unexpected internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .diagnostics import BuildFailed, Diagnostic, Severity

EXIT_OK, EXIT_BOOK, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

EXAMPLES = """examples:
  publish build                          build manuscript/ into output/
  publish build ../my-novel -o dist      build another book folder into dist/
  publish build --format epub,pdf        only the EPUB and the PDF
"""


def _formats(value: str) -> tuple[str, ...]:
    from .build import FORMATS

    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or value!r}: choose from {', '.join(FORMATS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="publish", description="Publish a Markdown book folder as EPUB, PDF and a web edition.",
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--version", action="version", version=f"publish {__version__}")
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", help="build the editions of a book", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Build a book folder (book.yaml + Markdown chapters) into an EPUB, a PDF and a web edition.")
    build.add_argument("book_dir", nargs="?", default="manuscript", type=Path, metavar="BOOK_DIR",
                       help="the book folder (default: manuscript)")
    build.add_argument("-o", "--output", default="output", type=Path, metavar="OUT_DIR",
                       help="where the editions are written (default: output)")
    build.add_argument("--format", default="epub,pdf,html", type=_formats, metavar="FORMATS",
                       help="comma-separated editions to build: epub, pdf, html (default: all)")
    build.add_argument("--pdf-profile", choices=("default", "print"), default=None,
                       help="'print' adds bleed and embeds whole fonts for print-on-demand (default: from book.yaml)")
    build.add_argument("--strict", action="store_true", help="treat warnings as errors")
    build.add_argument("--clean", action="store_true",
                       help="make everything afresh, reading nothing from the build cache (which is then refreshed)")
    build.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    return main


def _show(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    for d in diagnostics:
        print(str(d), file=sys.stderr)


def _build(args: argparse.Namespace) -> int:
    from .build import build

    say = (lambda _: None) if args.quiet else (lambda text: print(f"· {text}", file=sys.stderr))
    try:
        result = build(args.book_dir, args.output, formats=args.format, pdf_profile=args.pdf_profile,
                       source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"), progress=say, clean=args.clean)
    except BuildFailed as failure:
        _show(failure.diagnostics)
        errors = sum(d.severity is Severity.ERROR for d in failure.diagnostics)
        print(f"build failed: {errors} error(s); nothing was written", file=sys.stderr)
        return EXIT_BOOK
    _show(result.diagnostics)
    if not args.quiet:
        for path in result.outputs:
            print(f"wrote {path}")
    if args.strict and any(d.severity >= Severity.WARNING for d in result.diagnostics):
        print("--strict: the build has warnings", file=sys.stderr)
        return EXIT_BOOK
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return EXIT_USAGE
    try:
        return {"build": _build}[args.command](args)
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
