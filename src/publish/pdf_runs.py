"""The print edition laid out in runs of chapters at once, one process each, and bound into one PDF.

WeasyPrint lays out one page after another on one core. A book whose chapters open on rectos has
a page break before each chapter that nothing can move, so the pages of the chapters after it
cannot depend on what comes before it, but for their numbers. The text is cut there into runs of
chapters, balanced by words, one per core, and each run is laid out by a fresh worker process
(`workers.Worker`: WeasyPrint must not be forked once Pango is loaded) from the same HTML head and
stylesheets (`print_source(book)(run=...)`, the template's `run`):

1. The text's runs are laid out, each numbering its pages from 1. Each but the last ends with an
   empty element that breaks to a recto, so that the blank verso the next run's opening leaves
   is laid out with the run before, as in one layout; the page after it is dropped when binding.
2. Their page counts give each run its first page number. The front matter is laid out last, its
   contents page given the text's page numbers (its own entries it finds itself).
3. Each run is written: its folios made again with its first page number, its pages moved to the
   gutter of the whole book's page count (`shift_to_gutter`), its links to every id of the book
   kept (WeasyPrint keeps only those to its own), and `bind` makes one PDF of the runs' PDFs.

With `PUBLISH_PARALLEL_PDF=1`, `chapter-openings: right` books of more than one chapter and
30,000 words are laid out in runs (`RUN_WORDS` a run at least): with `any` and `continuous` openings no break is forced
between chapters, and a shorter book is laid out sooner than a worker process starts.
"""

from __future__ import annotations

import gc
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from html import unescape
from pathlib import Path
from typing import Any

from .config import BookConfig
from .diagnostics import Diagnostic
from .model import Asset, Book
from .pages import PageStart, numbered

# The parallel path is taken only when `PUBLISH_PARALLEL_PDF` is 1: its pages are the single
# layout's (tests/test_parallel_pdf.py), but on this project's shared 2-core machines it took a
# third more CPU and twice the memory, and the build longer (docs/performance.md).
SWITCH = "PUBLISH_PARALLEL_PDF"
# The fewest words a run is given (`PUBLISH_RUN_WORDS`): a worker process costs about a second of
# start-up and binding, which the layout of fewer words than this does not pay back.
RUN_WORDS = 15_000
# What a run's worker imports while its first job is on its way.
WARM_UP = ("weasyprint", "publish.pdf", "publish.pdf_runs")


def enabled() -> bool:
    return os.environ.get(SWITCH, "") == "1"


def run_words() -> int:
    wanted = os.environ.get("PUBLISH_RUN_WORDS", "").strip()
    return int(wanted) if wanted.isdigit() else RUN_WORDS


@dataclass(frozen=True, slots=True)
class Run:
    """What one layout holds: the front matter, or the text's chapters `start` to `stop`."""

    index: int  # in the bound PDF's order of runs' pages: the front matter is 0
    front: bool = False
    start: int = 0
    stop: int = 0
    last: bool = False  # the book's last run: it ends where the book does
    title: str = ""  # the versos' running head, which a run without the title page cannot take from it
    numbers: tuple[tuple[str, str], ...] = ()  # the front's contents: (id, page number) of what is in the text


