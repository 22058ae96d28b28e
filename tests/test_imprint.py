"""The copyright page, as a publisher sets it (publish.imprint and parts.j2's `copyright`)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import MakeBook, parse

from publish.config import for_edition
from publish.imprint import date_in_words, imprint
from publish.templates import COLOPHON, environment


@pytest.mark.parametrize(("iso", "lang", "words"), [
    ("2025-07-17", "en", "July 17, 2025"),
    ("2025-07-17", "en-GB", "17 July 2025"),
    ("2025-07-17", "fr", "17 juillet 2025"),
    ("2025-07-17", "de", "17. Juli 2025"),
    ("2025-07-17", "ja", "2025年7月17日"),
    ("2025-07-17", "zh-Hant", "2025年7月17日"),
    ("2025-07", "en", "July 2025"),
    ("2025-07", "fr", "juillet 2025"),
    ("2025", "en", "2025"),
    ("2025-07-17T10:00:00", "en-GB", "17 July 2025"),
    ("2025-07-17", "x-klingon", "July 17, 2025"),  # no CLDR locale: English
])
def test_the_first_published_date_in_words_in_the_books_language(iso: str, lang: str, words: str) -> None:
    assert date_in_words(iso, lang) == words


def _page(book: object) -> str:
    """The copyright page's words, as every edition sets them."""
    macros = environment().get_template("parts.j2").module
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(macros.copyright(book, colophon=COLOPHON)))).strip()


def test_a_book_with_no_isbn_prints_no_identifier(make_book: MakeBook) -> None:
    book = parse(make_book(config="title: T\nauthor: A. Writer\ndate: 2024-05-01\nlang: en-GB\n"))
    assert book.identifier.startswith("urn:uuid:")
    text = _page(book)
    assert "urn" not in text and "uuid" not in text.lower() and "ISBN" not in text
    assert "First published 1 May 2024" in text and "Set in Gentium Book Plus." in text


def test_an_isbn_identifier_is_printed_hyphenated(make_book: MakeBook) -> None:
    book = parse(make_book(config="title: T\nidentifier: urn:isbn:9780306406157\npublisher: Small Press\n"
                                  "rights: © 2024 A. Writer. All rights reserved.\n"))
    text = _page(book)
    assert "ISBN 978-0-306-40615-7" in text and "urn:isbn" not in text
    assert "Published by Small Press" in text and "© 2024 A. Writer. All rights reserved." in text
    # In a publisher's order: the book, its rights, its publication, its ISBN, the colophon.
    order = [text.index(part) for part in ("T", "©", "Published by", "ISBN", "Set in")]
    assert order == sorted(order)


def test_each_edition_names_itself_and_lists_every_isbn(make_book: MakeBook) -> None:
    book = parse(make_book(config="title: T\ndate: 2024\neditions:\n  ebook:\n    isbn: 978-1-4028-9462-6\n"
                                  "  paperback:\n    isbn: 978-0-306-40615-7\n"))
    paperback = dataclasses.replace(book, config=for_edition(book.config, book.config.editions[1]))
    page = imprint(paperback, COLOPHON)
    assert page.edition == "Paperback edition" and page.first_published == "2024"
    assert [(n.hyphenated, n.label) for n in page.isbns] == [("978-1-4028-9462-6", "ebook"),
                                                              ("978-0-306-40615-7", "paperback")]
    text = _page(paperback)
    assert "Paperback edition" in text and "ISBN 978-0-306-40615-7 (paperback)" in text
    assert "urn" not in text
