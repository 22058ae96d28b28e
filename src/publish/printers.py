"""The print services' published figures, declared once, and the cover geometry that follows.

KDP, IngramSpark and Lulu each say how thick their paper is, how wide a spine comes out, where
the bleed and the safe zone are, from how many pages a spine may carry text and where the barcode
goes. Every figure here names the page it comes from (`SOURCES`); docs/covers.md lists the same
figures with those addresses, and says which could not be found and what stands in for them.

Spine widths are computed in exact fractions and rounded the way each service rounds (half up,
to its published number of places), so the same page count always gives the same cover, to the
thousandth of an inch a service checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

PAPERS = ("white", "cream", "color")
BINDINGS = ("paperback", "hardcover")
MM = 1 / 25.4  # inches


@dataclass(frozen=True, slots=True)
class Case:
    """A case-laminate hardcover: the printed sheet is glued round two boards and a spine board."""

    wrap: float  # turned over the boards' edges, on every outside edge
    hinge: float  # the groove between each board and the spine
    fore: float  # how far a board reaches past the pages at the fore-edge
    head: float  # and at the head and the foot, each
    board: float  # board thickness: the spine spans the pages and both boards
    safe: float  # text kept this far inside a board's edge


@dataclass(frozen=True, slots=True)
class Barcode:
    """The barcode's box on the back cover, in its lower outside corner (next to the spine)."""

    width: float
    height: float
    from_spine: float
    from_bottom: float


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    label: str
    caliper: dict[str, str]  # paper -> inches per page, as the service writes it ("0.0025", "1/444")
    spine_offset: str  # inches added to every spine (Lulu's cover allowance)
    places: int  # a spine width is rounded half up to this many decimals of an inch
    bleed: float  # on every outside edge of a paperback cover
    safe: float  # text kept this far inside the trim
    fold: float  # spine text kept this far from each fold
    spine_text_pages: int  # the fewest pages whose spine may carry text
    min_pages: dict[str, int]  # binding -> the fewest pages the service prints
    barcode: Barcode
    case: Case


# KDP's barcode box, the only one published with its position; the same box is kept clear for
# the other services (see docs/covers.md).
_BARCODE = Barcode(width=2.0, height=1.2, from_spine=0.25, from_bottom=0.25)

SERVICES: dict[str, Service] = {
    "kdp": Service(
        "kdp", "Amazon KDP",
        caliper={"white": "0.002252", "cream": "0.0025", "color": "0.002347"},
        spine_offset="0", places=3, bleed=0.125, safe=0.125, fold=0.0625, spine_text_pages=79,
        min_pages={"paperback": 24, "hardcover": 75}, barcode=_BARCODE,
        case=Case(wrap=0.591, hinge=0.197, fore=0.1, head=0.236, board=2 * MM, safe=0.125)),
    "ingram": Service(
        "ingram", "IngramSpark",
        caliper={"white": "0.00211", "cream": "0.0025", "color": "0.00272"},
        spine_offset="0", places=3, bleed=0.125, safe=0.25, fold=0.0625, spine_text_pages=48,
        min_pages={"paperback": 18, "hardcover": 18}, barcode=_BARCODE,
        case=Case(wrap=0.75, hinge=0.375, fore=0.125, head=0.125, board=2.5 * MM, safe=0.25)),
    "lulu": Service(
        "lulu", "Lulu",
        # Lulu's spine does not depend on the paper: pages / 444 + 0.06 in.
        caliper={"white": "1/444", "cream": "1/444", "color": "1/444"},
        spine_offset="0.06", places=3, bleed=0.125, safe=0.5, fold=0.0625, spine_text_pages=80,
        min_pages={"paperback": 32, "hardcover": 24}, barcode=_BARCODE,
        case=Case(wrap=0.75, hinge=0.375, fore=0.125, head=0.125, board=2.5 * MM, safe=0.5)),
}

# Where each figure comes from; docs/covers.md quotes them (a test keeps the two in step).
SOURCES: dict[str, tuple[str, ...]] = {
    "kdp": ("https://www.createspace.com/Products/Book/CoverPDF.jsp",
            "https://kdp.amazon.com/en_US/help/topic/G5HDYGP4BXLX4RUW",
            "https://kdp.amazon.com/en_US/help/topic/GKZVNAAFYWVKZWL8"),
    "ingram": ("https://help.ingramspark.com/hc/en-us/articles/5338636202637-Manufacturing-and-File-Setup-Tips",
               "https://www.ingramspark.com/blog/file-requirements-for-print-books"),
    "lulu": ("https://www.scribd.com/document/513281500/lulu-spine-width-calculator",
             "https://connect.lulu.com/en/discussion/33338/how-to-create-a-cover-with-the-one-piece-wraparound-cover-designer"),
}


