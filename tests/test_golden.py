"""Golden files: the markup each edition renders, compared with the reviewed copy in tests/golden/.

Layout (as in Standard Ebooks' tools): `tests/golden/<case>/in/` is a book folder, and
`tests/golden/<case>/golden/` holds what the build makes of it: every XHTML document of the EPUB,
its nav, content.opf and toc.ncx, the web edition's index.html, and the SHA-256 of every output
file (outputs.sha256: the same input gives the same bytes). The `sample` case's `in` is a
symlink to `manuscript/`, so the real sample is checked and no copy of it can drift.

After an intended change, run `pytest tests/test_golden.py --update-goldens` and review the diff in git.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import zipfile
from pathlib import Path

import pytest
from conftest import EPOCH, GOLDEN

from publish.build import build

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "in").is_dir())
EPUB_TEXT = (".xhtml", ".opf", ".ncx")
# The only volatile field: the generator's version (ebooklib's is pinned, ours moves on release).
VOLATILE = [(re.compile(r'(content="publish )[0-9][^"]*(")'), r"\1VERSION\2")]


def normalise(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def rendered(case: str, out: Path) -> dict[str, str]:
    """What the build makes of the case's book: file name -> text. Every edition is built, as
    `publish build` does, because the EPUB carries the print edition's page numbers."""
    result = build(GOLDEN / case / "in", out, source_date_epoch=EPOCH)
    paths = {p.suffix or "/": p for p in result.outputs}  # .epub, .pdf, and the web edition's folder
    files: dict[str, str] = {}
    with zipfile.ZipFile(paths[".epub"]) as epub:
        for name in epub.namelist():
            if name.endswith(EPUB_TEXT):
                files[Path(name).name] = normalise(epub.read(name).decode("utf-8"))
    files["index.html"] = normalise((paths["/"] / "index.html").read_text(encoding="utf-8"))
    # And every output's bytes: a book without `editions:` builds exactly what it did before them.
    outputs = [paths[".epub"], paths[".pdf"], *sorted(p for p in paths["/"].rglob("*") if p.is_file())]
    files["outputs.sha256"] = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}\n"
                                      for p in outputs)
    return files


def test_every_case_has_a_book() -> None:
    assert set(CASES) >= {"sample", "tiny"}
    assert (GOLDEN / "sample" / "in").resolve() == (GOLDEN.parents[1] / "manuscript").resolve()


@pytest.mark.parametrize("case", CASES)
def test_rendered_markup_matches_the_golden_files(case: str, tmp_path: Path, update_goldens: bool) -> None:
    actual = rendered(case, tmp_path / "out")
    golden_dir = GOLDEN / case / "golden"
    if update_goldens:
        golden_dir.mkdir(exist_ok=True)
        for stale in set(p.name for p in golden_dir.iterdir()) - set(actual):
            (golden_dir / stale).unlink()
        for name, text in actual.items():
            (golden_dir / name).write_text(text, encoding="utf-8")
        return

    if not golden_dir.is_dir():
        pytest.fail(f"no golden files for '{case}': run pytest tests/test_golden.py --update-goldens and review them")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(golden_dir.iterdir())}
    problems = []
    if missing := sorted(set(expected) - set(actual)):
        problems.append(f"no longer rendered: {', '.join(missing)}")
    if new := sorted(set(actual) - set(expected)):
        problems.append(f"rendered but without a golden file: {', '.join(new)}")
    for name in sorted(set(expected) & set(actual)):
        if expected[name] != actual[name]:
            diff = difflib.unified_diff(expected[name].splitlines(keepends=True), actual[name].splitlines(keepends=True),
                                        fromfile=f"golden/{case}/golden/{name}", tofile=f"rendered/{name}")
            problems.append("".join(diff))
    if problems:
        pytest.fail("\n".join(problems) + "\n(if the change is intended: pytest tests/test_golden.py --update-goldens)",
                    pytrace=False)
