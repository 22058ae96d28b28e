"""Resolve stage: every citation of the book formatted with its CSL style, and its bibliography placed.

`publish.markdown.citations` only marks citations in each chapter's HTML. Here they are gathered
from every chapter, in reading order and with the notes they stand in, and formatted in one pass,
because a style's numbering, "ibid.", disambiguation (Doe 2005a/2005b) and collapsing ([5–10]) are
book-wide. Then each mark is replaced by its text, linked to its entry; the bibliography goes into
the `<div id="refs">` the author placed (`::: {#refs}`), else under a final empty heading (curie's
"# Einzelnachweise und Fußnoten", Pandoc's test's "References"), else into a last chapter of its own.

The CSL processor is Pandoc's citeproc, run once per book (about 0.3 s for curie's 128 citations
and 139 entries) on a Pandoc document made of the citations alone. Chosen over citeproc-py, which
was tried first: it stops on curie.bib (a month "Avril"), sets an @incollection as "(Oxford),
Edition", puts the period outside "quotes" in en-US, and has no author-in-text or suppress-author
citations, no collapsing and no disambiguation. Pandoc reads BibLaTeX, BibTeX, CSL JSON, CSL YAML
and RIS, and its output is, by construction, what the author's `pandoc --citeproc` gave. The
binary comes from the pinned pypandoc-binary wheel (never a `pandoc` found on PATH, whose version
would change the output); it is given copies of the files in a private folder, `--sandbox`, and an
empty data folder, and a style that would fetch its parent from the web is refused beforehand.

Problems (a file outside the book, a bibliography Pandoc cannot read, a broken style, a key that no
entry has) are warnings with the file and line; the book still builds, an unknown key printed as
Pandoc prints it, `(key?)`.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import yaml
from lxml import etree

from . import safe_yaml
from .diagnostics import Diagnostic, warning
from .manuscript import Manuscript, Source, read_text, resolved
from .templates import STYLES_DIR

DEFAULT_STYLE = STYLES_DIR / "csl" / "chicago-author-date.csl"
TIMEOUT = 120  # seconds; curie takes 0.3
_CSL_NS = "http://purl.org/net/xbiblio/csl"
PANDOC_API = [1, 23, 1, 1]  # the JSON AST version of the pinned Pandoc
_MODES = {"normal": "NormalCitation", "suppress-author": "SuppressAuthor", "author-in-text": "AuthorInText"}

# The heading of a bibliography set as a chapter of its own, by language, unless the book gives
# `reference-section-title`: the word publishers in each language print there.
SECTION_TITLES = {
    "en": "References", "de": "Literatur", "fr": "Bibliographie", "es": "Bibliografía", "it": "Bibliografia",
    "pt": "Referências", "nl": "Literatuur", "sv": "Referenser", "da": "Litteratur", "nb": "Litteratur",
    "nn": "Litteratur", "no": "Litteratur", "fi": "Lähteet", "is": "Heimildir", "pl": "Bibliografia",
    "cs": "Literatura", "sk": "Literatúra", "sl": "Literatura", "hr": "Literatura", "sr": "Литература",
    "hu": "Irodalom", "ro": "Bibliografie", "ru": "Литература", "uk": "Література", "bg": "Литература",
    "el": "Βιβλιογραφία", "tr": "Kaynakça", "ca": "Bibliografia", "eu": "Bibliografia", "gl": "Bibliografía",
    "la": "Bibliographia", "et": "Kirjandus", "lv": "Literatūra", "lt": "Literatūra", "he": "מקורות",
    "ar": "المراجع", "fa": "منابع", "hi": "संदर्भ", "ja": "参考文献", "zh": "参考文献", "ko": "참고문헌",
    "vi": "Tài liệu tham khảo", "th": "บรรณานุกรม", "id": "Daftar Pustaka", "ms": "Rujukan",
}


def section_title(lang: str, given: str | None = None) -> str:
    return given or SECTION_TITLES.get(lang.split("-")[0].lower(), SECTION_TITLES["en"])


def pandoc_path() -> Path | None:
    """The Pandoc binary of the pinned pypandoc-binary wheel, found without importing pypandoc."""
    spec = importlib.util.find_spec("pypandoc")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(list(spec.submodule_search_locations)[0]) / "files" / ("pandoc.exe" if os.name == "nt" else "pandoc")
    return binary if binary.is_file() else None


# -- reading the files ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _File:
    path: str  # as book.yaml names it
    data: bytes
    shown: Path


def _key_line(manuscript: Manuscript, key: str) -> int | None:
    match = re.search(rf"^{re.escape(key)}\s*:", manuscript.config_text, re.MULTILINE)
    return manuscript.config_text.count("\n", 0, match.start()) + 1 if match else None


def _read_inside(manuscript: Manuscript, name: str, key: str, what: str, problems: list[Diagnostic]) -> _File | None:
    """The file `name` of the book folder, read under the same rules as every other file."""
    config, line = manuscript.shown("book.yaml"), _key_line(manuscript, key)
    root = manuscript.root
    path = root / name
    real = resolved(path) or path  # a link loop is no file: reported as missing below
    if Path(name).is_absolute() or not real.is_relative_to(root):
        problems.append(warning(f"{key}-outside", f"the {what} '{name}' is outside the book folder", file=config,
                                line=line, hint="copy it into the book folder and name it by its relative path"))
        return None
    if not path.is_file():
        problems.append(warning(f"{key}-missing", f"the {what} '{name}' does not exist", file=config, line=line,
                                hint=f"put the file at {Path(root.name) / name}, or fix the name in book.yaml"))
        return None
    shown = manuscript.shown(name)
    text, problem = read_text(path, shown)
    if problem is not None:
        problems.append(warning(f"{key}-unreadable", problem.message, file=shown, line=problem.line, hint=problem.hint))
        return None
    return _File(name, (text or "").encode(), shown)


def input_files(manuscript: Manuscript) -> tuple[Path, ...]:
    """The files the citations are made from, for cache keys: a changed .bib rebuilds the book."""
    settings = manuscript.config.citations
    names = [*settings.bibliography, *([settings.csl] if settings.csl else [])]
    paths = (manuscript.root / name for name in names if not Path(name).is_absolute())
    inside = tuple(p for p in paths if p.is_file() and p.resolve().is_relative_to(manuscript.root))
    return inside + ((DEFAULT_STYLE,) if settings.bibliography and not settings.csl else ())


def _style(manuscript: Manuscript, problems: list[Diagnostic]) -> _File:
    """The book's CSL style if it can be used, else the shipped default."""
    name = manuscript.config.citations.csl
    default = _File(DEFAULT_STYLE.name, DEFAULT_STYLE.read_bytes(), DEFAULT_STYLE)
    if name is None:
        return default
    style = _read_inside(manuscript, name, "csl", "citation style", problems)
    if style is None:
        return default
    fallback = "; the citations are set in the default style, Chicago author-date"
    try:
        root = etree.fromstring(style.data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        problems.append(warning("csl-invalid", f"the citation style is not valid XML: {exc.msg}{fallback}",
                                file=style.shown, line=exc.lineno,
                                hint="take the style as the CSL repository has it, or fix the XML at this line"))
        return default
    if root.tag != f"{{{_CSL_NS}}}style":
        problems.append(warning("csl-invalid", f"the file is not a CSL style (its root is <{etree.QName(root).localname}>)"
                                f"{fallback}", file=style.shown, line=root.sourceline,
                                hint="name a .csl file, such as one from the CSL styles repository"))
        return default
    parent = root.find(f"{{{_CSL_NS}}}info/{{{_CSL_NS}}}link[@rel='independent-parent']")
    if parent is not None:
        problems.append(warning("csl-dependent", f"the style only points at its parent, {parent.get('href')}, which a "
                                f"build does not fetch from the web{fallback}", file=style.shown,
                                line=parent.sourceline,
                                hint="download the parent style into the book folder and name it in 'csl:'"))
        return default
    return style


def _entry_keys(file: _File) -> list[str]:
    """The keys a bibliography file defines, for "did you mean" hints (a rough reading suffices)."""
    text = file.data.decode(errors="replace")
    suffix = Path(file.path).suffix.lower()
    try:
        if suffix in {".bib", ".bibtex"}:
            return re.findall(r"^\s*@\w+\s*[{(]\s*([^,\s]+)\s*,", text, re.MULTILINE)
        if suffix == ".json":
            return [str(e.get("id")) for e in json.loads(text) if isinstance(e, dict)]
        if suffix in {".yaml", ".yml"}:
            data = safe_yaml.load(text)
            entries = data.get("references", []) if isinstance(data, dict) else data
            return [str(e.get("id")) for e in entries or [] if isinstance(e, dict)]
    except (ValueError, yaml.YAMLError, AttributeError, TypeError, RecursionError):
        return []
    return re.findall(r"^ID\s+-\s+(\S+)", text, re.MULTILINE)  # RIS


# -- the citations of the book, in reading order -------------------------------------------------

@dataclass
class _Chapter:
    index: int
    source: Source
    shown: Path
    root: etree._Element
    notes: dict[str, etree._Element] = field(default_factory=dict)  # li id -> the note's <li>
    container: etree._Element | None = None  # Python-Markdown's <div class="footnote">
    changed: bool = False


@dataclass
class _Slot:
    """A place Pandoc's citeproc numbers: a citation in the text, or a note and the citations in it."""

    chapter: _Chapter
    citations: list[etree._Element]  # the marks, in order
    note: etree._Element | None = None  # the <li> when the slot is a note


def _is_citation(element: etree._Element) -> bool:
    return element.tag == "span" and "citation" in (element.get("class") or "").split()


def _outermost(elements: Sequence[etree._Element]) -> list[etree._Element]:
    return [e for e in elements if not any(_is_citation(a) for a in e.iterancestors())]


def _citations_in(element: etree._Element) -> list[etree._Element]:
    return _outermost([e for e in element.iter("span") if _is_citation(e)])


def _slots(chapter: _Chapter) -> list[_Slot]:
    slots: list[_Slot] = []
    seen: set[str] = set()
    container = chapter.container
    for element in chapter.root.iter():
        if container is not None and (element is container or container in element.iterancestors()):
            continue
        if _is_citation(element) and not any(_is_citation(a) for a in element.iterancestors()):
            slots.append(_Slot(chapter, [element]))
        elif element.tag == "a" and "footnote-ref" in (element.get("class") or ""):
            target = (element.get("href") or "").lstrip("#")
            if target in chapter.notes and target not in seen:
                seen.add(target)
                note = chapter.notes[target]
                slots.append(_Slot(chapter, _citations_in(note), note))
    for target, note in chapter.notes.items():  # a note nothing refers to is still set
        if target not in seen and _citations_in(note):
            slots.append(_Slot(chapter, _citations_in(note), note))
    return slots


# -- the Pandoc document ------------------------------------------------------------------------

def _text_inlines(text: str) -> list[dict]:
    inlines: list[dict] = []
    for token in re.split(r"([ \t\n\r]+)", text):
        if not token:
            continue
        inlines.append({"t": "Space"} if token.isspace() else {"t": "Str", "c": token})
    return inlines


_WRAPPERS = {"em": "Emph", "i": "Emph", "strong": "Strong", "b": "Strong", "sup": "Superscript",
             "sub": "Subscript", "del": "Strikeout", "s": "Strikeout", "u": "Underline"}


def _inlines(element: etree._Element) -> list[dict]:
    """A mark's prefix or suffix (HTML) as Pandoc inlines, so citeproc finds the locator in it."""
    inlines = _text_inlines(element.text or "")
    for child in element:
        inlines += _inline(child)
        inlines += _text_inlines(child.tail or "")
    return inlines


def _inline(element: etree._Element) -> list[dict]:
    classes = (element.get("class") or "").split()
    if element.tag in _WRAPPERS:
        return [{"t": _WRAPPERS[element.tag], "c": _inlines(element)}]
    if element.tag == "span" and "smallcaps" in classes:
        return [{"t": "SmallCaps", "c": _inlines(element)}]
    if _is_citation(element):
        return [_cite(element)]
    if element.tag == "code":
        return [{"t": "Code", "c": [["", [], []], element.text_content()]}]
    if element.tag == "br":
        return [{"t": "LineBreak"}]
    if element.tag == "a" and element.get("href"):
        return [{"t": "Link", "c": [["", [], []], _inlines(element), [element.get("href"), element.get("title") or ""]]}]
    markup = etree.tostring(element, encoding="unicode", method="html", with_tail=False)
    return [{"t": "RawInline", "c": ["html", markup]}]


def _cite(mark: etree._Element) -> dict:
    citations: list[dict] = []
    prefix: list[dict] = []
    for part in mark:
        classes = (part.get("class") or "").split()
        if "cite-prefix" in classes:
            prefix = _inlines(part)
        elif "cite-key" in classes:
            citations.append({"citationId": part.get("data-cite", ""), "citationPrefix": prefix, "citationSuffix": [],
                              "citationMode": {"t": _MODES.get(part.get("data-mode", ""), "NormalCitation")},
                              "citationNoteNum": 0, "citationHash": 0})
            prefix = []
        elif "cite-suffix" in classes and citations:
            citations[-1]["citationSuffix"] = _inlines(part)
    return {"t": "Cite", "c": [citations, [{"t": "Str", "c": _literal(mark)}]]}


def _items(mark: etree._Element) -> list[tuple[str, str, str, str]]:
    """A mark's citations as (prefix, key, mode, suffix), the prefix and suffix as plain text."""
    items: list[tuple[str, str, str, str]] = []
    prefix = ""
    for part in mark:
        classes = (part.get("class") or "").split()
        text = re.sub(r"\s+", " ", part.text_content())
        if "cite-prefix" in classes:
            prefix = text.strip()
        elif "cite-key" in classes:
            items.append((prefix, part.get("data-cite", ""), part.get("data-mode", "normal"), ""))
            prefix = ""
        elif "cite-suffix" in classes and items:
            items[-1] = (*items[-1][:3], text.rstrip())
    return items


def _literal(mark: etree._Element) -> str:
    """A citation as the author wrote it, near enough: what a book without a bibliography shows."""
    def written(prefix: str, key: str, mode: str, suffix: str) -> str:
        key = key if re.fullmatch(r"[\w:.#$%&\-+?<>~/]+", key) else "{" + key + "}"
        return (prefix + " " if prefix else "") + ("-" if mode == "suppress-author" else "") + "@" + key + suffix

    items = _items(mark)
    if items and items[0][2] == "author-in-text":
        _, key, _, suffix = items[0]
        inside = [suffix.strip()] if suffix.strip() else []
        inside += [written(*item) for item in items[1:]]
        return written("", key, "normal", "") + (" [" + "; ".join(inside) + "]" if inside else "")
    return "[" + "; ".join(written(*item) for item in items) + "]"


def _document(slots: list[_Slot], lang: str, nocite: Sequence[str]) -> dict:
    blocks = []
    for n, slot in enumerate(slots):
        cites: list[dict] = []
        for mark in slot.citations:
            cites += [_cite(mark), {"t": "Space"}]
        content = cites[:-1]
        if slot.note is not None:
            content = [{"t": "Note", "c": [{"t": "Para", "c": content}]}]
        blocks.append({"t": "Div", "c": [[f"c{n}", [], []], [{"t": "Para", "c": content or [{"t": "Str", "c": "."}]}]]})
    blocks.append({"t": "Div", "c": [["refs", [], []], []]})
    meta: dict[str, object] = {"lang": {"t": "MetaString", "c": lang},
                               "link-citations": {"t": "MetaBool", "c": True}}
    if nocite:
        meta["nocite"] = {"t": "MetaInlines", "c": [
            {"t": "Cite", "c": [[{"citationId": key, "citationPrefix": [], "citationSuffix": [],
                                  "citationMode": {"t": "NormalCitation"}, "citationNoteNum": 0,
                                  "citationHash": 0} for key in nocite], [{"t": "Str", "c": ""}]]}]}
    return {"pandoc-api-version": PANDOC_API, "meta": meta, "blocks": blocks}


# -- running Pandoc -------------------------------------------------------------------------------

@dataclass
class _Run:
    html: etree._Element | None = None
    missing: set[str] = field(default_factory=set)


_BIB_ERROR = re.compile(r"Error reading bibliography file (?P<file>.+?):\s*(?P<rest>.*)", re.DOTALL)
_LINE = re.compile(r"line (\d+)")


# The last few runs, by everything they read: a preview's save that changes no citation (the
# document holds the citations alone, not the text around them) costs no Pandoc run at all.
_RUNS: dict[str, tuple[int, str, str]] = {}
_RUNS_KEPT = 8


def _citeproc(binary: Path, document: str, files: list[_File], style: _File) -> tuple[int, str, str]:
    """One Pandoc citeproc run: (exit status, HTML, messages). The files are named alike in every
    run (bibliography-0.bib, style.csl), so its messages depend on their contents alone."""
    key = hashlib.sha256(json.dumps([document, [(f.path, f.data.hex()) for f in files], style.data.hex()]).encode())
    if (known := _RUNS.get(key.hexdigest())) is not None:
        return known
    with tempfile.TemporaryDirectory(prefix="publish-citeproc-") as folder:
        work = Path(folder)
        (work / "data").mkdir()  # an empty data folder: no user's default.csl or locale changes the output
        names = [f"bibliography-{n}{Path(file.path).suffix.lower()}" for n, file in enumerate(files)]
        for name, file in zip(names, files):
            (work / name).write_bytes(file.data)
        (work / "style.csl").write_bytes(style.data)
        command = [str(binary), "--sandbox", "--citeproc", "--data-dir=data", "--from=json", "--to=html",
                   "--wrap=none", "--csl=style.csl", *[f"--bibliography={name}" for name in names]]
        result = subprocess.run(command, input=document, capture_output=True, text=True, encoding="utf-8",
                                timeout=TIMEOUT, cwd=work, check=False)
    outcome = (result.returncode, result.stdout, result.stderr)
    _RUNS[key.hexdigest()] = outcome
    while len(_RUNS) > _RUNS_KEPT:
        del _RUNS[next(iter(_RUNS))]
    return outcome


def _pandoc(document: dict, files: list[_File], style: _File, problems: list[Diagnostic],
            manuscript: Manuscript) -> _Run:
    """Pandoc's citeproc over the document; a file Pandoc cannot read is reported and left out."""
    binary = pandoc_path()
    if binary is None:
        problems.append(warning("citations-no-processor", "the citations are not formatted: Pandoc is not installed",
                                file=manuscript.shown("book.yaml"), line=_key_line(manuscript, "bibliography"),
                                hint="run 'make setup' (it installs the pinned pypandoc-binary package)"))
        return _Run()
    files = list(files)
    text = json.dumps(document)
    while True:
        try:
            status, html, messages = _citeproc(binary, text, files, style)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(warning("citations-failed", f"the citations are not formatted: Pandoc failed ({exc})",
                                    file=manuscript.shown("book.yaml"), hint="run 'make setup' to reinstall it"))
            return _Run()
        if status == 0:
            break
        message = messages.strip()
        bad = _BIB_ERROR.search(message)
        named = {f"bibliography-{n}{Path(f.path).suffix.lower()}": f for n, f in enumerate(files)}
        if bad and bad["file"] in named:
            file = named[bad["file"]]
            line = _LINE.search(bad["rest"])
            detail = re.sub(r"\s+", " ", bad["rest"]).strip()
            problems.append(warning("bibliography-invalid", f"Pandoc cannot read the bibliography: {detail}; its "
                                    "entries are left out", file=file.shown, line=int(line[1]) if line else None,
                                    hint="look for a missing brace, comma or quote in the entry that ends here"))
            files.remove(file)
            continue
        if style.shown != DEFAULT_STYLE:
            line = re.match(r"\w+: (\d+):", message)
            problems.append(warning("csl-invalid", f"Pandoc cannot use the citation style: {_first_line(message)}; "
                                    "the citations are set in the default style, Chicago author-date",
                                    file=style.shown, line=int(line[1]) if line else None,
                                    hint="take the style as the CSL repository has it, or fix it at this line"))
            style = _File(DEFAULT_STYLE.name, DEFAULT_STYLE.read_bytes(), DEFAULT_STYLE)
            continue
        problems.append(warning("citations-failed", f"the citations are not formatted: {_first_line(message)}",
                                file=manuscript.shown("book.yaml"), hint="report this, with the book, as a bug"))
        return _Run()
    missing = set(re.findall(r"Citeproc: citation (.+?) not found", messages))
    for message in re.findall(r"\[WARNING\] Citeproc: (.+)", messages):
        if not re.fullmatch(r"citation .+ not found", message):
            problems.append(warning("citeproc-warning", f"the citation style: {message}", file=style.shown,
                                    hint="the style may be for a newer CSL version, or need a fix at this macro"))
    return _Run(lxml.html.fragment_fromstring(html, create_parent="div"), missing)


def _first_line(text: str) -> str:
    return (text.splitlines() or ["no message"])[0][:300]


# -- putting the results in place -----------------------------------------------------------------

_NAME_CHAR = re.compile(r"[^\w.\-\u00b7\u0300-\u036f\u203f\u2040]")


def _ref_ids(keys: Sequence[str]) -> dict[str, str]:
    """A book-wide id per cited key that is an XML name, as XHTML needs (`doe:2005` has a colon)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for key in keys:
        base = "ref-" + _NAME_CHAR.sub("-", key)
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        ids[key] = candidate
    return ids


def _replace(mark: etree._Element, output: etree._Element) -> None:
    """Put Pandoc's formatting of a citation where its mark was (the mark's attributes kept)."""
    for child in list(mark):
        mark.remove(child)
    mark.text = output.text
    for child in list(output):
        mark.append(child)  # moved, with its tail


def _texts(element: etree._Element) -> list[tuple[etree._Element, str]]:
    """The text slots inside `element`, in reading order."""
    slots = [(element, "text")]
    for child in element:
        slots += _texts(child)
        slots.append((child, "tail"))
    return slots


def _no_double_period(mark: etree._Element) -> None:
    """"See @a." ends in one period, not in the style's and the author's both, as Pandoc sets it."""
    if not (mark.tail or "").startswith("."):
        return
    for node, attr in reversed(_texts(mark)):
        text = getattr(node, attr) or ""
        if text.strip():
            if text.rstrip().endswith("."):
                setattr(node, attr, text.rstrip()[:-1])
            return


_NO_LINKS = {"a", "h1", "h2", "h3", "h4", "h5", "h6"}


def _relink(element: etree._Element, ids: dict[str, str], found: set[str]) -> None:
    for link in list(element.iter("a")):
        href = link.get("href") or ""
        if link.get("role") != "doc-biblioref" or not href.startswith("#ref-"):
            continue
        key = unquote(href[len("#ref-"):])
        # Links do not nest, and a heading's text is also a link in the contents.
        unlinkable = any(a.tag in _NO_LINKS for a in link.iterancestors())
        if key in found and key in ids and not unlinkable:
            link.set("href", f"#{ids[key]}")
        else:
            link.drop_tag()  # an unknown key has no entry to go to


def _new_note(chapter: _Chapter, mark: etree._Element, content: etree._Element, number: int) -> etree._Element:
    """A note made for a citation in the text, as a note style asks: a footnote like the author's."""
    if chapter.container is None:
        chapter.container = etree.SubElement(chapter.root, "div", {"class": "footnote"})
        etree.SubElement(chapter.container, "ol")
    ol = chapter.container.find("ol")
    if ol is None:
        ol = etree.SubElement(chapter.container, "ol")
    note_id = f"fn:cite-{number}"
    li = etree.Element("li", {"id": note_id})
    paragraph = etree.SubElement(li, "p")
    _replace(paragraph, content)
    # Before the first note of the author's that is referred to after this point.
    later = [n for n in _following_refs(chapter, mark) if n in chapter.notes]
    position = list(ol).index(chapter.notes[later[0]]) if later and chapter.notes[later[0]].getparent() is ol \
        else len(ol)
    ol.insert(position, li)
    chapter.notes[note_id] = li
    sup = etree.Element("sup", {"id": f"fnref:cite-{number}"})
    etree.SubElement(sup, "a", {"class": "footnote-ref", "href": f"#{note_id}"}).text = str(number)
    return sup


