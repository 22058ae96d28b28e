"""book.yaml: every key's validation, and every problem with its file, line and hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import dedent

from publish.config import (
    DEFAULT_SPOILER_HEADING,
    TRIM_PRESETS,
    BookConfig,
    SpoilerNotice,
    TrimSize,
    parse_config,
    parse_date,
)
from publish.diagnostics import Diagnostic, Severity

PATH = Path("book") / "book.yaml"


def config(text: str) -> tuple[BookConfig | None, list[Diagnostic]]:
    return parse_config(dedent(text), PATH)


def good(text: str) -> BookConfig:
    result, problems = config(text)
    assert result is not None, "\n".join(map(str, problems))
    assert problems == []
    return result


def only_error(text: str) -> Diagnostic:
    """The one problem `text` has: an error on book.yaml, with a line and a hint."""
    result, problems = config(text)
    assert result is None
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.severity is Severity.ERROR
    assert problem.file == PATH
    assert problem.line is not None and problem.hint
    return problem


def test_a_title_alone_is_a_book_with_the_defaults() -> None:
    book = good("title: Dune\n")
    assert book == BookConfig(title="Dune")
    assert (book.lang, book.authors, book.spoiler, book.chapters) == ("en", (), None, None)
    assert (book.trim, book.pdf_profile, book.print_service) == (TrimSize("6x9", 6.0, 9.0), "default", "kdp")


def test_every_pandoc_key_is_read() -> None:
    book = good("""
        title: Pride and Prejudice
        subtitle: A Novel
        author: [Jane Austen, A. N. Editor]
        lang: en-gb
        date: 1813-01-28
        rights: Public domain
        publisher: T. Egerton
        identifier: urn:isbn:9780000000000
        description: A novel of manners.
        subject: [Fiction, Romance]
        cover-image: images/cover.jpg
    """)
    assert book.title == "Pride and Prejudice" and book.subtitle == "A Novel"
    assert book.authors == ("Jane Austen", "A. N. Editor")
    assert book.lang == "en-GB"  # standardised
    assert book.date == "1813-01-28"  # YAML reads a date; it is kept as written
    assert (book.rights, book.publisher) == ("Public domain", "T. Egerton")
    assert book.identifier == "urn:isbn:9780000000000"
    assert book.description == "A novel of manners."
    assert book.subjects == ("Fiction", "Romance")
    assert book.cover_image == "images/cover.jpg"


def test_a_single_author_or_subject_may_be_written_without_a_list() -> None:
    book = good("title: T\nauthor: Jane Austen\nsubject: Fiction\n")
    assert (book.authors, book.subjects) == (("Jane Austen",), ("Fiction",))


def test_numbers_are_text_where_text_is_wanted() -> None:
    book = good("title: 1984\nsubtitle: 2\n")
    assert (book.title, book.subtitle) == ("1984", "2")


def test_no_title_is_an_error_on_line_1() -> None:
    problem = only_error("subtitle: Only a subtitle\n")
    assert problem.code == "config-title" and problem.line == 1
    assert "title:" in (problem.hint or "")


def test_an_empty_title_is_an_error_on_its_line() -> None:
    problem = only_error("lang: en\ntitle: '   '\n")
    assert problem.code == "config-title" and problem.line == 2


def test_an_empty_file_has_no_title() -> None:
    assert only_error("").code == "config-title"


@pytest.mark.parametrize("key", ["subtitle", "rights", "publisher", "identifier", "description", "cover-image"])
def test_single_line_keys_refuse_lists_and_mappings(key: str) -> None:
    problem = only_error(f"title: T\n\n{key}:\n  - a\n  - b\n")
    assert problem.code == "config-value" and problem.line == 3
    assert f"'{key}'" in problem.message and "single line of text" in problem.message
    assert key in (problem.hint or "")


@pytest.mark.parametrize("key", ["author", "subject"])
def test_list_keys_refuse_mappings_and_nested_lists(key: str) -> None:
    problem = only_error(f"title: T\n{key}:\n  nick: X\n")
    assert problem.code == "config-value" and problem.line == 2 and f"'{key}'" in problem.message
    problem = only_error(f"title: T\n{key}: [[a, b]]\n")
    assert problem.line == 2


@pytest.mark.parametrize("lang", ["en", "fr", "zh-Hant", "pt-BR", "grc"])
def test_valid_language_tags(lang: str) -> None:
    assert good(f"title: T\nlang: {lang}\n").lang == lang


@pytest.mark.parametrize("lang", ["english", "e", "en--US", "[en]", "12"])
def test_invalid_language_tags(lang: str) -> None:
    problem = only_error(f"title: T\nlang: {lang}\n")
    assert problem.line == 2 and "'lang'" in problem.message and "BCP 47" in problem.message
    assert "en-GB" in (problem.hint or "")


def test_direction_follows_the_script_of_the_language() -> None:
    assert good("title: T\nlang: ar\n").direction == "rtl"
    assert good("title: T\nlang: he\n").direction == "rtl"
    assert good("title: T\nlang: en\n").direction == "ltr"
    assert good("title: T\nlang: zh-Hant\n").direction == "ltr"


@pytest.mark.parametrize("date", ["2024", "2024-03", "2024-03-09", "'2024-03-09'", "2024-03-09T10:00:00"])
def test_valid_dates(date: str) -> None:
    assert good(f"title: T\ndate: {date}\n").date is not None


@pytest.mark.parametrize("date", ["yesterday", "2024-13", "09/03/2024", "[2024]"])
def test_invalid_dates(date: str) -> None:
    problem = only_error(f"title: T\n# a comment line\ndate: {date}\n")
    assert problem.line == 3 and "'date'" in problem.message and "not a date" in problem.message
    assert "YYYY-MM-DD" in (problem.hint or "")


def test_parse_date_is_utc() -> None:
    assert parse_date("1813").isoformat() == "1813-01-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert parse_date("2024-03-09T12:00:00+02:00").isoformat() == "2024-03-09T10:00:00+00:00"  # type: ignore[union-attr]
    assert parse_date("Spring 2024") is None


def test_a_date_in_words_as_pandoc_title_blocks_write_it_is_kept_as_an_iso_date() -> None:
    assert good("title: T\ndate: July 17, 2006\n").date == "2006-07-17"
    assert good("title: T\ndate: 17 July 2006\n").date == "2006-07-17"
    assert good("title: T\ndate: March 2024\n").date == "2024-03"


def test_spoiler_as_text_takes_the_default_heading() -> None:
    assert good("title: T\nspoiler: The butler did it.\n").spoiler == SpoilerNotice(DEFAULT_SPOILER_HEADING,
                                                                                      "The butler did it.")


def test_spoiler_as_a_mapping() -> None:
    book = good("""
        title: T
        spoiler:
          heading: Spoiler Alert
          text: This article contains key plot details.
    """)
    assert book.spoiler == SpoilerNotice("Spoiler Alert", "This article contains key plot details.")
    assert good("title: T\nspoiler: {text: Ends well.}\n").spoiler == SpoilerNotice(DEFAULT_SPOILER_HEADING, "Ends well.")


@pytest.mark.parametrize("value", ["{heading: Careful}", "[a, b]", "''"])
def test_spoiler_without_text_is_an_error(value: str) -> None:
    problem = only_error(f"title: T\nspoiler: {value}\n")
    assert problem.line == 2 and "'spoiler'" in problem.message and "spoiler:" in (problem.hint or "")


def test_an_empty_spoiler_key_means_no_notice() -> None:
    assert good("title: T\nspoiler:\n").spoiler is None


def test_chapters_list() -> None:
    assert good("title: T\nchapters:\n  - b.md\n  - a.md\n").chapters == ("b.md", "a.md")


@pytest.mark.parametrize("value", ["a.md", "{a: b}"])
def test_chapters_must_be_a_list(value: str) -> None:
    problem = only_error(f"title: T\nchapters: {value}\n")
    assert problem.line == 2 and "'chapters'" in problem.message and "- 01-name.md" in (problem.hint or "")


@pytest.mark.parametrize("name", sorted(TRIM_PRESETS))
def test_every_trim_preset(name: str) -> None:
    width, height = TRIM_PRESETS[name]
    assert good(f"title: T\ntrim: '{name}'\n").trim == TrimSize(name, width, height)


@pytest.mark.parametrize("written", ["6x9", "6 x 9", "6×9", "6x9in", "6 × 9 in", "A5"])
def test_trim_presets_are_forgiving_about_spacing_case_and_units(written: str) -> None:
    assert good(f"title: T\ntrim: {written}\n").trim.name in TRIM_PRESETS


def test_trim_as_width_and_height_in_any_unit() -> None:
    trim = good("title: T\ntrim: {width: 127mm, height: 8in}\n").trim
    assert trim == TrimSize("5x8", 5.0, 8.0)
    trim = good("title: T\ntrim:\n  width: 14.8cm\n  height: 21cm\n").trim
    assert trim.width_in == pytest.approx(5.827, abs=1e-3) and trim.height_in == pytest.approx(8.268, abs=1e-3)


@pytest.mark.parametrize("value", ["7x7", "big", "{width: 6in}", "{width: 6, height: 9}", "{width: 1in, height: 9in}",
                                   "{width: 6in, height: 90in}", "6"])
def test_invalid_trim(value: str) -> None:
    problem = only_error(f"title: T\ntrim: {value}\n")
    assert problem.line == 2 and "'trim'" in problem.message and "not a trim size" in problem.message
    assert all(name in (problem.hint or "") for name in TRIM_PRESETS)


@pytest.mark.parametrize(("key", "value", "attr"), [("pdf-profile", "print", "pdf_profile"),
                                                    ("print-service", "lulu", "print_service"),
                                                    ("print-service", "ingram", "print_service"),
                                                    ("chapter-openings", "any", "chapter_openings"),
                                                    ("chapter-openings", "continuous", "chapter_openings")])
def test_choices(key: str, value: str, attr: str) -> None:
    assert getattr(good(f"title: T\n{key}: {value}\n"), attr) == value


@pytest.mark.parametrize(("key", "value", "suggestion"), [("pdf-profile", "prnt", "print"),
                                                          ("print-service", "kdpp", "kdp"),
                                                          ("print-service", "lullu", "lulu"),
                                                          ("chapter-openings", "continous", "continuous")])
def test_a_near_miss_choice_suggests_the_right_one(key: str, value: str, suggestion: str) -> None:
    problem = only_error(f"title: T\n{key}: {value}\n")
    assert problem.line == 2 and f"'{key}'" in problem.message
    assert problem.hint == f"did you mean '{suggestion}'?"


def test_a_far_miss_choice_lists_the_choices() -> None:
    problem = only_error("title: T\nprint-service: amazon\n")
    assert problem.hint == "use one of kdp, lulu, ingram"


def test_chapters_open_on_the_right_unless_told() -> None:
    assert good("title: T\n").chapter_openings == "right"
    assert only_error("title: T\nchapter-openings: left\n").hint == "use one of right, any, continuous"


def test_an_unknown_key_is_a_warning_that_suggests_the_known_one() -> None:
    result, problems = config("title: T\nsubtitel: A typo\n")
    assert result is not None and result.subtitle is None  # the typo is ignored, not guessed at
    [problem] = problems
    assert problem.severity is Severity.WARNING and problem.code == "config-unknown-key"
    assert (problem.file, problem.line) == (PATH, 2)
    assert "'subtitel'" in problem.message and problem.hint == "did you mean 'subtitle'?"


def test_an_unknown_key_like_nothing_lists_the_known_keys() -> None:
    [problem] = config("title: T\nzzz: 1\n")[1]
    assert problem.severity is Severity.WARNING and problem.hint and "known keys:" in problem.hint
    assert "cover-image" in problem.hint and "spoiler" in problem.hint


def test_every_problem_is_reported_at_once_each_on_its_own_line() -> None:
    result, problems = config("""
        title: T
        lang: klingon-language
        date: someday
        authr: Me
        trim: huge
        print-service: post
    """)
    assert result is None
    by_line = {p.line: p for p in problems}
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert by_line[4].severity is Severity.WARNING and by_line[4].hint == "did you mean 'author'?"
    assert all(p.severity is Severity.ERROR for line, p in by_line.items() if line != 4)
    assert all(p.file == PATH and p.hint for p in problems)


def test_invalid_yaml_points_at_the_line() -> None:
    problem = only_error("title: T\nsubtitle: [unclosed\nlang: en\n")
    assert problem.code == "config-yaml" and problem.line is not None and problem.line >= 2
    assert "not valid YAML" in problem.message and "indentation" in (problem.hint or "")


def test_a_title_with_an_unquoted_colon_space_is_invalid_yaml() -> None:
    problem = only_error("title: Whiplash: A Brutal Symphony\n")
    assert problem.code == "config-yaml" and problem.line == 1 and "quote" in (problem.hint or "")


@pytest.mark.parametrize("text", ["- title: T\n", "just a string\n", "42\n"])
def test_book_yaml_must_be_a_mapping(text: str) -> None:
    problem = only_error(text)
    assert problem.code == "config-not-mapping" and problem.line == 1 and "key: value" in (problem.hint or "")


def test_diagnostics_print_file_line_code_and_hint() -> None:
    problem = only_error("title: T\nlang: nope-nope-nope\n")
    assert str(problem).splitlines() == [
        f"{PATH}:2: error config-value: 'lang': 'nope-nope-nope' is not a valid BCP 47 language tag",
        "    hint: use a tag such as 'en', 'en-GB', 'fr' or 'zh-Hant'",
    ]


def test_the_sample_book_yaml_is_clean() -> None:
    text = (Path(__file__).resolve().parents[1] / "manuscript" / "book.yaml").read_text(encoding="utf-8")
    book, problems = parse_config(text, PATH)
    assert problems == [] and book is not None
    assert book.title == "Whiplash: A Brutal Symphony of Perfection"
    assert book.subtitle == "Lessons in Leadership, Growth, and Obsession"
    assert book.authors == () and book.lang == "en"
    assert book.spoiler == SpoilerNotice("Spoiler Alert", "This article contains key plot details from Whiplash (2014)")
