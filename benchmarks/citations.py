"""What do citations cost? The book-wide citation step next to Pandoc doing the same job.

    .venv/bin/python benchmarks/citations.py                 # 5 rounds on curie
    .venv/bin/python benchmarks/citations.py --runs 9 --book ../shared/corpus/curie-radioaktive-substanzen

Each round times, back to back so a noisy machine slows them alike:

- ours, citations: `publish.citations.resolve_citations` over the book's already converted
  chapters (what a build or a preview save pays for its citations: collecting them, one Pandoc
  citeproc run over the citations alone, putting the results in place);
- ours, the same again with the citations unchanged (a preview save that touched none: Pandoc's
  run is remembered, by everything it reads);
- ours, whole parse: `parse_book` with every chapter converted afresh;
- peer: `pandoc --citeproc -t html` over the book's Markdown with the same bibliography, style and
  language (Pandoc parses the whole text too, so compare it with the whole parse).

The table gives medians and the ratios; quote them with the load average it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from publish import citations
from publish.citations import pandoc_path, resolve_citations
from publish.manuscript import load_manuscript
from publish.parse import chapter_html, parse_book

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import _corpus  # noqa: E402 - the corpus as the tests find it, from any clone

CURIE = _corpus() / "curie-radioaktive-substanzen"


def _timed(job) -> float:  # noqa: ANN001
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=CURIE)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    manuscript = load_manuscript(args.book)
    htmls = [chapter_html(s.text) for s in manuscript.sources]
    settings = manuscript.config.citations
    pandoc = [str(pandoc_path()), "--citeproc", "--from=markdown", "--to=html", f"--metadata=lang:{manuscript.config.lang}",
              *[f"--bibliography={b}" for b in settings.bibliography], *([f"--csl={settings.csl}"] if settings.csl else []),
              *[str(s.path) for s in manuscript.sources]]
    times: dict[str, list[float]] = {"citations": [], "again": [], "parse": [], "pandoc": []}
    for _ in range(args.runs):
        citations._RUNS.clear()
        times["citations"].append(_timed(lambda: resolve_citations(manuscript, manuscript.sources, htmls, [])))
        times["again"].append(_timed(lambda: resolve_citations(manuscript, manuscript.sources, htmls, [])))
        citations._RUNS.clear()
        times["parse"].append(_timed(lambda: parse_book(manuscript, cache={})))
        times["pandoc"].append(_timed(lambda: subprocess.run(pandoc, cwd=args.book, capture_output=True, check=True)))
    median = {name: statistics.median(values) for name, values in times.items()}
    marks = sum(html.count('class="citation"') for html in htmls)
    print(f"{args.book.name}: {marks} citations, {len(manuscript.sources)} file(s), {args.runs} rounds, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"  ours, citation step         {median['citations']:6.3f} s")
    print(f"  … again, citations unchanged {median['again']:5.3f} s  (a preview save elsewhere in the text)")
    print(f"  ours, whole parse           {median['parse']:6.3f} s")
    print(f"  pandoc --citeproc to HTML   {median['pandoc']:6.3f} s")
    print(f"  citation step / whole parse {median['citations'] / median['parse']:6.2f}")
    print(f"  whole parse / pandoc        {median['parse'] / median['pandoc']:6.2f}")


if __name__ == "__main__":
    main()
