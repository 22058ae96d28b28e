"""Nothing lost: a build's outputs are one transaction, and publish replaces only what it made.

The first half drives `publish.write.commit` directly with small outputs (quick, and able to make
a swap fail exactly half-way); the second runs `publish build` on real book folders, with a
user's folder in the way, a file where the web edition goes, a read-only folder and a full disk
(small tmpfs mounts: skipped, with the reason, where this machine does not allow mounting).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bookfolder import snapshot as full_snapshot
from conftest import MakeBook

from publish import write
from publish.cli import EXIT_BOOK, EXIT_OK, main
from publish.diagnostics import BuildFailed, Severity
from publish.write import RECORD, commit, digest_output, digest_path

WEB = {"index.html": b"<html>one</html>", "styles/web.css": b"body{}", "styles/fonts/a.ttf": b"\0font"}
WEB2 = {"index.html": b"<html>two</html>", "styles/web.css": b"body{}", "chapter-2.html": b"<p>2</p>"}


def outputs(web: dict[str, bytes] = WEB, epub: bytes = b"epub one", pdf: bytes = b"%PDF one") -> dict:
    return {"book.epub": epub, "book.pdf": pdf, "book": web}


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under `folder` with its bytes' hash, modification time and mode; the folder's own
    modification time aside, which staging beside the outputs cannot help changing."""
    return {name: value for name, value in full_snapshot(folder).items() if name != "."}


def codes(failure: pytest.ExceptionInfo[BuildFailed]) -> list[str]:
    return [d.code for d in failure.value.diagnostics]


def hidden(folder: Path) -> list[str]:
    """Temporary paths left in `folder` (the record is not one)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != RECORD)


# -- the record and the ownership rule -----------------------------------------------------------


def test_a_first_commit_writes_every_output_and_a_record_of_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = commit(out, outputs())
    assert written.paths == (out / "book.epub", out / "book.pdf", out / "book") == written.changed
    assert (out / "book.epub").read_bytes() == b"epub one"
    assert (out / "book" / "styles" / "fonts" / "a.ttf").read_bytes() == b"\0font"
    record = json.loads((out / RECORD).read_text())
    assert record["outputs"] == {name: [digest_output(data)] for name, data in outputs().items()}
    assert "temporary" not in record and hidden(out) == []
    assert digest_path(out / "book") == digest_output(WEB)  # the folder's digest, read back from the disk


def test_a_commit_with_nothing_new_touches_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    before = snapshot(out)  # with modification times
    assert commit(out, outputs()).changed == ()
    assert snapshot(out) == before


def test_what_publish_wrote_is_replaced_and_the_rest_of_the_folder_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    (out / "mine.txt").write_text("the user's")
    written = commit(out, outputs(WEB2, epub=b"epub two"))
    assert written.changed == (out / "book.epub", out / "book")
    assert sorted(p.relative_to(out / "book").as_posix() for p in (out / "book").rglob("*") if p.is_file()) == \
        sorted(WEB2)  # the folder is exactly the new edition: no file of the old one stays
    assert (out / "mine.txt").read_text() == "the user's" and hidden(out) == []


def test_a_folder_of_the_users_named_like_the_web_edition_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "book").mkdir(parents=True)
    (out / "book" / "todo.txt").write_text("milk")
    before = snapshot(out)
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs())
    [problem] = failure.value.diagnostics
    assert problem.code == "output-exists" and problem.file == out / "book"
    assert "publish did not make it (a folder holding 1 file: todo.txt)" in problem.message
    assert "--force" in problem.hint and "-o" in problem.hint
    assert snapshot(out) == before  # not even the EPUB, nor a record


def test_every_thing_in_the_way_is_named_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "book.epub").write_bytes(b"my own epub")
    (out / "book").write_text("a file where the folder goes")
    (out / "book.pdf").symlink_to(tmp_path / "elsewhere.pdf")
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs())
    messages = {d.file.name: d.message for d in failure.value.diagnostics}
    assert "a file of 11 bytes" in messages["book.epub"]
    assert "a file of 28 bytes" in messages["book"]
    assert "a symbolic link to" in messages["book.pdf"]
    assert not (tmp_path / "elsewhere.pdf").exists()


def test_an_output_changed_since_publish_wrote_it_is_the_users(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    (out / "book" / "notes.txt").write_text("added by hand")  # inside the web edition
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs(WEB2))
    assert codes(failure) == ["output-changed"]
    assert "was changed after publish wrote it (a folder holding 4 files" in failure.value.diagnostics[0].message
    assert (out / "book" / "notes.txt").exists()


def test_an_empty_folder_or_a_link_added_inside_the_web_edition_is_the_users(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    (out / "book" / "drafts").mkdir()
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs())  # even with nothing new to write
    assert codes(failure) == ["output-changed"]
    (out / "book" / "drafts").rmdir()
    (out / "book" / "styles" / "link.css").symlink_to(out / "book" / "styles" / "web.css")
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs())
    assert codes(failure) == ["output-changed"]


def test_force_replaces_what_is_in_the_way_and_says_what_it_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "book").mkdir(parents=True)
    (out / "book" / "todo.txt").write_text("milk")
    written = commit(out, outputs(), force=True)
    [note] = written.notes
    assert note.severity is Severity.INFO and note.code == "output-replaced"
    assert note.message == f"--force: replaced '{out / 'book'}' (a folder holding 1 file: todo.txt, not made by publish)"
    assert digest_path(out / "book") == digest_output(WEB)
    assert commit(out, outputs(WEB2)).notes == ()  # from now on it is publish's own


def test_a_file_that_is_not_publishs_record_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / RECORD).write_text("my notes, unluckily named")
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs())
    assert codes(failure) == ["output-exists"] and "is not publish's record" in failure.value.diagnostics[0].message
    assert (out / RECORD).read_text() == "my notes, unluckily named" and not (out / "book.epub").exists()


def test_identical_bytes_already_in_place_are_adopted(tmp_path: Path) -> None:
    # An earlier publish, without a record, left exactly these outputs: nothing would be lost.
    out = tmp_path / "out"
    out.mkdir()
    (out / "book.epub").write_bytes(b"epub one")
    commit(out, {"book.epub": b"epub one"})
    assert json.loads((out / RECORD).read_text())["outputs"] == {"book.epub": [digest_output(b"epub one")]}
    commit(out, {"book.epub": b"epub two"})  # now it is publish's to replace
    assert (out / "book.epub").read_bytes() == b"epub two"


def test_outputs_of_earlier_builds_stay_publishs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    commit(out, {"book.epub": b"epub two"})  # --format epub
    commit(out, outputs(WEB2))  # the PDF and the web edition an earlier build wrote may be replaced
    assert (out / "book.pdf").read_bytes() == b"%PDF one" and digest_path(out / "book") == digest_output(WEB2)


# -- half-way failures ---------------------------------------------------------------------------


class Fail(OSError):
    pass


def failing_at(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make putting the output `name` in place fail, as a full disk or a busy mount would."""
    real = write._put_in_place

    def put(step: write._Step) -> None:
        if step.dest.name == name:
            raise Fail(5, "Input/output error", str(step.dest))
        real(step)

    monkeypatch.setattr(write, "_put_in_place", put)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "fallback"])
