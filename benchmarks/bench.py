"""How fast is `publish build` at novel length, next to the tools an author would otherwise use?

    .venv/bin/python benchmarks/bench.py                 # 3 rounds on every corpus book of 30k+ words
    .venv/bin/python benchmarks/bench.py --runs 1 --book ../shared/corpus/pride-and-prejudice

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


def corpus_dir() -> Path:
    """$PUBLISH_CORPUS, else shared/corpus beside this checkout or beside the one it was cloned from."""
    if explicit := os.environ.get("PUBLISH_CORPUS"):
        return Path(explicit)
    origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True, check=False).stdout.strip()
    for root in (REPO, Path(origin) if origin else None):
        if root is not None and (root.parent / "shared" / "corpus").is_dir():
            return root.resolve().parent / "shared" / "corpus"
    raise SystemExit("the corpus was not found: set PUBLISH_CORPUS")


MIN_WORDS = 30_000  # the targets hold for every corpus book of this length or more
ONE_CORE = ["taskset", "-c", "0"]


def words_and_sources(book_dir: Path) -> tuple[int, list[str]]:
    """The book's words and its chapter files in reading order (book.yaml's, or the file names')."""
    from publish.manuscript import load_manuscript

    manuscript = load_manuscript(book_dir)
    return (sum(len(s.text.split()) for s in manuscript.sources),
            [str(s.path) for s in manuscript.sources])


def corpus_books() -> list[Path]:
    return [path for path in sorted(corpus_dir().iterdir())
            if (path / "book.yaml").is_file() and words_and_sources(path)[0] >= MIN_WORDS]


