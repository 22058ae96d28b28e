"""Code blocks as Pandoc reads them: fenced anywhere (in list items and block quotes too),
highlighted by Pygments when they name a language, numbered with `.numberLines`.

Python-Markdown's own `fenced_code` finds fences only at the left margin, so a fence inside a list
item became inline code and split the list; pymdownx.superfences finds them at any indentation
and takes Pandoc's `{#id .lang .class key=value}` attributes. Its highlighter (pymdownx.highlight)
writes Pygments' own markup (a table or `<span class="linenos">` for numbers, options named
`linenums`), so superfences is given this module's formatter instead, which writes Pandoc's shape:

    <pre class="sourceCode numberSource go numberLines"><code class="sourceCode go">
    <span><span class="ln">1</span><span class="kd">func</span> main…</span>
    …</code></pre>

* the language is the first class Pygments knows (`{.numberLines .c}` is C, as in Pandoc); a class
  no lexer knows stays a class and the block is not highlighted, nor is a block with no language;
* `.numberLines` (or `.number-lines`) numbers the lines, from `startFrom` (or `start-from`) if
  given; the numbers are text, not CSS counters, so a reading system that ignores the book's CSS
  still shows them, and a block may start from any line without a style attribute (which
  sanitising removes);
* every line of every code block, indented blocks too, is one `<span>` child of `<code>`, with
  the class `long` if it may be too long for a narrow page: the editions lay out such a line as a
  unit that turns under a mark (print keeps it on one page); an empty line is only its newline,
  as the chapter's XML serialisation would write an empty span as `<span/>`, which an HTML parser
  (the web edition's, WeasyPrint's) reads as an opening tag;
* tokens carry Pygments' short classes (`k`, `s`, `c1`, …), so each edition colours them in its
  own stylesheet (book.css), never with inline styles;
* tabs are expanded to four columns, as Pandoc does (Python-Markdown already does so);
* a code span with a language, `` `x = 1`{.python} ``, is highlighted too.
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as etree
from collections.abc import Iterator

from markdown import Markdown
from markdown.extensions import Extension
from markdown.extensions.footnotes import NBSP_PLACEHOLDER
from markdown.treeprocessors import Treeprocessor
from markdown.util import HTML_PLACEHOLDER_RE, AtomicString, code_escape
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.token import STANDARD_TYPES, Error, Name, Operator, Punctuation, Text
from pygments.util import ClassNotFound
from pymdownx.superfences import SuperFencesBlockPreprocessor, SuperFencesCodeExtension

NUMBER_LINES = {"numberLines", "number-lines"}
# A line longer than this may turn on the narrowest page a book is set on (a 4.25 in trim, in a
# block quote: some 35 characters of code): it is marked `long`, and only such lines are laid out
# as boxes of their own (book.css), which cost the print edition a good part of its layout time.
LONG_LINE = 32
START_FROM = ("startFrom", "start-from")
# Tokens left as plain text: punctuation, operators and plain names were 85 % of the corpus's
# tokens, no style tells them apart, and each span is a box the print edition lays out (with them,
# highlighting doubled the layout time of a code book; without, it adds a fifth).
_PLAIN = frozenset({Text, Text.Whitespace, Punctuation, Operator, Name, Name.Other, Error})


@functools.cache
def lexer(language: str) -> Lexer | None:
    """Pygments' lexer for a language name or alias, made once per name (loading one costs ~10 ms)."""
    if not language:
        return None
    try:
        # The code exactly as written: no leading or trailing newlines stripped, none added.
        found = get_lexer_by_name(language.lower(), stripnl=False, ensurenl=False, tabsize=0)
    except ClassNotFound:
        return None
    return None if isinstance(found, TextLexer) else found  # "text" names no language (Pandoc agrees)


@functools.cache
def token_class(ttype: type[Text]) -> str:
    """Pygments' short class of a token type, or of its nearest ancestor that has one."""
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


def tokens(source: str, lex: Lexer) -> Iterator[tuple[str, str]]:
    """(class, text) for each run of `source` with one class; the class is "" for plain text."""
    run_class, run = "", []
    for ttype, value in lex.get_tokens(source):
        css = "" if ttype in _PLAIN or ttype.parent is Punctuation else token_class(ttype)
        if css != run_class and run:
            yield run_class, "".join(run)
            run = []
        run_class = css
        run.append(value)
    if run:
        yield run_class, "".join(run)