def test_a_swap_failing_half_way_puts_every_previous_output_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 exchange: bool) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    (out / "unrelated.txt").write_text("x")
    before = snapshot(out)
    if not exchange:  # as on a system or file system without RENAME_EXCHANGE
        monkeypatch.setattr(write, "exchange", lambda a, b: False)
        monkeypatch.setattr(write, "move_new", lambda a, b: False)
    failing_at(monkeypatch, "book")  # the web edition is the last: the EPUB and the PDF were swapped
    with pytest.raises(BuildFailed) as failure:
        commit(out, {**outputs(WEB2, epub=b"epub two", pdf=b"%PDF two"), "new.txt": b"n"})
    [problem] = failure.value.diagnostics
    assert problem.code == "write" and problem.file == out / "book"
    assert problem.message.endswith(f"the outputs already replaced were put back, so nothing in '{out}' was changed")
    assert {k: v[0] for k, v in snapshot(out).items()} == {k: v[0] for k, v in before.items()}
    assert hidden(out) == []


def test_a_failure_to_put_back_says_where_the_previous_version_is(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    failing_at(monkeypatch, "book")

    def cannot(step: write._Step) -> None:
        if step.dest.name == "book.epub":
            raise OSError(30, "Read-only file system", str(step.dest))
        real_take_back(step)

    real_take_back = write._take_back
    monkeypatch.setattr(write, "_take_back", cannot)
    with pytest.raises(BuildFailed) as failure:
        commit(out, outputs(WEB2, epub=b"epub two", pdf=b"%PDF two"))
    assert codes(failure) == ["write", "write-incomplete"]
    stuck = failure.value.diagnostics[1]
    kept = Path(stuck.message.rsplit("kept at '", 1)[1].rstrip("'"))
    assert kept.read_bytes() == b"epub one" and (out / "book.epub").read_bytes() == b"epub two"
    assert (out / "book.pdf").read_bytes() == b"%PDF one"  # the others were put back
    # The record, left as it was during the swaps, accepts both versions and names the kept one ...
    record = json.loads((out / RECORD).read_text())
    assert digest_output(b"epub two") in record["outputs"]["book.epub"] and kept.name in record["temporary"]
    monkeypatch.undo()
    commit(out, outputs(WEB2, epub=b"epub three"))  # ... so the next build goes on, and tidies up
    assert hidden(out) == [] and "temporary" not in json.loads((out / RECORD).read_text())


def test_the_web_editions_folder_is_never_missing_while_it_is_replaced(make_book: MakeBook, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Every rename the build makes is checked: the web edition must be in place after each one.
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: Kept\n")
    out = tmp_path / "out"
    assert build(root, "-o", out, "--format", "html", "-q") == EXIT_OK
    (root / "01-a.md").write_text("# A\n\nChanged.\n")
    seen: list[str] = []
    for name in ("rename", "replace"):
        real = getattr(os, name)

        def checked(a: str | Path, b: str | Path, *args: object, real=real, **kwargs: object) -> None:  # noqa: ANN001
            real(a, b, *args, **kwargs)
            seen.append(f"{Path(a).name} -> {Path(b).name}")
            assert (out / "kept" / "index.html").is_file(), f"no web edition after {seen[-1]}"

        monkeypatch.setattr(os, name, checked)
    assert build(root, "-o", out, "--format", "html", "-q") == EXIT_OK
    monkeypatch.undo()
    assert b"Changed." in (out / "kept" / "index.html").read_bytes() and hidden(out) == []


KILLED_HALF_WAY = """
import os, sys
from pathlib import Path
from publish import write
real = write._put_in_place
def killed(step):
    if step.name != write.RECORD:
        os._exit(9)  # as a kill -9 would: after the staging and the pending record, before any output moved
    real(step)
write._put_in_place = killed
write.commit(Path(sys.argv[1]), {"book.epub": b"epub two", "book": {"index.html": b"two"}})
"""


def test_a_killed_builds_temporaries_are_cleaned_up_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    killed = subprocess.run([sys.executable, "-c", KILLED_HALF_WAY, str(out)], check=False, timeout=60)
    assert killed.returncode == 9
    assert hidden(out) != []  # staged outputs a killed process could not remove
    assert (out / "book.epub").read_bytes() == b"epub one"
    commit(out, outputs(WEB2))  # the record the killed build left accepts both versions
    assert hidden(out) == [] and digest_path(out / "book") == digest_output(WEB2)


def test_ctrl_c_while_the_outputs_are_swapped_puts_back_what_was_swapped(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    commit(out, outputs())
    before = snapshot(out)
    real = write._put_in_place

    def interrupted(step: write._Step) -> None:
        if step.name == "book":
            raise KeyboardInterrupt
        real(step)

    monkeypatch.setattr(write, "_put_in_place", interrupted)
    with pytest.raises(KeyboardInterrupt):
        commit(out, outputs(WEB2, epub=b"epub two"))
    assert {k: v[0] for k, v in snapshot(out).items()} == {k: v[0] for k, v in before.items()} and hidden(out) == []


# -- mounts: a read-only folder and a full disk --------------------------------------------------


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}): mounting needs root, or CAP_SYS_ADMIN in a container")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True, timeout=30)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True, capture_output=True, timeout=30)


def test_a_read_only_output_folder_changes_nothing(tmp_path: Path) -> None:
    # Root ignores permission bits: only a read-only mount refuses root's writes.
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "out"
        commit(out, outputs())
        remount(disk, "ro")
        before = snapshot(out)
        with pytest.raises(BuildFailed) as failure:
            commit(out, outputs(WEB2, epub=b"epub two"))
        [problem] = failure.value.diagnostics
        assert problem.code == "write" and "Read-only file system" in problem.message
        assert problem.message.endswith(f"nothing in '{out}' was changed")
        assert snapshot(out) == before


def test_a_disk_that_fills_while_the_web_edition_is_staged_changes_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "2m") as disk:
        out = disk / "out"
        big = {"index.html": b"x" * 600_000}
        commit(out, {"book.epub": b"e" * 300_000, "book": big})
        before = snapshot(out)
        with pytest.raises(BuildFailed) as failure:  # the EPUB stages; the folder finds the disk full
            commit(out, {"book.epub": b"f" * 300_000, "book": {"index.html": b"y" * 900_000}})
        [problem] = failure.value.diagnostics
        assert problem.file == out / "book" and "No space left on device" in problem.message
        assert snapshot(out) == before and hidden(out) == []


