"""The PDF is laid out in this process while a worker parses the book and makes the web edition;
the EPUB is assembled last, with the print edition's page map; a failure anywhere stops the
worker at once."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from lxml import etree
from test_cache import EPOCH, STYLES, write_book

from publish.build import build
from publish.diagnostics import BuildFailed


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write_book(tmp_path / "book")


_CHILD = """
import json, sys
from pathlib import Path
from publish.build import build
result = build(Path(sys.argv[1]), Path(sys.argv[2]), source_date_epoch="1700000000", cache_dir=Path(sys.argv[3]),
               formats=tuple(sys.argv[4].split(",")))
print(json.dumps({"made": list(result.made), "weasyprint_here": "weasyprint" in sys.modules,
                  "markdown_here": "markdown" in sys.modules}))
"""


@pytest.mark.e2e
def test_the_book_is_parsed_in_another_process_while_this_one_lays_out_the_pdf(book: Path, tmp_path: Path) -> None:
    report = _child_build(book, tmp_path, "epub,pdf,html")
    assert set(report["made"]) == {"book", "cover", "epub", "pdf", "html"}
    assert report["weasyprint_here"] is True
    assert report["markdown_here"] is False  # the chapters were converted, but not here
    assert (tmp_path / "out" / "a-cached-book.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.e2e
def test_the_web_edition_is_made_while_the_pdf_is_laid_out(book: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    result = build(book, tmp_path / "out", source_date_epoch=EPOCH, cache_dir=tmp_path / "cache",
                   progress=lambda message: seen.append((message, time.perf_counter())))

    def when(start: str) -> float:
        return next(at for message, at in seen if message.startswith(start))

    timings = dict(result.timings)
    html_submitted, pdf_started, epub_started = when("render: web edition"), when("render: PDF"), when("render: EPUB")
    # The web edition is handed to the worker before the layout starts, and the EPUB, which carries
    # the PDF's page numbers, is made only after it ends.
    assert "second process" in next(message for message, _ in seen if message.startswith("render: web edition"))
    assert html_submitted <= pdf_started
    assert pdf_started + timings["pdf"] <= epub_started


@pytest.mark.e2e
def test_without_a_pdf_to_make_weasyprint_is_never_imported_here(book: Path, tmp_path: Path) -> None:
    # An author's rebuild of the EPUB and the web edition: parsed here, with no worker to start,
    # and the generated cover drawn by WeasyPrint in a worker of its own.
    report = _child_build(book, tmp_path, "epub,html")
    assert set(report["made"]) == {"book", "cover", "epub", "html"}
    assert report["weasyprint_here"] is False
    assert report["markdown_here"] is True


def _child_build(book: Path, tmp_path: Path, formats: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(book), str(tmp_path / "out"), str(tmp_path / "cache"),
                           formats], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
def test_the_full_build_epub_carries_the_print_page_numbers(book: Path, tmp_path: Path) -> None:
    build(book, tmp_path / "full", source_date_epoch=EPOCH, cache_dir=tmp_path / "cache")
    build(book, tmp_path / "alone", formats=("epub",), source_date_epoch=EPOCH, cache_dir=tmp_path / "cache")

    def page_list(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as z:
            nav = etree.parse(io.BytesIO(z.read("EPUB/nav.xhtml")))
        return nav.xpath("//*[local-name()='nav'][@*[local-name()='type']='page-list']//*[local-name()='a']/text()")

    assert page_list(tmp_path / "full" / "a-cached-book.epub")  # the print edition's pages, from its layout
    assert page_list(tmp_path / "alone" / "a-cached-book.epub") == []


@pytest.mark.e2e
def test_a_book_error_stops_the_warming_worker_at_once(book: Path, tmp_path: Path) -> None:
    (book / "02-second.md").write_text("# Two\n\n![A drum kit](missing.png)\n", encoding="utf-8")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.perf_counter()
    with pytest.raises(BuildFailed) as failure:
        build(book, tmp_path / "out", source_date_epoch=EPOCH, cache_dir=tmp_path / "cache")
    assert [d.code for d in failure.value.diagnostics if d.severity.name == "ERROR"] == ["image-missing"]
    # The worker was killed, not left importing WeasyPrint for nothing.
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
    assert time.perf_counter() - started < 30
    assert not (tmp_path / "out").exists()


@pytest.mark.e2e
def test_a_problem_found_in_the_worker_comes_back_as_diagnostics(book: Path, tmp_path: Path) -> None:
    # The cover may read nothing outside styles/: a stylesheet that tries fails the build in the
    # worker, and the parent reports that worker's diagnostics, not a pickling error.
    styles = tmp_path / "styles"
    shutil.copytree(STYLES, styles)
    with (styles / "cover.css").open("a", encoding="utf-8") as handle:
        handle.write("\nbody { background-image: url(file:///etc/hostname); }\n")
    env = {**os.environ, "PUBLISH_STYLES": str(styles), "PUBLISH_CACHE_DIR": str(tmp_path / "cache"),
           "SOURCE_DATE_EPOCH": EPOCH}
    done = subprocess.run([sys.executable, "-m", "publish.cli", "build", str(book), "-o", str(tmp_path / "out"),
                           "--format", "epub"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    assert "error cover-fetch" in done.stderr
    assert "nothing was written" in done.stderr


_SAME_BYTES = """
import hashlib, sys
from pathlib import Path
import publish.pdf
from publish.manuscript import load_manuscript
from publish.parse import parse_book
if sys.argv[2] == "plain":
    publish.pdf.speed_up_pydyf = lambda: None  # pydyf as installed, one stream at a time
book = parse_book(load_manuscript(Path(sys.argv[1])), source_date_epoch="1700000000")
data = publish.pdf.render_pdf(book).data
import io
from pypdf import PdfReader
print(hashlib.sha256(data).hexdigest(), "/StructTreeRoot" in PdfReader(io.BytesIO(data)).trailer["/Root"])
"""


@pytest.mark.e2e
def test_the_pydyf_speed_ups_leave_the_pdf_bytes_as_they_were(book: Path) -> None:
    def run(mode: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", _SAME_BYTES, str(book), mode], capture_output=True, text=True,
                              check=True, timeout=300).stdout.split()

    plain, fast = run("plain"), run("fast")
    assert plain == fast and plain[1] == "True"  # the same bytes, of a tagged PDF
