"""Reproducible output: the same input and SOURCE_DATE_EPOCH give the same bytes in every edition; dates
come from SOURCE_DATE_EPOCH, the book's own date or a documented default; the book folder is never
written to."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from bookfolder import PNG, TINY_COVER, snapshot, write_book
from lxml import etree
from validators import pdf_info

from publish.build import build
from publish.cli import EXIT_BOOK, EXIT_OK, main
from publish.config import parse_date
from publish.diagnostics import BuildFailed
from publish.epub import render_epub
from publish.manuscript import load_manuscript
from publish.parse import DEFAULT_MODIFIED, parse_book

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1700000000"  # 2023-11-14T22:13:20Z


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def modified(epub: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        opf = etree.fromstring(archive.read("EPUB/content.opf"))
    return opf.xpath("//*[local-name()='meta'][@property='dcterms:modified']/text()")[0]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The sample book, with a chapter in Japanese so the subset CJK font is part of the bargain."""
    book = tmp_path / "whiplash"
    shutil.copytree(REPO / "manuscript", book)
    (book / "99-coda.md").write_text("# Coda\n\n拍子が合わない。Not my tempo. 👏\n")
    return book


@pytest.mark.e2e
def test_two_builds_with_the_same_source_date_epoch_are_byte_identical(sample: Path, tmp_path: Path) -> None:
    first = build(sample, tmp_path / "first", source_date_epoch=EPOCH)
    second = build(sample, tmp_path / "second", source_date_epoch=EPOCH)
    a, b = files_of(tmp_path / "first"), files_of(tmp_path / "second")
    assert len(a) > 10 and a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []
    epub = next(p for p in first.outputs if p.suffix == ".epub")
    assert modified(epub.read_bytes()) == "2023-11-14T22:13:20Z"
    assert pdf_info(next(p for p in second.outputs if p.suffix == ".pdf"))["CreationDate"].startswith("2023-11-14T22:13:20")
    assert [p.name for p in (tmp_path / "first").rglob(".*")] == [".publish-outputs.json"]  # no temporary left behind


def test_the_epub_depends_on_the_date_and_nothing_else(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(write_book(tmp_path / "book")), source_date_epoch=EPOCH)
    assert render_epub(book, cover=TINY_COVER) == render_epub(book, cover=TINY_COVER)
    later = parse_book(load_manuscript(tmp_path / "book"), source_date_epoch=str(int(EPOCH) + 86400))
    assert render_epub(later, cover=TINY_COVER) != render_epub(book, cover=TINY_COVER)


def test_without_source_date_epoch_the_date_comes_from_book_yaml(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(write_book(tmp_path / "book", config="title: T\ndate: 2021-03-04\n")))
    assert book.modified == dt.datetime(2021, 3, 4, tzinfo=dt.timezone.utc)
    assert modified(render_epub(book, cover=TINY_COVER)) == "2021-03-04T00:00:00Z"


def test_without_any_date_the_documented_default_is_used(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(write_book(tmp_path / "book")))
    assert book.modified == DEFAULT_MODIFIED == dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
    assert modified(render_epub(book, cover=TINY_COVER)) == "1980-01-01T00:00:00Z"
    assert "1980-01-01T00:00:00Z" in (REPO / "docs" / "errors.md").read_text()


def test_a_source_date_epoch_that_is_not_a_number_is_ignored(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(write_book(tmp_path / "book", config="title: T\ndate: 2020\n")),
                      source_date_epoch="yesterday")
    assert book.modified == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.e2e
