"""Store preflight: each store's rules on the facts read out of an EPUB, the facts read right from
real EPUBs, and `check` checking the very EPUB `build` ships."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from conftest import EPOCH, REPO, MakeBook, parse, png
from PIL import Image

from publish import check as check_module
from publish.check import check_book
from publish.cli import EXIT_OK, EXIT_USAGE, main
from publish.cover import render_cover
from publish.diagnostics import Severity
from publish.epub import Cover, render_epub
from publish.stores import RULES, STORES, EpubFacts, ImageFacts, ImageUse, read_epub, store_diagnostics

GOOD_COVER = ImageFacts("EPUB/images/cover.jpg", "image/jpeg", 150_000, 1580, 2528, "RGB")
CLEAN = EpubFacts("book.epub", 150_000, ("urn:isbn:9780000000002",), ("A Book",), ("Ann Author",), ("en",),
                  GOOD_COVER, (GOOD_COVER,), (ImageUse("EPUB/cover.xhtml", "images/cover.jpg", "Cover of A Book"),),
                  (("EPUB/styles/fonts/BookFace-Regular.ttf", "font/ttf"),), (("EPUB/chapter-001.xhtml", 4000),),
                  ("EPUB/content.opf", "mimetype"), apple_fonts=True)


def findings(facts: EpubFacts, stores: tuple[str, ...] = STORES) -> dict[str, Severity]:
    found = {}
    for rule in RULES:
        if rule.store in stores or rule.store == "any":
            for severity, _message, _hint, _file in rule.check(facts):
                found[f"{rule.store} {rule.code}"] = max(severity, found.get(f"{rule.store} {rule.code}", severity))
    return found


def problems(facts: EpubFacts) -> dict[str, Severity]:
    return {code: s for code, s in findings(facts).items() if s >= Severity.WARNING}


def with_cover(**changes: object) -> EpubFacts:
    cover = dataclasses.replace(GOOD_COVER, **changes)
    return dataclasses.replace(CLEAN, cover=cover, images=(cover,))


def test_a_clean_book_breaks_no_rule_and_is_told_its_delivery_fee() -> None:
    assert problems(CLEAN) == {}
    assert findings(CLEAN) == {"kdp delivery-fee": Severity.INFO}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"width": 400, "height": 640}, {"kdp cover-size": Severity.ERROR, "apple cover-size": Severity.WARNING,
                                     "google cover": Severity.ERROR}),
    ({"width": 1200, "height": 1920}, {"kdp cover-size": Severity.WARNING, "apple cover-size": Severity.WARNING}),
    ({"width": 1600, "height": 2560}, {"apple image-pixels": Severity.ERROR}),
    ({"width": 2000, "height": 2000}, {"kdp cover-size": Severity.WARNING}),
    ({"width": 8000, "height": 12800}, {"kdp cover-size": Severity.ERROR, "apple image-pixels": Severity.ERROR,
                                        "google cover": Severity.ERROR}),
    ({"media_type": "image/gif"}, {"kobo cover": Severity.ERROR}),
    ({"size": 4 * 1024 * 1024}, {"kobo cover": Severity.WARNING}),
    ({"mode": "CMYK"}, {"kobo images": Severity.WARNING}),
    ({"transparent": True, "mode": "RGBA"}, {"kdp image-format": Severity.WARNING, "kobo images": Severity.WARNING}),
    ({"media_type": "image/tiff"}, {"kdp image-format": Severity.ERROR}),
    ({"frames": 3, "media_type": "image/gif"}, {"kdp image-format": Severity.ERROR, "kobo cover": Severity.ERROR}),
    ({"size": 6 * 1024 * 1024}, {"kdp image-format": Severity.WARNING, "kobo images": Severity.WARNING,
                                 "kobo cover": Severity.WARNING}),
])
def test_cover_and_image_rules(changes: dict, expected: dict[str, Severity]) -> None:
    assert problems(with_cover(**changes)) == expected


def test_no_cover_at_all() -> None:
    facts = dataclasses.replace(CLEAN, cover=None, images=(), uses=())
    assert problems(facts) == {"kobo cover": Severity.ERROR, "google cover": Severity.ERROR}


def test_alt_text_is_asked_for_by_kdp_and_apple() -> None:
    uses = (ImageUse("EPUB/chapter-001.xhtml", "images/a.png", None), ImageUse("EPUB/chapter-001.xhtml", "images/b.png", ""),
            ImageUse("EPUB/cover.xhtml", "images/cover.jpg", ""))
    found = problems(dataclasses.replace(CLEAN, uses=uses))
    assert found == {"kdp alt-text": Severity.WARNING, "apple alt-text": Severity.WARNING}
    decorative = (ImageUse("EPUB/chapter-001.xhtml", "images/b.png", ""),)  # alt="" marks decoration: fine
    assert problems(dataclasses.replace(CLEAN, uses=decorative)) == {}
    long = (ImageUse("EPUB/chapter-001.xhtml", "images/a.png", "x" * 141),)
    assert problems(dataclasses.replace(CLEAN, uses=long)) == {"kdp alt-length": Severity.WARNING}


def test_size_limits() -> None:
    mb = 1024 * 1024
    assert problems(dataclasses.replace(CLEAN, size=700 * mb)) == {"kdp file-size": Severity.ERROR}
    assert problems(dataclasses.replace(CLEAN, size=1100 * mb)) == {
        "kdp file-size": Severity.ERROR, "apple file-size": Severity.WARNING, "kobo file-size": Severity.WARNING}
    assert problems(dataclasses.replace(CLEAN, size=2100 * mb))["google file-size"] is Severity.ERROR
    big = dataclasses.replace(CLEAN, documents=(("EPUB/chapter-001.xhtml", 11 * mb),))
    assert problems(big) == {"kobo documents": Severity.WARNING}


def test_fonts_names_and_identifiers() -> None:
    assert problems(dataclasses.replace(CLEAN, apple_fonts=False)) == {"apple fonts": Severity.WARNING}
    woff2 = dataclasses.replace(CLEAN, fonts=(("EPUB/fonts/a.woff2", "font/woff2"),))
    assert problems(woff2) == {"kobo fonts": Severity.WARNING}
    odd = dataclasses.replace(CLEAN, files=("EPUB/images/my picture.jpg",))
    assert problems(odd) == {"kobo file-names": Severity.WARNING}
    for identifier, isbn in (("urn:isbn:978-0-00-000000-2", True), ("9780000000002", True), ("0-306-40615-2", True),
                             ("urn:uuid:1ce743aa-d6b6-5ae6-80cf-8f82de443598", False), ("urn:uuid:1234567890", False)):
        found = findings(dataclasses.replace(CLEAN, identifiers=(identifier,)))
        assert ("kobo isbn" not in found) == isbn, identifier
    assert findings(dataclasses.replace(CLEAN, creators=()))["any author"] is Severity.INFO


def test_the_delivery_fee_for_each_marketplace() -> None:
    [fee] = [d for d in store_diagnostics_of(dataclasses.replace(CLEAN, size=3 * 1024 * 1024)) if d[0] == "kdp delivery-fee"]
    message = fee[1]
    assert "3.00 MB" in message
    for expected in ("Amazon.com US$0.45", "Amazon.co.uk £0.30", "Amazon.de €0.36", "Amazon.in ₹21.00",
                     "Amazon.co.jp ¥3", "Amazon.com.br R$0.90", "Amazon.com.au A$0.45"):
        assert expected in message
    [tiny] = [d for d in store_diagnostics_of(dataclasses.replace(CLEAN, size=10_000)) if d[0] == "kdp delivery-fee"]
    assert "Amazon.com US$0.01" in tiny[1] and "Amazon.co.jp ¥1" in tiny[1]  # at least one of the smallest coin


def store_diagnostics_of(facts: EpubFacts) -> list[tuple[str, str]]:
    return [(f"{r.store} {r.code}", m) for r in RULES for _s, m, _h, _f in r.check(facts)]


def test_every_rule_is_documented_with_its_source() -> None:
    docs = (REPO / "docs" / "stores.md").read_text()
    for rule in RULES:
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{rule.store} {rule.code}`")), None)
        assert row, f"docs/stores.md has no row for {rule.store} {rule.code}"
        # A link, or a page cited above (Kobo's and Google's rows all cite the one page above their table).
        assert "http" in row or "(above)" in row or rule.store in {"kobo", "google", "any"}, row


# --- the facts, read from EPUBs ----------------------------------------------------------------------

def test_the_facts_are_read_from_an_epub(make_book: MakeBook, tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("CMYK", (30, 20), (0, 0, 0, 255)).save(out, "JPEG")
    rgba = io.BytesIO()
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(rgba, "PNG")
    book = parse(make_book({"01-a.md": "# A\n\n![A dot](images/dot.png)\n\n![](images/print.jpg)\n\n![Ghost](images/ghost.png)\n"},
                           config="title: Facts\nauthor: Ann Author\n",
                           files={"images/dot.png": png(), "images/print.jpg": out.getvalue(),
                                  "images/ghost.png": rgba.getvalue()}))
    cover = render_cover(book.config, styles_dir=REPO / "styles")
    epub = tmp_path / "facts.epub"
    epub.write_bytes(render_epub(book, cover=Cover(cover, "image/jpeg", "images/cover.jpg", "Cover of Facts")))
    facts = read_epub(epub)
    assert facts.cover and (facts.cover.width, facts.cover.height, facts.cover.mode) == (1580, 2528, "RGB")
    images = {Path(i.href).name: i for i in facts.images}
    assert images["print.jpg"].mode == "CMYK" and images["ghost.png"].transparent and not images["dot.png"].transparent
    assert {u.src: u.alt for u in facts.uses} == {"images/cover.jpg": "Cover of Facts", "images/dot.png": "A dot",
                                                 "images/print.jpg": "", "images/ghost.png": "Ghost"}
    assert facts.apple_fonts and facts.fonts and facts.creators == ("Ann Author",) and facts.size == epub.stat().st_size
    found = {d.code: d for d in store_diagnostics(epub)}
    assert {"kobo images", "kdp image-format", "kdp delivery-fee", "kobo isbn"} <= set(found)
    assert found["kobo images"].file == Path("facts.epub/EPUB/images/print.jpg")
    assert "docs/stores.md" in (found["kobo images"].hint or "")


def test_the_generated_cover_passes_every_store() -> None:
    book = parse(REPO / "manuscript")
    data = render_cover(book.config, styles_dir=REPO / "styles")
    image = Image.open(io.BytesIO(data))
    cover = ImageFacts("EPUB/images/cover.jpg", "image/jpeg", len(data), image.width, image.height, image.mode)
    assert problems(with_cover(**dataclasses.asdict(cover))) == {}


def test_an_unreadable_file_is_one_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.epub"
    broken.write_bytes(b"not a zip")
    [d] = store_diagnostics(broken)
    assert (d.code, d.severity) == ("store-unreadable", Severity.ERROR)


# --- check checks what build ships ---------------------------------------------------------------------

def test_check_validates_the_epub_build_ships(make_book: MakeBook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from publish.build import build

    root = make_book({"01-a.md": "# A\n\nText.[^1]\n\n* * *\n\nMore.\n\n[^1]: A note.\n", "02-b.md": "# B\n\nThe end.\n"},
                     config="title: Shipped\nauthor: Ann Author\n")
    checked: list[bytes] = []

    def record(epub: Path, stores: tuple[str, ...]) -> list:
        checked.append(epub.read_bytes())
        return []

    monkeypatch.setattr(check_module, "store_diagnostics", record)
    report = check_book(root, tools=(), stores=("kdp",), source_date_epoch=EPOCH, cache_dir=tmp_path / "cache")
    assert report.ran == ("lint", "stores") and [d for d in report.diagnostics if d.severity >= Severity.WARNING] == []
    shipped = build(root, tmp_path / "out", source_date_epoch=EPOCH, cache_dir=tmp_path / "other-cache", clean=True)
    [epub] = [p for p in shipped.outputs if p.suffix == ".epub"]
    assert checked == [epub.read_bytes()]
    assert b'epub:type="page-list"' in _nav(epub)  # the print page numbers, which a bare EPUB lacked


def _nav(epub: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(epub) as archive:
        return archive.read("EPUB/nav.xhtml")


def test_store_choice_on_the_command_line(make_book: MakeBook, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_book(config="title: Choice\nauthor: Ann Author\n")
    assert main(["check", str(root), "--skip", "epubcheck,ace", "--store", "kdp"]) == EXIT_OK
    out = capsys.readouterr().err
    assert "info kdp delivery-fee" in out and "kobo" not in out and "check (lint, stores, covers)" in out
    assert main(["check", str(root), "--skip", "epubcheck,ace", "--store", "none", "-q"]) == EXIT_OK
    assert capsys.readouterr().err == ""
    with pytest.raises(SystemExit) as leaving:
        main(["check", str(root), "--store", "barnes"])
    assert leaving.value.code == EXIT_USAGE
    assert re.search(r"unknown store barnes: choose from kdp, apple, kobo, google", capsys.readouterr().err)
