"""The subset fonts look exactly like the whole ones: every page of an EPUB, drawn by Chromium (whose
FreeType auto-hinter sets text as Android and many e-ink readers do), is the same, pixel for pixel,
with the fonts the EPUB ships and with the whole font files it was made from.

The second copy of each EPUB is the first with the original `styles/fonts.css` and the whole font
files in place of its subsets, which is what EPUBs carried before subsetting. Each side checks that
the fonts it names loaded, so that two pages set in a fallback font cannot pass for the same.
Pages that differ are saved side by side under tests/_artifacts/subsets/ for a person to look at.

The one known difference is left out: text in small capitals (the spoiler notice's "Spoiler
Alert", the contents' title, chapter titles) is anti-aliased a little differently by FreeType with
a subset (its small-caps handling looks at glyphs of other scripts that could not be narrowed
down): scattered pixels at the edges of the letters, seen only amplified. Pixels inside the boxes
of such text may differ; any other pixel fails the test.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from conftest import EPOCH, REPO, SAMPLE, Epub
from PIL import Image, ImageChops, ImageDraw

from publish.build import build
from publish.templates import STYLES_DIR

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
FEATURES = REPO / "tests" / "books" / "features"
ARTIFACTS = REPO / "tests" / "_artifacts" / "subsets"
VIEWPORT = {"width": 600, "height": 900}
LOADED_FAMILIES = """() => document.fonts.ready.then(() =>
    [...document.fonts].filter(f => f.status === "loaded").map(f => f.family.replace(/^"|"$/g, "")))"""
# The boxes, in page pixels, of the lines of text set in small capitals (see above).
SMALL_CAPS_BOXES = """() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim() || getComputedStyle(node.parentElement).fontVariantCaps === "normal") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects())
      boxes.push([r.left + scrollX - 1, r.top + scrollY - 1, r.right + scrollX + 1, r.bottom + scrollY + 1]);
  }
  return boxes;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test` (scripts/bootstrap.sh dev installs it)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def unpack(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        zipped.extractall(into)
    return into


def with_whole_fonts(shipped: Path, into: Path) -> Path:
    """A copy of the unpacked EPUB at `shipped` with the whole fonts: the original fonts.css, and every
    face it declares beside it (the stylesheets still name the typeface by its own name)."""
    shutil.copytree(shipped, into)
    [styles] = {p.parent for p in into.rglob("fonts.css")}
    (styles / "fonts.css").write_bytes((STYLES_DIR / "fonts.css").read_bytes())
    shutil.copytree(STYLES_DIR / "fonts", styles / "fonts", dirs_exist_ok=True)
    return into


def shoot(page: object, document: Path) -> tuple[Image.Image, list[str]]:
    page.goto(document.as_uri())
    families = page.evaluate(LOADED_FAMILIES)
    return Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB"), families


def outside(diff: Image.Image, boxes: list[list[float]]) -> int:
    """How many pixels of `diff` that differ lie outside every box."""
    masked = diff.convert("L")
    draw = ImageDraw.Draw(masked)
    for left, top, right, bottom in boxes:
        draw.rectangle((int(left), int(top), int(right) + 1, int(bottom) + 1), fill=0)
    return masked.width * masked.height - masked.histogram()[0]


@pytest.mark.parametrize("folder", [SAMPLE, FEATURES], ids=["sample", "features"])
def test_every_page_looks_the_same_with_the_subsets(folder: Path, browser: object, tmp_path: Path) -> None:
    result = build(folder, tmp_path / "out", formats=("epub",), source_date_epoch=EPOCH)
    [epub_file] = result.outputs
    epub = Epub(epub_file.read_bytes())
    subset = unpack(epub.data, tmp_path / "subset")
    whole = with_whole_fonts(subset, tmp_path / "whole")
    opf_dir = PurePosixPath(epub.opf_path).parent
    [fonts_css] = subset.rglob("fonts.css")
    shipped_families = set(re.findall(r'@font-face \{ font-family: "([^"]+)"', fonts_css.read_text()))
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
    different = []
    for href in epub.spine:
        if href == "cover.xhtml":
            continue  # an image: no text
        a, a_families = shoot(page, subset / opf_dir / href)
        b, b_families = shoot(page, whole / opf_dir / href)
        # The subsets' own families (the typeface renamed), and on the other side the typeface whole.
        assert a_families and set(a_families) <= shipped_families and "Gentium Book Plus" not in a_families, (href, a_families)
        assert "Gentium Book Plus" in b_families, (href, b_families)
        if a.size == b.size:
            diff = ImageChops.difference(a, b)
            if diff.getbbox() is None or not outside(diff, page.evaluate(SMALL_CAPS_BOXES)):
                continue
            changed = outside(diff, [])
            elsewhere = outside(diff, page.evaluate(SMALL_CAPS_BOXES))
        else:
            changed = elsewhere = -1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pair = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), "white")
        pair.paste(a, (0, 0))
        pair.paste(b, (a.width, 0))
        pair.save(ARTIFACTS / f"{folder.name}-{PurePosixPath(href).stem}.png")
        different.append((href, a.size, b.size, f"{changed} pixels differ, {elsewhere} outside small capitals"))
    page.close()
    assert not different, f"pages that look different with the subsets (saved in {ARTIFACTS}): {different}"
