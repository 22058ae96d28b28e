"""What reading Pandoc's tables costs the parse stage, next to Python-Markdown's own and to Pandoc.

    .venv/bin/python benchmarks/tables.py                      # the corpus books, 7 rounds
    .venv/bin/python benchmarks/tables.py --runs 9 BOOK_DIR ...

For each book, every chapter's Markdown is converted by the book's one Markdown instance three
ways, one after another in each round, so a noisy machine slows all alike: with this reader
(`publish.markdown.tables`), with Python-Markdown's `tables` (pipe tables only) in its place, and
by Pandoc 3 (the `pypandoc-binary` executable, one process for the whole book, Markdown to HTML).
It prints the medians, the ratios, and the time of the warnings' scan (`table_problems`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

import pypandoc

from publish.markdown import CONSTRUCTS, Construct, make_markdown
from publish.markdown.tables import table_problems

# $PUBLISH_CORPUS, else beside the checkout, as the tests find it.
CORPUS = Path(os.environ.get("PUBLISH_CORPUS") or Path(__file__).resolve().parents[1].parent / "shared" / "corpus")
BOOKS = ("pride-and-prejudice", "curie-radioaktive-substanzen", "learn-go-with-tests")
PYTHON_MARKDOWN = tuple(Construct("pipe tables", lambda: "tables") if c.name == "tables" else c for c in CONSTRUCTS)


def _timed(work) -> float:  # noqa: ANN001
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("books", nargs="*", type=Path, default=[CORPUS / name for name in BOOKS])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    pandoc = pypandoc.get_pandoc_path()
    print(f"{'book':32} {'words':>8} {'ours':>8} {'P-M tables':>11} {'ratio':>6} {'Pandoc':>8} {'ratio':>6} {'scan':>6}")
    for book in args.books:
        if not book.is_dir():
            raise SystemExit(f"no book folder at {book}: name one, or set PUBLISH_CORPUS")
        texts = [f.read_text(encoding="utf-8") for f in sorted(book.glob("*.md")) + sorted(book.glob("*.txt"))
                 if f.name != "SOURCE.txt"]
        whole = "\n\n".join(texts)
        ours, theirs = make_markdown(), make_markdown(PYTHON_MARKDOWN)

        def convert(md):  # noqa: ANN001, ANN202
            return lambda: [md.reset().convert(text) for text in texts]

        runs: dict[str, list[float]] = {"ours": [], "python-markdown": [], "pandoc": [], "scan": []}
        for _ in range(args.runs):
            runs["ours"].append(_timed(convert(ours)))
            runs["python-markdown"].append(_timed(convert(theirs)))
            runs["pandoc"].append(_timed(lambda: subprocess.run([pandoc, "-f", "markdown", "-t", "html5"], input=whole,
                                                                text=True, capture_output=True, check=True)))
            runs["scan"].append(_timed(lambda: [table_problems(text, book) for text in texts]))
        median = {name: statistics.median(values) for name, values in runs.items()}
        words = sum(len(text.split()) for text in texts)
        print(f"{book.name:32} {words:8d} {median['ours']:7.2f}s {median['python-markdown']:10.2f}s "
              f"{median['ours'] / median['python-markdown']:6.2f} {median['pandoc']:7.2f}s "
              f"{median['ours'] / median['pandoc']:6.2f} {median['scan']:5.2f}s")


if __name__ == "__main__":
    main()
