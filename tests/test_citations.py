"""Citations: Pandoc's syntax read as Pandoc reads it, formatted as `pandoc --citeproc` formats it.

The Markdown side is compared with Pandoc's own parse (its JSON AST) of the same text; the
formatting with Pandoc's HTML of the same files (the citations' text and the bibliography's);
the rest are the book's own rules: where the bibliography goes, links, notes, and bad input.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import lxml.html
import pytest
from bookfolder import write_book
from conftest import _corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from publish.citations import (
    DEFAULT_STYLE,
    input_files,
    pandoc_path,
    resolve_citations,
    section_title,
)
from publish.diagnostics import BuildFailed, Severity
from publish.manuscript import load_manuscript
from publish.model import Book
from publish.parse import chapter_html, parse_book

CORPUS = _corpus()
CURIE = CORPUS / "curie-radioaktive-substanzen"
SUITE = CORPUS / "pandoc-test-suite"
BIB = (SUITE / "biblio.bib").read_text(encoding="utf-8") if (SUITE / "biblio.bib").is_file() else ""
PANDOC = pandoc_path()

NOTE_STYLE = """<?xml version="1.0" encoding="utf-8"?>
<style xmlns="http://purl.org/net/xbiblio/csl" class="note" version="1.0">
  <info><title>Test notes</title><id>test-notes</id><updated>2024-01-01T00:00:00+00:00</updated></info>
  <citation>
    <layout suffix="." delimiter="; ">
      <choose>
        <if position="ibid-with-locator"><group delimiter=", "><text term="ibid" text-case="capitalize-first"/>
          <text variable="locator"/></group></if>
        <else-if position="ibid"><text term="ibid" text-case="capitalize-first"/></else-if>
        <else><group delimiter=", "><names variable="author"><name/></names>
          <text variable="title" font-style="italic"/><text variable="locator"/></group></else>
      </choose>
    </layout>
  </citation>
  <bibliography><layout suffix="."><group delimiter=". "><names variable="author"><name name-as-sort-order="all"/>
    </names><text variable="title"/></group></layout></bibliography>
