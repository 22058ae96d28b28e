"""What does the full-wrap cover cost, next to the interior it goes with?

    .venv/bin/python benchmarks/covers.py                       # the sample and Pride and Prejudice
    .venv/bin/python benchmarks/covers.py --runs 5 --book ../shared/corpus/pride-and-prejudice

No tool an author would otherwise use makes a cover from the book (Pandoc, Vellum and Atticus
don't), so the peer is the work the cover rides on: the print interior's layout (`pdf.render_pdf`,
the print profile), timed in the same process and round. Each round lays out the interior once
and draws its cover a few times (the first draw of a process parses the cover's stylesheets; the
others reuse them); the table gives medians and the ratio cover / interior, in CPU seconds of this
process (the machine is shared: wall time is printed too) and with the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from publish.manuscript import load_manuscript  # noqa: E402
from publish.parse import parse_book  # noqa: E402
from publish.pdf import render_pdf  # noqa: E402
from publish.wrap import render_wrap  # noqa: E402

# The shared corpus: $PUBLISH_CORPUS, else beside this checkout (as CI has it).
CORPUS = Path(os.environ.get("PUBLISH_CORPUS") or REPO.parent / "shared" / "corpus")


def timed(work) -> tuple[float, float, object]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--covers", type=int, default=3, help="covers drawn per round")
    parser.add_argument("--book", type=Path, action="append")
    args = parser.parse_args()
    books = args.book or [REPO / "manuscript", CORPUS / "pride-and-prejudice"]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'book':28} {'pages':>5} {'interior cpu':>12} {'cover cpu':>10} {'first cover':>11} {'ratio':>7} "
          f"{'interior wall':>13} {'cover wall':>10}")
    for folder in books:
        book = parse_book(load_manuscript(folder))
        book = dataclasses.replace(book, config=dataclasses.replace(book.config, pdf_profile="print"))
        interior_cpu, interior_wall, cover_cpu, cover_wall, first = [], [], [], [], []
        pages = 0
        for _ in range(args.runs):
            wall, cpu, edition = timed(lambda: render_pdf(book, profile="print"))
            interior_cpu.append(cpu)
            interior_wall.append(wall)
            pages = edition.pages  # type: ignore[attr-defined]
            for n in range(args.covers):
                wall, cpu, _ = timed(lambda: render_wrap(book, pages=pages))
                (first if n == 0 and not first else cover_cpu).append(cpu)
                cover_wall.append(wall)
        med = statistics.median
        print(f"{folder.name[:28]:28} {pages:5d} {med(interior_cpu):11.2f}s {med(cover_cpu):9.3f}s {first[0]:10.3f}s "
              f"{med(cover_cpu) / med(interior_cpu):7.1%} {med(interior_wall):12.2f}s {med(cover_wall):9.3f}s")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
