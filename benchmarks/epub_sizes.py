"""How large is each book's EPUB, before issue 14's font subsetting and after, next to calibre's own?

    .venv/bin/python benchmarks/epub_sizes.py                  # every corpus book, the sample, the test books
    .venv/bin/python benchmarks/epub_sizes.py --before main ../shared/corpus/pride-and-prejudice

For each book: the EPUB this checkout builds (`publish build --format epub`), the EPUB an earlier
commit builds (`--before`, by default main's head in the clone's origin: the same pipeline with
whole fonts), and calibre's `ebook-polish --subset-fonts` of that earlier EPUB, the peer an author
who knows calibre would reach for. Then where this checkout's bytes go: fonts, images, the rest
(text, styles, navigation), as stored in the zip. A book that fails to build says so in its row.

The earlier commit is exported with `git archive` into a temporary folder and run with this
virtual environment's libraries (its own `src/` first on the path), each build with a cache of
its own, so neither side reads the other's results. Sizes do not depend on the machine's load,
so one run is the measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("PUBLISH_CORPUS") or REPO.parent.parent / "shared" / "corpus")
EPOCH = "1700000000"
FONT_SUFFIXES = (".ttf", ".otf", ".woff", ".woff2")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".svg", ".webp")


def default_books() -> list[Path]:
    books = [REPO / "manuscript", REPO / "tests" / "books" / "features"]
    if CORPUS.is_dir():
        books += sorted(p for p in CORPUS.iterdir() if (p / "book.yaml").is_file())
    return books


def origin_main() -> str:
    """The head of main in the clone's origin (the project's main), as a commit id."""
    url = subprocess.run(["git", "-C", str(REPO), "remote", "get-url", "origin"], capture_output=True, text=True,
                         check=False).stdout.strip()
    if url and Path(url).is_dir():
        found = subprocess.run(["git", "-C", url, "rev-parse", "main"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            subprocess.run(["git", "-C", str(REPO), "fetch", "-q", url, "main"], check=True)
            return found.stdout.strip()
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()


def export(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


@dataclass(frozen=True)
class Built:
    size: int | None  # bytes of the EPUB, None if the build failed
    parts: tuple[int, int, int] | None = None  # see `breakdown`
    error: str = ""


def build(source: Path, book: Path, out: Path, cache: Path) -> Built:
    """`publish build --format epub` of `book` with the pipeline in `source` (a checkout)."""
    env = {**os.environ, "PYTHONPATH": str(source / "src"), "PUBLISH_CACHE_DIR": str(cache),
           "SOURCE_DATE_EPOCH": EPOCH, "PUBLISH_STYLES": str(source / "styles")}
    proc = subprocess.run([sys.executable, "-c", "import sys; from publish.cli import main; sys.exit(main())",
                           "build", str(book), "-o", str(out), "--format", "epub", "-q"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False)
    epubs = sorted(out.glob("*.epub")) if out.is_dir() else []
    if proc.returncode != 0 or not epubs:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return Built(None, error=f"exit {proc.returncode}: {last[-1] if last else 'no EPUB'}")
    return Built(epubs[0].stat().st_size, breakdown(epubs[0]))


def calibre_subset(epub: Path, out: Path) -> int | None:
    polish = shutil.which("ebook-polish")
    if polish is None:
        return None
    proc = subprocess.run([polish, "--subset-fonts", str(epub), str(out)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    return out.stat().st_size if proc.returncode == 0 and out.is_file() else None


def breakdown(epub: Path) -> tuple[int, int, int]:
    """Bytes in the zip (compressed, with their headers' share left out) of fonts, images, the rest."""
    fonts = images = rest = 0
    with zipfile.ZipFile(epub) as zipped:
        for info in zipped.infolist():
            name = info.filename.lower()
            if name.endswith(FONT_SUFFIXES):
                fonts += info.compress_size
            elif name.endswith(IMAGE_SUFFIXES):
                images += info.compress_size
            else:
                rest += info.compress_size
    return fonts, images, rest


def kb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1000:,.0f} KB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("books", nargs="*", type=Path, help="book folders (default: the corpus, the sample, the test books)")
    parser.add_argument("--before", default=None, help="the commit to compare with (default: main's head)")
    args = parser.parse_args(argv)
    books = [b.resolve() for b in args.books] or default_books()
    before = args.before or origin_main()
    before = subprocess.run(["git", "-C", str(REPO), "rev-parse", before], capture_output=True, text=True,
                            check=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="publish-sizes-") as tmp:
        work = Path(tmp)
        old = export(before, work / "before")
        for book in books:
            name = book.name if book.name != "manuscript" else "sample (manuscript/)"
            print(f"building {name} …", file=sys.stderr, flush=True)
            folder = work / "books" / book.name
            after = build(REPO, book, folder / "after", work / "cache-after")
            earlier = build(old, book, folder / "before", work / "cache-before")
            [epub] = sorted((folder / "before").glob("*.epub")) if earlier.size else [None]
            polished = calibre_subset(epub, folder / "polished.epub") if epub else None
            rows.append((name, earlier, after, polished))
    print(f"\nEPUB sizes: before = {before[:10]}, after = {head[:10]} (this checkout"
          f"{', with uncommitted changes' if _dirty() else ''}); calibre = ebook-polish --subset-fonts of before\n")
    print("| book | before | after | after / before | calibre | after / calibre | fonts · images · rest (after) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, earlier, after, polished in rows:
        ratio = f"{after.size / earlier.size:.0%}" if after.size and earlier.size else "—"
        versus = f"{after.size / polished:.0%}" if after.size and polished else "—"
        where = " · ".join(kb(p) for p in after.parts) if after.parts else after.error
        print(f"| {name} | {kb(earlier.size) if earlier.size else earlier.error} | {kb(after.size) if after.size else after.error} "
              f"| {ratio} | {kb(polished)} | {versus} | {where} |")
    return 0


def _dirty() -> bool:
    return bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=False).stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