def _following_refs(chapter: _Chapter, mark: etree._Element) -> list[str]:
    refs, after = [], False
    for element in chapter.root.iter():
        if element is mark:
            after = True
        elif after and element.tag == "a" and "footnote-ref" in (element.get("class") or ""):
            refs.append((element.get("href") or "").lstrip("#"))
    return refs


def _move_punctuation(sup: etree._Element) -> None:
    """"text [@a]." becomes "text.¹", as Pandoc sets a citation turned into a note."""
    tail = sup.tail or ""
    previous = sup.getprevious()
    parent = sup.getparent()
    before = (previous.tail if previous is not None else parent.text) or ""
    before = before.rstrip()
    if tail[:1] in {".", ",", ";", ":", "!", "?"}:
        before, tail = before + tail[0], tail[1:]
    if previous is not None:
        previous.tail = before
    else:
        parent.text = before
    sup.tail = tail


def _place_notes(slot: _Slot, footnotes: dict[str, etree._Element], counter: list[int]) -> None:
    """A citation in the text that Pandoc made into a note (a note style) gets a note of its own."""
    mark = slot.citations[0]
    for ref in list(mark.iter("a")):
        if "footnote-ref" not in (ref.get("class") or ""):
            continue
        note = footnotes.get((ref.get("href") or "").lstrip("#"))
        paragraph = note.find("p") if note is not None else None
        if paragraph is None:
            ref.drop_tree()
            continue
        for back in paragraph.xpath(".//a[contains(@class, 'footnote-back')]"):
            back.drop_tree()
        counter[0] += 1
        sup = _new_note(slot.chapter, mark, paragraph, counter[0])
        sup.tail = ref.tail
        ref.getparent().replace(ref, sup)
    if len(mark) == 1 and (mark[0].get("id") or "").startswith("fnref:cite-") and not (mark.text or "").strip() \
            and not (mark[0].tail or "").strip():
        # Nothing but the note's number is left in the text: the mark gives way to it.
        sup = mark[0]
        sup.tail = mark.tail
        mark.getparent().replace(mark, sup)
        _move_punctuation(sup)