def bench_book(source: Path, runs: int) -> list[str]:
    """Every measurement of one book, `runs` rounds; returns the lines of its tables."""
    pandoc = pandoc_binary()
    python = sys.executable
    publish = [python, "-m", "publish.cli"]
    weasyprint = [python, "-m", "weasyprint"]
    work = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    book = work / "book"
    shutil.copytree(source, book)
    for path in book.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    words, chapters = words_and_sources(book)
    base_env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    (work / "book-6x9.css").write_text(PANDOC_CSS.format(fonts=(REPO / "styles" / "fonts").as_uri()), encoding="utf-8")
    styles = REPO / "styles"

    def env_with(cache: Path) -> dict[str, str]:
        return {**base_env, "PUBLISH_CACHE_DIR": str(cache)}

    def fresh_cache() -> Path:
        return Path(tempfile.mkdtemp(prefix="cache-", dir=work))

    print(f"book: {source} ({len(chapters)} chapter files, {words:,} words); pandoc {pandoc}; {runs} rounds",
          flush=True)

    results: dict[str, Series] = {name: Series() for name in (
        "epub", "pandoc-epub", "full", "pandoc-route", "full-1", "pandoc-route-1", "pdf", "pdf-1", "weasyprint-1",
        "weasyprint-fixed-1", "no-change", "one-chapter", "one-chapter-full", "full-memory", "pdf-memory",
        "weasyprint-memory")}
    print_html_path = None
    heavy: list[str] = []
    for round_number in range(1, runs + 1):
        print(f"  round {round_number}/{runs} …", flush=True)
        out = work / f"out-{round_number}"

        def pandoc_route(out: Path = out) -> list[list[str]]:
            return [
                [pandoc, "--metadata-file", "book.yaml", *chapters, "-o", str(out / "pandoc.epub")],
                [pandoc, "--metadata-file", "book.yaml", *chapters, "-s", "--toc", "-c", str(work / "book-6x9.css"),
                 "-o", str(out / "pandoc.html")],
                [*weasyprint, str(out / "pandoc.html"), str(out / "pandoc.pdf")],
            ]

        def ours(name: str, *extra: str, out: Path = out) -> list[str]:
            return [*publish, "build", str(book), "-o", str(out / name), *extra, "--clean", "-q"]

        results["pandoc-epub"].runs.append(measure(
            [[pandoc, "--metadata-file", "book.yaml", *chapters, "-o", str(out / "pandoc.epub")]], cwd=book))
        results["epub"].runs.append(measure([ours("epub", "--format", "epub")], env=env_with(fresh_cache())))

        results["full"].runs.append(measure([ours("full")], env=env_with(fresh_cache())))
        results["pandoc-route"].runs.append(measure(pandoc_route(), cwd=book))
        results["full-1"].runs.append(measure([[*ONE_CORE, *ours("full")]], env=env_with(fresh_cache())))
        results["pandoc-route-1"].runs.append(measure([[*ONE_CORE, *c] for c in pandoc_route()], cwd=book))

        results["pdf"].runs.append(measure([ours("pdf", "--format", "pdf")], env=env_with(fresh_cache())))
        results["pdf-1"].runs.append(measure([[*ONE_CORE, *ours("pdf", "--format", "pdf")]],
                                             env=env_with(fresh_cache())))
        if print_html_path is None:
            print_html_path = print_html_for(book, next((out / "pdf").glob("*.pdf")), work / "print.html")
        weasyprint_args = [str(print_html_path), str(out / "weasyprint.pdf"), "-u", book.as_uri() + "/",
                           *[a for name in ("fonts.css", "book.css", "print.css") for a in ("-s", str(styles / name))],
                           "--pdf-variant", "pdf/ua-1", "--pdf-tags"]
        results["weasyprint-1"].runs.append(measure([[*ONE_CORE, *weasyprint, *weasyprint_args]]))
        results["weasyprint-fixed-1"].runs.append(measure([[*ONE_CORE, python, "-c", PATCHED_WEASYPRINT,
                                                            *weasyprint_args]]))

        # Peak memory, in runs of their own (see `measure`).
        results["full-memory"].runs.append(measure([ours("full")], env=env_with(fresh_cache()), memory=True))
        results["pdf-memory"].runs.append(measure([ours("pdf", "--format", "pdf")], env=env_with(fresh_cache()),
                                                  memory=True))
        results["weasyprint-memory"].runs.append(measure([[*weasyprint, *weasyprint_args]], memory=True))

        # The rebuilds: a warm cache, as an author has after the first build of the day.
        cache = fresh_cache()
        warm = [*publish, "build", str(book), "-o", str(out / "warm"), "-q"]
        measure([warm], env=env_with(cache))
        results["no-change"].runs.append(measure([warm], env=env_with(cache)))
        touch_chapter(book, round_number)
        results["one-chapter"].runs.append(measure([[*warm, "--format", "epub,html"]], env=env_with(cache)))
        results["one-chapter-full"].runs.append(measure([warm], env=env_with(cache)))
        if round_number == 1:
            heavy = imports_of_no_change_rebuild(publish, book, out / "warm", env_with(cache))
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)

    r = results
    speed_up = r["pdf-1"].seconds / r["pdf"].seconds
    rows = [
        ("EPUB alone (clean)", r["epub"].seconds, "Pandoc 3 EPUB", r["pandoc-epub"].seconds, "≤ 1.0"),
        ("full build, clean, 2 cores", r["full"].seconds, "Pandoc EPUB + HTML, WeasyPrint PDF",
         r["pandoc-route"].seconds, "≤ 0.6"),
        ("full build, clean, 1 core", r["full-1"].seconds, "the same, 1 core", r["pandoc-route-1"].seconds, "≤ 1.0"),
        ("PDF stage, 1 core", r["pdf-1"].seconds, "WeasyPrint on our print HTML", r["weasyprint-1"].seconds,
         "≤ 1.05"),
        ("PDF stage, 1 core", r["pdf-1"].seconds, "the same, with our pydyf fixes", r["weasyprint-fixed-1"].seconds,
         "≤ 1.05"),
        ("PDF stage, 2 cores", r["pdf"].seconds, "", None, ""),
        ("rebuild, nothing changed", r["no-change"].seconds, "", None, "≤ 0.3 s"),
        ("rebuild, one chapter edited: EPUB + HTML", r["one-chapter"].seconds, "", None, ""),
        ("rebuild, one chapter edited: all three", r["one-chapter-full"].seconds, "", None, "≤ 3 s (P&P)"),
    ]
    lines = [f"### {source.name} ({words:,} words, {len(chapters)} chapter files)", "",
             f"| {'measure':<42} | {'ours':>7} | {'peer':<36} | {'peer s':>7} | {'ratio':>6} | {'target':<11} |",
             f"|{'-' * 44}|{'-' * 9}|{'-' * 38}|{'-' * 9}|{'-' * 8}|{'-' * 13}|"]
    for name, ours_s, peer_name, peer, target in rows:
        ratio = f"{ours_s / peer:.2f}" if peer else ""
        peer_text = f"{peer:.2f}" if peer else ""
        lines.append(f"| {name:<42} | {ours_s:>7.2f} | {peer_name:<36} | {peer_text:>7} | {ratio:>6} | {target:<11} |")
    lines.append(f"| {'PDF stage: 2-core speed-up (1 core / 2)':<42} | {speed_up:>6.2f}× | {'':<36} | {'':>7} | "
                 f"{'':>6} | {'≥ 1.7×':<11} |")
    full, alone, pdf_stage = r["full-memory"], r["weasyprint-memory"], r["pdf-memory"]
    lines += ["", f"| {'peak memory, MiB':<30} | {'PSS':>5} | {'RSS sum':>7} | {'largest':>7} | "
                  f"{'WeasyPrint alone PSS':>20} | {'ratio':>5} | {'target':<6} |",
              f"|{'-' * 32}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 22}|{'-' * 7}|{'-' * 8}|"]
    for name, series in (("full build (clean)", full), ("PDF stage (clean)", pdf_stage)):
        lines.append(f"| {name:<30} | {series.pss_mb:>5.0f} | {series.rss_mb:>7.0f} | {series.max_process_mb:>7.0f} | "
                     f"{alone.pss_mb:>20.0f} | {series.pss_mb / alone.pss_mb:>5.2f} | {'≤ 1.2':<6} |")
    lines += ["", f"the no-change rebuild imported: {', '.join(heavy) or 'none of weasyprint, ebooklib, markdown'}", ""]
    print("\n".join(lines), flush=True)
    return lines


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--book", type=Path, action="append",
                         help=f"a book folder (repeatable; default: every corpus book of {MIN_WORDS:,}+ words)")
    options.add_argument("--runs", type=int, default=3, help="rounds; the tables show medians (default: 3)")
    args = options.parse_args()
    books = args.book or corpus_books()
    started = machine()
    print(f"machine: {started}", flush=True)
    tables = [line for book in books for line in bench_book(book, args.runs)]
    print()
    print(f"machine: {started.split('; load')[0]}; load average at start {started.split('at start ')[-1]}, "
          f"at end {os.getloadavg()[0]:.2f}")
    print(f"medians of {args.runs} rounds; wall-clock seconds; ratio = ours / peer; 1 core = `taskset -c 0`")
    print()
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
