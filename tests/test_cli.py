"""The `publish` command: help, version, exit codes, messages, and outputs that are whole or untouched.

The first tests run the installed command in a subprocess (what a user runs, traceback or not);
the build tests call `main()` in-process, which is the same code without the start-up cost.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EPOCH, MakeBook

import publish
from publish import build as build_module
from publish.cli import EXIT_BOOK, EXIT_OK, EXIT_USAGE, main
from publish.diagnostics import BuildFailed, error

PUBLISH = Path(sys.executable).with_name("publish")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    env.pop("PUBLISH_DEBUG", None)
    return subprocess.run([str(PUBLISH), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) by relative path, with the sha256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0 and result.stderr == ""
    assert "usage: publish" in result.stdout and "build" in result.stdout and "examples:" in result.stdout
    build = run("build", "--help")
    assert build.returncode == 0
    for option in ("BOOK_DIR", "-o OUT_DIR", "--format FORMATS", "--strict"):
        assert option in build.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"publish {publish.__version__}"


def test_no_command_prints_help_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert "usage: publish" in capsys.readouterr().out


def test_a_missing_book_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-book"
    result = run("build", str(missing), "-o", str(tmp_path / "out"))
    assert result.returncode == EXIT_BOOK
    assert str(missing) in result.stderr and "does not exist" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "nothing was written" in result.stderr and not (tmp_path / "out").exists()


def test_a_bad_book_reports_file_line_and_hint_without_a_traceback(make_book: MakeBook, tmp_path: Path) -> None:
    root = make_book({"01-a.md": "# A\n\nSee ![x](missing.png).\n"}, config="title: T\nlang: nope-nope-nope\n")
    result = run("build", str(root), "-o", str(tmp_path / "out"))
    assert result.returncode == EXIT_BOOK and "Traceback" not in result.stderr
    assert f"{root / 'book.yaml'}:2: error config-value" in result.stderr
    root.joinpath("book.yaml").write_text("title: T\n")
    result = run("build", str(root), "-o", str(tmp_path / "out"))
    assert result.returncode == EXIT_BOOK and "Traceback" not in result.stderr
    assert "01-a.md:3: error image-missing" in result.stderr and "hint:" in result.stderr


@pytest.mark.parametrize("formats", ["docx", "epub,mobi", ","])
def test_an_unknown_format_is_a_usage_error(formats: str) -> None:
    result = run("build", "--format", formats)
    assert result.returncode == EXIT_USAGE and "choose from epub, pdf, html" in result.stderr


def test_format_epub_builds_only_the_epub(make_book: MakeBook, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: Only an EPUB\n")
    out = tmp_path / "out"
    assert main(["build", str(root), "-o", str(out), "--format", "epub"]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [".publish-outputs.json", "only-an-epub.epub"]
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {out / 'only-an-epub.epub'}"
    stages = [line for line in captured.err.splitlines() if line.startswith("· ")]
    assert [s.split(":")[0] for s in stages] == ["· load", "· parse", "· render", "· write"]
    assert "PDF" not in captured.err


def test_a_full_build_names_its_outputs_after_the_book(make_book: MakeBook, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: 'Whiplash: A Test'\n")
    out = tmp_path / "out"
    assert main(["build", str(root), "-o", str(out), "-q"]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [".publish-outputs.json", "whiplash-a-test", "whiplash-a-test.epub",
                                                     "whiplash-a-test.pdf"]
    assert (out / "whiplash-a-test" / "index.html").is_file()
    assert capsys.readouterr() == ("", "")  # -q: nothing to say when all is well


def test_a_failed_build_leaves_the_previous_output_byte_identical(make_book: MakeBook, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n", "02-b.md": "# B\n\nMore.\n"}, config="title: Kept\n")
    out = tmp_path / "out"
    assert main(["build", str(root), "-o", str(out)]) == EXIT_OK
    before = snapshot(out)
    assert {"kept.epub", "kept.pdf", "kept/index.html"} <= set(before)

    (root / "01-a.md").write_text("# A changed\n\nNow with ![a missing image](03-c.png).\n")
    assert main(["build", str(root), "-o", str(out)]) == EXIT_BOOK
    assert "nothing was written" in capsys.readouterr().err
    assert snapshot(out) == before  # no partial file, no stray temporary either


# When the PDF is made, the web edition is made in a worker process, where this test cannot
# reach it: its failure there is tested in test_parallel.py. Here it fails in a build without a PDF.
@pytest.mark.parametrize(("renderer", "formats"), [("publish.plan.render_pdf", "epub,pdf,html"),
                                                   ("publish.plan.render_epub", "epub,pdf,html"),
                                                   ("publish.plan.render_html", "epub,html")])
def test_a_failure_in_any_edition_writes_none_of_them(make_book: MakeBook, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, renderer: str,
                                                       formats: str) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: Kept\n")
    out = tmp_path / "out"
    assert main(["build", str(root), "-o", str(out), "--format", formats]) == EXIT_OK
    before = snapshot(out)
    (root / "01-a.md").write_text("# A\n\nChanged text.\n")

    def fails(*_args: object, **_kwargs: object) -> None:
        raise BuildFailed([error("edition-test", "this edition could not be made")])

    # Whichever edition is rendered last, the ones already made must not be written when it fails.
    monkeypatch.setattr(renderer, fails)
    assert main(["build", str(root), "-o", str(out), "--format", formats]) == EXIT_BOOK
    assert snapshot(out) == before


def test_rebuilding_gives_the_same_bytes(make_book: MakeBook, tmp_path: Path) -> None:
    root = make_book({"01-a.md": "# A\n\nText.[^1]\n\n[^1]: A note.\n"}, config="title: Twice\nspoiler: It ends.\n")
    assert main(["build", str(root), "-o", str(tmp_path / "one"), "-q"]) == EXIT_OK
    assert main(["build", str(root), "-o", str(tmp_path / "two"), "-q"]) == EXIT_OK
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_the_output_folder_may_not_be_inside_the_book(make_book: MakeBook, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book()
    assert main(["build", str(root), "-o", str(root / "out")]) == EXIT_BOOK
    assert "inside the book folder" in capsys.readouterr().err and not (root / "out").exists()


def test_strict_turns_warnings_into_a_failure(make_book: MakeBook, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: T\nautor: Me\n")
    assert main(["build", str(root), "-o", str(tmp_path / "out"), "--format", "html"]) == EXIT_OK
    assert "did you mean 'author'?" in capsys.readouterr().err
    assert main(["build", str(root), "-o", str(tmp_path / "out"), "--format", "html", "--strict"]) == EXIT_BOOK


def test_defaults_build_manuscript_into_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def record(book_dir: Path, out_dir: Path, **kwargs: object) -> None:
        seen.update(book_dir=book_dir, out_dir=out_dir, **kwargs)
        raise BuildFailed([])

    monkeypatch.setattr(build_module, "build", record)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "42")
    main(["build"])
    assert (seen["book_dir"], seen["out_dir"]) == (Path("manuscript"), Path("output"))
    assert seen["formats"] == ("epub", "pdf", "html") and seen["source_date_epoch"] == "42"


def test_an_unexpected_error_is_reported_as_a_bug_without_a_traceback(make_book: MakeBook, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(build_module, "build", broken)
    monkeypatch.delenv("PUBLISH_DEBUG", raising=False)
    assert main(["build", str(make_book()), "-o", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "Traceback" not in err