def test_a_build_never_changes_the_book_folder(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (sample / "images").mkdir(exist_ok=True)
    (sample / "images" / "pixel.png").write_bytes(PNG)
    before = snapshot(sample)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.chdir(sample)  # even when run from inside it
    assert main(["build", str(sample), "-o", str(tmp_path / "out"), "-q"]) == EXIT_OK
    assert snapshot(sample) == before


def test_an_output_folder_inside_the_book_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = write_book(tmp_path / "book")
    before = snapshot(book)
    for out in (book / "output", book, book / "images" / ".."):
        assert main(["build", str(book), "-o", str(out), "--format", "epub", "-q"]) == EXIT_BOOK
        assert "error output-in-book" in capsys.readouterr().err
    assert snapshot(book) == before


def test_a_web_edition_that_would_replace_the_book_folder_is_refused(tmp_path: Path) -> None:
    # The web edition is a folder named after the book: here exactly the book folder's name.
    book = write_book(tmp_path / "a-test-book")
    before = snapshot(book)
    with pytest.raises(BuildFailed) as failure:
        build(book, tmp_path, formats=("html",))
    assert failure.value.diagnostics[0].code == "output-in-book"
    assert snapshot(book) == before


# -- nothing from the clock, the interpreter or the machine ---------------------------------------


def test_a_subset_font_carries_no_time_from_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # fontTools stamps head.modified with time.time() when it saves a font, unless told not to.
    import time

    from fontTools.ttLib import TTFont

    from publish import fonts
    from publish.templates import STYLES_DIR

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    [cjk] = {f.file for f in fonts.faces() if "CJK" in f.family}
    made = []
    for now in (1_000_000_000.0, 1_900_000_000.0):
        fonts._subset_codes.cache_clear()
        monkeypatch.setattr(time, "time", lambda now=now: now)
        made.append(fonts._subset_codes(STYLES_DIR / cjk, frozenset(map(ord, "中文"))))
    monkeypatch.undo()
    fonts._subset_codes.cache_clear()
    assert made[0] == made[1]
    with TTFont(STYLES_DIR / cjk, lazy=True) as shipped, TTFont(io.BytesIO(made[0])) as subset:
        assert subset["head"].modified == shipped["head"].modified  # the font's own date, not the build's


def run_publish(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("publish")), *args], env=env, cwd=cwd, timeout=600,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a build in a subprocess: this one's, less what the matrix below varies."""
    varied = {"PYTHONHASHSEED", "TZ", "LANG", "LANGUAGE", "LOCPATH", "SOURCE_DATE_EPOCH", "PUBLISH_CACHE_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in varied and not k.startswith("LC_")}
    return {**env, **extra}


@pytest.mark.e2e
def test_a_cjk_book_built_again_without_source_date_epoch_is_byte_identical(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", config="title: CJK\nlang: zh\n", chapters={"01-one.md": "# One\n\n中文\n"})
    editions = []
    for run in ("a", "b"):
        if editions:
            time.sleep(1.1)  # head.modified counts seconds
        env = clean_env(PUBLISH_CACHE_DIR=str(tmp_path / f"cache-{run}"))
        result = run_publish("build", str(book), "-o", str(tmp_path / run), "--format", "epub,html", "-q",
                             env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        editions.append(files_of(tmp_path / run))
    assert any("NotoSerifCJK" in name for name in editions[0])
    assert [name for name in editions[0] if editions[0][name] != editions[1].get(name)] == []


NOTE_LINK_BOOK = {"01-one.md": "# One\n\nA claim.[^1]\n\n[^1]: As [the second chapter](02-two.md#sec) shows.\n",
                  "02-two.md": "# Two\n\n## The section {#sec}\n\nText.\n"}


@pytest.fixture(scope="module")
def note_link_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """The same book with a cross-chapter link inside a note, built from two folders into two."""
    made = []
    for where in ("first", "second/deeper"):
        base = tmp_path_factory.mktemp("note-link") / where
        book = write_book(base / "book", chapters=NOTE_LINK_BOOK)
        build(book, base / "out", formats=("epub", "pdf"), source_date_epoch=EPOCH)
        made += [book, base / "out"]
    return tuple(made)  # type: ignore[return-value]


def _pdf_objects(pdf: Path, tmp_path: Path) -> bytes:
    """The PDF with every stream and object stream uncompressed, to search its bytes."""
    plain = tmp_path / "plain.pdf"
    subprocess.run(["qpdf", "--qdf", "--object-streams=disable", str(pdf), str(plain)], check=True, timeout=60)
    return plain.read_bytes()


@pytest.mark.e2e
def test_the_print_edition_never_carries_a_path_of_the_authors_machine(note_link_builds: tuple[Path, ...],
                                                                       tmp_path: Path) -> None:
    book, out, other_book, other_out = note_link_builds
    pdf = out / "a-test-book.pdf"
    plain = _pdf_objects(pdf, tmp_path)
    assert b"file:" not in plain and str(book.parent).encode() not in plain
    assert pdf.read_bytes() == (other_out / "a-test-book.pdf").read_bytes()  # the folder does not show


def test_a_cross_chapter_link_in_a_note_leads_to_its_target_in_the_epub(note_link_builds: tuple[Path, ...]) -> None:
    _, out, _, _ = note_link_builds
    with zipfile.ZipFile(out / "a-test-book.epub") as archive:
        documents = {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".xhtml")}
    hrefs = [href for text in documents.values() for href in re.findall(r'href="([^"]*#sec)"', text)]
    assert hrefs, "the note's link is in the EPUB"
    for href in hrefs:
        target, _, fragment = href.partition("#")
        assert not target.endswith(".md")
        assert f'id="{fragment}"' in documents[f"EPUB/{target}"]


# -- the matrix: hash seed, time zone, locale, folders, cache, SOURCE_DATE_EPOCH ------------------
# Each book is built twice, in subprocesses, with every variable changed at once between the two:
# a different PYTHONHASHSEED, TZ, LANG (C.UTF-8, then Turkish, whose dotted and dotless i break
# case mapping done the locale's way), book folder (with a space and a non-ASCII letter), output
# folder, working folder and cache folder; the first build has no SOURCE_DATE_EPOCH and the second
# sets it to the book's own date (its `date:`, else 1980-01-01), which must give the same dates,
# so with the same bytes. Changing everything at once costs two builds a book instead of 64, and
# an effect could hide only behind another that undid it byte for byte. Every edition is built,
# the PDF too: its fonts are subset like the EPUB's, and the folder once reached its links.

CJK_BOOK = {
    "book.yaml": "title: 拍子\nauthor: 山田 花子\nlang: zh\n",
    "01-yi.md": "# 第一章\n\n他不是在打鼓，他是在和自己搏斗。[^1]“再来一次。”\n\n[^1]: 见第二章。\n",
    "02-ni.md": "# 第二章 {#two}\n\n拍子が合わない。*Not my tempo.* 한국어도 조금.\n",
}
RTL_BOOK = {
    "book.yaml": "title: الإيقاع\nauthor: سارة\nlang: ar\ndate: 2022-09-30\n",
    "01-alif.md": "# الفصل الأول\n\nلم يكن يعزف على الطبل، كان يقاتل نفسه.[^1]\n\n[^1]: انظر [الفصل الثاني](02-ba.md).\n",
    "02-ba.md": "# الفصل الثاني\n\nمرة أخرى. *Not my tempo.* עברית גם.\n",
}


def matrix_book(name: str, folder: Path) -> Path:
    if name == "sample":
        shutil.copytree(REPO / "manuscript", folder)
    elif name == "features":
        shutil.copytree(REPO / "tests" / "books" / "features", folder)
    else:
        write_book(folder, config="", chapters=CJK_BOOK if name == "cjk" else RTL_BOOK)
    return folder


def book_epoch(book: Path) -> str:
    """SOURCE_DATE_EPOCH for the instant the book's own date stands for."""
    date = load_manuscript(book).config.date
    moment = parse_date(date) if date else DEFAULT_MODIFIED
    return str(int(moment.timestamp()))


@pytest.fixture(scope="module")
def turkish(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """LANG=tr_TR.UTF-8, compiled into a folder of the test's own (LOCPATH): the machine needs
    only localedef and the locale sources (Debian's libc-bin and locales), not the locale itself."""
    folder = tmp_path_factory.mktemp("locales")
    try:
        subprocess.run(["localedef", "-i", "tr_TR", "-f", "UTF-8", str(folder / "tr_TR.UTF-8")], check=True,
                       capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot compile the tr_TR.UTF-8 locale ({exc}): install Debian's locales package")
    return {"LANG": "tr_TR.UTF-8", "LOCPATH": str(folder)}


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["sample", "cjk", "rtl", "features"])
def test_every_edition_is_byte_identical_whatever_the_machine_says(name: str, tmp_path: Path,
                                                                   turkish: dict[str, str]) -> None:
    runs = {
        "first": (tmp_path / "first" / "book", clean_env(PYTHONHASHSEED="0", TZ="UTC", LANG="C.UTF-8")),
        "second": (tmp_path / "second" / "ein Büchlein", clean_env(PYTHONHASHSEED="4242", TZ="Asia/Kathmandu",
                                                                    **turkish)),
    }
    editions = {}
    for run, (folder, env) in runs.items():
        book = matrix_book(name, folder)
        env["PUBLISH_CACHE_DIR"] = str(tmp_path / run / "cache")
        if run == "second":
            env["SOURCE_DATE_EPOCH"] = book_epoch(book)
        (tmp_path / run / "cwd").mkdir()
        result = run_publish("build", str(book), "-o", str(tmp_path / run / "out"), "-q", env=env,
                             cwd=tmp_path / run / "cwd")
        assert result.returncode == 0, result.stderr
        editions[run] = files_of(tmp_path / run / "out")
    first, second = editions["first"], editions["second"]
    assert {Path(n).suffix for n in first} >= {".epub", ".pdf", ".html", ".json"} and first.keys() == second.keys()
    assert [n for n in first if first[n] != second[n]] == []
