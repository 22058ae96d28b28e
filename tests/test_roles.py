"""Book parts and roles (publish.roles, docs/authoring.md): how book.yaml and headings give them,
and where each lands in every edition of tests/books/roles, which uses every role and two parts.

The e2e tests read the built PDF (pages, page labels, part pages on rectos with blank versos, a
dedication with no heading), the EPUB (epub:type, ARIA roles, landmarks, the nested contents,
EPUBCheck and Ace) and the web edition."""

from __future__ import annotations

import zipfile
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from printed import BOOKS, built, printed

from publish.build import build
from publish.config import ChapterEntry, read_chapter_list
from publish.diagnostics import BuildFailed
from publish.manuscript import load_manuscript
from publish.parse import parse_book
from publish.roles import ROLES, role_named

NS = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
      "opf": "http://www.idpf.org/2007/opf"}
EPUB_TYPE = f"{{{NS['epub']}}}type"
ROLES_BOOK = BOOKS["roles"]
# Every role but "chapter", as the test book gives them, in its order.
EXPECTED_ROLES = ["dedication", "epigraph", "foreword", "preface", "acknowledgements", "introduction", "prologue",
                  "", "", "", "", "epilogue", "afterword", "appendix", "glossary", "bibliography",
                  "about-the-author", "also-by"]


# --- how an author marks them ---------------------------------------------------------------------


def test_a_chapters_list_reads_files_roles_and_parts() -> None:
    entries, problem = read_chapter_list(["a.md", {"file": "b.md", "role": "Acknowledgments"},
                                          {"part": "Part One", "chapters": ["c.md", {"file": "d.md"}]}])
    assert problem == ""
    assert entries == (ChapterEntry("a.md"), ChapterEntry("b.md", "acknowledgements"),
                       ChapterEntry("c.md", part="Part One"), ChapterEntry("d.md", part="Part One"))


@pytest.mark.parametrize(("value", "says"), [
    ([{"file": "a.md", "role": "prefatory"}], "does not know"),
    ([{"part": "One"}], "needs its own 'chapters:'"),
    ([{"part": "One", "chapters": [{"part": "Two", "chapters": ["a.md"]}]}], "do not nest"),
    ([{"file": "a.md", "roles": "preface"}], "'roles'"),
    ([["a.md"]], "neither a file name"),
])
def test_a_bad_chapters_entry_says_what_is_wrong(value: list, says: str) -> None:
    entries, problem = read_chapter_list(value)
    assert entries is None and says in problem


