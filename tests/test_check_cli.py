"""The `new` and `check` commands from the command line: output, exit codes, validators found or not."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from publish.check import ace_diagnostics, epubcheck_diagnostics
from publish.cli import EXIT_BOOK, EXIT_OK, EXIT_TOOL, EXIT_USAGE, main
from publish.diagnostics import Severity

REPO = Path(__file__).resolve().parents[1]
LINT_ONLY = ["--skip", "epubcheck,ace", "--store", "none"]


@pytest.fixture()
def new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["new", str(tmp_path / "novel"), "-q"]) == EXIT_OK
    capsys.readouterr()
    return tmp_path / "novel"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_new_says_what_to_do_next_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "new", str(tmp_path / "novel"))
    assert code == EXIT_OK
    assert "publish preview" in out and "publish check" in out and "publish build" in out
    before = (tmp_path / "novel" / "book.yaml").read_bytes()
    code, out = run(capsys, "new", str(tmp_path / "novel"))
    assert code == EXIT_BOOK and "new-not-empty" in out
    assert (tmp_path / "novel" / "book.yaml").read_bytes() == before


def test_a_clean_book_passes(new: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "check", str(new), *LINT_ONLY)
    assert code == EXIT_OK
    assert "0 errors, 0 warnings" in out


def test_warnings_pass_unless_strict(new: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (new / "03-more.md").write_text("# More\n\n#### Too deep\n\nText.\n")
    code, out = run(capsys, "check", str(new), *LINT_ONLY)
    assert code == EXIT_OK
    assert "03-more.md:3: warning heading-skip" in out
    assert "hint:" in out
    code, out = run(capsys, "check", str(new), "--strict", *LINT_ONLY)
    assert code == EXIT_BOOK


def test_errors_fail_and_are_all_listed_with_file_line_and_hint(new: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (new / "03-more.md").write_text("# More\n\n[Back](01-the-beginning.md#nowhere)\n\n![](images/none.png)\n")
    code, out = run(capsys, "check", str(new))  # the validators are not run: no EPUB can be made
    assert code == EXIT_BOOK
    assert "03-more.md:3: warning broken-anchor" in out  # a broken link never stops a build
    assert "03-more.md:5: error image-missing" in out
    assert "03-more.md:5: warning image-alt" in out
    assert "validators-skipped" in out
    assert "1 error, 2 warnings" in out


def test_quiet_prints_only_problems(new: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "check", str(new), "-q", *LINT_ONLY)
    assert (code, out) == (EXIT_OK, "")


def test_a_missing_validator_has_its_own_exit_code(new: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PUBLISH_ACE", str(tmp_path / "no-such-ace"))
    code, out = run(capsys, "check", str(new), "--skip", "epubcheck")
    assert code == EXIT_TOOL
    assert "error tool-missing: DAISY Ace is not installed" in out and "make setup-dev" in out
    monkeypatch.setenv("PATH", str(tmp_path))  # no java
    code, out = run(capsys, "check", str(new), "--skip", "ace")
    assert code == EXIT_TOOL
    assert "EPUBCheck needs Java" in out


def test_command_line_mistakes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["check", "--skip", "pandoc"], ["preview", "--port", "http"], ["new"], ["frobnicate"]):
        with pytest.raises(SystemExit) as leaving:
            main(argv)
        assert leaving.value.code == EXIT_USAGE
    assert main([]) == EXIT_USAGE
    capsys.readouterr()


@pytest.mark.parametrize("command", ["new", "preview", "check", "build"])
def test_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert f"examples:\n  publish {command}" in out
    assert "--quiet" in out and "--verbose" in out


def test_check_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    for code in ("0", "1", "2", "3", "4"):
        assert f"\n  {code}  " in out


def test_epubcheck_report_becomes_diagnostics() -> None:
    report = {"messages": [
        {"ID": "RSC-005", "severity": "ERROR", "message": "Error while parsing file: element \"b\" not allowed here",
         "locations": [{"path": "EPUB/chapter-002.xhtml", "line": 12, "column": 4},
                       {"path": "EPUB/chapter-003.xhtml", "line": 3, "column": 1}]},
        {"ID": "OPF-096", "severity": "WARNING", "message": "Non-linear content", "locations": [{"path": "EPUB/content.opf", "line": -1}],
         "suggestion": "Make it linear"},
        {"ID": "ACC-008", "severity": "USAGE", "message": "usage note", "locations": []},
    ]}
    found = epubcheck_diagnostics(Path("/x/book.epub"), report)
    assert [(d.code, d.severity, str(d.file), d.line, d.hint) for d in found] == [
        ("epubcheck RSC-005", Severity.ERROR, "book.epub/EPUB/chapter-002.xhtml", 12, None),
        ("epubcheck OPF-096", Severity.WARNING, "book.epub/EPUB/content.opf", None, "Make it linear"),
    ]
    assert found[0].message.endswith("(and 1 more places)")


def test_ace_report_becomes_diagnostics() -> None:
    def assertion(title: str, impact: str, outcome: str = "fail") -> dict:
        return {"earl:test": {"dct:title": title, "earl:impact": impact, "help": {"dct:description": f"{title} help"}},
                "earl:result": {"earl:outcome": outcome, "dct:description": "Fix this:  the thing",
                                "earl:pointer": {"css": ["p:nth-child(2)"]}}}
    report = {"assertions": [{"earl:testSubject": {"url": "EPUB/chapter-001.xhtml"},
                              "assertions": [assertion("color-contrast", "serious"), assertion("region", "moderate"),
                                             assertion("image-alt", "critical", outcome="pass")]}]}
    found = ace_diagnostics(Path("book.epub"), report)
    assert [(d.code, d.severity, str(d.file)) for d in found] == [
        ("ace color-contrast", Severity.ERROR, "book.epub/EPUB/chapter-001.xhtml"),
        ("ace region", Severity.WARNING, "book.epub/EPUB/chapter-001.xhtml"),
    ]
    assert found[0].message == "color-contrast help (at p:nth-child(2))"
    assert found[0].hint == "Fix this: the thing"


@pytest.mark.e2e
def test_new_book_and_sample_book_pass_the_real_validators(new: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "check", str(new), "--strict")
    assert code == EXIT_OK, out
    assert "check (lint, epubcheck, ace, stores, covers): 0 errors, 0 warnings" in out
    shutil.copytree(REPO / "manuscript", tmp_path / "sample")
    code, out = run(capsys, "check", str(tmp_path / "sample"), "--strict")
    assert code == EXIT_OK, out


@pytest.mark.e2e
def test_a_broken_epub_fails_with_epubcheck_findings(new: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(new), "-o", str(tmp_path / "out"), "--format", "epub", "-q"]) == EXIT_OK
    built = next((tmp_path / "out").glob("*.epub"))
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("chapter-002.xhtml"):  # still in the manifest and the spine
                target.writestr(item, source.read(item))
    capsys.readouterr()
    code, out = run(capsys, "check", str(broken), "--skip", "ace")
    assert code == EXIT_BOOK
    assert "error epubcheck RSC-001" in out and "chapter-002.xhtml" in out


# -- check runs the plan build runs: the files checked are the files shipped ---------------------


def test_check_validates_the_very_files_build_ships(new: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import publish.check
    import publish.plan

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    checked: dict[str, bytes] = {}
    monkeypatch.setattr(publish.check, "run_epubcheck", lambda epub: checked.setdefault("epub", epub.read_bytes()) and [])
    plans: list[tuple[str, ...]] = []
    real_make = publish.plan.make
    monkeypatch.setattr(publish.plan, "make", lambda plan, **k: plans.append(plan.request.formats) or real_make(plan, **k))
    code, out = run(capsys, "check", str(new), "--skip", "ace", "--store", "none")
    assert code == EXIT_OK, out
    assert "check (lint, epubcheck, covers)" in out  # the PDF was checked too
    assert plans == [("epub", "pdf", "html")]  # one build, of what `publish build` makes
    assert main(["build", str(new), "-o", str(tmp_path / "out"), "-q"]) == EXIT_OK
    assert checked["epub"] == next((tmp_path / "out").glob("*.epub")).read_bytes()


def test_a_pdf_with_a_font_not_embedded_fails_the_check(new: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import publish.printcheck

    seen: list[bytes] = []
    monkeypatch.setattr(publish.printcheck, "fonts_not_embedded", lambda data: seen.append(data) or ["Gentium-Fake"])
    code, out = run(capsys, "check", str(new), *LINT_ONLY)
    assert code == EXIT_BOOK
    assert ".pdf: error interior-font: the font Gentium-Fake is not embedded" in out
    assert len(seen) == 1 and seen[0].startswith(b"%PDF-")


def test_a_print_book_is_built_once_and_its_interior_and_cover_checked(new: Path, capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import publish.plan
    import publish.printcheck

    with (new / "book.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\npdf-profile: print\n")
    plans: list[tuple[str, ...]] = []
    real_make = publish.plan.make
    monkeypatch.setattr(publish.plan, "make", lambda plan, **k: plans.append(plan.request.formats) or real_make(plan, **k))
    covers: list[str] = []
    real_wrap = publish.printcheck.check_wrap
    monkeypatch.setattr(publish.printcheck, "check_wrap",
                        lambda data, shape, **k: covers.append(str(k["file"])) or real_wrap(data, shape, **k))
    code, out = run(capsys, "check", str(new), *LINT_ONLY)
    assert "covers" in out.split("check (")[-1].split(")")[0], out
    assert plans == [("epub", "pdf", "html")]  # not a second build for the print edition
    assert len(covers) == 1 and covers[0].endswith("-cover.pdf")
