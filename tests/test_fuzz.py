"""The fuzz test (issue 13): random Markdown, raw HTML, book.yaml and file names through `publish build`.

Whatever the book, the command ends with exit 0 (built) or 1 (refused, with messages), never 3 (an
internal error) and never a traceback; when it builds, every XML document of the EPUB is well-formed
and a sample passes EPUBCheck; and nothing outside the book folder is read: a folder of secrets sits
beside each book, the inputs aim at it (`../`, absolute paths, symbolic links, bibliographies, covers),
and an audit hook (`sys.addaudithook`) sees every file Python opens.

Bounded in time for CI: examples are generated for `PUBLISH_FUZZ_SECONDS` (default 120; the
EPUBCheck runs of the sample, about 30 s each, are not counted), at most `PUBLISH_FUZZ_EXAMPLES`
(default 400). An example costs about a second (EPUB and web edition, in-process; the PDF is laid
out for one in ten), so a run tries 100-200 books on these shared machines, about 40% of which
build. The count is printed at the end (`pytest -s` shows it) and written to
tests/_artifacts/fuzz-count.txt. Hypothesis leans to the simplest choices, so each hostile choice
is made the less simple one, else nearly every book would be refused at its book.yaml.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from bookfolder import PNG
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree
from test_properties import LINKS, MARKDOWN, ODD_TEXT, RAW_HTML, SCRIPTS
from validators import run_epubcheck

from publish.cli import EXIT_BOOK, EXIT_OK, main

SECONDS = float(os.environ.get("PUBLISH_FUZZ_SECONDS", "120"))
EXAMPLES = int(os.environ.get("PUBLISH_FUZZ_EXAMPLES", "400"))
EPUBCHECK_SAMPLE = 3  # EPUBCheck takes seconds a book: the first few books that build are checked

# --- what a book folder may hold -----------------------------------------------------------------

SECRET = "the secret that no build may read"
HOSTILE_PATHS = st.sampled_from([
    "../secret/secret.md", "../secret/secret.png", "../../secret/secret.md", "/{secret}/secret.md",
    "/{secret}/secret.png", "file:///{secret}/secret.png", "link-out.md", "link-out.png", "loop.png",
    "images/pixel.png", "images/odd%20name.png", "images/odd name.png", "images/a%23b.png", "images/pic.svg",
    "C:\\secret.png", "//example.com/x.png", "http://127.0.0.1:9/x.png", "data:image/png;base64,AAAA",
])
REFERENCES = st.builds(lambda kind, path: kind.format(path), st.sampled_from([
    "![a picture]({})", "[a link]({})", "<img src=\"{}\" alt=\"x\">", "<a href=\"{}\">x</a>",
    "# A title ![in the title]({})\n", "[^n]\n\n[^n]: a note with ![an image]({})\n",
    "<blockquote cite=\"{}\">q</blockquote>", "[a reference][r]\n\n[r]: {}\n",
]), HOSTILE_PATHS)
NESTING = st.sampled_from([">" * 60 + " deep\n", "<div>" * 70 + "x" + "</div>" * 70, "".join("  " * i + "- x\n" for i in range(60)),
                           "`` ` " * 300, "*" * 500, "[" * 300 + "x" + "]" * 300, "^[" * 100 + "]" * 100])
# Each hostile part refuses most books it is in (a path out of the folder is an error): they are
# rarer than the rest, so that about half the books build and reach the EPUB's checks.
CHAPTER = st.lists(st.one_of(RAW_HTML, MARKDOWN, ODD_TEXT, SCRIPTS, RAW_HTML, MARKDOWN,
                             st.integers(0, 5).flatmap(lambda n: st.one_of(LINKS, REFERENCES, NESTING) if n == 5
                                                       else st.just(""))), max_size=25).map("".join)

YAML_TEXT = st.one_of(st.text(max_size=20), st.sampled_from([
    "a\x01b", "\ufffe", "\ud800", "A\fB", "", " ", "2020-02-30", "0000-00-00", "9999-12-31", "2108", "July 17, 2006",
    "en", "english", "zz", "6x9", "huge", "../secret/secret.md", "/etc/passwd", "images/pixel.png", "refs.bib",
    "link-out.png", "loop.png", "@key", "true",
]))
YAML_VALUE = st.recursive(st.one_of(YAML_TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)),
                          lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                  st.dictionaries(YAML_TEXT, inner, max_size=3)), max_leaves=8)
KEYS = st.sampled_from(["title", "subtitle", "author", "lang", "date", "rights", "publisher", "identifier", "description",
                        "subject", "translator", "cover-image", "bibliography", "csl", "spoiler", "chapters", "trim",
                        "pdf-profile", "print-service", "remote-images", "nocite", "link-citations", "autor", "x"])
RAW_YAML = st.sampled_from([
    "title: [unclosed\n", "title: &a [x, *a]\n", "title: !!python/object:os.system 'ls'\n", "\ttitle: tab\n",
    "title: T\nsubject: " + "[" * 3000 + "]" * 3000 + "\n", "- a list\n", "just words\n", "title: T\x01\n",
    "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 9))
    + "title: *a8\n",
])


@st.composite
def book_yaml(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 9:
        return draw(RAW_YAML)
    data = draw(st.dictionaries(KEYS, YAML_VALUE, max_size=draw(st.sampled_from([0, 0, 0, 1, 2, 6]))))
    data.pop("title", None)
    # Hypothesis leans towards the simplest choice (0, the first): that is the benign one throughout,
    # so that most books get past the configuration.
    title = draw(st.integers(0, 5))
    if title < 4:
        data["title"] = "A Fuzzed Book"
    elif title == 4:
        data["title"] = draw(YAML_TEXT)
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()))
    return text


FILE_NAME = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)
BOOK = st.fixed_dictionaries({
    "config": book_yaml(),
    "chapters": st.lists(st.tuples(FILE_NAME, st.tuples(st.sampled_from(["# A Chapter\n\nSome text.\n\n", ""]), CHAPTER)
                                   .map("".join)), min_size=1, max_size=3),
    "metadata": st.one_of(st.none(), YAML_VALUE.map(lambda v: yaml.safe_dump({"author": v}, allow_unicode=True))),
    "links": st.integers(0, 4).map(lambda n: n == 4),
    "pdf": st.integers(0, 9).map(lambda n: n == 9),
})

# --- nothing outside the book is read ------------------------------------------------------------

_watched: list[Path] = []  # the folder whose opens are checked: the example's temporary root
_allowed: list[Path] = []  # where, inside it, a build may read or write: the book, the output, the cache
_outside: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or not _watched or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    try:
        path = Path(os.fsdecode(args[0])).resolve()
    except (OSError, RuntimeError, ValueError):
        return
    if path.is_relative_to(_watched[0]) and not any(path.is_relative_to(a) for a in _allowed):
        _outside.append(str(path))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it checks only while an example runs


def _write(root: Path, book: dict) -> Path:
    secret = root / "secret"
    secret.mkdir()
    (secret / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    (secret / "secret.png").write_bytes(PNG)
    folder = root / "book"
    (folder / "images").mkdir(parents=True)
    (folder / "book.yaml").write_text(book["config"].replace("{secret}", str(secret).lstrip("/")), encoding="utf-8",
                                      errors="surrogateescape")
    for name in ("pixel.png", "odd name.png", "a#b.png"):
        (folder / "images" / name).write_bytes(PNG)
    (folder / "images" / "pic.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><script>x()'
                                                b'</script><rect width="4" height="4"/></svg>')
    (folder / "refs.bib").write_text("@book{key, title={A Book}, author={Jane Doe}, year=2001}\n")
    if book["links"]:
        (folder / "link-out.md").symlink_to(secret / "secret.md")
        (folder / "link-out.png").symlink_to(secret / "secret.png")
        (folder / "loop.png").symlink_to("loop.png")
    for n, (name, text) in enumerate(book["chapters"], start=1):
        safe = name.replace("\\", "_").strip(". ") or "x"
        text = text.replace("{secret}", str(secret).lstrip("/"))
        if book["metadata"] and n == 1:
            text = f"---\n{book['metadata']}---\n\n{text}"
        path = folder / f"{n:02d}-{safe}.md"
        if not path.exists():
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return folder


_tried = 0
_refusals: list[str] = []
_built = 0
_checked: list[Path] = []
_started: list[float] = []


@pytest.mark.e2e
@settings(max_examples=EXAMPLES, deadline=None, database=None, phases=(Phase.generate,),
          suppress_health_check=list(HealthCheck))
@given(book=BOOK)
def test_random_books_through_publish_build(book: dict, capsys: pytest.CaptureFixture[str]) -> None:
    global _tried, _built
    if not _started:
        _started.append(time.monotonic())
    if time.monotonic() - _started[0] > SECONDS:
        return  # the time budget is spent: the remaining examples are skipped cheaply
    _tried += 1
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary).resolve()
        folder = _write(root, book)
        out = root / "out"
        _watched[:] = [root]
        _allowed[:] = [folder.resolve(), out, Path(os.environ.get("PUBLISH_CACHE_DIR", "/nonexistent")).resolve()]
        try:
            code = main(["build", str(folder), "-o", str(out), "-q",
                         "--format", "epub,html,pdf" if book["pdf"] else "epub,html"])
        finally:
            _watched.clear()
        err = capsys.readouterr().err
        assert code in {EXIT_OK, EXIT_BOOK}, err
        assert "Traceback" not in err and "internal error" not in err, err
        assert not _outside, f"read outside the book: {sorted(set(_outside))}"
        assert SECRET not in "".join(p.read_text(errors="replace") for p in out.rglob("*.html")) if out.exists() else True
        if code != EXIT_OK:
            assert "build failed" in err
            _refusals.extend(sorted(set(re.findall(r" error ([\w-]+):", err))))
            return
        _built += 1
        (epub_path,) = out.glob("*.epub")
        data = epub_path.read_bytes()
        assert SECRET.encode() not in data
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        with zipfile.ZipFile(io.BytesIO(data)) as epub:
            for name in epub.namelist():
                if name.endswith((".xhtml", ".opf", ".ncx", ".xml", ".svg")):
                    etree.fromstring(epub.read(name), parser)  # raises on anything not well-formed
            assert b"scripted" not in epub.read("EPUB/content.opf")
        if len(_checked) < EPUBCHECK_SAMPLE:
            _checked.append(epub_path)
            checking = time.monotonic()
            report = run_epubcheck(epub_path)
            _started[0] += time.monotonic() - checking  # EPUBCheck's time is not the fuzzing budget's
            assert report.ok, report.summary()


def teardown_module() -> None:
    message = (f"fuzz: {_tried} random books through publish build in {SECONDS:g} s at most: {_built} built "
               f"({len(_checked)} of them checked by EPUBCheck), {_tried - _built} refused with messages")
    print(f"\n{message}")
    print("refused for:", Counter(_refusals).most_common(12))
    artifacts = Path(__file__).parent / "_artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fuzz-count.txt").write_text(message + "\n")
    shutil.rmtree(artifacts / "fuzz", ignore_errors=True)
