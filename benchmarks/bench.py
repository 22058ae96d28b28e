"""How fast is `publish build` at novel length, next to the tools an author would otherwise use?

    .venv/bin/python benchmarks/bench.py                 # 3 rounds on Pride and Prejudice
    .venv/bin/python benchmarks/bench.py --runs 5 --book ../shared/corpus/pride-and-prejudice

Every measurement is a separate process, timed from start to exit; peak memory, of the whole
process tree, is taken in runs of its own, since sampling it slows what it samples. Each round
runs every measurement once, ours and its peer back to back, so a noisy machine slows both
alike; the table gives the median of the rounds and, as the headline, the ratio ours / peer.
Peers:

- EPUB alone: Pandoc 3 (the binary shipped by `pypandoc-binary`) on the same folder;
- full build: the route a careful Pandoc user would take, one step after another: Pandoc EPUB,
  Pandoc HTML with a 6x9 in book stylesheet, WeasyPrint PDF of that HTML;
- PDF stage: WeasyPrint's own command rendering this pipeline's print HTML (`pdf.print_html`)
  with the same stylesheets, PDF variant and tags: the difference is the pipeline's overhead;
- peak memory: that same WeasyPrint command.

Ours always runs with --clean and an empty cache, except the two rebuild measurements, which
are what the cache is for. See docs/performance.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BOOK = REPO.parent / "shared" / "corpus" / "pride-and-prejudice"
EPOCH = "1700000000"
# WeasyPrint's own command with the two fixes our PDF stage makes to pydyf (see pdf.py): the
# peer that shows our overhead alone.
PATCHED_WEASYPRINT = """
import sys
from publish.pdf import speed_up_pydyf
speed_up_pydyf()
from weasyprint.__main__ import main
main(sys.argv[1:])
"""

# The stylesheet a careful Pandoc user would write for a 6x9 in novel: trim size and margins,
# the same embedded typeface, justified and hyphenated text, chapters on a new right-hand page,
# page numbers. Fonts are linked by absolute URL, as the HTML is written elsewhere.
PANDOC_CSS = """
@font-face {{ font-family: "Gentium Book Plus"; src: url("{fonts}/GentiumBookPlus-Regular.ttf"); }}
@font-face {{ font-family: "Gentium Book Plus"; font-style: italic; src: url("{fonts}/GentiumBookPlus-Italic.ttf"); }}
@font-face {{ font-family: "Gentium Book Plus"; font-weight: bold; src: url("{fonts}/GentiumBookPlus-Bold.ttf"); }}
@font-face {{ font-family: "Gentium Book Plus"; font-weight: bold; font-style: italic;
             src: url("{fonts}/GentiumBookPlus-BoldItalic.ttf"); }}
@page {{ size: 6in 9in; margin: 0.75in 0.6in 0.8in 0.75in;
         @bottom-center {{ content: counter(page); font: 9pt "Gentium Book Plus", serif; }} }}