def test_a_busy_mount_point_fails_the_swap_half_way_and_is_put_back(tmp_path: Path) -> None:
    # A real half-way failure: the web edition's folder is a mount point, which cannot be renamed.
    out = tmp_path / "out"
    commit(out, outputs())
    with tmpfs(out / "book", "1m"):
        for name, data in WEB.items():
            (out / "book" / name).parent.mkdir(parents=True, exist_ok=True)
            (out / "book" / name).write_bytes(data)
        before = snapshot(out)
        with pytest.raises(BuildFailed) as failure:
            commit(out, outputs(WEB2, epub=b"epub two"))
        assert codes(failure) == ["write"] and "put back" in failure.value.diagnostics[0].message
        assert {k: v[0] for k, v in snapshot(out).items()} == {k: v[0] for k, v in before.items()}


# -- publish build ---------------------------------------------------------------------------------


def build(*args: str | Path) -> int:
    return main(["build", *map(str, args)])


@pytest.fixture
def notes_book(make_book: MakeBook) -> Path:
    return make_book({"01-a.md": "# A\n\nText.\n"}, config="title: Notes\n")


def test_a_users_folder_named_like_the_book_survives_a_build(notes_book: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    documents = tmp_path / "Documents"
    (documents / "notes").mkdir(parents=True)
    (documents / "notes" / "todo.txt").write_text("buy milk\n")
    before = snapshot(documents)
    assert build(notes_book, "-o", documents, "--format", "epub,html") == EXIT_BOOK
    err = capsys.readouterr().err
    assert f"error output-exists: '{documents / 'notes'}' is already there, and publish did not make it " \
           "(a folder holding 1 file: todo.txt)" in err
    assert "build with --force to replace it" in err and "nothing was written" in err
    assert snapshot(documents) == before

    assert build(notes_book, "-o", documents, "--format", "epub,html", "--force") == EXIT_OK
    err = capsys.readouterr().err
    assert f"info output-replaced: --force: replaced '{documents / 'notes'}' (a folder holding 1 file: todo.txt" in err
    assert (documents / "notes" / "index.html").is_file() and not (documents / "notes" / "todo.txt").exists()


@pytest.mark.e2e
def test_a_file_where_the_web_edition_goes_leaves_the_epub_and_pdf_as_they_were(notes_book: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert build(notes_book, "-o", out, "--format", "epub,pdf") == EXIT_OK
    (out / "notes").write_text("a file of the user's, where the web edition's folder goes")
    (notes_book / "01-a.md").write_text("# A\n\nChanged text.\n")
    before = snapshot(out)
    assert build(notes_book, "-o", out) == EXIT_BOOK
    assert snapshot(out) == before  # the EPUB and the PDF too
    err = capsys.readouterr().err
    assert f"error output-exists: '{out / 'notes'}' is already there" in err and "nothing was written" in err


def test_a_full_disk_during_a_build_leaves_the_previous_outputs(notes_book: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk:
        out = disk / "out"
        assert build(notes_book, "-o", out, "--format", "epub,html") == EXIT_OK
        (notes_book / "01-a.md").write_text("# A\n\nChanged text.\n")
        # Room for the new EPUB, not for the web edition after it (half of it).
        free = os.statvfs(disk)
        web = sum(f.stat().st_size for f in (out / "notes").rglob("*") if f.is_file())
        room = (out / "notes.epub").stat().st_size + web // 2
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - room))
        before = snapshot(out)
        assert build(notes_book, "-o", out, "--format", "epub,html") == EXIT_BOOK
        assert snapshot(out) == before  # the EPUB, staged before the disk filled, too
        err = capsys.readouterr().err
        assert "No space left on device" in err and f"nothing in '{out}' was changed" in err
        assert "nothing was written" in err


def test_strict_writes_nothing_when_there_are_warnings(make_book: MakeBook, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n"}, config="title: T\nautor: Me\n")
    out = tmp_path / "out"
    assert build(root, "-o", out, "--format", "epub,html", "--strict") == EXIT_BOOK
    assert not out.exists()
    err = capsys.readouterr().err
    assert "warning config-unknown-key" in err and "error strict: --strict: the build has 1 warning" in err
    assert "nothing was written" in err
    assert build(root, "-o", out, "--format", "epub,html") == EXIT_OK  # without --strict: written
    before = snapshot(out)
    (root / "01-a.md").write_text("# A\n\nNew text.\n")
    assert build(root, "-o", out, "--format", "epub,html", "--strict") == EXIT_BOOK
    assert snapshot(out) == before


def test_a_build_into_an_existing_folder_of_the_users_writes_beside_its_files(notes_book: Path, tmp_path: Path) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "letter.txt").write_text("dear")
    assert build(notes_book, "-o", documents, "--format", "epub", "-q") == EXIT_OK
    assert sorted(p.name for p in documents.iterdir()) == [RECORD, "letter.txt", "notes.epub"]
