"""One PDF from the print edition's runs, each a tagged PDF WeasyPrint wrote (publish.pdf_runs).

The runs come in page order, the front matter first. What WeasyPrint makes once for a whole
document is made here once from the runs': the page tree; the structure tree (WeasyPrint builds
it page by page, so the book's Document element has every run's kids in order, each page's
`/StructParents` is its place in the book, each link annotation's `/StructParent` is numbered
after the pages, in page order, and one ParentTree maps them all); the named destinations, one
name tree (a link to another run's id is a named destination, resolved here); the bookmarks,
from the runs' flat lists, nested as WeasyPrint nests them (a chapter in a part may open another
run than its part's); the page labels. The document information, XMP metadata, language and
viewer preferences are the front matter's, which every run writes the same; the file identifier
is the book's, as a single layout writes it, followed by a digest of the bound file. Each font is
embedded once (`pdf_fonts.merge_fonts`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any


class _AsIs:
    """The bookmarks' points are PDF coordinates already (the workers transformed them)."""

    @staticmethod
    def transform_point(x: float, y: float) -> tuple[float, float]:
        return x, y


def _bookmark_tree(bookmarks: Sequence[tuple[int, int, str, float, float, str]], pages: int) -> list:
    """Nest the book's bookmarks with WeasyPrint's own rule (`make_page_bookmark_tree`)."""
    from types import SimpleNamespace

    from weasyprint.anchors import make_page_bookmark_tree

    by_page: list[list] = [[] for _ in range(pages)]
    for page, level, label, x, y, state in bookmarks:
        by_page[page].append((level, label, (x, y), state))
    root: list = []
    skipped: list = []
    last_by_depth = [root]
    previous = 0
    for number, marks in enumerate(by_page):
        previous = make_page_bookmark_tree(SimpleNamespace(bookmarks=marks), skipped, last_by_depth, previous, number,
                                           _AsIs)
    return root


def _write_outlines(pdf: Any, tree: list) -> None:
    """The outline dictionaries as WeasyPrint's `add_outlines` writes them."""
    import pikepdf

    def add(bookmarks: list, parent: Any) -> tuple[list, int]:
        count = len(bookmarks)
        outlines: list = []
        for title, (page, x, y), children, state in bookmarks:
            outline = pdf.make_indirect(pikepdf.Dictionary(
                Title=pikepdf.String(title), Dest=pikepdf.Array([pdf.pages[page].obj, pikepdf.Name.XYZ, x, y, 0])))
            child_outlines, child_count = add(children, outline)
            outline.Count = -child_count if state == "closed" else child_count
            if state != "closed":
                count += child_count
            if outlines:
                outline.Prev = outlines[-1]
                outlines[-1].Next = outline
            if child_outlines:
                outline.First, outline.Last = child_outlines[0], child_outlines[-1]
            if parent is not None:
                outline.Parent = parent
            outlines.append(outline)
        return outlines, count

    outlines, count = add(tree, None)
    if "/Outlines" in pdf.Root:
        del pdf.Root.Outlines
    if outlines:
        top = pdf.make_indirect(pikepdf.Dictionary(Count=count, First=outlines[0], Last=outlines[-1]))
        for outline in outlines:
            outline.Parent = top
        pdf.Root.Outlines = top


