"""How long does a catalogue take, built as one run, next to building its books one after another?

    .venv/bin/python benchmarks/catalog.py                       # 3 rounds on $PUBLISH_CORPUS or ../shared/corpus
    .venv/bin/python benchmarks/catalog.py --runs 5 --books ../shared/corpus/pride-and-prejudice ...

Ways, each from an empty cache, each a separate command timed from start to exit:

- one after another: `publish build BOOK` for each book in turn (what a press does without a
  catalogue);
- `publish build BOOK... --workers 1` and `--workers 2`: the catalogue on this machine's own
  LocalCluster (its start-up counted);
- `publish build BOOK... --scheduler ADDRESS`: a LocalCluster of two workers started by this
  script before the command (a press's cluster is already up when it builds), restarted empty
  for each round.

Each round runs every way once, back to back, so a noisy machine slows them alike; the table
gives the median of the rounds and the ratio to one after another. The load average is printed
at the start and the end: on a shared machine, quote it with the numbers.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# $PUBLISH_CORPUS, else beside this checkout (as CI places it); pass --books for another.
CORPUS = Path(os.environ.get("PUBLISH_CORPUS") or REPO.parent / "shared" / "corpus")
PUBLISH = Path(sys.executable).with_name("publish")
EPOCH = "1700000000"


def _run(args: list[str], *, cache: Path) -> tuple[float, int]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, PUBLISH_CACHE_DIR=str(cache))
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    started = time.perf_counter()
    proc = subprocess.run([str(PUBLISH), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)
    return time.perf_counter() - started, proc.returncode


def one_after_another(books: list[Path], work: Path) -> tuple[float, int]:
    total, failed = 0.0, 0
    for book in books:
        seconds, code = _run(["build", str(book), "-o", str(work / "out" / book.name), "-q"], cache=work / "cache")
        total += seconds
        failed += code != 0
    return total, failed


def catalogue(books: list[Path], work: Path, *extra: str) -> tuple[float, int]:
    return _run(["build", *map(str, books), "-o", str(work / "out"), "-q", *extra], cache=work / "cache")


def on_cluster(books: list[Path], work: Path) -> tuple[float, int]:
    import dask
    from distributed import LocalCluster

    before = os.environ.get("PUBLISH_CACHE_DIR")
    os.environ["PUBLISH_CACHE_DIR"] = str(work / "cache")  # the workers' own, empty
    try:
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
            return catalogue(books, work, "--scheduler", cluster.scheduler_address)
    finally:
        if before is None:
            os.environ.pop("PUBLISH_CACHE_DIR", None)
        else:
            os.environ["PUBLISH_CACHE_DIR"] = before


WAYS = {
    "one after another": one_after_another,
    "catalogue, 1 local worker": lambda books, work: catalogue(books, work, "--workers", "1"),
    "catalogue, 2 local workers": lambda books, work: catalogue(books, work, "--workers", "2"),
    "catalogue on a LocalCluster (2)": on_cluster,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--books", nargs="*", type=Path,
                        default=sorted(p for p in CORPUS.iterdir() if (p / "book.yaml").is_file()))
    args = parser.parse_args()
    print(f"{len(args.books)} books: {', '.join(b.name for b in args.books)}")
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    failures: dict[str, int] = {}
    for round_ in range(1, args.runs + 1):
        for way, measure in WAYS.items():
            with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
                took, failed = measure(args.books, Path(tmp))
            seconds[way].append(took)
            failures[way] = failed
            print(f"round {round_}: {way}: {took:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = statistics.median(seconds["one after another"])
    print(f"\n| way | median of {args.runs} (s) | runs (s) | ratio to one after another |")
    print("|---|---|---|---|")
    for way, runs in seconds.items():
        median = statistics.median(runs)
        print(f"| {way} | {median:.1f} | {', '.join(f'{r:.1f}' for r in runs)} | {median / base:.2f} |")
    print(f"\nbooks that did not build (the same in every way, or the comparison is void): {failures}")


if __name__ == "__main__":
    main()
