"""What highlighting code costs: the parse stage of the corpus's code books, three ways, with Pandoc
beside it doing the same with and without its own highlighter.

    .venv/bin/python benchmarks/code.py                  # 5 rounds on the three code books
    .venv/bin/python benchmarks/code.py --runs 9 --pdf   # and the print edition, highlighted or not

Each round converts every chapter of a book (one Markdown instance per book, as the build does):

- stock: Python-Markdown's own `fenced_code` in place of publish.markdown.code (what main had);
- plain: publish.markdown.code with no lexer found, so every block is set as plain lines;
- highlighted: publish.markdown.code as it ships (Pygments lexers made once per language).

Pandoc converts the same files to HTML in one process, with and without `--syntax-highlighting`.
With `--pdf`, the print edition is laid out from each of the three (WeasyPrint is most of a build,
and every line and token is a box it lays out), timed in CPU seconds. Medians of the rounds; the machine is shared, so
every figure is CPU seconds (of this process, or of Pandoc's), and the ratios measured in one
run are what to compare; quote `uptime`'s load with them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import _corpus  # noqa: E402 - the tests' way to find the corpus from any clone

CORPUS = _corpus()
BOOKS = ("learn-go-with-tests", "vulkan-tutorial-fr", "functional-light-js")

from publish import markdown as registry  # noqa: E402
from publish.manuscript import load_manuscript  # noqa: E402
from publish.markdown import code  # noqa: E402
from publish.parse import chapter_html  # noqa: E402


@contextlib.contextmanager
def no_lexers() -> Iterator[None]:
    saved = code.lexer
    code.lexer = lambda language: None  # type: ignore[assignment]
    try:
        yield
    finally:
        code.lexer = saved


def stock_constructs() -> tuple[registry.Construct, ...]:
    return tuple(registry.Construct(c.name, lambda: "fenced_code") if c.name == "fenced code" else c
                 for c in registry.CONSTRUCTS)


def parse_seconds(texts: list[str], constructs: tuple[registry.Construct, ...]) -> float:
    md = registry.make_markdown(constructs)
    start = time.process_time()
    for text in texts:
        chapter_html(text, md=md)
    return time.process_time() - start


def pandoc_seconds(files: list[Path], *, highlight: bool) -> float:
    import pypandoc

    command = [pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "html", "-o", os.devnull,
               "--syntax-highlighting=" + ("default" if highlight else "none"), *map(str, files)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pdf_seconds(book: Path, way: str) -> float:
    """The print edition laid out from a book parsed in this process (the build parses in a worker,
    which would not see `no_lexers`), its markup made `way`. A book that does not build yet (see
    issue 10) gives nan."""
    from publish import parse
    from publish.diagnostics import BuildFailed
    from publish.plan import render_pdf

    with contextlib.ExitStack() as stack:
        if way == "plain":
            stack.enter_context(no_lexers())
        made = parse.make_markdown
        if way == "stock":
            parse.make_markdown = lambda: registry.make_markdown(stock_constructs())  # type: ignore[assignment]
        try:
            parsed = parse.parse_book(load_manuscript(book), source_date_epoch="1700000000")
        except BuildFailed:
            return float("nan")
        finally:
            parse.make_markdown = made
    start = time.process_time()
    render_pdf(parsed, profile=None, glyph_check=None)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pdf", action="store_true", help="also lay out the print edition, highlighted and plain")
    parser.add_argument("books", nargs="*", default=BOOKS)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores; medians of {args.runs} rounds\n")
    header = (f"{'book':22} {'blocks':>6} {'lines':>6} | {'stock':>7} {'plain':>7} {'highlighted':>11} "
              f"{'cost':>6} | {'pandoc':>7} {'pandoc hl':>9} {'cost':>6}")
    print(header)
    print("-" * len(header))
    stock = stock_constructs()
    for name in args.books:
        manuscript = load_manuscript(CORPUS / name)
        texts = [source.text for source in manuscript.sources]
        html = "".join(chapter_html(text) for text in texts)
        blocks, lines = html.count("<pre"), html.count("<span>") + html.count('<span class="ln">')
        rounds: dict[str, list[float]] = {k: [] for k in ("stock", "plain", "highlighted", "pandoc", "pandoc hl")}
        files = [manuscript.root / source.path for source in manuscript.sources]
        for _ in range(args.runs):
            rounds["stock"].append(parse_seconds(texts, stock))
            with no_lexers():
                rounds["plain"].append(parse_seconds(texts, registry.CONSTRUCTS))
            rounds["highlighted"].append(parse_seconds(texts, registry.CONSTRUCTS))
            rounds["pandoc"].append(pandoc_seconds(files, highlight=False))
            rounds["pandoc hl"].append(pandoc_seconds(files, highlight=True))
        m = {k: statistics.median(v) for k, v in rounds.items()}
        print(f"{name:22} {blocks:6d} {lines:6d} | {m['stock']:6.2f}s {m['plain']:6.2f}s {m['highlighted']:10.2f}s "
              f"{m['highlighted'] / m['plain']:5.2f}x | {m['pandoc']:6.2f}s {m['pandoc hl']:8.2f}s "
              f"{m['pandoc hl'] / m['pandoc']:5.2f}x")
    print(f"\nlexers made: {code.lexer.cache_info().currsize} ({code.lexer.cache_info().hits} look-ups served from the cache)")
    if args.pdf:
        # CPU seconds of this process: WeasyPrint runs on one core, and the wall clock of a shared
        # machine says more about the neighbours.
        print(f"\n{'book':22} | {'PDF stock':>9} {'plain':>7} {'highlighted':>11} {'cost':>6}  (CPU seconds)")
        for name in args.books:
            m = {way: statistics.median(pdf_seconds(CORPUS / name, way) for _ in range(max(1, args.runs // 3)))
                 for way in ("stock", "plain", "highlighted")}
            print(f"{name:22} | {m['stock']:8.1f}s {m['plain']:6.1f}s {m['highlighted']:10.1f}s "
                  f"{m['highlighted'] / m['stock']:5.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
