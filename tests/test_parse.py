"""The parse stage: Markdown to a `Book` whose ids, notes, links and images are all resolved."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import lxml.html
import pytest
from conftest import EPOCH, SAMPLE, MakeBook, parse, png

from publish.diagnostics import BuildFailed, Diagnostic, Severity
from publish.manuscript import load_manuscript
from publish.model import Book, Chapter
from publish.parse import DEFAULT_MODIFIED, parse_book


def tree(chapter: Chapter) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(chapter.html, create_parent="div")


def errors(root: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(BuildFailed) as caught:
        parse(root)
    problems = tuple(p for p in caught.value.diagnostics if p.severity is Severity.ERROR)
    assert problems and all(p.hint for p in problems)
    return problems


def warnings_of(book: Book, code: str) -> list[Diagnostic]:
    return [d for d in book.diagnostics if d.code == code]


# --- titles -------------------------------------------------------------------------------------


def test_a_chapter_heading_becomes_its_title(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# The *First* Step\n\nText.\n"}))
    [chapter] = book.chapters
    assert chapter.titled and chapter.index == 1 and chapter.source == Path("01-a.md")
    assert chapter.title.text == "The First Step" and chapter.title.html == "The <em>First</em> Step"
    assert chapter.title.level == 2 and chapter.id == chapter.title.id == "the-first-step"
    assert "First Step" not in chapter.html and chapter.html == "<p>Text.</p>"
    assert chapter.file_name == "chapter-001.xhtml"


def test_an_untitled_opening_stands_under_the_book_title(make_book: MakeBook) -> None:
    book = parse(make_book({"00-opening.md": "Two paragraphs before any heading.\n\nThe second.\n",
                            "01-one.md": "# One\n\nText.\n"}, config="title: 'Whiplash: A Symphony'\n"))
    opening = book.chapters[0]
    assert not opening.titled and opening.title.text == "Whiplash: A Symphony"
    assert opening.id == "whiplash-a-symphony"
    assert opening.html.count("<p>") == 2
    assert book.diagnostics == ()


def test_a_later_untitled_chapter_is_named_by_its_place_never_its_file_with_a_warning(make_book: MakeBook) -> None:
    root = make_book({"01-one.md": "# One\n\nText.\n", "02-interlude.md": "No heading here.\n"})
    book = parse(root)
    assert book.chapters[1].title.text == "Chapter 2" and not book.chapters[1].titled
    [warning] = warnings_of(book, "chapter-untitled")
    assert warning.file == root / "02-interlude.md" and warning.line == 1 and warning.hint


def test_text_before_the_first_heading_is_an_untitled_opening(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "A first line.\n\n# Then a heading\n\nText.\n"}))
    opening, chapter = book.chapters
    assert not opening.titled and opening.title.text == "A Small Book" and opening.html == "<p>A first line.</p>"
    assert chapter.titled and chapter.title.text == "Then a heading" and chapter.html == "<p>Text.</p>"


def test_section_headings_are_listed_one_level_down(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# Chapter\n\n## Part *one*\n\nx\n\n### Detail\n\ny\n"}))
    headings = book.chapters[0].headings
    assert [(h.level, h.id, h.text, h.html) for h in headings] == [
        (3, "part-one", "Part one", "Part <em>one</em>"), (4, "detail", "Detail", "Detail")]


def test_non_ascii_headings_keep_their_letters_in_ids(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# Ἡ Ὀδύσσεια\n\n## Café au lait\n\nx\n"}))
    assert book.chapters[0].id == "ἡ-ὀδύσσεια" and book.chapters[0].headings[0].id == "café-au-lait"


def test_a_heading_that_starts_with_a_digit_gets_an_id_that_does_not(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# 1984\n\n## 2 Parts\n\nx\n"}))
    assert not book.chapters[0].id[0].isdigit() and not book.chapters[0].headings[0].id[0].isdigit()


# --- ids ------------------------------------------------------------------------------------------


def all_ids(book: Book) -> list[str]:
    ids = [c.id for c in book.chapters]
    for chapter in book.chapters:
        ids += tree(chapter).xpath("//@id")
        ids += [n.id for n in chapter.notes]
    return ids


def test_ids_are_unique_across_the_book_when_headings_repeat(make_book: MakeBook) -> None:
    chapter = "# Introduction\n\n## Notes\n\nx\n\n## Notes\n\ny\n"
    book = parse(make_book({"01-a.md": chapter, "02-b.md": chapter, "03-c.md": "# Notes\n\nz\n"}))
    ids = all_ids(book)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert [c.id for c in book.chapters] == ["introduction", "introduction-1", "notes-4"]  # Pandoc's ids
    first, second = ([h.id for h in c.headings] for c in book.chapters[:2])
    assert len(set(first)) == len(set(second)) == 2 and not set(first) & set(second)
    assert all(c.anchors >= {c.id, *(h.id for h in c.headings)} for c in book.chapters)
    assert book.diagnostics == ()  # renaming a repeated heading is normal, not worth a warning


def test_an_explicit_id_repeated_in_another_file_is_renamed_quietly_and_its_links_follow(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nFirst.\n{: #key }\n", "02-b.md": "# B\n\nSecond.\n{: #key }\n\n[back](#key)\n"})
    book = parse(root)
    assert 'id="key"' in book.chapters[0].html
    assert '<p id="key-2">Second.</p>' in book.chapters[1].html
    assert 'href="#key-2"' in book.chapters[1].html  # a link inside the file finds its own
    assert warnings_of(book, "duplicate-id") == []


def test_an_explicit_id_repeated_in_one_file_is_renamed_with_a_warning(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nFirst.\n{: #key }\n\nSecond.\n{: #key }\n"})
    [warning] = warnings_of(parse(root), "duplicate-id")
    assert warning.file == root / "01-a.md" and warning.line == 4 and "'key'" in warning.message


# --- notes ----------------------------------------------------------------------------------------

NOTES = {
    "01-a.md": "# A\n\nFirst claim.[^x] Second claim.[^y]\n\n[^x]: The *first* note.\n[^y]: The second note.\n",
    "02-b.md": "# B\n\nAnother claim.[^x]\n\n[^x]: A note in the second chapter.\n\n    With a second paragraph.\n",
}


def test_footnotes_become_notes_numbered_per_chapter(make_book: MakeBook) -> None:
    book = parse(make_book(NOTES))
    first, second = book.chapters
    assert [n.number for n in first.notes] == [1, 2] and [n.number for n in second.notes] == [1]
    assert first.notes[0].html == "<p>The <em>first</em> note.</p>"
    assert second.notes[0].html.count("<p>") == 2
    assert "footnote" not in first.html.replace("noteref", "")  # Python-Markdown's own list is gone
    assert len({n.id for c in book.chapters for n in c.notes}) == 3


def test_note_references_and_notes_point_at_each_other(make_book: MakeBook) -> None:
    book = parse(make_book(NOTES))
    for chapter in book.chapters:
        html = tree(chapter)
        refs = html.xpath("//a[@class='noteref']")
        assert len(refs) == len(chapter.notes)
        for ref, note in zip(refs, chapter.notes, strict=True):
            assert ref.get("href") == f"#{note.id}" and ref.get("role") == "doc-noteref"
            assert ref.text == str(note.number) and ref.get("id") == note.ref_id
            assert {note.id, note.ref_id} <= chapter.anchors
        assert not html.xpath("//sup")  # the reference is the link itself


def test_a_note_without_a_reference_and_a_reference_without_a_note(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nText.[^missing]\n\n[^orphan]: Never called.\n"}))
    assert "[^missing]" in book.chapters[0].html
    assert [n.ref_id for n in book.chapters[0].notes] in ([], [""])


# --- links ----------------------------------------------------------------------------------------

LINKED = {
    "01-a.md": "# A\n\nSee [the method](02-b.md#method), [chapter B](02-b.md), [here](#local) and "
               "[the web](https://example.org/x).\n\n## Local\n\nx\n",
    "02-b.md": "# B\n\n## Method\n\nBack to [A](./01-a.md#local).\n",
}


def test_cross_chapter_links_become_book_wide_anchors(make_book: MakeBook) -> None:
    book = parse(make_book(LINKED))
    hrefs = [tree(c).xpath("//a/@href") for c in book.chapters]
    assert hrefs == [["#method", "#b", "#local", "https://example.org/x"], ["#local"]]
    assert book.chapter_of("method") is book.chapters[1] and book.chapter_of("local") is book.chapters[0]


def test_links_across_folders_resolve_relative_to_the_chapter(make_book: MakeBook) -> None:
    book = parse(make_book({"part1/a.md": "# A\n\n[to B](../part2/b.md#end)\n", "part2/b.md": "# B\n\n## End\n"},
                           config="title: T\nchapters: [part1/a.md, part2/b.md]\n"))
    assert 'href="#end"' in book.chapters[0].html


def test_a_link_to_a_missing_chapter_is_a_warning_with_its_line_and_its_text_stays(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nline 3\n\nSee [B *b*](02-bee.md).\n", "02-b.md": "# B\n"})
    book = parse(root)
    [problem] = warnings_of(book, "broken-link")
    assert problem.file == root / "01-a.md" and problem.line == 5
    assert "'02-bee.md'" in problem.message and "02-b.md" in (problem.hint or "")
    assert book.chapters[0].html.endswith("<p>See B <em>b</em>.</p>")


def test_a_link_to_a_missing_anchor_suggests_the_nearest(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nSee [it](02-b.md#methd).\n\nAnd [this](#nowhere-at-all).\n",
                      "02-b.md": "# B\n\n## Method\n"})
    problems = warnings_of(parse(root), "broken-anchor")
    assert [(p.code, p.line) for p in problems] == [("broken-anchor", 3), ("broken-anchor", 5)]
    assert problems[0].hint == "did you mean '#method'?"
    assert "'#nowhere-at-all'" in problems[1].message


def test_messages_name_files_as_the_user_named_the_book_folder(make_book: MakeBook, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    make_book({"01-a.md": "# A\n\n[x](x.md)\n"})
    monkeypatch.chdir(tmp_path)
    [problem] = parse(Path("book")).diagnostics
    assert problem.file == Path("book/01-a.md")


def test_every_broken_link_in_the_book_is_reported_at_once(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\n[x](x.md)\n", "02-b.md": "# B\n\n[y](y.md)\n"})
    assert [p.file.name for p in parse(root).diagnostics if p.file] == ["01-a.md", "02-b.md"]


def test_a_link_out_of_the_book_folder_is_broken(make_book: MakeBook) -> None:
    [problem] = parse(make_book({"01-a.md": "# A\n\n[up](../../etc/passwd)\n"})).diagnostics
    assert problem.code == "link-outside"


def test_unsafe_link_schemes_and_raw_html_are_removed(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n[x](javascript:alert(1))\n\n<script>alert(1)</script>\n\n"
                                       '<p onclick="evil()">kept text</p>\n'}))
    html = book.chapters[0].html
    assert "javascript" not in html and "<script" not in html and "onclick" not in html
    assert "kept text" in html


# --- images ---------------------------------------------------------------------------------------


def test_images_are_collected_once_with_their_type(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\n![A red dot](images/dot.png)\n\n![Again](images/dot.png)\n",
                      "02-b.md": "# B\n\n![A photo](./photo.JPG)\n"},
                     files={"images/dot.png": png(), "photo.JPG": png()})
    book = parse(root)
    assert [(a.href, a.media_type, a.source) for a in book.assets] == [
        ("images/dot.png", "image/png", root.resolve() / "images/dot.png"),
        ("photo.JPG", "image/jpeg", root.resolve() / "photo.JPG")]
    assert tree(book.chapters[1]).xpath("//img/@src") == ["photo.JPG"]
    assert tree(book.chapters[0]).xpath("//img/@alt") == ["A red dot", "Again"]


def test_an_image_in_a_subfolder_chapter_resolves_against_the_chapter(make_book: MakeBook) -> None:
    root = make_book({"text/a.md": "# A\n\n![Dot](../images/dot.png)\n"}, files={"images/dot.png": png()},
                     config="title: T\nchapters: [text/a.md]\n")
    assert [a.href for a in parse(root).assets] == ["images/dot.png"]
    assert 'src="images/dot.png"' in parse(root).chapters[0].html


def test_an_image_alone_in_its_paragraph_is_a_figure_with_its_title_as_caption(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": '# A\n\n![A dot](dot.png "The caption")\n\nText ![inline](dot.png) here.\n'},
                           files={"dot.png": png()}))
    html = tree(book.chapters[0])
    [figure] = html.xpath("//figure")
    assert figure.xpath("img/@alt") == ["A dot"] and figure.xpath("figcaption/text()") == ["The caption"]
    assert not figure.xpath("img/@title")
    assert html.xpath("//p/img/@alt") == ["inline"]


def test_an_image_without_alt_text_is_a_warning(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n<img src=\"dot.png\">\n"}, files={"dot.png": png()}))
    [warning] = warnings_of(book, "image-alt")
    assert warning.line == 3 and "alt text" in warning.message
    assert 'alt=""' in book.chapters[0].html


@pytest.mark.parametrize(("markdown", "code", "words"), [
    ("![Gone](images/gone.png)", "image-missing", "does not exist"),
    ("![Out](../outside.png)", "image-outside", "outside the book folder"),
    ("![Abs](/etc/dot.png)", "image-missing", "does not exist"),  # '/' is the book folder, as on a site
    ("![Doc](notes.pdf)", "image-type", "not a PNG"),
])
def test_images_the_build_may_not_use(make_book: MakeBook, tmp_path: Path, markdown: str, code: str,
                                      words: str) -> None:
    (tmp_path / "outside.png").write_bytes(png())
    root = make_book({"01-a.md": f"# A\n\nText.\n\n{markdown}\n"}, files={"notes.pdf": b"%PDF-1.4"})
    [problem] = errors(root)
    assert problem.code == code and words in problem.message
    assert problem.file == root / "01-a.md" and problem.line == 5


@pytest.mark.parametrize("src", ["https://example.org/a.png", "//example.org/a.png"])
def test_a_web_image_is_left_out_with_a_warning_and_its_description_stays(make_book: MakeBook, src: str) -> None:
    root = make_book({"01-a.md": f"# A\n\nText.\n\n![A drum kit]({src})\n"})
    book = parse(root)
    [problem] = book.diagnostics
    assert problem.code == "image-remote" and "on the web" in problem.message and problem.line == 5
    assert book.chapters[0].html == "<p>Text.</p>\n<p>A drum kit</p>" and not book.assets


def test_a_symlink_out_of_the_book_folder_is_not_followed(make_book: MakeBook, tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png())
    root = make_book({"01-a.md": "# A\n\n![Link](link.png)\n"})
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    [problem] = errors(root)
    assert problem.code == "image-outside"


def test_the_cover_image_named_in_book_yaml(make_book: MakeBook) -> None:
    root = make_book(config="title: T\ncover-image: art/cover.png\n", files={"art/cover.png": png()})
    cover = parse(root).cover
    assert cover is not None and (cover.href, cover.media_type) == ("art/cover.png", "image/png")
    other = make_book(config="title: T\n\ncover-image: art/nope.png\n", name="other")
    [problem] = errors(other)
    assert problem.code == "image-missing" and problem.file == other / "book.yaml" and problem.line == 3


# --- Markdown features ----------------------------------------------------------------------------


def test_smart_punctuation(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n\"Don't,\" she said -- and waited... 'Yes' --- no.\n"}))
    assert book.chapters[0].html == "<p>“Don’t,” she said – and waited… ‘Yes’ — no.</p>"


def test_the_authors_own_typography_is_kept_exactly(make_book: MakeBook) -> None:
    text = "“I want to get better” becomes ‘I have to be the best.’ — right there… it’s 1–2."
    book = parse(make_book({"01-a.md": f"# A\n\n{text}\n"}))
    assert book.chapters[0].html == f"<p>{text}</p>"


def test_tables(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n| Tempo | Bars |\n|:--|--:|\n| Rushing | 4 |\n| Dragging | 8 |\n"}))
    table = tree(book.chapters[0]).xpath("//table")[0]
    assert table.xpath("thead/tr/th/text()") == ["Tempo", "Bars"]
    assert table.xpath("tbody/tr/td/text()") == ["Rushing", "4", "Dragging", "8"]
    # The column alignment survives sanitising, as a class rather than a style attribute.
    assert table.xpath("thead/tr/th/@class") == ["align-left", "align-right"]
    assert table.xpath("tbody/tr/td[2]/@class") == ["align-right", "align-right"]
    assert not table.xpath("//@style")


def test_definition_lists(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nTempo\n:   The speed of the music.\n\nSwing\n:   A feel.\n"}))
    dl = tree(book.chapters[0]).xpath("//dl")[0]
    assert dl.xpath("dt/text()") == ["Tempo", "Swing"] and dl.xpath("dd/text()") == ["The speed of the music.", "A feel."]


def test_fenced_code_is_kept_verbatim(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n```python\nif a < b and \"x\" -- y:\n    pass\n```\n"}))
    [code] = tree(book.chapters[0]).xpath("//pre/code")
    assert code.get("class") == "sourceCode python"  # Pandoc's classes; tests/test_code.py has the rest
    assert code.text_content() == 'if a < b and "x" -- y:\n    pass'  # no smart quotes inside code


def test_attribute_lists(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## Coda {#the-end .quiet}\n\nA lead paragraph.\n{: .lead lang=fr }\n"}))
    html = tree(book.chapters[0])
    assert html.xpath("//h3/@id") == ["the-end"] and html.xpath("//h3/@class") == ["quiet"]
    assert html.xpath("//p[@class='lead']/@lang") == ["fr"]
    assert book.chapters[0].headings[0].id == "the-end"


def test_scene_breaks_and_blockquotes(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nBefore.\n\n* * *\n\n> Not quite my tempo.\n\nAfter.\n"}))
    html = tree(book.chapters[0])
    assert len(html.xpath("//hr")) == 1 and html.xpath("//blockquote/p/text()") == ["Not quite my tempo."]


def test_control_characters_are_removed_with_a_warning(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nOne\n\nTwo\x0cthree\x01.\n"}))
    assert book.chapters[0].html == "<p>One</p>\n<p>Twothree.</p>"
    [warning] = warnings_of(book, "control-characters")
    assert warning.line == 5


def test_an_empty_chapter_is_a_warning(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nText.\n", "02-b.md": "# B\n"})
    [warning] = warnings_of(parse(root), "chapter-empty")
    assert warning.file == root / "02-b.md"


# --- the book -------------------------------------------------------------------------------------


def test_modified_comes_from_source_date_epoch_then_the_book_date(make_book: MakeBook) -> None:
    manuscript = load_manuscript(make_book(config="title: T\ndate: 1813-01-28\n"))
    assert parse_book(manuscript, source_date_epoch=EPOCH).modified == dt.datetime(2023, 11, 14, 22, 13, 20,
                                                                                     tzinfo=dt.timezone.utc)
    # A date before 1980 is when the text appeared, not when the file was made: clamped.
    assert parse_book(manuscript).modified == DEFAULT_MODIFIED
    assert parse_book(manuscript, source_date_epoch="not a number").modified == DEFAULT_MODIFIED
    recent = load_manuscript(make_book(config="title: T\ndate: 2014-10-10\n", name="recent"))
    assert parse_book(recent).modified == dt.datetime(2014, 10, 10, tzinfo=dt.timezone.utc)
    undated = load_manuscript(make_book(name="undated"))
    assert parse_book(undated).modified == DEFAULT_MODIFIED


def test_the_identifier_is_stable_and_may_be_given(make_book: MakeBook) -> None:
    derived = parse(make_book(config="title: T\nauthor: A\n")).identifier
    assert derived.startswith("urn:uuid:")
    assert parse(make_book(config="title: T\nauthor: A\n", name="copy")).identifier == derived
    assert parse(make_book(config="title: T\nauthor: B\n", name="other")).identifier != derived
    assert parse(make_book(config="title: T\nidentifier: urn:isbn:123\n", name="given")).identifier == "urn:isbn:123"


def test_the_slug_names_the_outputs(make_book: MakeBook) -> None:
    assert parse(make_book(config="title: 'Whiplash: A Brutal Symphony'\n")).slug == "whiplash-a-brutal-symphony"
    assert parse(make_book(config="title: '!!!'\n", name="b")).slug == "book"


def test_parsing_twice_gives_the_same_book(make_book: MakeBook) -> None:
    root = make_book(NOTES | LINKED | {"03-c.md": "# A\n\n## Method\n"})
    assert parse(root) == parse(root)


def test_the_sample_book() -> None:
    book = parse(SAMPLE)
    assert [c.title.text for c in book.chapters] == [
        "Whiplash: A Brutal Symphony of Perfection",
        "Leadership: The Line Between Discipline and Humanity",
        "Professional Relationships and Power Games",
        "The Comeback: When Failure Becomes Freedom",
        "The Core Message: Human Perfection, Not Cruel Perfectionism",
        "Final Thoughts",
    ]
    assert [c.titled for c in book.chapters] == [False, True, True, True, True, True]
    assert book.chapters[0].html.count("<p>") == 2
    assert book.diagnostics == () and book.assets == () and book.cover is None
    assert "’" in book.chapters[0].html and "—" in book.chapters[0].html and "'" not in book.chapters[0].html