def highlighted_lines(source: str, lex: Lexer) -> list[str]:
    """Each line of `source` as HTML, its tokens in spans; a token that spans lines is cut at each."""
    lines: list[str] = []
    current: list[str] = []
    for css, value in tokens(source, lex):
        for index, piece in enumerate(value.split("\n")):
            if index:
                lines.append("".join(current))
                current = []
            if piece:
                text = html.escape(piece, quote=False)
                current.append(f'<span class="{css}">{text}</span>' if css else text)
    lines.append("".join(current))
    return lines


def _source_lines(source: str) -> list[str]:
    # A block's final newline ends its last line; it does not open an empty one.
    return source[:-1].split("\n") if source.endswith("\n") else source.split("\n")


def _start(options: dict[str, str]) -> int:
    for key in START_FROM:
        if re.fullmatch(r"-?[0-9]{1,9}", options.get(key, "").strip()):
            return int(options[key])
    return 1  # Pandoc ignores a start it cannot read


def _line(html_line: str, length: int) -> str:
    if not html_line:
        return ""
    return f'<span class="long">{html_line}</span>' if length > LONG_LINE else f"<span>{html_line}</span>"


def _class_attribute(classes: list[str]) -> str:
    return f' class="{html.escape(" ".join(classes))}"' if classes else ""


def format_block(source: str, language: str, class_name: str, options: dict[str, str], md: Markdown,
                 **kwargs: object) -> str:
    """superfences' formatter for every fence: the block's HTML, highlighted if its language is known."""
    classes = ([language] if language else []) + list(kwargs.get("classes") or [])
    id_value = str(kwargs.get("id_value") or "")
    numbered = any(c in NUMBER_LINES for c in classes)
    name = next((c for c in classes if c not in NUMBER_LINES and lexer(c) is not None), "")
    source = source.expandtabs(4)
    if name:
        lines = highlighted_lines(source, lexer(name))  # type: ignore[arg-type]
    else:
        lines = [html.escape(line, quote=False) for line in _source_lines(source)]
    if lines and lines[-1] == "" and source.endswith("\n"):
        lines.pop()
    if numbered:
        first = _start(options)
        lines = [f'<span class="ln">{first + i}</span>{line}' for i, line in enumerate(lines)]
    identity = f' id="{html.escape(id_value)}"' if id_value else ""
    lengths = [len(line) for line in _source_lines(source)]
    body = "\n".join(_line(line, lengths[i] if i < len(lengths) else 0) for i, line in enumerate(lines))
    # An empty <code> would be serialised <code/>, which an HTML parser leaves open over the rest
    # of the chapter: an empty block holds one empty line.
    body = body or "\n"
    if name or numbered:
        pre = ["sourceCode"] + (["numberSource"] if numbered else []) + classes
        code = ["sourceCode"] + ([name] if name else [])
        return f"<pre{identity}{_class_attribute(pre)}><code{_class_attribute(code)}>{body}</code></pre>"
    return f"<pre{identity}{_class_attribute(classes)}><code>{body}</code></pre>"


def accept_options(language: str, inputs: dict[str, str], options: dict[str, str], attrs: dict[str, str],
                   md: Markdown) -> bool:
    """superfences' validator: every fence is a code block; `key=value` attributes become options
    (only `startFrom` is read; Pandoc's `data-` attributes have no place in a book's markup)."""
    options.update(inputs)
    return True


class LinesTreeprocessor(Treeprocessor):
    """Indented code blocks get the same one-span-per-line markup as fenced ones."""

    def run(self, root: etree.Element) -> None:
        for pre in root.iter("pre"):
            code = pre.find("code")
            if code is None or len(code) or not code.text:
                continue
            text, code.text = code.text, None
            previous = None
            for line in text.rstrip("\n").split("\n"):
                if previous is not None:
                    previous.tail = (previous.tail or "") + "\n"
                if line:
                    previous = etree.SubElement(code, "span", {"class": "long"} if len(line) > LONG_LINE else {})
                    previous.text = AtomicString(line)
                elif previous is None:
                    code.text = (code.text or "") + "\n"


