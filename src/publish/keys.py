"""The cache keys: what each result of a build depends on (see `cache` for why they are digests).

A key names everything its result is made from, and nothing more, so a change to one input
remakes exactly what reads it (tests/test_cache.py asserts which, input by input): a chapter's
HTML is keyed on its text, the parsed `Book` on every chapter, book.yaml and the build's date,
each edition on the book, the images it carries, the files under styles/ it reads and its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, digest, file_digest
from .manuscript import Manuscript
from .model import Book

# What each edition reads under styles/, besides the templates that those templates import,
# include or extend (found by Jinja itself, see `StyleInputs`). A folder stands for every file
# under it. tests/test_cache.py checks these against the editions' own lists.
STYLE_INPUTS: dict[str, tuple[str, ...]] = {
    "epub": ("fonts.css", "book.css", "epub.css", "fonts/", "templates/epub/"),
    "html": ("fonts.css", "book.css", "web.css", "web.js", "fonts/", "templates/web.html"),
    "pdf": ("fonts.css", "book.css", "print.css", "fonts/", "templates/print.html", "templates/print-page.css"),
    "cover": ("cover.css", "fonts.css", "fonts/", "templates/cover.html"),
    "wrap": ("fonts.css", "wrap.css", "fonts/", "templates/wrap.html", "templates/wrap-page.css"),
}


class StyleInputs:
    """Digests of the files under styles/ that each edition reads, each file read once."""

    def __init__(self, styles_dir: Path, cache: Cache, pipeline: str) -> None:
        self.root = styles_dir
        self.cache = cache
        self.pipeline = pipeline
        self.known: dict[str, str] = {}
        self.graph: dict[str, tuple[str, ...] | None] | None = None
        self.editions: dict[str, list[tuple[str, str]]] = {}

    def _digest(self, name: str) -> str:
        if name not in self.known:
            self.known[name] = file_digest(self.root / name)
        return self.known[name]

    def _template_graph(self) -> dict[str, tuple[str, ...] | None]:
        """The templates each template imports, includes or extends (None: a name computed at
        render time). Jinja parses them again only when one of them has changed."""
        if self.graph is None:
            folder = self.root / "templates"
            names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            key = digest("template-graph", self.pipeline, [(n, self._digest(f"templates/{n}")) for n in names])
            graph = self.cache.get_value(key)
            if not isinstance(graph, dict):
                import jinja2
                import jinja2.meta

                env = jinja2.Environment()
                graph = {}
                for name in names:
                    try:
                        tree = env.parse((folder / name).read_text(encoding="utf-8"))
                    except (jinja2.TemplateSyntaxError, UnicodeDecodeError):
                        graph[name] = ()  # not a template (or a broken one: rendering will say so)
                        continue
                    refs = tuple(jinja2.meta.find_referenced_templates(tree))
                    graph[name] = None if None in refs else refs
                self.cache.put_value(key, graph)
            self.graph = graph
        return self.graph

    def _files(self, entries: tuple[str, ...]) -> list[str]:
        names: set[str] = set()
        for entry in entries:
            if entry.endswith("/"):
                names.update(p.relative_to(self.root).as_posix() for p in (self.root / entry).rglob("*") if p.is_file())
            else:
                names.add(entry)
        graph = self._template_graph()
        todo = [n.removeprefix("templates/") for n in names if n.startswith("templates/")]
        while todo:
            refs = graph.get(todo.pop(), ())
            if refs is None:  # could be any template
                return sorted(names | {f"templates/{t}" for t in graph})
            for ref in refs:
                if f"templates/{ref}" not in names:
                    names.add(f"templates/{ref}")
                    todo.append(ref)
        return sorted(names)

    def of(self, edition: str) -> list[tuple[str, str]]:
        if edition not in self.editions:  # a plan asks twice: when it is made, and when its job runs
            self.editions[edition] = [(name, self._digest(name)) for name in self._files(STYLE_INPUTS[edition])]
        return self.editions[edition]


def book_key(manuscript: Manuscript, pipeline: str, source_date_epoch: str | None) -> str:
    from .citations import input_files

    # The configuration as read, besides its text: a catalogue's overlay changes it, not the text.
    return digest("book", pipeline, str(manuscript.root), str(manuscript.shown_root), manuscript.config_text,
                  repr(manuscript.config),
                  [(source.path.as_posix(), source.digest) for source in manuscript.sources], source_date_epoch,
                  [(path.name, file_digest(path)) for path in input_files(manuscript)])


def cover_key(manuscript: Manuscript, pipeline: str, styles: StyleInputs) -> str | None:
    """The generated cover's key (None when the author gives one): it is drawn from the
    configuration alone, so editing a chapter never draws it again."""
    if manuscript.config.cover_image:
        return None
    return digest("cover", pipeline, repr(manuscript.config), styles.of("cover"))


@dataclass(frozen=True, slots=True)
class EditionKeys:
    """The editions' keys, for one parsed book."""

    book: str
    assets: tuple[tuple[str, str], ...]  # (href, digest) of every image an edition carries
    styles: StyleInputs

    def edition(self, fmt: str, *extra: object) -> str:
        return digest(fmt, self.book, self.assets, self.styles.of(fmt), extra)

    def epub(self, cover_key: str | None, page_map: object) -> str:
        # The EPUB carries the print edition's page numbers: it depends on where the pages break,
        # not on the PDF's bytes, so a change that moves no page break leaves the EPUB as it was.
        return self.edition("epub", cover_key, None if page_map is None else repr(page_map))

    def wrap(self, book: Book, pages: int) -> str:
        """The full-wrap cover's, for an interior of `pages` pages."""
        from .wrap import author_photo

        photo = author_photo(book)
        return self.edition("wrap", pages, repr(book.config), photo and file_digest(photo))


def edition_keys(book: Book, book_key: str, styles: StyleInputs) -> EditionKeys:
    """Raises OSError when an image the book uses can no longer be read."""
    images = [*book.assets, *([book.cover] if book.cover else [])]
    return EditionKeys(book_key, tuple((a.href, file_digest(a.source)) for a in images), styles)