def _graft(slots: list[_Slot], run: _Run) -> None:
    assert run.html is not None
    by_id = {e.get("id"): e for e in run.html.iter() if e.get("id")}
    footnotes = {e.get("id"): e for e in run.html.iter("li") if (e.get("id") or "").startswith("fn")}
    counter = [0]
    for n, slot in enumerate(slots):
        paragraph = by_id.get(f"c{n}")
        paragraph = paragraph.find("p") if paragraph is not None else None
        if paragraph is None:
            continue
        slot.chapter.changed = True
        if slot.note is None:
            only = paragraph[0] if len(paragraph) == 1 and not (paragraph.text or "").strip() \
                and not (paragraph[0].tail or "").strip() else None
            _replace(slot.citations[0], only if only is not None and _is_citation(only) else paragraph)
            _no_double_period(slot.citations[0])
            _place_notes(slot, footnotes, counter)
            continue
        ref = next(iter(paragraph.xpath(".//a[contains(@class, 'footnote-ref')]")), None)
        note = footnotes.get((ref.get("href") or "").lstrip("#")) if ref is not None else None
        formatted = _citations_in(note) if note is not None else []
        for mark, output in zip(slot.citations, formatted):
            _replace(mark, output)
            _no_double_period(mark)


# -- the bibliography's place ---------------------------------------------------------------------