@page :left {{ margin-left: 0.6in; margin-right: 0.75in; }}
html {{ font: 10.5pt/1.38 "Gentium Book Plus", serif; }}
body {{ margin: 0; max-width: none; padding: 0; }}
h1 {{ break-before: right; font-size: 16pt; font-weight: normal; text-align: center; margin: 1.2in 0 0.4in; }}
header h1.title {{ break-before: auto; font-size: 24pt; }}
nav#TOC {{ break-before: right; }}
p {{ margin: 0; text-indent: 1.2em; text-align: justify; hyphens: auto; orphans: 2; widows: 2; }}
h1 + p {{ text-indent: 0; }}
a {{ color: inherit; text-decoration: none; }}
section.footnotes {{ font-size: 8.5pt; }}
"""


@dataclass
class Run:
    seconds: float
    tree_pss_mb: float  # the tree's proportional set size (shared pages split), sampled, at its highest
    tree_rss_mb: float  # the sum of the tree's RSS (shared pages counted in each process), at its highest
    max_process_mb: float  # the largest single process's peak RSS (the kernel's ru_maxrss)


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def pss_mb(self) -> float:
        return statistics.median(r.tree_pss_mb for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return statistics.median(r.tree_rss_mb for r in self.runs)

    @property
    def max_process_mb(self) -> float:
        return statistics.median(r.max_process_mb for r in self.runs)


def measure(commands: list[list[str]], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            memory: bool = False) -> Run:
    """Run `commands` one after another (as a shell script would) and time them together; with
    `memory`, sample the peak memory of their process trees instead. Sampling reads every
    process's page tables fifty times a second, which takes CPU from what is measured, and more
    from a long-lived large process than from a pipeline of small ones: the times come from
    runs that are not sampled."""
    started = time.perf_counter()
    pss_peak = rss_peak = max_process = 0
    for command in commands:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        watched = psutil.Process(process.pid)
        peaks = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                pss = rss = 0
                try:
                    for p in [watched, *watched.children(recursive=True)]:
                        try:
                            info = p.memory_full_info()
                            pss, rss = pss + info.pss, rss + info.rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    pass
                peaks[0], peaks[1] = max(peaks[0], pss), max(peaks[1], rss)
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True) if memory else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        if sampler:
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.returncode != 0:
            raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{stderr[-2000:]}")
        pss_peak, rss_peak = max(pss_peak, peaks[0]), max(rss_peak, peaks[1])
        max_process = max(max_process, usage.ru_maxrss * 1024)  # ru_maxrss is in KiB on Linux
    return Run(time.perf_counter() - started, pss_peak / 2**20, rss_peak / 2**20, max_process / 2**20)


def pandoc_binary() -> str:
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which("pandoc")
        if not found:
            raise SystemExit("Pandoc not found: install the dev extras (pypandoc-binary)") from None
        return found


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    os_name = platform.platform(terse=True)
    try:
        os_name = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                       if "=" in line)["PRETTY_NAME"].strip('"')
    except (OSError, KeyError):
        pass
    return (f"{os_name}, {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}; "
            f"load average at start {os.getloadavg()[0]:.2f}")


def print_html_for(book_dir: Path, pdf_path: Path, out: Path) -> Path:
    """The exact HTML our PDF stage gave WeasyPrint: margins follow the page count it settled on."""
    from pypdf import PdfReader

    from publish.manuscript import load_manuscript
    from publish.parse import parse_book
    from publish.pdf import margins_for, print_html

    book = parse_book(load_manuscript(book_dir), source_date_epoch=EPOCH)
    pages = len(PdfReader(pdf_path).pages)
    out.write_text(print_html(book, margins=margins_for(book.config, pages), bleed=None), encoding="utf-8")
    return out


def touch_chapter(book: Path, round_number: int) -> None:
    """Edit one chapter in the middle of the book, differently each round, as an author would."""
    chapter = sorted(book.glob("*.md"))[len(list(book.glob("*.md"))) // 2]
    text = chapter.read_text(encoding="utf-8").rstrip("\n").rsplit("\n\nEdited in round", 1)[0]
    chapter.write_text(f"{text}\n\nEdited in round {round_number}.\n", encoding="utf-8")


def imports_of_no_change_rebuild(publish: list[str], book: Path, out: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", *publish[1:], "build", str(book), "-o", str(out), "-q"],
                          env=env, capture_output=True, text=True, check=True)
    heavy = ("weasyprint", "ebooklib", "markdown")
    return sorted({line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                   if line.startswith("import time:") and line.split("|")[-1].strip().split(".")[0] in heavy})


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--book", type=Path, default=DEFAULT_BOOK, help="the book folder (default: Pride and Prejudice)")
    options.add_argument("--runs", type=int, default=3, help="rounds; the table shows medians (default: 3)")
    args = options.parse_args()

    pandoc = pandoc_binary()
    python = sys.executable
    publish = [python, "-m", "publish.cli"]
    weasyprint = [python, "-m", "weasyprint"]
    work = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    book = work / "book"
    shutil.copytree(args.book, book)
    for path in book.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    chapters = sorted(p.name for p in book.glob("*.md"))
    base_env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    (work / "book-6x9.css").write_text(PANDOC_CSS.format(fonts=(REPO / "styles" / "fonts").as_uri()), encoding="utf-8")
    styles = REPO / "styles"

    def env_with(cache: Path) -> dict[str, str]:
        return {**base_env, "PUBLISH_CACHE_DIR": str(cache)}

    def fresh_cache() -> Path:
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
        return cache

    print(f"machine: {machine()}", flush=True)
    print(f"book: {args.book} ({len(chapters)} chapters); pandoc {pandoc}; {args.runs} rounds", flush=True)

    results: dict[str, Series] = {name: Series() for name in (
        "epub", "pandoc-epub", "full", "pandoc-route", "pdf", "weasyprint", "weasyprint-fixed", "no-change", "one-chapter",
        "one-chapter-full", "full-memory", "pdf-memory", "weasyprint-memory")}
    print_html_path = None
    for round_number in range(1, args.runs + 1):
        print(f"round {round_number}/{args.runs} …", flush=True)
        out = work / f"out-{round_number}"

        results["pandoc-epub"].runs.append(measure(
            [[pandoc, "--metadata-file", "book.yaml", *chapters, "-o", str(out / "pandoc.epub")]], cwd=book))
        results["epub"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "epub"), "--format", "epub", "--clean", "-q"]],
            env=env_with(fresh_cache())))

        results["full"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "full"), "--clean", "-q"]], env=env_with(fresh_cache())))
        results["pandoc-route"].runs.append(measure([
            [pandoc, "--metadata-file", "book.yaml", *chapters, "-o", str(out / "pandoc.epub")],
            [pandoc, "--metadata-file", "book.yaml", *chapters, "-s", "--toc", "-c", str(work / "book-6x9.css"),
             "-o", str(out / "pandoc.html")],
            [*weasyprint, str(out / "pandoc.html"), str(out / "pandoc.pdf")],
        ], cwd=book))

        results["pdf"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "pdf"), "--format", "pdf", "--clean", "-q"]],
            env=env_with(fresh_cache())))
        if print_html_path is None:
            print_html_path = print_html_for(book, next((out / "pdf").glob("*.pdf")), work / "print.html")
        weasyprint_args = [str(print_html_path), str(out / "weasyprint.pdf"), "-u", book.as_uri() + "/",
                           *[a for name in ("fonts.css", "book.css", "print.css") for a in ("-s", str(styles / name))],
                           "--pdf-variant", "pdf/ua-1", "--pdf-tags"]
        results["weasyprint"].runs.append(measure([[*weasyprint, *weasyprint_args]]))
        results["weasyprint-fixed"].runs.append(measure([[python, "-c", PATCHED_WEASYPRINT, *weasyprint_args]]))

        # Peak memory, in runs of their own (see `measure`).
        results["full-memory"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "full"), "--clean", "-q"]], env=env_with(fresh_cache()),
            memory=True))
        results["pdf-memory"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "pdf"), "--format", "pdf", "--clean", "-q"]],
            env=env_with(fresh_cache()), memory=True))
        results["weasyprint-memory"].runs.append(measure([[*weasyprint, *weasyprint_args]], memory=True))

        # The rebuilds: a warm cache, as an author has after the first build of the day.
        cache = fresh_cache()
        measure([[*publish, "build", str(book), "-o", str(out / "warm"), "-q"]], env=env_with(cache))
        results["no-change"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "warm"), "-q"]], env=env_with(cache)))
        touch_chapter(book, round_number)
        results["one-chapter"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "warm"), "--format", "epub,html", "-q"]], env=env_with(cache)))
        results["one-chapter-full"].runs.append(measure(
            [[*publish, "build", str(book), "-o", str(out / "warm"), "-q"]], env=env_with(cache)))
        if round_number == 1:
            heavy = imports_of_no_change_rebuild(publish, book, out / "warm", env_with(cache))
        shutil.rmtree(out, ignore_errors=True)

    r = results
    rows = [
        ("EPUB alone (clean)", r["epub"].seconds, "Pandoc 3 EPUB", r["pandoc-epub"].seconds, "≤ 1.0"),
        ("full build: EPUB + PDF + HTML (clean)", r["full"].seconds, "Pandoc EPUB + HTML, WeasyPrint PDF",
         r["pandoc-route"].seconds, "≤ 1.0"),
        ("PDF stage: --format pdf (clean)", r["pdf"].seconds, "WeasyPrint on our print HTML", r["weasyprint"].seconds,
         "≤ 1.10"),
        ("PDF stage: --format pdf (clean)", r["pdf"].seconds, "the same, with our pydyf fixes",
         r["weasyprint-fixed"].seconds, "≤ 1.10"),
        ("rebuild, nothing changed", r["no-change"].seconds, "", None, "≤ 0.5 s"),
        ("rebuild, one chapter edited: EPUB + HTML", r["one-chapter"].seconds, "", None, "≤ 1 s"),
        ("rebuild, one chapter edited: all three", r["one-chapter-full"].seconds, "Pandoc route, again",
         r["pandoc-route"].seconds, ""),
    ]
    print()
    print(f"machine: {machine().split('; load')[0]}; load average at end {os.getloadavg()[0]:.2f}")
    print(f"medians of {args.runs} rounds; wall-clock seconds; ratio = ours / peer")
    print()
    print(f"| {'measure':<42} | {'ours':>7} | {'peer':<36} | {'peer s':>7} | {'ratio':>6} | {'target':<7} |")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 38}|{'-' * 9}|{'-' * 8}|{'-' * 9}|")
    for name, ours, peer_name, peer, target in rows:
        ratio = f"{ours / peer:.2f}" if peer else ""
        peer_text = f"{peer:.2f}" if peer else ""
        print(f"| {name:<42} | {ours:>7.2f} | {peer_name:<36} | {peer_text:>7} | {ratio:>6} | {target:<7} |")
    full, alone, pdf_stage = r["full-memory"], r["weasyprint-memory"], r["pdf-memory"]
    print()
    print("peak memory of the whole process tree, MiB: PSS (shared pages split between the processes that share")
    print("them) is the headline; the sum of RSS (shared pages counted once per process) and the largest single")
    print("process's peak RSS are shown beside it")
    print(f"| {'measure':<30} | {'PSS':>5} | {'RSS sum':>7} | {'largest':>7} | {'WeasyPrint alone PSS':>20} | {'ratio':>5} | {'target':<6} |")
    print(f"|{'-' * 32}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 22}|{'-' * 7}|{'-' * 8}|")
    for name, series in (("full build (clean)", full), ("PDF stage (clean)", pdf_stage)):
        print(f"| {name:<30} | {series.pss_mb:>5.0f} | {series.rss_mb:>7.0f} | {series.max_process_mb:>7.0f} | "
              f"{alone.pss_mb:>20.0f} | {series.pss_mb / alone.pss_mb:>5.2f} | {'≤ 1.2':<6} |")
    print(f"(WeasyPrint alone: RSS {alone.rss_mb:.0f} MiB; RSS-sum ratios: full build "
          f"{full.rss_mb / alone.rss_mb:.2f}, PDF stage {pdf_stage.rss_mb / alone.rss_mb:.2f})")
    print()
    print(f"the no-change rebuild imported: {', '.join(heavy) or 'none of weasyprint, ebooklib, markdown'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
