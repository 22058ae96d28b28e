"""Catalogues on Dask, end to end, as a press runs them: `publish build` of a catalog.yaml, on
this machine's own workers (the local default) and on a `LocalCluster` of two workers that the
test starts itself, reached by its address as a cluster on other machines would be.

Every book's editions must be byte for byte what building that book alone makes; a broken book
is reported while the others are written; and a worker killed (by its PID) in the middle of a
book still ends with every good book built, the killed one on another worker.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bookfolder import PNG, snapshot, write_book
from conftest import EPOCH, _corpus

pytestmark = pytest.mark.e2e

PUBLISH = Path(sys.executable).with_name("publish")
CORPUS = _corpus()
CORPUS_BOOKS = ("curie-radioaktive-substanzen", "functional-light-js", "learn-go-with-tests", "pandoc-test-suite",
                "pride-and-prejudice", "vulkan-tutorial-fr")
# Corpus books that publish cannot build yet: they must fail in the catalogue exactly as they fail
# alone (the test checks both). Four were here until issue 10 taught publish to read them (chapters
# at '##', one-file books, series headings, links as warnings); none is now.
NOT_YET: frozenset[str] = frozenset()

PARAGRAPH = ("The band played on while the room emptied, and the drummer counted the bars under his breath, "
             "each one a little faster than the last, until the tempo was his and nobody else's. ")


def _generated(root: Path, *, long_chapters: int = 0) -> dict[str, Path]:
    """Small books, each with something of its own; `broken` fails on purpose (an image that is
    not there), and with `long_chapters` a longer book takes a few seconds to lay out."""
    books = {
        "sonnets": write_book(root / "sonnets", config="title: Twelve Sonnets\nauthor: A. Poet\n", chapters={
            "01-morning.md": "# Morning\n\n\"Wake,\" she said -- and *nobody* woke.\n",
            "02-evening.md": "# Evening\n\nThe light went... out.\n"}),
        "notes": write_book(root / "notes", config="title: Annotated\n", chapters={
            "01-text.md": "# Text\n\nA claim.[^1] Another.^[Inline, as Pandoc writes it.]\n\n[^1]: The source.\n"}),
        "spoiler": write_book(root / "spoiler", config="title: The Twist\nspoiler: It was the butler.\n"),
        "prosa": write_book(root / "prosa", config="title: Kleine Prosa\nlang: de\n", chapters={
            "01-eins.md": "# Eins\n\n„Gänsefüßchen“ und Silbentrennung: Donaudampfschifffahrtsgesellschaft.\n"}),
        "figures": write_book(root / "figures", config="title: Pictures\n", chapters={
            "01-one.md": "# One\n\n![A red square](images/red.png)\n\nText after.\n"}, files={"images/red.png": PNG}),
        "broken": write_book(root / "broken", config="title: Broken on Purpose\n", chapters={
            "01-one.md": "# One\n\n![Gone](images/missing.png)\n"}),
    }
    if long_chapters:
        chapters = {f"{n:02d}-part.md": f"# Part {n}\n\n" + "\n\n".join(PARAGRAPH * 3 for _ in range(10)) + "\n"
                    for n in range(1, long_chapters + 1)}
        books["long"] = write_book(root / "long", config="title: A Longer Book\n", chapters=chapters)
    return books


def _catalog(path: Path, folders: list[Path], extra: str = "") -> Path:
    path.write_text("books:\n" + "".join(f"  - {f}\n" for f in folders) + extra, encoding="utf-8")
    return path


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, PUBLISH_CACHE_DIR=str(cache))
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.pop("PUBLISH_DEBUG", None)
    return env


def _publish(*args: str, cache: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PUBLISH), *args], capture_output=True, text=True, env=_env(cache), timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _alone(folders: dict[str, Path], out: Path, cache: Path) -> dict[str, bool]:
    """Build each book by itself, as `publish build BOOK` does, into out/<name>/, with a cache of
    its own (nothing the catalogue made is reused). Whether each one built."""
    return {name: _publish("build", str(folder), "-o", str(out / name), "-q", cache=cache).returncode == 0
            for name, folder in folders.items()}


def _same_as_alone(catalogue_out: Path, alone_out: Path, built: dict[str, bool]) -> None:
    """Each book that built alone is in the catalogue's output, in a folder named after its title,
    with exactly the same files and bytes; each that failed alone left nothing there."""
    folders = {p.name: p for p in catalogue_out.iterdir()}
    for name, ok in built.items():
        if not ok:
            continue
        alone = _files(alone_out / name)
        slug = next(name for name in alone if name.endswith(".epub")).removesuffix(".epub")
        assert slug in folders, f"{name}: no {catalogue_out / slug}"
        assert _files(folders.pop(slug)) == alone, f"{name}: the catalogue's editions differ from building it alone"
    assert not folders, f"editions of books that did not build: {sorted(folders)}"


def test_the_corpus_catalogue_on_this_machines_workers(tmp_path: Path) -> None:
    """The local default: `publish build catalog.yaml`, as many books at once as the machine allows."""
    books = {name: CORPUS / name for name in CORPUS_BOOKS if (CORPUS / name).is_dir()}
    assert len(books) == len(CORPUS_BOOKS), f"the corpus is incomplete at {CORPUS}"
    generated = _generated(tmp_path / "generated")
    books.update({name: generated[name] for name in ("sonnets", "figures", "prosa", "broken")})
    before = {name: snapshot(folder) for name, folder in books.items()}
    catalog = _catalog(tmp_path / "catalog.yaml", list(books.values()))
    started = time.perf_counter()
    result = _publish("build", str(catalog), "-o", str(tmp_path / "out"), cache=tmp_path / "cache")
    seconds = time.perf_counter() - started
    print(f"catalogue of {len(books)} books: {seconds:.1f} s", file=sys.stderr)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr  # the broken book, and the corpus books that cannot build yet

    built = _alone(books, tmp_path / "alone", tmp_path / "alone-cache")
    expected_failures = {"broken"} | NOT_YET
    assert {name for name, ok in built.items() if not ok} == expected_failures, "the corpus changed: update NOT_YET"
    _same_as_alone(tmp_path / "out", tmp_path / "alone", built)
    for name, folder in books.items():
        state = "failed" if name in expected_failures else "built"
        assert any(line.startswith(f"{'✗' if state == 'failed' else '✓'} {state} {folder}") for line in
                   result.stderr.splitlines()), f"no line for {name}:\n{result.stderr}"
        assert snapshot(folder) == before[name], f"{name}: the book folder was written to"
    assert "image-missing" in result.stderr and f"catalogue: {len(books)} books in " in result.stderr


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a distributed.LocalCluster
    """Two workers, one book at a time each, started here as a cluster is started on other
    machines; they cache into a folder of their own."""
    import logging

    import dask
    from distributed import LocalCluster

    monkeypatch.setenv("PUBLISH_CACHE_DIR", str(tmp_path / "cluster-cache"))  # the workers inherit it
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # not theirs to use: the command passes its own
    # As `dask scheduler --worker-saturation 1.0` would: a task waits for a free worker, so one
    # that a worker holds is one it is building.
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                         silence_logs=logging.CRITICAL) as started:
        yield started


def test_a_catalogue_on_a_local_cluster_of_two_workers(tmp_path: Path, cluster) -> None:  # noqa: ANN001
    books = _generated(tmp_path / "books", long_chapters=3)
    books["missing"] = tmp_path / "books" / "no-such-book"  # named in the catalogue, but not there
    before = {name: snapshot(folder) for name, folder in books.items()}
    catalog = _catalog(tmp_path / "catalog.yaml", list(books.values()))
    result = _publish("build", str(catalog), "-o", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                      cache=tmp_path / "client-cache")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(books) >= 8
    built = _alone(books, tmp_path / "alone", tmp_path / "alone-cache")
    assert {name for name, ok in built.items() if not ok} == {"broken", "missing"}
    _same_as_alone(tmp_path / "out", tmp_path / "alone", built)
    assert "image-missing" in result.stderr and "book-missing" in result.stderr
    assert "6 built, 2 failed; 2 failing" in result.stderr
    assert all(snapshot(folder) == before[name] for name, folder in books.items())
    assert not (tmp_path / "client-cache").exists()  # the workers built the books, and cached them

    # Again, nothing changed: every book comes from the workers' cache, and nothing is rewritten.
    out_before = snapshot(tmp_path / "out")
    again = _publish("build", str(catalog), "-o", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                     cache=tmp_path / "client-cache")
    assert again.returncode == 1 and "6 unchanged, 2 failed" in again.stderr, again.stderr
    assert snapshot(tmp_path / "out") == out_before


def test_a_worker_killed_in_the_middle_of_a_book_leaves_no_good_book_unbuilt(tmp_path: Path, cluster) -> None:  # noqa: ANN001
    from distributed import Client

    books = _generated(tmp_path / "books", long_chapters=12)
    catalog = _catalog(tmp_path / "catalog.yaml", list(books.values()))
    command = [str(PUBLISH), "build", str(catalog), "-o", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address]
    with Client(cluster) as client:
        run = subprocess.Popen(command, env=_env(tmp_path / "client-cache"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            killed = _kill_the_worker_building(client, "publish-build-long-", after=1.0, deadline=600)
            stdout, stderr = run.communicate(timeout=1800)
        finally:
            if run.poll() is None:
                run.kill()
    assert killed, "the long book was never seen building"
    assert run.returncode == 1 and "Traceback" not in stderr, stderr  # the broken book only
    built = _alone(books, tmp_path / "alone", tmp_path / "alone-cache")
    assert {name for name, ok in built.items() if not ok} == {"broken"}
    _same_as_alone(tmp_path / "out", tmp_path / "alone", built)
    assert any(line.startswith(f"✓ built {books['long']}") and "built again after its worker died" in line
               for line in stderr.splitlines()), stderr
    assert "6 built, 1 failed; 1 failing" in stderr


def _kill_the_worker_building(client, prefix: str, *, after: float, deadline: float) -> bool:  # noqa: ANN001
    """SIGKILL the worker process that has been building the task named `prefix…` for `after`
    seconds: the book is then half made, in the middle of its layout."""
    seen: dict[str, float] = {}
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for address, keys in client.processing().items():
            if any(str(key).startswith(prefix) for key in keys):
                first = seen.setdefault(address, time.monotonic())
                if time.monotonic() - first >= after:
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    return True
        time.sleep(0.1)
    return False


def test_check_runs_epubcheck_and_ace_on_every_books_epub(tmp_path: Path) -> None:
    books = _generated(tmp_path / "books")
    folders = [books["notes"], books["figures"]]
    result = _publish("build", *map(str, folders), "-o", str(tmp_path / "out"), "--check", "--workers", "1",
                      cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stderr.splitlines() if "EPUBCheck" in line)
    assert "Ace" in header and "pages" in header
    rows = [line for line in result.stderr.splitlines() if any(line.startswith(f"│ {f}") for f in folders)]
    assert len(rows) == 2, result.stderr
    for row in rows:
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[1] == "built" and cells[4:6] == ["0", "0"], row  # no message from either validator
        assert cells[6] == "–", row  # no print edition, so no cover to check


def test_a_scheduler_that_cannot_be_reached(tmp_path: Path) -> None:
    import socket

    with socket.socket() as free:  # a port on this machine that nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    book = write_book(tmp_path / "book")
    result = _publish("build", str(book), "-o", str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}",
                      cache=tmp_path / "cache", timeout=300)
    assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr
    assert "hint: start one with 'dask scheduler'" in result.stderr and not (tmp_path / "out").exists()