# `::: {#refs}` as Python-Markdown leaves it while no fenced-divs extension reads it: a paragraph
# of its own, its closing `:::` in the same paragraph or the next one.
_REFS_OPEN = re.compile(r"^\s*:{3,}\s*(?:\{[^}]*#refs\b[^}]*\}|refs)\s*(?P<closed>:{3,})?\s*$")
_FENCE = re.compile(r"^\s*:{3,}\s*$")


def _refs_div(chapters: Sequence[_Chapter]) -> etree._Element | None:
    """The author's `::: {#refs}`: the div the fenced-divs extension makes, or its raw lines."""
    for chapter in chapters:
        for div in chapter.root.iter("div"):
            if div.get("id") == "refs":
                chapter.changed = True
                return div
        for paragraph in chapter.root.iter("p"):
            opening = _REFS_OPEN.match(paragraph.text_content().replace("\n", " ")) if not len(paragraph) else None
            if opening is None:
                continue
            after = paragraph.getnext()
            if not opening["closed"] and after is not None and after.tag == "p" and _FENCE.match(after.text_content()):
                after.getparent().remove(after)
            div = etree.Element("div", {"id": "refs"})
            div.tail = paragraph.tail
            paragraph.getparent().replace(paragraph, div)
            chapter.changed = True
            return div
    return None