def plan(book: Book, jobs: int, *, words: int | None = None) -> tuple[Run, ...] | None:
    """The runs to lay out `book` in with `jobs` processes, the front matter first, each run of the
    text `words` words at least (`run_words()`); None for one layout."""
    text = [c for c, m in zip(book.chapters, book.matter, strict=True) if m != "front"]
    least = run_words() if words is None else words
    runs = min(jobs, len(text), max(1, sum(c.words for c in text) // max(least, 1)))
    if runs < 2 or book.config.chapter_openings != "right":
        return None
    title = " ".join(book.config.title.split())  # as `string-set: content()` reads the title page's heading
    cuts = balance([c.words for c in text], runs)
    bounds = list(zip((0, *cuts), (*cuts, len(text))))
    return (Run(0, front=True), *(Run(n, start=a, stop=b, last=b == len(text), title=title)
                                  for n, (a, b) in enumerate(bounds, start=1)))


def balance(words: list[int], parts: int) -> tuple[int, ...]:
    """Where to cut `words` (one number per chapter) into `parts` runs of consecutive chapters so
    that the longest run is as short as it can be: the indices the runs after the first start at."""
    total = len(words)
    prefix = [0]
    for w in words:
        prefix.append(prefix[-1] + max(w, 1))
    # best[k][i]: the longest run when the first i chapters make k runs; cut[k][i]: where the last starts.
    best = [[float("inf")] * (total + 1) for _ in range(parts + 1)]
    cut = [[0] * (total + 1) for _ in range(parts + 1)]
    best[0][0] = 0
    for k in range(1, parts + 1):
        for i in range(k, total + 1):
            for j in range(k - 1, i):
                longest = max(best[k - 1][j], prefix[i] - prefix[j])
                if longest < best[k][i]:
                    best[k][i], cut[k][i] = longest, j
    cuts, i = [], total
    for k in range(parts, 1, -1):
        i = cut[k][i]
        cuts.append(i)
    return tuple(reversed(cuts))


# -- in the worker processes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunJob:
    run: Run
    html: str
    root: Path
    assets: tuple[Asset, ...]
    css: str | None
    config: BookConfig
    margins: Any  # pdf.Margins the run is laid out with
    front: frozenset[str]  # the ids of the front matter's chapters (not in the page map)


@dataclass(frozen=True, slots=True)
class RunLayout:
    pages: int  # the run's own, the dropped one after its last recto break excepted
    numbers: dict[str, int]  # its ids (those that begin on its pages) and the page number each is on
    starts: tuple[PageStart | None, ...]  # `pages.page_starts`, one a page
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunPdf:
    data: bytes
    pages: int
    bookmarks: tuple[tuple[int, int, str, float, float, str], ...]  # (page, level, label, x, y, state)
    dead_links: tuple[str, ...]
    messages: tuple[str, ...]


@dataclass
class _Held:
    """A run laid out in this worker, waiting for its page numbers."""

    job: RunJob
    document: Any
    context: Any
    collect: Any = field(default=None)


_HELD: dict[int, _Held] = {}


def _capture_context(contexts: list) -> Callable[[], None]:
    """Keep the layout context WeasyPrint makes (its page states, running strings), which the
    folios are made again from once the run's first page number is known. Returns the undo."""
    from weasyprint.document import Document

    build = Document.__dict__["_build_layout_context"]

    def keep(cls, *args, **kwargs):
        context = build.__func__(cls, *args, **kwargs)
        contexts.append(context)
        return context

    Document._build_layout_context = classmethod(keep)
    return lambda: setattr(Document, "_build_layout_context", build)


def layout_job(job: RunJob) -> RunLayout:
    """Lay out one run and keep it here; what the other runs need to know of it goes back."""
    import weasyprint

    from .pages import page_starts
    from .pdf import BOOK_URL, _Collect, design_widths, layout_tools, speed_up_pydyf

    speed_up_pydyf()
    design_widths()
    fetcher, fonts, stylesheets_of = layout_tools(job.root, job.assets, job.css)
    gc.collect()
    gc.freeze()
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    contexts: list = []
    undo = _capture_context(contexts)
    try:
        stylesheets = stylesheets_of()
        html = weasyprint.HTML(string=job.html, base_url=BOOK_URL, url_fetcher=fetcher)
        document = html.render(stylesheets=stylesheets, font_config=fonts, pdf_tags=True, presentational_hints=True)
    finally:
        undo()
        logger.removeHandler(collect)
    gc.collect()
    gc.freeze()
    context = contexts[-1]
    pages = len(document.pages) - (0 if job.run.last else 1)
    numbers = {}
    for n, page in enumerate(document.pages[:pages]):
        number = _page_number(context, n)
        for anchor in page.anchors:
            numbers.setdefault(anchor, number)
    _HELD[job.run.index] = _Held(job, document, context)
    messages = tuple(collect.messages)
    return RunLayout(pages, numbers, page_starts(document, front=job.front)[:pages], messages)


def _page_number(context, page: int) -> int:
    return context.page_maker[page + 1][3][1]["page"][-1]


def _renumber(document, context, offset: int) -> None:
    """Number the run's pages from `offset` + 1 on: its folios (margin boxes), made again from
    page states whose page counter is moved on. Nothing in the text block changes."""
    from weasyprint.document import Page
    from weasyprint.formatting_structure import boxes
    from weasyprint.layout.background import layout_backgrounds
    from weasyprint.layout.page import make_margin_boxes

    for entry in context.page_maker[1:]:
        counters = entry[3][1]
        counters["page"] = [*counters["page"][:-1], counters["page"][-1] + offset]
    for n, page in enumerate(document.pages):
        box = page._page_box
        context.current_page = n + 1
        kept = tuple(child for child in box.children if not isinstance(child, boxes.MarginBox))
        box.children = kept + tuple(make_margin_boxes(context, box, context.page_maker[n + 1][3]))
        layout_backgrounds(box, context.get_image_from_uri)
        document.pages[n] = Page(box)


def _keep_links_to(known: frozenset[str]) -> Callable[[], None]:
    """WeasyPrint drops a link to an id it has not laid out, and another run has laid out most of
    them: keep every link to an id of the book (a named destination, which the bound PDF's name
    tree resolves). Returns the undo."""
    import weasyprint.pdf
    from weasyprint.logger import LOGGER

    resolve = weasyprint.pdf.resolve_links

    def resolve_links(pages):
        anchors = set()
        paged = []
        for page in pages:
            here = []
            for name, (x, y, _, _) in page.anchors.items():
                if name not in anchors:
                    here.append((name, x, y))
                    anchors.add(name)
            paged.append(here)
        for page, here in zip(pages, paged, strict=True):
            links = []
            for link in page.links:
                if link[0] == "internal" and link[1] not in anchors and link[1] not in known:
                    LOGGER.error("No anchor #%s for internal URI reference", link[1])
                else:
                    links.append(link)
            yield links, here

    weasyprint.pdf.resolve_links = resolve_links
    return lambda: setattr(weasyprint.pdf, "resolve_links", resolve)


def _own_table_ids(prefix: str) -> Callable[[object, object], None]:
    """WeasyPrint names a table's header cells after the PDF object number of their table, which
    another run's PDF may use too: the run's index goes in front of its names."""
    import pydyf

    def finish(_document, pdf) -> None:
        for obj in pdf.objects:
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("ID"), pydyf.String):
                obj["ID"] = pydyf.String(prefix + obj["ID"].string)
            attributes = obj.get("A")
            if isinstance(attributes, dict) and isinstance(attributes.get("Headers"), list):
                attributes["Headers"] = pydyf.Array(pydyf.String(prefix + h.string) for h in attributes["Headers"])

    return finish


def write_job(index: int, first_page: int, final: Any, known: frozenset[str], identifier: bytes,
              profile: str) -> RunPdf:
    """Write a run laid out here, numbered from `first_page`, moved to the book's `final` margins."""
    from weasyprint.matrix import Matrix

    from .pdf import _Collect, _page_labels, shift_to_gutter
    from .pdf_fonts import keep_set_text

    held = _HELD.pop(index)
    job, document = held.job, held.document
    pages = len(document.pages) - (0 if job.run.last else 1)
    if first_page != 1:
        _renumber(document, held.context, first_page - 1)
    del held
    shift_to_gutter(document, job.config, laid_out=job.margins, final=final)
    bookmarks = []
    for n, page in enumerate(document.pages[:pages]):
        matrix = Matrix(a=0.75, d=-0.75, f=page.height * 0.75)  # as WeasyPrint's own outline has them
        for level, label, (x, y), state in page.bookmarks:
            x, y = matrix.transform_point(x, y)
            bookmarks.append((n, level, label, x, y, state))
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    undo = _keep_links_to(known)
    dead_links: list[str] = []
    own_ids = _own_table_ids(f"r{index}-")

    def finish(document, pdf) -> None:  # noqa: ANN001 - a WeasyPrint finisher's
        keep_set_text(document, pdf)
        own_ids(document, pdf)

    try:
        # Fonts whole, and their text and widths as a subset write has them: the binder keeps one
        # copy of each and subsets it once for the book (publish.pdf_fonts), or, in print, names
        # it whole.
        data = document.write_pdf(pdf_variant="pdf/ua-1", pdf_identifier=identifier, full_fonts=True,
                                  finisher=_page_labels(None, dead_links=dead_links, then=finish))
    finally:
        undo()
        logger.removeHandler(collect)
        gc.unfreeze()
    return RunPdf(data, pages, tuple(bookmarks), tuple(dead_links), tuple(collect.messages))


# -- in the build's process ---------------------------------------------------------------------

_ID = re.compile(r'(?<=\s)id="([^"]*)"')


@dataclass(frozen=True, slots=True)
class RunCache:
    """Where the runs' PDFs are kept between builds, and what every run depends on besides its own
    HTML (the pipeline's version, the stylesheets, fonts and images, the profile: the build's)."""

    cache: Any  # cache.Cache
    key: str


class _Crew:
    """The worker processes of one rendering, started as runs need them, at most `size`; a run's
    layout stays in the worker that made it until it is written there."""

    def __init__(self, size: int) -> None:
        self.size = max(size, 1)
        self.workers: list = []
        self.owner: dict[int, Any] = {}
        self.pending: list[tuple[Any, int]] = []  # (worker, run index), in the order results come
        self.turn = 0

    def lay_out(self, job: RunJob) -> None:
        from .workers import Worker

        if len(self.workers) < self.size:
            self.workers.append(Worker(warm_up=WARM_UP))
        worker = self.workers[self.turn % len(self.workers)]
        self.turn += 1
        self.owner[job.run.index] = worker
        worker.submit("publish.pdf_runs:layout_job", job)
        self.pending.append((worker, job.run.index))

    def write(self, index: int, *args: object) -> None:
        self.owner[index].submit("publish.pdf_runs:write_job", index, *args)
        self.pending.append((self.owner[index], index))

    def results(self) -> list[tuple[int, Any]]:
        """Every result asked for so far, with its run's index (each worker answers in the order it was asked)."""
        done = [(index, worker.result()) for worker, index in self.pending]
        self.pending = []
        return done

    def close(self, *, failed: bool) -> None:
        for worker in self.workers:
            worker.close(failed=failed)


def render(book: Book, runs: tuple[Run, ...], *, profile: str, margins: Any,
           glyph_check: Callable[[], tuple[Diagnostic, ...]] | None, jobs: int,
           cache: RunCache | None = None) -> Any:
    """`pdf.render_pdf` for a book laid out in `runs` (`plan`) by `jobs` processes: a `pdf.PdfEdition`.

    With `cache`, a run whose HTML and inputs are those of an earlier build is not laid out again:
    its layout's facts (page count, ids, page starts) and its PDF come from the cache, the PDF if
    its first page number, the book's margins and the ids it links to are as they were too."""
    from .bind import bind
    from .cache import digest
    from .fonts import missing_glyphs
    from .pdf import BLEED, PdfEdition, edition_problems, margins_for, page_source, pdf_identifier, print_source

    bleed = BLEED[book.config.print_service] if profile == "print" else None
    source = print_source(book)
    front_ids = frozenset(c.id for c, m in zip(book.chapters, book.matter, strict=True) if m == "front")
    assets = (*book.assets, *filter(None, [book.cover]))
    identifier = pdf_identifier(book)

    def job(run: Run) -> RunJob:
        return RunJob(run, source(margins=margins, bleed=bleed, run=run), book.root, assets, book.config.css,
                      book.config, margins, front_ids)

    def layout_key(job: RunJob) -> str:
        return digest("pdf-run", cache.key if cache else "", job.html, job.css, repr(job.margins), sorted(job.front))

    front, text = runs[0], runs[1:]
    jobs_of = {run.index: job(run) for run in text}
    known = ids_of((*(j.html for j in jobs_of.values()), job(front).html))
    missing = missing_glyphs(book) if glyph_check is None else ()
    stored: dict[int, Any] = {}
    layouts: dict[int, RunLayout] = {}
    crew = _Crew(jobs)

    def reuse_or_lay_out(run: Run) -> None:
        """The run's layout from the cache, or handed to a worker (collected by `crew.results`)."""
        found = cache.cache.get(layout_key(jobs_of[run.index])) if cache else None
        if found is not None:
            stored[run.index] = found
            layouts[run.index] = found.meta[0]
        else:
            crew.lay_out(jobs_of[run.index])

    failed = True
    try:
        for run in text:
            reuse_or_lay_out(run)
        layouts.update(crew.results())
        first_pages, number = {}, 1
        for run in text:
            first_pages[run.index] = number
            number += layouts[run.index].pages
        # The contents' page numbers of what lies in the text; target-counter() finds the rest.
        numbers = tuple(sorted((anchor, str(first_pages[run.index] - 1 + n))
                               for run in text for anchor, n in layouts[run.index].numbers.items()))
        front = replace(front, numbers=numbers)
        jobs_of[front.index] = job(front)
        first_pages[front.index] = 1
        reuse_or_lay_out(front)
        layouts.update(crew.results())
        order = (front, *text)
        total = sum(layouts[run.index].pages for run in order)
        final = margins_for(book.config, total)

        def write_key(run: Run) -> str:
            linked = sorted(known & set(re.findall(r'href="#([^"]+)"', jobs_of[run.index].html)))
            return digest("pdf-run-pdf", layout_key(jobs_of[run.index]), run.index, first_pages[run.index],
                          repr(final), linked, identifier, profile)

        written: dict[int, RunPdf] = {}
        for run in order:
            found = stored.get(run.index)
            data = cache.cache.blob(found.files["pdf"]) if found is not None and found.meta[1] == write_key(run) \
                else None
            if data is not None:
                written[run.index] = replace(found.meta[2], data=data)
                continue
            if run.index not in crew.owner:  # laid out before, but its pages are numbered or placed anew
                crew.lay_out(jobs_of[run.index])
            crew.write(run.index, first_pages[run.index], final, known, identifier, profile)
        for index, result in crew.results():
            if isinstance(result, RunLayout):
                layouts[index] = result
                continue
            written[index] = result
            if cache:
                cache.cache.put(layout_key(jobs_of[index]), files={"pdf": result.data},
                                meta=(layouts[index], write_key(next(r for r in order if r.index == index)),
                                      replace(result, data=b"")))
        failed = False
    finally:
        crew.close(failed=failed)
    starts = tuple(start for run in order for start in layouts[run.index].starts)
    page_map = numbered(starts, source=page_source(book))
    data = bind([written[run.index] for run in order], first_text_page=page_map.first_text_page,
                identifier=identifier, subset_fonts=profile != "print")
    if glyph_check is not None:
        missing = glyph_check()
    messages = [m for run in order for m in (*layouts[run.index].messages, *written[run.index].messages)]
    dead = [d for run in order for d in written[run.index].dead_links]
    return PdfEdition(data, edition_problems(book, messages, dead, missing), page_map, total)


def ids_of(htmls: Iterable[str]) -> frozenset[str]:
    return frozenset(unescape(found) for html in htmls for found in _ID.findall(html))
