"""How a real manuscript is read (docs/manuscripts.md): one rule per test, each with the smallest
Markdown that shows it."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from conftest import MakeBook, parse

from publish.diagnostics import Diagnostic
from publish.model import Book, Chapter
from publish.resolve import (
    anchor_hint,
    gfm_identifier,
    pandoc_identifier,
    title_from_name,
    unique_identifier,
)


def tree(chapter: Chapter) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(chapter.html, create_parent="div")


def titles(book: Book) -> list[str]:
    return [c.title.text for c in book.chapters]


def coded(book: Book, code: str) -> list[Diagnostic]:
    return [d for d in book.diagnostics if d.code == code]


# --- identifiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("heading", "identifier"), [
    # The examples of Pandoc's manual (extension auto_identifiers).
    ("Heading identifiers in HTML", "heading-identifiers-in-html"),
    ("Maître d'hôtel", "maître-dhôtel"),
    ("Dogs?--in my house?", "dogs--in-my-house"),
    ("HTML, S5, or RTF?", "html-s5-or-rtf"),
    ("3. Applications", "applications"),
    ("33", ""),
    ("Chapter 7: Closure vs. Object", "chapter-7-closure-vs.-object"),
])
def test_pandoc_identifiers(heading: str, identifier: str) -> None:
    assert pandoc_identifier(heading) == identifier
    assert unique_identifier(identifier, set()) == (identifier or "section")


@pytest.mark.parametrize(("heading", "identifier"), [
    ("What's this?", "whats-this"), ("A & B", "a--b"), ("1984", "1984"), ("Read the book", "read-the-book"),
    ("Closure vs. Object", "closure-vs-object"),
])
def test_github_identifiers(heading: str, identifier: str) -> None:
    assert gfm_identifier(heading) == identifier


def test_a_repeated_heading_is_numbered_as_pandoc_numbers_it_across_the_book(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## Intro\n\n## Intro\n", "02-b.md": "# B\n\n## Intro\n"}))
    assert [h.id for c in book.chapters for h in c.headings] == ["intro", "intro-1", "intro-2"]


def test_a_heading_left_empty_is_dropped_and_its_text_kept(make_book: MakeBook) -> None:
    """`<h2><p>text</p></h2>`: the HTML parser closes the heading before the paragraph, and an empty
    heading would be an empty entry in the contents (EPUBCheck: "Anchors within nav elements must contain text")."""
    book = parse(make_book({"01-a.md": "# A\n\nText.\n\n<h2><p>a paragraph in a heading</p></h2>\n\n## Kept\n"}))
    (chapter,) = book.chapters
    assert [h.text for h in chapter.headings] == ["Kept"]
    assert [h.text_content() for h in tree(chapter).iter("h3")] == ["Kept"]
    assert "a paragraph in a heading" in tree(chapter).text_content()


def test_explicit_ids_and_classes_are_kept(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A {#start}\n\n## Pointers {#pointers .unnumbered}\n\n## Aside {-}\n\nx\n"}))
    assert book.chapters[0].id == "start"
    html = tree(book.chapters[0])
    assert html.xpath("//h3/@id") == ["pointers", "aside"]
    assert html.xpath("//h3/@class") == ["unnumbered", "unnumbered"]


def test_an_unlisted_heading_is_left_out_of_the_contents(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## Listed\n\n## Not listed {.unlisted}\n"}))
    assert [h.text for h in book.chapters[0].headings] == ["Listed"]


# --- braces that are not attributes ------------------------------------------------------------------


def test_braces_that_are_not_attribute_syntax_are_text(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## Using {braces}\n\nThe set is\n{a, b, c}\n\nAnd {this} stays.\n"}))
    chapter = book.chapters[0]
    assert chapter.headings[0].text == "Using {braces}"
    assert "{a, b, c}" in chapter.html and "{this}" in chapter.html


def test_angle_brackets_that_are_no_html_tag_are_text(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": '# A\n\nPress "<Edit...>" in the menu, then <em>go</em>.\n'}))
    assert book.chapters[0].html == "<p>Press “&lt;Edit…&gt;” in the menu, then <em>go</em>.</p>"


def test_valid_attribute_lists_still_apply_to_paragraphs(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nA verse\n{.verse}\n\nA key\n{: #key }\n"}))
    assert tree(book.chapters[0]).xpath("//p/@class") == ["verse"] and "{" not in book.chapters[0].html


# --- chapters ---------------------------------------------------------------------------------------


def test_a_one_file_book_is_split_at_its_chapter_headings(make_book: MakeBook) -> None:
    book = parse(make_book({"book.md": "# One\n\nx\n\n## Inside one\n\ny\n\n# Two\n\nz\n"}))
    assert titles(book) == ["One", "Two"] and [c.source for c in book.chapters] == [Path("book.md")] * 2
    assert [(h.level, h.text) for h in book.chapters[0].headings] == [(3, "Inside one")]
    assert book.chapters[1].html == "<p>z</p>"


def test_chapters_start_at_the_shallowest_level_the_book_uses(make_book: MakeBook) -> None:
    book = parse(make_book({"01-first.md": "## The First Story\n\n### A scene\n\nx\n",
                            "02-the-second-story.md": "## The Second Story\n\ny\n"}))
    assert titles(book) == ["The First Story", "The Second Story"] and all(c.titled for c in book.chapters)
    assert [(h.level, h.text) for h in book.chapters[0].headings] == [(3, "A scene")]
    assert book.chapter_level == 2 and book.diagnostics == ()


def test_sections_before_the_first_chapter_are_the_untitled_opening(make_book: MakeBook) -> None:
    book = parse(make_book({"book.md": "## Introduction\n\nx\n\n# First Chapter\n\ny\n"},
                           config="title: The Thesis\n"))
    assert titles(book) == ["The Thesis", "First Chapter"] and not book.chapters[0].titled
    assert [h.text for h in book.chapters[0].headings] == ["Introduction"]


def test_a_chapter_with_no_heading_after_the_first_is_called_by_its_place(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nx\n", "02-interlude.md": "No heading.\n", "03-c.md": "# C\n\nz\n"})
    book = parse(root)
    assert titles(book) == ["A", "Chapter 2", "C"]
    [warning] = coded(book, "chapter-untitled")
    assert warning.file == root / "02-interlude.md" and "'Chapter 2'" in warning.message


def test_a_banner_above_every_chapter_is_left_out_once(make_book: MakeBook) -> None:
    chapter = "# The Series\n# Chapter {n}: Its Own\n\nText {n}.\n"
    root = make_book({f"ch{n}.md": chapter.format(n=n) for n in (1, 2, 3)})
    book = parse(root)
    assert titles(book) == ["Chapter 1: Its Own", "Chapter 2: Its Own", "Chapter 3: Its Own"]
    assert all("The Series" not in c.html for c in book.chapters)
    [warning] = book.diagnostics
    assert warning.code == "banner-heading" and "'# The Series'" in warning.message and "3 of the 3" in warning.message
    assert warning.file == root / "ch1.md" and warning.line == 1


def test_a_heading_that_opens_every_file_with_text_after_it_is_a_title_not_a_banner(make_book: MakeBook) -> None:
    book = parse(make_book({f"0{n}.md": f"# Chapter\n\nText {n}.\n" for n in (1, 2, 3)}))
    assert titles(book) == ["Chapter"] * 3 and book.diagnostics == ()


def test_a_book_whose_titles_live_in_its_file_names(make_book: MakeBook) -> None:
    files = {
        "fr/00_Introduction.md": "Quelques mots.\n\n## À propos\n\nx\n",
        "fr/01_Vue_d'ensemble.md": "Ce chapitre.\n\n## Origine\n\ny\n\n## Suite\n\nz\n",
        "fr/02_Dessiner/00_Mise_en_place/00_Code_de_base.md": "## Structure\n\na\n\n## Ressources\n\nb\n",
        "fr/02_Dessiner/01_Image_views.md": "Sans titre.\n",
    }
    config = "title: Tutoriel\nchapters:\n" + "".join(f'  - "{name}"\n' for name in files)
    book = parse(make_book(files, config=config))
    assert titles(book) == ["Introduction", "Vue d'ensemble", "Code de base", "Image views"]
    assert [c.parts for c in book.chapters] == [(), (), ("Dessiner", "Mise en place"), ("Dessiner",)]
    assert [(h.level, h.text) for h in book.chapters[1].headings] == [(3, "Origine"), (3, "Suite")]
    assert all(c.titled for c in book.chapters)  # shown as titles, not as the book's untitled opening
    [warning] = book.diagnostics
    assert warning.code == "titles-from-file-names" and "'00_Introduction.md' is 'Introduction'" in warning.message
    contents = book.contents(1)
    assert [(e.kind, e.text) for e in contents] == [("chapter", "Introduction"), ("chapter", "Vue d'ensemble"),
                                                    ("part", "Dessiner")]
    assert [(e.kind, e.text) for e in contents[2].children] == [("part", "Mise en place"), ("chapter", "Image views")]
    assert contents[2].id == book.chapters[2].id  # a part leads to its first chapter


@pytest.mark.parametrize(("name", "title"), [
    ("01_Vue_d'ensemble.md", "Vue d'ensemble"), ("02-the-second-story.md", "The second story"),
    ("03_Effectuer_le_rendu", "Effectuer le rendu"), ("90_FAQ.md", "FAQ"), ("hello-world.md", "Hello world"),
])
def test_a_title_from_a_file_name_is_made_as_build_scripts_make_it(name: str, title: str) -> None:
    assert title_from_name(name) == title


def test_one_untitled_file_in_a_book_of_hash_hash_chapters_is_not_a_reason_to_use_file_names(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "## A\n\nx\n", "02-b.md": "Untitled.\n", "03-c.md": "## C\n\nz\n"}))
    assert titles(book) == ["A", "Chapter 2", "C"]


def test_the_contents_nest_sections_under_their_chapter(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## One\n\n### One.one\n\n#### Deep\n\n## Two\n"}))
    [chapter] = book.contents(2)
    assert [(s.text, [c.text for c in s.children]) for s in chapter.children] == [("One", ["One.one"]), ("Two", [])]
    assert [s.children for s in book.contents(1)[0].children] == [(), ()]


def test_an_image_alone_is_a_figure_captioned_by_its_description_as_pandoc_does(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n![Fig. 1](f.png)\n"}, files={"f.png": b"\x89PNG\r\n\x1a\n"}))
    [figure] = tree(book.chapters[0]).xpath("//figure")
    assert figure.xpath("img/@alt") == ["Fig. 1"] and figure.xpath("figcaption/text()") == ["Fig. 1"]
    assert figure.xpath("figcaption/@aria-hidden") == ["true"]  # screen readers read the description once


def test_a_skipped_heading_level_is_not_skipped_in_the_book(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## B\n\n#### Too deep\n\n## C\n"}))
    assert [(h.level, h.text) for h in book.chapters[0].headings] == [(3, "B"), (4, "Too deep"), (3, "C")]


def test_an_image_file_name_with_spaces_gets_a_name_valid_in_a_url(make_book: MakeBook) -> None:
    png = b"\x89PNG\r\n\x1a\n"
    book = parse(make_book({"01-a.md": "# A\n\n![A clock](<assets/clock (1).png>) ![Two](assets/clock-1-.png)\n"},
                           files={"assets/clock (1).png": png, "assets/clock-1-.png": png}))
    assert {a.href: a.source.name for a in book.assets} == {"assets/clock-1-.png": "clock (1).png",
                                                            "assets/clock-1--2.png": "clock-1-.png"}
    assert tree(book.chapters[0]).xpath("//img/@src") == ["assets/clock-1-.png", "assets/clock-1--2.png"]


# --- metadata -------------------------------------------------------------------------------------------


def test_a_yaml_metadata_block_is_read_not_printed(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "---\ntitle: From the Block\nauthor: [A. Writer]\n...\n\n# One\n\nText.\n"}, config="lang: en\n")
    book = parse(root)
    assert book.config.title == "From the Block" and book.config.authors == ("A. Writer",)
    assert book.chapters[0].html == "<p>Text.</p>" and "title:" not in book.chapters[0].html


def test_a_file_of_metadata_only_gives_no_chapter(make_book: MakeBook) -> None:
    book = parse(make_book({"00-title.txt": "---\ntitle: T\n...\n", "01-a.md": "# One\n\nx\n"},
                           config="chapters: [00-title.txt, 01-a.md]\n"))
    assert titles(book) == ["One"] and book.diagnostics == ()


def test_a_pandoc_title_block_is_read_not_printed(make_book: MakeBook) -> None:
    book = parse(make_book({"book.md": "% The Title\n  Continued\n% One; Two\n% July 17, 2006\n\n# A\n\nx\n"},
                           config="lang: en\n"))
    config = book.config
    assert (config.title, config.authors, config.date) == ("The Title Continued", ("One", "Two"), "2006-07-17")
    assert titles(book) == ["A"] and "%" not in book.chapters[0].html


def test_book_yaml_wins_and_a_conflict_names_both_places(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "% Another Title\n% Same Author\n\n# A\n\nx\n"}, config="title: T\nauthor: Same Author\n")
    book = parse(root)
    assert book.config.title == "T"
    [conflict] = coded(book, "metadata-conflict")
    assert conflict.file == root / "01-a.md" and conflict.line == 1
    assert "'Another Title'" in conflict.message and "book.yaml:1" in conflict.message


def test_a_bad_value_in_a_block_is_a_warning_and_ignored(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "---\ndate: sometime\nfavourite: x\n---\n\n# A\n\nx\n"}))
    assert book.config.date is None
    assert [d.code for d in book.diagnostics] == ["config-value", "config-unknown-key"]


# --- links ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("href", ["02-b.md#map", "02-b.md/#map", "02-b.md#user-content-map", "02-b.md#Map",
                                  "./02-b.md#map", "/02-b.md#map", "!b#map", "b#map"])
def test_links_written_for_pandoc_github_or_a_site_resolve(make_book: MakeBook, href: str) -> None:
    book = parse(make_book({"01-a.md": f"# A\n\nSee [the map]({href}).\n", "02-b.md": "# B\n\n## Map\n\nx\n"}))
    assert 'href="#map"' in book.chapters[0].html and book.diagnostics == ()


def test_a_link_written_for_github_ids_resolves(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n## A & B\n\n[up](#a--b) and [there](02-b.md#1984).\n",
                            "02-b.md": "# B\n\n## 1984\n"}))
    hrefs = tree(book.chapters[0]).xpath("//a/@href")
    assert hrefs == ["#a-b", f"#{book.chapters[1].headings[0].id}"] and book.diagnostics == ()


def test_a_link_to_an_old_style_named_anchor(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\n[down](02-b.md/#user-content-compose)\n",
                            "02-b.md": '# B\n\n<a name="compose"></a>\n\nText.\n'}))
    assert 'href="#compose"' in book.chapters[0].html and "name=" not in book.chapters[1].html
    # Written out in full: an HTML parser reads <a id="compose"/> as an anchor around all that follows.
    assert '<a id="compose"></a>' in book.chapters[1].html


def test_links_inside_notes_are_resolved(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nClaim.[^1]\n\n[^1]: See [two](02-two.md#sec).\n",
                            "02-two.md": "# Two\n\n## Sec\n"}))
    assert 'href="#sec"' in book.chapters[0].notes[0].html


def test_a_bare_email_address_is_a_mail_link(make_book: MakeBook) -> None:
    book = parse(make_book({"01-a.md": "# A\n\nWrite to [me](someone@example.org).\n"}))
    assert 'href="mailto:someone@example.org"' in book.chapters[0].html and book.diagnostics == ()


def test_a_link_to_a_file_of_the_folder_that_is_not_a_chapter(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\nSee the [licence](./LICENSE.txt).\n"}, files={"LICENSE.txt": "MIT"})
    book = parse(root)
    [warning] = book.diagnostics
    assert warning.code == "link-not-chapter" and warning.line == 3 and "'./LICENSE.txt'" in warning.message
    assert book.chapters[0].html == "<p>See the licence.</p>"


def test_the_anchor_hint_suggests_a_slip_not_another_place() -> None:
    known = {"pointers", "void-pointers", "first-section"}
    assert anchor_hint("pointer", known) == "did you mean '#pointers'?"
    assert anchor_hint("Pointers", {"void-pointers"}) == anchor_hint("nowhere", known)
    assert anchor_hint("first-sectoin", known) == "did you mean '#first-section'?"
    assert "did you mean" not in anchor_hint("pointers", {"void-pointers"})


def test_a_broken_anchor_names_the_file_line_target_and_hint(make_book: MakeBook) -> None:
    root = make_book({"01-a.md": "# A\n\n\nSee [them](02-b.md#pointer).\n", "02-b.md": "# B\n\n## Pointers\n"})
    [warning] = parse(root).diagnostics
    assert (warning.code, warning.file, warning.line) == ("broken-anchor", root / "01-a.md", 4)
    assert "'02-b.md#pointer'" in warning.message and warning.hint == "did you mean '#pointers'?"


def test_the_print_edition_writes_empty_anchors_in_full(make_book: MakeBook) -> None:
    from publish.pages import tag_blocks

    book = parse(make_book({"01-a.md": '# A\n\n<a name="here"></a>\n\nText.\n'}))
    # An HTML parser reads <a id="here"/> as an anchor around everything after it.
    assert '<a id="here"></a>' in tag_blocks(book.chapters[0])