def leaves(pages: int) -> int:
    """Pages as printed: on leaves, so an odd count gets a blank page at the end (every service
    adds one), and the spine is as thick as the even count."""
    return pages + pages % 2


def spine_width(service: Service, paper: str, pages: int, *, caliper: str | None = None) -> float:
    """The spine of a paperback (or a hardcover's pages) in inches, as the service computes it."""
    exact = Fraction(caliper or service.caliper[paper]) * leaves(pages) + Fraction(service.spine_offset)
    unit = 10 ** service.places
    return math.floor(exact * unit + Fraction(1, 2)) / unit  # half up, exactly: no binary rounding


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle on the cover sheet, in inches from its top left corner."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def inset(self, by: float) -> Box:
        return Box(self.x + by, self.y + by, self.width - 2 * by, self.height - 2 * by)

    def contains(self, other: Box, *, slack: float = 0.0) -> bool:
        return (other.x >= self.x - slack and other.y >= self.y - slack
                and other.right <= self.right + slack and other.bottom <= self.bottom + slack)

    def overlaps(self, other: Box) -> bool:
        return not (other.right <= self.x or other.x >= self.right or other.bottom <= self.y or other.y >= self.bottom)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where everything is on one cover sheet. The sheet is the PDF's MediaBox (and BleedBox);
    `trim` is its TrimBox: the cover as the reader holds it, laid flat."""

    service: str
    binding: str
    paper: str
    pages: int  # the interior's own page count, as laid out
    spine: float  # the spine's width: the pages' thickness, and a hardcover's boards
    width: float
    height: float
    trim: Box
    back: Box  # the back cover, as the reader sees it (a hardcover's back board)
    spine_box: Box
    front: Box
    back_safe: Box  # where text may go
    front_safe: Box
    spine_safe: Box | None  # None: the spine is too thin for text
    barcode: Box

    @property
    def panels(self) -> tuple[Box, Box, Box]:
        return self.back, self.spine_box, self.front

    def reversed(self) -> Geometry:
        """The same sheet for a book bound on the right (Arabic, Hebrew): the front is on the left."""
        flip = lambda b: Box(self.width - b.right, b.y, b.width, b.height)  # noqa: E731
        return Geometry(self.service, self.binding, self.paper, self.pages, self.spine, self.width, self.height,
                        flip(self.trim), flip(self.back), flip(self.spine_box), flip(self.front), flip(self.back_safe),
                        flip(self.front_safe), flip(self.spine_safe) if self.spine_safe else None, flip(self.barcode))


def geometry(service: Service, *, binding: str, paper: str, pages: int, trim_width: float, trim_height: float,
             caliper: str | None = None, right_to_left: bool = False) -> Geometry:
    """The cover sheet for a book of `pages` pages: back, spine and front side by side."""
    block = spine_width(service, paper, pages, caliper=caliper)
    if binding == "hardcover":
        case = service.case
        spine = round(block + 2 * case.board, 4)
        panel_w, panel_h = trim_width + case.fore, trim_height + 2 * case.head
        edge, gap, safe = case.wrap, case.hinge, case.safe
    else:
        spine = block
        panel_w, panel_h = trim_width, trim_height
        edge, gap, safe = service.bleed, 0.0, service.safe
    width = round(2 * edge + 2 * panel_w + 2 * gap + spine, 4)
    height = round(2 * edge + panel_h, 4)
    back = Box(edge, edge, panel_w, panel_h)
    spine_box = Box(back.right + gap, edge, spine, panel_h)
    front = Box(spine_box.right + gap, edge, panel_w, panel_h)
    trim = Box(edge, edge, width - 2 * edge, panel_h)
    # Text stays clear of the trim (or the boards' edges) and of the folds by the safe distance.
    back_safe = back.inset(safe)
    front_safe = front.inset(safe)
    room = spine - 2 * service.fold
    spine_safe = None
    if leaves(pages) >= service.spine_text_pages and room > 0:
        spine_safe = Box(spine_box.x + service.fold, spine_box.y + safe, room, panel_h - 2 * safe)
    # Where the service puts it, but never in its own unsafe strip (Lulu keeps 0.5 in clear).
    bar = service.barcode
    from_spine, from_bottom = max(bar.from_spine, safe), max(bar.from_bottom, safe)
    barcode = Box(back.right - from_spine - bar.width, back.bottom - from_bottom - bar.height, bar.width, bar.height)
    shape = Geometry(service.name, binding, paper, pages, spine, width, height, trim, back, spine_box, front,
                     back_safe, front_safe, spine_safe, barcode)
    return shape.reversed() if right_to_left else shape
