"""ISBNs: read as an author writes them, checked, and turned into the EAN-13 a barcode carries.

python-stdnum does the work: it checks the check digit of ISBN-10 and ISBN-13 alike, converts
one into the other, and hyphenates by the International ISBN Agency's range table (which it
ships), so "ISBN 978-0-306-40615-7" on a copyright page is split where the agency splits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import isbn as _isbn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError


@dataclass(frozen=True, slots=True)
class Isbn:
    ean: str  # the 13 digits, what the barcode encodes

    @property
    def hyphenated(self) -> str:
        return _isbn.format(self.ean)

    @property
    def urn(self) -> str:
        return f"urn:isbn:{self.ean}"

    @property
    def bookland(self) -> bool:
        """978 and 979 are the "Bookland" prefixes every ISBN barcode starts with."""
        return self.ean.startswith(("978", "979"))


def parse_isbn(text: str) -> tuple[Isbn | None, str | None]:
    """The ISBN in `text` (ISBN-10 or -13, with or without hyphens, spaces or an "ISBN" prefix),
    or None and why not, in words an author can act on."""
    raw = text.strip()
    for prefix in ("urn:isbn:", "isbn-13:", "isbn-10:", "isbn13:", "isbn10:", "isbn:", "isbn"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix):].strip()
            break
    try:
        valid = _isbn.validate(raw)
    except InvalidChecksum:
        digits = _isbn.compact(raw)
        expected = _check_digit(digits)
        hint = f"; with these digits it would end in {expected}" if expected else ""
        return None, f"its check digit is wrong{hint} (a typing error somewhere in the number?)"
    except InvalidLength:
        return None, f"it has {len(_isbn.compact(raw))} digits, and an ISBN has 10 or 13"
    except InvalidComponent:
        return None, "13-digit ISBNs start with 978 or 979"
    except ValidationError:
        return None, "it is not an ISBN: only digits, hyphens and spaces (and a final X in an ISBN-10)"
    return Isbn(_isbn.to_isbn13(valid)), None


def _check_digit(digits: str) -> str | None:
    """The check digit `digits` would need: shown in the message, so a typing error is easy to find."""
    if len(digits) == 13 and digits[:12].isdigit():
        return _isbn.ean.calc_check_digit(digits[:12])
    if len(digits) == 10 and digits[:9].isdigit():
        return _isbn._calc_isbn10_check_digit(digits[:9])  # noqa: SLF001 - stdnum's own, not re-implemented here
    return None