class InlineCodeTreeprocessor(Treeprocessor):
    """A code span with a language, `` `x = 1`{.python} ``, is highlighted as Pandoc highlights it.

    Runs after attr_list (priority 8), which sets the class; the span's text is already escaped
    (`code_escape`), so it is read back, lexed, and each token escaped again."""

    def run(self, root: etree.Element) -> None:
        in_blocks = {id(code) for pre in root.iter("pre") for code in pre.iter("code")}
        for code in root.iter("code"):
            classes = (code.get("class") or "").split()
            name = next((c for c in classes if lexer(c) is not None), None)
            if name is None or len(code) or not code.text or id(code) in in_blocks:
                continue
            source = code.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            code.text, last = None, None
            for css, value in tokens(source, lexer(name)):  # type: ignore[arg-type]
                text = AtomicString(code_escape(value))
                if css:
                    last = etree.SubElement(code, "span", {"class": css})
                    last.text = text
                elif last is None:
                    code.text = AtomicString((code.text or "") + text)
                else:
                    last.tail = AtomicString((last.tail or "") + text)
            code.set("class", " ".join(["sourceCode", *classes]))


class NoteEndingInCodeTreeprocessor(Treeprocessor):
    """A note that ends in a code block keeps its backlink in the paragraph before the block.

    Python-Markdown's footnotes append the backlink to the note's last paragraph, which for a note
    ending in code is the one holding the block's placeholder; with the link beside it, the
    placeholder is no longer a block of its own, and the note came out as
    `<p></p><pre>…</pre>&nbsp;<p></p>`."""

    def run(self, root: etree.Element) -> None:
        for item in root.iter("li"):
            if len(item) < 2 or item[-1].tag != "p" or item[-2].tag != "p" or len(item[-1]) != 1:
                continue
            last, backlink = item[-1], item[-1][0]
            placeholder = (last.text or "").replace(NBSP_PLACEHOLDER, "")
            if "footnote-backref" not in (backlink.get("class") or "") or not HTML_PLACEHOLDER_RE.fullmatch(placeholder):
                continue
            last.text = placeholder
            last.remove(backlink)
            before = item[-2]
            if len(before):
                before[-1].tail = (before[-1].tail or "") + NBSP_PLACEHOLDER
            else:
                before.text = (before.text or "") + NBSP_PLACEHOLDER
            before.append(backlink)


class _FenceFinder(SuperFencesBlockPreprocessor):
    """superfences' fence finder, reading a fence indented by one to three spaces as CommonMark and
    Pandoc do: its lines may be indented less than the fence (superfences would drop the fence, and
    the block became inline code), and lose up to that much indentation."""

    def eval_fence(self, ws: str, content: str, start: int, end: int) -> None:
        if content and len(ws) < self.ws_virtual_len < 4 and ">" not in self.ws:
            ws = " " * self.ws_virtual_len
        super().eval_fence(ws, content, start, end)


class _SuperFences(SuperFencesCodeExtension):
    def patch_fenced_rule(self) -> None:
        super().patch_fenced_rule()
        finder = _FenceFinder(self.md)
        finder.config = self.getConfigs()
        finder.extension = self
        self.md.preprocessors.register(finder, "fenced_code_block", 25)


class CodeExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        fences = _SuperFences(custom_fences=[
            {"name": "*", "class": "", "format": format_block, "validator": accept_options}])
        md.registerExtensions([fences], {})
        # After inline processing (priority 20), before prettify (10), which re-indents nothing in <pre>.
        md.treeprocessors.register(LinesTreeprocessor(md), "code_lines", 15)
        md.treeprocessors.register(NoteEndingInCodeTreeprocessor(md), "note_ending_in_code", 14)
        # After attr_list (8), which gives a code span its language; before smarty (6).
        md.treeprocessors.register(InlineCodeTreeprocessor(md), "inline_code", 7)


def makeExtension(**kwargs: object) -> CodeExtension:  # noqa: N802 - Python-Markdown's name
    return CodeExtension(**kwargs)