def _after_final_heading(chapter: _Chapter) -> etree._Element | None:
    """A div after the chapter's last element, when that is a heading with nothing under it."""
    body = [e for e in chapter.root if e is not chapter.container and isinstance(e.tag, str)]
    if not body or body[-1].tag not in {"h1", "h2", "h3", "h4", "h5", "h6"} or (body[-1].tail or "").strip():
        return None
    div = etree.Element("div", {"id": "refs"})
    body[-1].addnext(div)
    chapter.changed = True
    return div


def _fill(div: etree._Element, refs: etree._Element, ids: dict[str, str]) -> None:
    classes = " ".join(dict.fromkeys((refs.get("class") or "").split() + (div.get("class") or "").split()))
    for child in list(div):
        div.remove(child)
    div.text = None
    div.set("class", classes)
    div.set("role", "list")
    for entry in refs:
        entry_id = entry.get("id") or ""
        if entry_id.startswith("ref-") and entry_id[4:] in ids:
            entry.set("id", ids[entry_id[4:]])
        div.append(entry)


# -- the stage ------------------------------------------------------------------------------------

def _line(chapter: _Chapter, key: str, after: dict[tuple[int, str], int]) -> int | None:
    """The line of the next citation of `key` in the chapter's source."""
    pattern = re.compile(r"(?<![\w\\])-?@(?:\{" + re.escape(key) + r"\}|" + re.escape(key) + r"(?![\w]))")
    text = chapter.source.text
    match = pattern.search(text, after.get((chapter.index, key), 0)) or pattern.search(text)
    if match is None:
        return None
    after[(chapter.index, key)] = match.end()
    return text.count("\n", 0, match.start()) + 1


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _serialise(root: etree._Element) -> str:
    """The chapter's HTML again. As XML, since lxml's HTML serialiser percent-encodes the letters of
    an `href` ("#ref-пункт3" would no longer name its entry); an empty element is written open and
    closed, so that the HTML parser reading it next does not take `<a/>` for an opening tag."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag not in _VOID and element.text is None and not len(element):
            element.text = ""
    text = (root.text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text + "".join(etree.tostring(child, encoding="unicode", method="xml") for child in root)


def resolve_citations(manuscript: Manuscript, sources: Sequence[Source], htmls: Sequence[str],
                      problems: list[Diagnostic]) -> tuple[tuple[Source, ...], tuple[str, ...]]:
    """The chapters with their citations formatted, and the bibliography placed: perhaps as a last
    chapter of its own, whose source is the bibliography file. Unchanged when nothing is cited."""
    settings = manuscript.config.citations
    marked = [i for i, html in enumerate(htmls) if 'class="citation"' in html]
    if not marked and not (settings.bibliography and settings.nocite):
        return tuple(sources), tuple(htmls)
    chapters: dict[int, _Chapter] = {}

    def chapter(i: int) -> _Chapter:
        if i not in chapters:
            root = lxml.html.fragment_fromstring(htmls[i], create_parent="div")
            container = next((d for d in root.iter("div") if d.get("class") == "footnote"), None)
            notes = {li.get("id"): li for li in container.iter("li") if li.get("id")} if container is not None else {}
            chapters[i] = _Chapter(i, sources[i], manuscript.shown(sources[i].path), root, notes, container)
        return chapters[i]

    slots = [slot for i in marked for slot in _slots(chapter(i))]
    extra = None
    if not settings.bibliography:
        _unformatted(slots, problems)
    else:
        extra = _formatted(manuscript, slots, [chapter(i) for i in range(len(htmls))], problems)
    new_htmls = list(htmls)
    for i, item in chapters.items():
        if item.changed:
            new_htmls[i] = _serialise(item.root)
    if extra is None:
        return tuple(sources), tuple(new_htmls)
    return (*sources, extra.source), (*new_htmls, _serialise(extra.root))


def _unformatted(slots: list[_Slot], problems: list[Diagnostic]) -> None:
    """No bibliography: citations read as written (an "@name" in prose may be no citation at all)."""
    bracketed: list[tuple[_Chapter, str]] = []
    for slot in slots:
        for mark in slot.citations:
            literal = _literal(mark)
            if literal.startswith("["):
                bracketed.append((slot.chapter, mark.get("data-cites", "").split(" ")[0]))
            for child in list(mark):
                mark.remove(child)
            mark.text = literal
            mark.drop_tag()
            slot.chapter.changed = True
    if bracketed:
        chapter, key = bracketed[0]
        problems.append(warning("citations-no-bibliography", f"the book cites [@{key}] and {len(bracketed) - 1} more, "
                                "but names no bibliography, so they are printed as written",
                                file=chapter.shown, line=_line(chapter, key, {}),
                                hint="name the file in book.yaml: 'bibliography: references.bib' (BibTeX, CSL JSON)"))


def _formatted(manuscript: Manuscript, slots: list[_Slot], chapters: list[_Chapter],
               problems: list[Diagnostic]) -> _Chapter | None:
    """Format every citation; returns the chapter made for the bibliography, if one had to be."""
    settings = manuscript.config.citations
    files = [f for name in settings.bibliography
             if (f := _read_inside(manuscript, name, "bibliography", "bibliography", problems)) is not None]
    style = _style(manuscript, problems)
    run = _pandoc(_document(slots, manuscript.config.lang, settings.nocite), files, style, problems, manuscript)
    if run.html is None:
        _unformatted(slots, [])
        return None
    refs = next((d for d in run.html.iter("div") if d.get("id") == "refs"), None)
    entries = [e.get("id", "")[4:] for e in refs] if refs is not None else []
    cited = list(dict.fromkeys(k for slot in slots for mark in slot.citations
                               for k in (mark.get("data-cites") or "").split()))
    ids = _ref_ids(list(dict.fromkeys(entries + cited)))
    # Links go only to entries the book shows.
    shown = settings.link_citations and not settings.suppress_bibliography
    found = set(entries) if shown else set()
    _graft(slots, run)
    for chapter in chapters:  # once each, now that every citation stands where it will be read
        if chapter.changed:
            _relink(chapter.root, ids, found)
    _report_missing(slots, run.missing, files, problems)
    if settings.suppress_bibliography or refs is None or not len(refs):
        return None
    place = _refs_div(chapters)
    if place is None:
        place = _after_final_heading(chapters[-1])
    extra = None
    if place is None:
        # Its source is the bibliography file: what the chapter is made from, and what messages name.
        source = Source(Path(files[0].path) if files else Path("references"), "")
        root = etree.Element("div")
        # At the level the book's chapters open with: its shallowest heading.
        levels = [int(h.tag[1]) for c in chapters for h in c.root.iter("h1", "h2", "h3", "h4", "h5", "h6")]
        heading = f"h{min(levels, default=2)}"
        etree.SubElement(root, heading).text = section_title(manuscript.config.lang, settings.reference_section_title)
        place = etree.SubElement(root, "div", {"id": "refs"})
        extra = _Chapter(len(chapters), source, manuscript.shown(source.path), root, changed=True)
    for link in list(refs.iter("a")):
        if not (link.get("href") or "").strip():
            link.drop_tag()  # an entry's empty url field (url = {}): there is nowhere to go
    _fill(place, refs, ids)
    return extra


def _report_missing(slots: list[_Slot], missing: set[str], files: list[_File], problems: list[Diagnostic]) -> None:
    if not missing:
        return
    known = sorted({k for f in files for k in _entry_keys(f)})
    after: dict[tuple[int, str], int] = {}
    where: dict[str, list[tuple[_Chapter, int | None]]] = {}
    for slot in slots:
        for mark in slot.citations:
            for key in (mark.get("data-cites") or "").split():
                if key in missing:
                    where.setdefault(key, []).append((slot.chapter, _line(slot.chapter, key, after)))
    names = ", ".join(f.path for f in files) or "the bibliography"
    for key, places in where.items():
        chapter, line = places[0]
        lines = [str(line) for _, line in places[1:] if line]
        more = f" (cited again on line{'s' if len(lines) > 1 else ''} {', '.join(lines)})" if lines else ""
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '@{close[0]}'? Otherwise a" if close else "A"
        problems.append(warning("citation-unknown", f"no entry of {names} has the key '{key}'{more}; it is printed "
                                f"as '{key}?'", file=chapter.shown, line=line,
                                hint=hint + f"dd an entry '{key}' to {names}, or correct the key"))