</style>
"""


def _text(element: lxml.html.HtmlElement) -> str:
    return re.sub(r"\s+", " ", element.text_content().replace("\u00a0", " ")).strip()


def _root(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _html(book: Book) -> lxml.html.HtmlElement:
    return _root("".join(c.html + "".join(n.html for n in c.notes) for c in book.chapters))


def _pandoc(*args: str, text: str | None = None, cwd: Path | None = None) -> str:
    assert PANDOC is not None, "pypandoc-binary is a dependency: run make setup"
    return subprocess.run([str(PANDOC), *args], input=text, capture_output=True, text=True, check=True,
                          cwd=cwd).stdout


def _book(tmp_path: Path, chapters: dict[str, str], *, config: str = "", files: dict[str, str] | None = None,
          bib: str | None = BIB) -> Path:
    extra = {"refs.bib": bib} if bib is not None else {}
    head = "title: Cited\nlang: en-US\n" + ("bibliography: refs.bib\n" if bib is not None else "")
    return write_book(tmp_path / "book", config=head + config, chapters=chapters,
                      files={k: v.encode() for k, v in {**extra, **(files or {})}.items()})


def _warnings(book: Book, code: str) -> list:
    return [d for d in book.diagnostics if d.code == code]


# -- the syntax, against Pandoc's own reading ------------------------------------------------------

SYNTAX = [
    "[@item1]", "[@item1, p. 33]", "[see @item1, chap. 3; also @other p. 34-35]", "@item1 says", "@item1 [p. 30]",
    "@item1 [p. 30, with suffix] says", "@item1 [-@item2 p. 30; see also @пункт3] says", "[-@item1]",
    "[@a; @b; @c]", "[*see* @item1 p. **32**]", "[@item1 pp. 33, 35-37, and nowhere else]",
    "[@item1 and nowhere else]", "Elektrizität[@bh1; @bh2].", "mail a@b.com and @k. and @doe:2005. and @doe:x",
    "@a [p. 3](x) and [@a] [p. 3]", "[-@a; @b] x", "@{braced.key}",
    "[see also]", "an escaped \\@name", "`@code` and [Google] [@mapreduce]",
    "two\nlines [@a;\n@b]",
]


def _pandoc_citations(text: str) -> list[list[tuple[str, str, str, str]]]:
    def plain(inlines: list) -> str:
        out = []
        for inline in inlines:
            kind, content = inline["t"], inline.get("c")
            if kind == "Str":
                out.append(content)
            elif kind in {"Space", "SoftBreak", "LineBreak"}:
                out.append(" ")
            elif kind in {"Emph", "Strong", "Strikeout", "Superscript", "Subscript", "SmallCaps", "Underline"}:
                out.append(plain(content))
        return "".join(out)

    found: list[list[tuple[str, str, str, str]]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("t") == "Cite":
                found.append([(c["citationId"], c["citationMode"]["t"], plain(c["citationPrefix"]),
                               plain(c["citationSuffix"])) for c in node["c"][0]])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(_pandoc("--from=markdown", "--to=json", text=text))["blocks"])
    return found


def _our_citations(text: str) -> list[list[tuple[str, str, str, str]]]:
    modes = {"normal": "NormalCitation", "suppress-author": "SuppressAuthor", "author-in-text": "AuthorInText"}
    found = []
    for mark in _root(chapter_html(text)).xpath("//span[@class='citation'][not(ancestor::span[@class='citation'])]"):
        items: list[list[str]] = []
        prefix = ""
        for part in mark:
            kind = part.get("class")
            if kind == "cite-prefix":
                prefix = _text(part)
            elif kind == "cite-key":
                items.append([part.get("data-cite"), modes[part.get("data-mode")], prefix, ""])
                prefix = ""
            elif kind == "cite-suffix":
                items[-1][3] = part.text_content()
        found.append([tuple(i) for i in items])
    return found


def _same(ours: list, theirs: list) -> None:
    def norm(groups: list) -> list:
        return [[(k, m, re.sub(r"\s+", " ", p.replace("\u00a0", " ")).strip(),
                  re.sub(r"\s+", " ", s.replace("\u00a0", " ")).strip()) for k, m, p, s in g] for g in groups]
    assert norm(ours) == norm(theirs)


@pytest.mark.parametrize("text", SYNTAX)
def test_citations_are_read_as_pandoc_reads_them(text: str) -> None:
    _same(_our_citations(text), _pandoc_citations(text))


def test_markdown_citations_txt_is_read_as_pandoc_reads_it() -> None:
    text = (SUITE / "markdown-citations.txt").read_text(encoding="utf-8")
    ours, theirs = _our_citations(text), _pandoc_citations(text)
    assert len(theirs) == 16
    # Pandoc's notes stand where they are called; Python-Markdown's at the end of the chapter.
    _same(sorted(ours), sorted(theirs))


def test_an_example_label_is_no_citation() -> None:
    # (@foo) defines an example; @foo then refers to it, in Pandoc and here.
    text = "(@foo) An example.\n\nSee (@foo) and @bar.\n"
    assert [g[0][0] for g in _our_citations(text)] == [g[0][0] for g in _pandoc_citations(text)] == ["bar"]


def test_an_at_sign_in_a_link_address_or_tag_is_left_alone() -> None:
    html = chapter_html('<https://example.org/@user> <span title="@foo">x</span> [me @quii](https://t.co/@quii)\n')
    assert 'class="citation"' not in html


def test_a_link_whose_text_is_a_citation_stays_a_plain_link() -> None:
    # Where Pandoc would set a citation inside the link, a citation here is a link to its entry,
    # and links do not nest: the author's link keeps its text as written.
    assert _pandoc_citations("[@key](http://example.org)") == [[("key", "AuthorInText", "", "")]]
    assert chapter_html("[@key](http://example.org)\n") == '<p><a href="http://example.org">@key</a></p>'


# -- formatting, against `pandoc --citeproc` --------------------------------------------------------

def _compare_with_pandoc(book_dir: Path, files: list[str]) -> tuple[Book, list[str], list[str]]:
    manuscript = load_manuscript(book_dir)
    settings_ = manuscript.config.citations
    args = ["--citeproc", "--from=markdown", "--to=html", "--wrap=none", f"--metadata=lang:{manuscript.config.lang}",
            *[f"--bibliography={b}" for b in settings_.bibliography], *([f"--csl={settings_.csl}"] if settings_.csl else []),
            *files]
    reference = _root(_pandoc(*args, cwd=book_dir))
    book = parse_book(manuscript)
    ours = _html(book)
    for kind, tag in (("citation", "span"), ("csl-entry", "div")):
        theirs_ = [_text(e) for e in reference.iter(tag) if kind in (e.get("class") or "").split()]
        ours_ = [_text(e) for e in ours.iter(tag) if kind in (e.get("class") or "").split()]
        assert theirs_, f"pandoc made no {kind}"
        if kind == "citation":
            # The same texts; their order differs only where Pandoc puts its notes at the end.
            assert Counter(ours_) == Counter(theirs_)
        else:
            assert ours_ == theirs_  # the entries in the same order: numbering and sorting agree
    return book, [_text(e) for e in ours.iter("span") if e.get("class") == "citation"], \
        [_text(e) for e in ours.iter("div") if e.get("class") == "csl-entry"]


def test_markdown_citations_txt_formats_as_pandoc_does(tmp_path: Path) -> None:
    text = (SUITE / "markdown-citations.txt").read_text(encoding="utf-8")
    root = _book(tmp_path, {"citations.md": text})
    book, citations, entries = _compare_with_pandoc(root, ["citations.md"])
    assert "Doe (2005; 2006, 30; see also Doe and Roe 2007) says blah." not in citations  # the span, not the sentence
    assert "Doe (2005; 2006, 30; see also Doe and Roe 2007)" in citations
    assert "(see Doe 2005, chap. 3; also Doe and Roe 2007, 34–35)" in citations
    assert "(2005)" in citations and "(nonexistent?)" in citations
    assert entries[2] == ("Doe, John, and Jenny Roe. 2007. “Why Water Is Wet.” In Third Book, edited by Sam Smith. "
                          "Oxford University Press.")
    # The citations in notes stay in the notes.
    notes = " ".join(_text(_root(n.html)) for n in book.chapters[0].notes)
    assert "Doe and Roe (2007, 12) and a citation without locators (Doe and Roe 2007)." in notes


def test_curie_formats_as_pandoc_does_with_its_own_style() -> None:
    book, citations, entries = _compare_with_pandoc(CURIE, ["curie.md"])
    assert len(citations) == 128 and len(entries) == 136
    assert "[5–10]" in citations  # collapsed, as the style asks
    assert entries[0] == ("[1] H. Poincaré, „Les rayons cathodiques et les rayons Röntgen.“ In: Revue générale des "
                          "sciences pures et appliquées 1896, 7, 52–59.")  # German quotes: the book's lang
    [missing] = _warnings(book, "citation-unknown")
    assert (missing.file, missing.line, missing.severity) == (CURIE / "curie.md", 3948, Severity.WARNING)
    assert "'dal1900cr'" in missing.message and "'@dal1900cr2'" in (missing.hint or "")
    assert "[33,118,dal1900cr?]" in citations


def test_the_default_style_is_chicago_author_date_as_pandoc_ships_it() -> None:
    assert DEFAULT_STYLE.read_bytes() == _pandoc("--print-default-data-file", "default.csl").encode()
    assert "creativecommons.org/licenses/by-sa" in DEFAULT_STYLE.read_text(encoding="utf-8")


def test_the_locale_follows_the_books_language(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# Eins\n\nText [@item2, S. 33] und [@item1; @пункт3].\n"},
                 config="lang: de\n".replace("de", "de"))
    (root / "book.yaml").write_text((root / "book.yaml").read_text().replace("lang: en-US", "lang: de"))
    _book_, citations, entries = _compare_with_pandoc(root, ["01.md"])
    assert citations == ["(Doe 2006, 33)", "(Doe 2005; Doe und Roe 2007)"]
    assert "„Article“" in entries[1]


# -- links, numbering and the bibliography's place --------------------------------------------------

def test_each_citation_links_to_its_entry_across_chapters(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nAs [@item1] and [@пункт3; @nobody] say.\n",
                            "02.md": "# Two\n\nAgain @item2.\n"})
    book = parse_book(load_manuscript(root))
    assert [c.title.text for c in book.chapters] == ["One", "Two", "References"]
    bibliography = book.chapters[-1]
    assert bibliography.source == Path("refs.bib")
    entries = {e.get("id") for e in _root(bibliography.html).iter("div") if e.get("class") == "csl-entry"}
    assert entries == {"ref-item1", "ref-item2", "ref-пункт3"}
    links = [a for c in book.chapters[:2] for a in _root(c.html).iter("a") if a.get("role") == "doc-biblioref"]
    assert sorted(a.get("href") for a in links) == ["#ref-item1", "#ref-item2", "#ref-пункт3"]
    assert all(book.chapter_of(a.get("href")[1:]) is bibliography for a in links)
    # The unknown key has no entry, so no link: its text is Pandoc's.
    first = _root(book.chapters[0].html)
    assert "nobody?" in _text(first) and "#ref-nobody" not in book.chapters[0].html


def test_a_citation_in_a_heading_is_not_linked_since_the_contents_link_the_heading(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(_book(tmp_path, {"01.md": "# Doe's book [@item1]\n\nText [@item1].\n"})))
    assert book.chapters[0].title.text == "Doe’s book (Doe 2005)" and "<a" not in book.chapters[0].title.html
    assert 'href="#ref-item1"' in book.chapters[0].html


def test_numbering_is_book_wide(tmp_path: Path) -> None:
    style = (CURIE / "curie.csl").read_text(encoding="utf-8")
    root = _book(tmp_path, {"01.md": "# One\n\nA[@item2] B[@item1].\n", "02.md": "# Two\n\nC[@пункт3] D[@item2].\n"},
                 config="csl: numbers.csl\n", files={"numbers.csl": style})
    book = parse_book(load_manuscript(root))
    numbers = [_text(e) for c in book.chapters for e in _root(c.html).iter("span") if e.get("class") == "citation"]
    assert numbers == ["[1]", "[2]", "[3]", "[1]"]


def test_the_bibliography_goes_where_refs_is(tmp_path: Path) -> None:
    # The fenced div as raw lines (before the fenced-divs extension) and as the div it makes.
    for n, marker in enumerate(("::: {#refs}\n:::\n", '<div id="refs"></div>\n')):
        root = _book(tmp_path / str(n), {"01.md": f"# One\n\nSee [@item1].\n\n# Sources\n\n{marker}\n## After\n\nText.\n"})
        book = parse_book(load_manuscript(root))
        html = "".join(c.html for c in book.chapters)  # "# Sources" may be a chapter of its own
        assert ":::" not in html and book.chapters[-1].title.text != "References"
        assert html.index("csl-entry") < html.index("After"), "the entries stand where the author put them"
        assert html.count('id="refs"') == 1


def test_the_bibliography_goes_under_a_final_empty_heading(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n", "02.md": "# Two\n\nMore.\n\n## Works cited\n"})
    book = parse_book(load_manuscript(root))
    assert [c.title.text for c in book.chapters] == ["One", "Two"]
    html = book.chapters[1].html
    assert html.index("Works cited") < html.index("csl-entry")


@pytest.mark.parametrize(("lang", "config", "title"), [("en-GB", "", "References"), ("de", "", "Literatur"),
                                                      ("fr", "reference-section-title: Ouvrages cités\n",
                                                       "Ouvrages cités")])
def test_else_the_bibliography_is_a_last_chapter_titled_in_the_books_language(tmp_path: Path, lang: str, config: str,
                                                                             title: str) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n"}, config=config)
    (root / "book.yaml").write_text((root / "book.yaml").read_text().replace("lang: en-US", f"lang: {lang}"))
    book = parse_book(load_manuscript(root))
    assert book.chapters[-1].title.text == title == section_title(lang, config.partition(": ")[2].strip() or None)


def test_nocite_and_suppress_bibliography(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n"}, config='nocite: "@item2"\n')
    entries = _root(parse_book(load_manuscript(root)).chapters[-1].html).xpath("//div[@class='csl-entry']")
    assert len(entries) == 2
    root = _book(tmp_path / "s", {"01.md": "# One\n\nSee [@item1].\n"}, config="suppress-bibliography: true\n")
    book = parse_book(load_manuscript(root))
    assert len(book.chapters) == 1 and "csl-entry" not in book.chapters[0].html
    assert "(Doe 2005)" in _text(_root(book.chapters[0].html)) and "#ref-" not in book.chapters[0].html


def test_a_note_style_puts_citations_in_notes(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nText [@item1, p. 3]. More [@item1]. A note.[^1] Then @item2 says.\n\n"
                                     "[^1]: See @item2.\n",
                            "02.md": "# Two\n\nAgain [@item2].\n"},
                 config="csl: notes.csl\n", files={"notes.csl": NOTE_STYLE})
    book = parse_book(load_manuscript(root))
    one, two = book.chapters[0], book.chapters[1]
    assert _text(_root(one.html)) == "Text.1 More.2 A note.3 Then John Doe4 says."
    assert [_text(_root(n.html)) for n in one.notes] == ["John Doe, First book, 3.", "John Doe, First book.",
                                                         "See John Doe, Article.", "Ibid."]
    assert [n.number for n in one.notes] == [1, 2, 3, 4]
    assert [_text(_root(n.html)) for n in two.notes] == ["Ibid."]  # "ibid." is book-wide, as in Pandoc


# -- no bibliography, and bad input ------------------------------------------------------------------

def test_without_a_bibliography_citations_read_as_written(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nBy Brian (@drboolean) and [see @doe, p. 3; -@roe].\n"}, bib=None)
    book = parse_book(load_manuscript(root))
    assert _text(_root(book.chapters[0].html)) == "By Brian (@drboolean) and [see @doe, p. 3; -@roe]."
    [problem] = _warnings(book, "citations-no-bibliography")
    assert (problem.file, problem.line) == (root / "01.md", 3)


def test_a_book_that_only_mentions_handles_gets_no_warning(tmp_path: Path) -> None:
    book = parse_book(load_manuscript(_book(tmp_path, {"01.md": "# One\n\n> James Iry @jamesiry 5/13/15\n"}, bib=None)))
    assert not book.diagnostics and "@jamesiry" in book.chapters[0].html


def test_a_bibliography_pandoc_cannot_read_is_a_warning_and_the_others_still_count(tmp_path: Path) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\n[@item1] and [@extra].\n"},
                 config="bibliography: [broken.bib, more.json]\n", bib=None,
                 files={"broken.bib": "@book{a,\n title={X},\n year=2000\n}\n\n@book{b,\n title={Y\n year=2001,\n}\n",
                        "more.json": '[{"id": "extra", "type": "book", "title": "Extra", "issued": {"date-parts": [[1999]]}}]'})
    book = parse_book(load_manuscript(root))
    [bad] = _warnings(book, "bibliography-invalid")
    assert bad.file == root / "broken.bib" and bad.line == 10 and bad.hint
    assert "(Extra 1999)" in _text(_root(book.chapters[0].html))
    assert "item1?" in _text(_root(book.chapters[0].html))


@pytest.mark.parametrize(("style", "code", "line"), [
    ('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl">\n<citation>\n</style>\n', "csl-invalid", 4),
    ('<?xml version="1.0"?>\n<html/>\n', "csl-invalid", 2),
    ('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">\n<info>'
     '<title>x</title><id>x</id>\n<link href="http://www.zotero.org/styles/apa" rel="independent-parent"/>'
     '<updated>2020-01-01T00:00:00+00:00</updated></info></style>\n', "csl-dependent", 4),
    ('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">\n'
     '<citation><layout><bogus/></layout></citation>\n</style>\n', "csl-invalid", None),
])
def test_a_style_that_cannot_be_used_is_a_warning_and_the_default_is_used(tmp_path: Path, style: str, code: str,
                                                                          line: int | None) -> None:
    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n"}, config="csl: my.csl\n", files={"my.csl": style})
    book = parse_book(load_manuscript(root))
    [problem] = _warnings(book, code)
    assert problem.file == root / "my.csl" and problem.hint
    if line is not None:
        assert problem.line == line
    assert "(Doe 2005)" in _text(_root(book.chapters[0].html))  # Chicago author-date


@pytest.mark.parametrize(("name", "code"), [("missing.bib", "bibliography-missing"),
                                            ("../outside.bib", "bibliography-outside"),
                                            ("/etc/outside.bib", "bibliography-outside"),
                                            ("linked.bib", "bibliography-outside")])
def test_a_bibliography_outside_the_book_or_missing_is_a_warning(tmp_path: Path, name: str, code: str) -> None:
    (tmp_path / "outside.bib").write_text(BIB)
    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n"}, config=f"bibliography: {name}\n", bib=None)
    os.symlink(tmp_path / "outside.bib", root / "linked.bib")
    book = parse_book(load_manuscript(root))
    [problem] = _warnings(book, code)
    assert (problem.file, problem.line) == (root / "book.yaml", 3)
    assert "item1?" in _text(_root(book.chapters[0].html))  # nothing was read from outside


def test_citation_keys_with_punctuation_get_ids_that_are_xml_names(tmp_path: Path) -> None:
    bib = "@book{doe:2005/a,\n author={Doe, Jane},\n title={Colons},\n year=2005\n}\n"
    book = parse_book(load_manuscript(_book(tmp_path, {"01.md": "# One\n\nSee [@doe:2005/a].\n"}, bib=bib)))
    assert 'href="#ref-doe-2005-a"' in book.chapters[0].html and 'id="ref-doe-2005-a"' in book.chapters[-1].html


def test_a_changed_bibliography_rebuilds_the_book(tmp_path: Path) -> None:
    from publish.keys import book_key as _book_key

    root = _book(tmp_path, {"01.md": "# One\n\nSee [@item1].\n"})
    before = _book_key(load_manuscript(root), "p", None)
    (root / "refs.bib").write_text(BIB.replace("First Book", "Second Book"))
    assert _book_key(load_manuscript(root), "p", None) != before
    assert DEFAULT_STYLE in input_files(load_manuscript(root))  # the shipped style is an input too


@pytest.mark.parametrize(("config", "message"), [("bibliography: {a: b}\n", "must be a file name"),
                                                 ("bibliography: refs.txt\n", "not a bibliography file"),
                                                 ("csl: [a, b]\n", "single line"),
                                                 ("link-citations: maybe\n", "true or false")])
def test_bad_citation_settings_are_config_errors(tmp_path: Path, config: str, message: str) -> None:
    with pytest.raises(BuildFailed) as failure:
        load_manuscript(write_book(tmp_path / "book", config="title: T\n" + config))
    [problem] = failure.value.diagnostics
    assert problem.code == "config-value" and message in problem.message and problem.line == 2


# -- input nobody wrote yet -------------------------------------------------------------------------

_PIECES = st.sampled_from(["[", "]", "@", "-@", "@item1", "@{x y}", ";", " ", "p. 3", "see", "*", "(", ")", "\n",
                           "[^1]", "^[", "`", "\\", "é", "@пункт3", ",", "."])


@settings(max_examples=60, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join))
def test_any_text_formats_without_a_traceback_and_leaves_no_marks(tmp_path_factory: pytest.TempPathFactory,
                                                                  text: str) -> None:
    root = _book(tmp_path_factory.mktemp("prop"), {"01.md": "# One\n\n" + text + "\n"})
    manuscript = load_manuscript(root)
    problems: list = []
    sources, htmls = resolve_citations(manuscript, manuscript.sources, [chapter_html(s.text) for s in manuscript.sources],
                                       problems)
    assert not any("cite-key" in html for html in htmls)
    assert all(p.severity is Severity.WARNING and p.file is not None for p in problems)


# -- the editions ---------------------------------------------------------------------------------

@pytest.mark.e2e
def test_a_cited_book_builds_valid_editions_with_links_between_chapters(tmp_path: Path) -> None:
    from conftest import EPOCH, Epub
    from validators import run_ace, run_epubcheck

    text = (SUITE / "markdown-citations.txt").read_text(encoding="utf-8").replace("References\n==========\n", "")
    root = _book(tmp_path, {"01-citations.md": text, "02-more.md": "# More\n\nAs @item2 showed [-@item2, 34].\n"})
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    publish = Path(os.sys.executable).parent / "publish"
    proc = subprocess.run([str(publish), "build", str(root), "-o", str(tmp_path / "out")], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("citation-unknown") == 1  # the suite's [@nonexistent], once for its two citations
    epub_path = tmp_path / "out" / "cited.epub"
    report = run_epubcheck(epub_path)
    assert (report.fatal, report.error, report.warning) == (0, 0, 0), report.messages
    assert run_ace(epub_path).violations == ()
    epub = Epub(epub_path.read_bytes())
    first = epub.doc("chapter-001.xhtml")
    links = first.xpath("//x:a[@role='doc-biblioref']/@href", namespaces={"x": "http://www.w3.org/1999/xhtml"})
    assert links and all(link.startswith("chapter-003.xhtml#ref-") for link in links)
    last = epub.doc("chapter-003.xhtml")
    ids = set(last.xpath("//@id"))
    assert {link.partition("#")[2] for link in links} <= ids
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "out" / "cited.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
    assert "Doe (2005; 2006, 30; see also Doe and Roe 2007) says blah." in pdf_text
    assert "Doe, John, and Jenny Roe. 2007." in pdf_text and "References" in pdf_text