def bind(runs: Sequence[Any], *, first_text_page: int, identifier: bytes, subset_fonts: bool) -> bytes:
    """The runs' PDFs (`pdf_runs.RunPdf`: its bytes, and how many of its pages are the book's:
    the page after a run's last recto break is not) as one PDF. The runs embed their fonts whole:
    one copy of each is kept, subset once over the glyphs of the whole book with `subset_fonts`
    (else whole, as the print profile wants them; `pdf_fonts.merge_fonts`)."""
    import pikepdf

    from .pdf_fonts import merge_fonts

    out = pikepdf.open(io.BytesIO(runs[0].data))
    kids: list = []
    page_arrays: list = []  # the ParentTree's entry of each page, in the book's order
    annotations: list[tuple[Any, Any]] = []  # (annotation, its structure element), in the book's order
    dests: list[tuple[str, Any]] = []
    bookmarks: list = []
    base = 0
    for number, run in enumerate(runs):
        source = out if number == 0 else pikepdf.open(io.BytesIO(run.data))
        root = source.Root.StructTreeRoot
        parents = {int(n): entry for n, entry in pikepdf.NumberTree(root.ParentTree).items()}
        dropped = {page.objgen for page in source.pages[run.pages:]}
        own = [kid for kid in root.K[0].K if kid.Pg.objgen not in dropped]
        own_dests = list(pikepdf.NameTree(source.Root.Names.Dests).items()) \
            if "/Names" in source.Root and "/Dests" in source.Root.Names else []
        if number == 0:
            del out.pages[run.pages:]
        else:
            for kid in own:
                del kid.P  # not to copy the run's own Document, and its root, along
            for page in source.pages[:run.pages]:
                out.pages.append(page)
        pages = list(out.pages[base:base + run.pages])
        # Each kept page's link annotations, by the number WeasyPrint gave them (after its pages, in page order).
        links = sorted(((int(a.StructParent), a) for page in pages for a in page.obj.get("/Annots") or ()
                        if "/StructParent" in a), key=lambda item: item[0])
        if number == 0:
            elements = [parents[n] for n, _ in links]
        else:
            # One copy, so that every object the pieces share is copied once and pages map to pages.
            bundle = out.copy_foreign(source.make_indirect(pikepdf.Dictionary(
                Kids=pikepdf.Array(own), Parents=pikepdf.Array([parents[n] for n in range(run.pages)]),
                Links=pikepdf.Array([parents[n] for n, _ in links]),
                Dests=pikepdf.Array([dest for _, dest in own_dests]))))
            own, elements = list(bundle.Kids), list(bundle.Links)
            parents = dict(enumerate(bundle.Parents))
            own_dests = [(name, dest) for (name, _), dest in zip(own_dests, bundle.Dests, strict=True)]
        annotations += [(a, element) for (_, a), element in zip(links, elements, strict=True)]
        kids += own
        page_arrays += [parents[n] for n in range(run.pages)]
        dests += own_dests
        bookmarks += [(base + page, *rest) for page, *rest in run.bookmarks]
        base += run.pages

    structure = out.Root.StructTreeRoot
    document = structure.K[0]
    for kid in kids:
        kid.P = document
    document.K = pikepdf.Array(kids)
    for n, page in enumerate(out.pages):
        page.obj.StructParents = n
    nums: list = []
    for n, entry in enumerate(page_arrays):
        nums += [n, entry]
    for n, (annotation, element) in enumerate(annotations, start=len(page_arrays)):
        annotation.StructParent = n
        nums += [n, element]
    structure.ParentTree = out.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(nums)))
    if dests:
        names: list = []
        for name, dest in sorted(dests, key=lambda item: item[0]):
            names += [pikepdf.String(name), dest]
        if "/Names" not in out.Root:
            out.Root.Names = pikepdf.Dictionary()
        out.Root.Names.Dests = pikepdf.Dictionary(Names=pikepdf.Array(names))
    _write_outlines(out, _bookmark_tree(bookmarks, len(out.pages)))
    merge_fonts(out, subset=subset_fonts)
    labels = [0, pikepdf.Dictionary(S=pikepdf.Name.r)] if first_text_page > 0 else []
    labels += [first_text_page, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]
    out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(labels))
    # The book's identifier first, as a single layout writes it; qpdf follows it with a digest of the file.
    out.trailer.ID = pikepdf.Array([pikepdf.String(identifier), pikepdf.String(identifier)])
    written = io.BytesIO()
    out.save(written, deterministic_id=True, fix_metadata_version=False, compress_streams=True,
             object_stream_mode=pikepdf.ObjectStreamMode.generate, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return written.getvalue()