def test_an_unknown_role_is_an_error_naming_book_yaml(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("title: T\nchapters:\n  - file: a.md\n    role: prefatory\n")
    (tmp_path / "a.md").write_text("# A\n\nText.\n")
    with pytest.raises(BuildFailed) as failed:
        load_manuscript(tmp_path)
    (problem,) = failed.value.diagnostics
    assert problem.code == "config-value" and "prefatory" in problem.message and "roles:" in problem.message


def test_role_names_are_read_as_authors_write_them() -> None:
    assert role_named("Acknowledgments") is ROLES["acknowledgements"]
    assert role_named("about the author") is ROLES["about-the-author"]
    assert role_named("Also_By") is ROLES["also-by"]
    assert role_named("prefatory") is None


def test_a_heading_gives_its_chapter_a_role_as_pandoc_marks_it(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("title: T\n")
    (tmp_path / "01.md").write_text("# To M. {epub:type=dedication}\n\nFor M.\n\n# Preface {.preface .unnumbered}\n\n"
                                    "Why.\n\n# One\n\nText.\n\n# Notes on Sources {epub:type=appendix}\n\nSources.\n")
    book = parse_book(load_manuscript(tmp_path))
    assert [c.role_name for c in book.chapters] == ["dedication", "preface", "", "appendix"]
    assert book.matter == ("front", "front", "body", "back")
    assert "epub:type" not in book.chapters[0].html


def test_an_untitled_dedication_is_named_by_its_role_without_a_warning(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("title: T\nchapters:\n  - file: 00.md\n    role: dedication\n  - 01.md\n")
    (tmp_path / "00.md").write_text("For M.\n")
    (tmp_path / "01.md").write_text("# One\n\nText.\n")
    book = parse_book(load_manuscript(tmp_path))
    assert book.chapters[0].title.text == "Dedication"
    assert not [d for d in book.diagnostics if d.code == "chapter-untitled"]


def test_front_matter_after_the_text_is_back_matter_and_the_text_is_never_empty(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("title: T\nchapters:\n  - 01.md\n  - file: 02.md\n    role: acknowledgements\n")
    (tmp_path / "01.md").write_text("# One\n\nText.\n")
    (tmp_path / "02.md").write_text("# Thanks\n\nTo all.\n")
    assert parse_book(load_manuscript(tmp_path)).matter == ("body", "back")
    (tmp_path / "book.yaml").write_text("title: T\nchapters:\n  - file: 01.md\n    role: preface\n")
    assert parse_book(load_manuscript(tmp_path)).matter == ("body",)


def test_the_test_book_gives_every_role_and_two_parts() -> None:
    book = parse_book(load_manuscript(ROLES_BOOK))
    assert [c.role_name for c in book.chapters] == EXPECTED_ROLES
    assert set(EXPECTED_ROLES) - {""} == set(ROLES) - {"chapter"}
    assert [p.title for p in book.parts_declared] == ["Part One: Light", "Part Two: Dark"]
    assert book.matter == ("front",) * 5 + ("body",) * 8 + ("back",) * 5
    contents = book.contents(1)
    parts = [e for e in contents if e.kind == "part"]
    assert [[c.text for c in p.children] for p in parts] == [["The Lamp", "The Storm"], ["The Ice", "The Relief"]]
    assert [p.id for p in parts] == [p.id for p in book.parts_declared]


# --- the editions ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_print_edition_places_each_role() -> None:
    pdf = printed("roles")
    pages = pdf.pages()
    by_text = {}
    for page in pages:
        if page.text and page.text[0].text not in by_text:
            by_text[page.text[0].text] = page
    # The front matter in its order, numbered in roman; the text from arabic 1 at the introduction.
    dedication = next(p for p in pages if p.words().startswith("For my father"))
    epigraph = next(p for p in pages if p.words().startswith("The sea has neither"))
    contents = next(p for p in pages if p.words().startswith("Contents"))
    order = [dedication.index, epigraph.index, contents.index] + [
        by_text[t].index for t in ("Foreword", "Preface", "Acknowledgements", "Introduction")]
    assert order == sorted(order)
    assert all(pages[i].label.isalpha() and pages[i].label == pages[i].label.lower() for i in order[:-1])
    assert by_text["Introduction"].label == "1"
    # A dedication and an epigraph: alone on a recto, no heading, no folio, nothing on the verso after.
    for page in (dedication, epigraph):
        assert page.recto and not page.folio and not page.head
        assert "Dedication" not in page.words() and "Epigraph" not in page.words()
        assert pages[page.index + 1].blank
    # The dedication's text is centred: its lines' middles lie at the text block's middle.
    width = pdf.reader.pages[dedication.index].mediabox.width
    for line in dedication.text:
        middle = (line.x0 + line.x1) / 2
        assert abs(middle - float(width) / 2) < 0.15 * float(width)
    # Part pages: on rectos, nothing but the part's title, a blank verso after.
    for title in ("Part One: Light", "Part Two: Dark"):
        (part,) = [p for p in pages if p.words() == title]
        assert part.recto and not part.folio and not part.head
        assert pages[part.index + 1].blank
    # The contents lists the front matter after it with roman numbers, the parts with their chapters.
    words = contents.words()
    assert "Dedication" not in words and "Epigraph" not in words
    assert "Foreword ix" in words and "A Note on the Log xi" in words and "Part One: Light" in words
    assert words.index("Part One: Light") < words.index("The Lamp") < words.index("Part Two: Dark")


@pytest.mark.e2e
def test_the_print_edition_bookmarks_the_parts() -> None:
    outline = [(title, level) for title, level, _ in printed("roles").outline()]
    assert ("Part One: Light", 1) in outline and ("Part Two: Dark", 1) in outline
    # A part's chapters under it, the chapters after the parts at the top again.
    assert ("The Lamp", 2) in outline and ("The Relief", 2) in outline and ("Epilogue", 1) in outline
    assert "Dedication" not in [title for title, _ in outline]


def _epub(name: str) -> dict[str, bytes]:
    with zipfile.ZipFile(built(name).epub) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.e2e
def test_the_epub_gives_each_role_its_semantics_and_landmark() -> None:
    files = _epub("roles")
    book = built("roles").book
    for chapter in book.chapters:
        doc = etree.fromstring(files[f"EPUB/{chapter.file_name}"])
        (section,) = doc.xpath("//x:body/x:section", namespaces=NS)
        role = chapter.role
        assert section.get(EPUB_TYPE) == (role.epub_type or None), chapter.title.text
        assert section.get("role") == (role.aria or None), chapter.title.text
        if role.display:  # no heading, but a name
            assert not section.xpath(".//x:h2", namespaces=NS)
            assert section.get("aria-label") == chapter.title.text
        (body,) = doc.xpath("//x:body", namespaces=NS)
        matter = book.matter[chapter.index - 1]
        assert body.get(EPUB_TYPE) == {"front": "frontmatter", "back": "backmatter"}.get(matter, body.get(EPUB_TYPE))
    for part in book.parts_declared:
        doc = etree.fromstring(files[f"EPUB/{part.file_name}"])
        (section,) = doc.xpath("//x:body/x:section", namespaces=NS)
        assert section.get(EPUB_TYPE) == "part" and section.get("role") == "doc-part"
        assert section.xpath("string(.//x:h2)", namespaces=NS) == part.title
    nav = etree.fromstring(files["EPUB/nav.xhtml"])
    landmarks = {a.get(EPUB_TYPE): a.get("href") for a in nav.xpath("//x:nav[@epub:type='landmarks']//x:a", namespaces=NS)}
    for kind in ("dedication", "epigraph", "foreword", "preface", "acknowledgments", "introduction", "prologue",
                 "epilogue", "afterword", "appendix", "glossary", "bibliography"):
        assert kind in landmarks, kind
    intro = next(c for c in book.chapters if c.role_name == "introduction")
    assert landmarks["bodymatter"] == intro.file_name
    # The spine: the dedication and the epigraph before the contents page, the rest after it.
    opf = etree.fromstring(files["EPUB/content.opf"])
    items = {i.get("id"): i.get("href") for i in opf.xpath("//opf:manifest/opf:item", namespaces=NS)}
    spine = [items[r.get("idref")] for r in opf.xpath("//opf:spine/opf:itemref", namespaces=NS)]
    assert spine.index("chapter-001.xhtml") < spine.index("chapter-002.xhtml") < spine.index("contents.xhtml") \
        < spine.index("chapter-003.xhtml")
    assert spine.index("part-001.xhtml") + 1 == spine.index("chapter-008.xhtml")


@pytest.mark.e2e
def test_the_epub_contents_nest_chapters_in_their_parts() -> None:
    nav = etree.fromstring(_epub("roles")["EPUB/nav.xhtml"])
    (toc,) = nav.xpath("//x:nav[@epub:type='toc']/x:ol", namespaces=NS)
    top = [li.xpath("string(x:a)", namespaces=NS) for li in toc.xpath("x:li", namespaces=NS)]
    assert top[:2] == ["Dedication", "Epigraph"]
    assert "Part One: Light" in top and "The Lamp" not in top
    (part,) = toc.xpath("x:li[x:a='Part One: Light']", namespaces=NS)
    assert part.xpath("x:a/@href", namespaces=NS) == ["part-001.xhtml"]
    assert [a.text for a in part.xpath("x:ol/x:li/x:a", namespaces=NS)] == ["The Lamp", "The Storm"]


@pytest.mark.e2e
def test_the_roles_book_passes_epubcheck_and_ace() -> None:
    from validators import run_ace, run_epubcheck

    path = built("roles").epub
    report = run_epubcheck(path)
    assert report.ok and not report.messages, report.summary()
    ace = run_ace(path)
    assert ace.violations == (), ace.summary()


@pytest.mark.e2e
def test_the_web_edition_shows_roles_and_parts(tmp_path: Path) -> None:
    result = build(ROLES_BOOK, tmp_path, formats=("html",), source_date_epoch="1700000000")
    assert not result.diagnostics, "\n".join(map(str, result.diagnostics))
    (index,) = [p for p in (*result.outputs, *tmp_path.rglob("index.html")) if p.name == "index.html"][:1]
    page = lxml.html.fromstring(index.read_bytes())
    (dedication,) = page.xpath("//section[@role='doc-dedication']")
    assert dedication.get("aria-label") == "Dedication" and not dedication.xpath(".//h2")
    assert page.xpath("//section[@role='doc-appendix']//h2/text()") == ["Appendix: The Watches"]
    parts = page.xpath("//section[@role='doc-part']")
    assert [p.text_content().strip() for p in parts] == ["Part One: Light", "Part Two: Dark"]
    (part_entry,) = page.xpath("//nav[@id='contents']//li[@class='contents-part'][1]")
    assert part_entry.xpath("a/@href") == [f"#{parts[0].get('id')}"]
    assert part_entry.xpath("ol/li/a/text()") == ["The Lamp", "The Storm"]


@pytest.mark.e2e
@pytest.mark.parametrize("openings", ["any", "continuous"])
def test_part_pages_and_display_pages_keep_their_rectos_whatever_the_openings(openings: str, tmp_path: Path) -> None:
    import shutil

    from printed import PrintedPdf

    folder = tmp_path / "book"
    shutil.copytree(ROLES_BOOK, folder)
    with (folder / "book.yaml").open("a", encoding="utf-8") as config:
        config.write(f"chapter-openings: {openings}\n")
    result = build(folder, tmp_path / "out", formats=("pdf",), source_date_epoch="1700000000")
    assert not result.diagnostics, "\n".join(map(str, result.diagnostics))
    pdf = PrintedPdf(next(p for p in result.outputs if p.suffix == ".pdf"), result.book)
    pages = pdf.pages()
    for starts in ("For my father", "The sea has neither", "Part One: Light", "Part Two: Dark"):
        (page,) = [p for p in pages if p.words().startswith(starts)]
        assert page.recto and not page.head and not page.folio, (starts, page.label)
        if starts.startswith("Part"):
            # The verso after a part's page, and any before it, carries nothing: no running head either.
            assert pages[page.index + 1].blank, (starts, pages[page.index + 1].head)
            assert pages[page.index - 1].blank or pages[page.index - 1].text
    assert next(p for p in pages if p.words().startswith("Introduction")).label == "1"
    pdf.close()
