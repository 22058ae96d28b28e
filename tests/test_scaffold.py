"""`publish new`: a folder with every book.yaml key explained, that builds at once and lints clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from publish.config import KNOWN_KEYS, parse_config
from publish.diagnostics import BuildFailed
from publish.html import render_html
from publish.lint import lint_manuscript
from publish.manuscript import load_manuscript
from publish.parse import parse_book
from publish.scaffold import new_book


def test_new_book_has_book_yaml_a_sample_chapter_and_images(tmp_path: Path) -> None:
    written = new_book(tmp_path / "my-first-novel")
    names = sorted(p.relative_to(tmp_path / "my-first-novel").as_posix() for p in written)
    assert "book.yaml" in names
    assert any(n.endswith(".md") for n in names)
    assert (tmp_path / "my-first-novel" / "images").is_dir()
    config = yaml.safe_load((tmp_path / "my-first-novel" / "book.yaml").read_text())
    assert config["title"] == "My First Novel"


def test_book_yaml_names_and_explains_every_supported_key(tmp_path: Path) -> None:
    new_book(tmp_path / "b")
    text = (tmp_path / "b" / "book.yaml").read_text()
    for key in KNOWN_KEYS:
        match = re.search(rf"^(?:# )?{re.escape(key)}:", text, flags=re.MULTILINE)
        assert match, f"book.yaml does not mention '{key}'"
        before = text[:match.start()].rstrip("\n").splitlines()
        assert before and before[-1].startswith("#"), f"'{key}' has no comment above it"


def test_every_commented_key_is_valid_when_uncommented(tmp_path: Path) -> None:
    new_book(tmp_path / "b")
    text = (tmp_path / "b" / "book.yaml").read_text()
    # "# key: value" lines, and the indented "#   - item" / "#     name: value" lines under them.
    uncommented = re.sub(r"^# ((?:[a-z-]+:|  ).*)$", r"\1", text, flags=re.MULTILINE)
    data = yaml.safe_load(uncommented)
    assert set(data) == set(KNOWN_KEYS)
    config, problems = parse_config(uncommented, Path("book.yaml"))
    assert config is not None and problems == []


def test_the_new_book_parses_renders_and_lints_without_a_single_finding(tmp_path: Path) -> None:
    new_book(tmp_path / "b")
    manuscript = load_manuscript(tmp_path / "b")
    book = parse_book(manuscript)
    assert book.diagnostics == ()
    assert lint_manuscript(manuscript) == ()
    chapter = book.chapters[0]
    assert chapter.notes and chapter.headings, "the sample chapter shows notes and sections"
    assert "images/pen.svg" in render_html(book)


def test_the_title_may_hold_any_text(tmp_path: Path) -> None:
    title = 'Whiplash: "Not quite my tempo" # and more'
    new_book(tmp_path / "b", title=title)
    assert load_manuscript(tmp_path / "b").config.title == title


def test_an_empty_folder_is_used_but_a_non_empty_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert new_book(tmp_path / "empty")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(BuildFailed) as failure:
        new_book(tmp_path / "taken")
    assert [d.code for d in failure.value.diagnostics] == ["new-not-empty"]
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(BuildFailed):
        new_book(tmp_path / "file")
