"""TeX math, as Pandoc reads it: `$…$`, `$$…$$` (tex_math_dollars), `\\(…\\)` and `\\[…\\]`
(tex_math_single_backslash), and `\\newcommand` macros (latex_macros), as MathML.

Why not pymdown-extensions' `arithmatex`: it finds the same delimiters but not by Pandoc's rules
(a closing `$` followed by a digit still closes, so "$5 and $10" is math) and it writes MathJax
placeholders, not MathML; an EPUB runs no scripts. The delimiters are therefore found here, by a
scanner that follows Pandoc's Markdown reader (`mathInlineWith` / `mathDisplayWith`):

* `$` opens only if the next character is not a space; spaces inside shrink to one and may not
  stand before the closing `$`, which may not be followed by a digit (so "$20,000 and $30,000"
  is text); `\\$` is a dollar sign; `\\text{…}` may hold dollars of its own, and the `$…$` in
  it is math again (`_math_in_text`);
* `$$…$$` is display math, spaces allowed; neither kind spans a blank line, and (Pandoc's
  `many1Till`) neither may begin with its closer, so "$$$" is text and "$$x$" is "$" and `$x$`;
* `\\(…\\)` and `\\[…\\]` are off by default, as in Pandoc: manuscripts exported from GitBook and
  the like write `\\(` and `\\[` for plain brackets (learn-go-with-tests does, 20 times).

Why latex2mathml (pinned in pyproject.toml): a maintained pure-Python TeX-to-MathML converter,
with macros, environments (matrix, cases, align) and the Unicode symbol table of unicode-math; it
needs no JavaScript engine (KaTeX, MathJax), no TeX installation and no Pandoc binary at run time
(texmath, Pandoc's converter, is Haskell). It is lenient where Pandoc's
texmath is strict (an unknown `\\foo` becomes the identifier "\\foo", `\\frac{a` a fraction of one
part), so its result is checked here, and a formula that fails is a warning, shown as code.

The MathML carries the author's TeX in `alttext`, the text alternative EPUB Accessibility names
for reading systems without MathML; there is no `<annotation>`, which such a reading system
would print after the formula. The print edition draws this MathML as SVG (`publish.print_math`).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from markdown import Markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from ..diagnostics import Diagnostic, warning
from ..mathml import WORD_JOINER, plain_text

MATHML = "http://www.w3.org/1998/Math/MathML"
ERROR_CLASS = "math-error"  # the <code> a formula that cannot be read is shown as

# Where Python-Markdown has not yet looked when math is found (it runs before the escapes, so a
# formula keeps its backslashes), a dollar inside an HTML tag, an autolink or a link's address
# belongs to them, as it does in Pandoc, which reads left to right.
_TAGS = re.compile(r"<(?:/?[A-Za-z][^<>@ ]*(?: [^<>]*)?|!--.*?--)>|<(?:[Ff]|[Hh][Tt])[Tt][Pp][Ss]?://[^<>]*>"
                   r"|\]\([^)\n]*\)", re.DOTALL)
_STASH = re.compile("[\x02\x03]")  # Python-Markdown's placeholders (code spans found before math)
_SPACE = " \t\n\r"
_MACRO = re.compile(r"\\(?:re)?newcommand\*?\s*\{?\\[A-Za-z]+\}?(?:\s*\[\d\])?\s*\{")
_TEXT = re.compile(r"\\text\{")  # the text that may hold dollars of its own, as Pandoc finds it


@dataclass(frozen=True, slots=True)
class Formula:
    tex: str  # the formula, without its delimiters
    source: str  # as the author wrote it, delimiters included
    display: bool
    end: int  # where it ends in the text it was found in


def _escaped(text: str, at: int) -> bool:
    """Whether the character at `at` is escaped by an odd run of backslashes before it."""
    run = 0
    while at - run - 1 >= 0 and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _balanced(text: str, at: int) -> int | None:
    """The end of the brace group opening at `at`, or None if it never closes."""
    depth, i = 0, at
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _inline(text: str, start: int, opener: str, closer: str) -> Formula | None:
    """Pandoc's `mathInlineWith`: the formula opening at `start`, if it is one."""
    i = start + len(opener)
    if opener == "$" and (i >= len(text) or text[i].isspace()) or text.startswith(closer, i):
        return None  # Pandoc's many1Till: the formula may not begin with its closer ("$$$" is text)
    parts: list[str] = []
    while i < len(text):
        if parts and text.startswith(closer, i):
            end = i + len(closer)
            if end < len(text) and text[end].isdigit():
                return None  # "$5 and $10": a closing dollar before a digit does not close
            return Formula("".join(parts).strip(), text[start:end], False, end)
        char = text[i]
        if char == "\\":
            if text.startswith("text{", i + 1) and (group := _balanced(text, i + 5)) is not None:
                parts.append(text[i:group])
                i = group
            elif i + 1 < len(text):
                parts.append(text[i:i + 2])
                i += 2
            else:
                return None
        elif char in _SPACE:
            j = i
            while j < len(text) and text[j] in _SPACE:
                j += 1
            if "\n\n" in text[i:j].replace(" ", "").replace("\t", "") or (j < len(text) and text[j] == "$"):
                return None  # no blank line inside, no space before the closing dollar
            parts.append(" ")
            i = j
        else:
            parts.append(char)
            i += 1
    return None


def _display(text: str, start: int, opener: str, closer: str) -> Formula | None:
    """Pandoc's `mathDisplayWith`: anything up to the closer, but no blank line."""
    i = start + len(opener)
    end = text.find(closer, i + 1)
    if end < 0 or text.startswith(closer, i) or re.search(r"\n[ \t]*\n", text[i:end]):
        return None
    return Formula(text[i:end].strip(), text[start:end + len(closer)], True, end + len(closer))


def find_formula(text: str, start: int, *, single_backslash: bool = False) -> Formula | None:
    """The formula whose opening delimiter is at `start` in `text`, if there is one there."""
    if _escaped(text, start):
        return None
    if text.startswith("$$", start):
        return _display(text, start, "$$", "$$")  # nor is it inline math: "$$x$" is "$" and "$x$"
    if text.startswith("$", start):
        return _inline(text, start, "$", "$")
    if single_backslash and text.startswith("\\[", start):
        return _display(text, start, "\\[", "\\]")
    if single_backslash and text.startswith("\\(", start):
        return _inline(text, start, "\\(", "\\)")
    return None


# -- TeX to MathML --------------------------------------------------------------------------------

class MathError(ValueError):
    """A formula that cannot be read; the message says why, for the author."""


# latex2mathml's exceptions say what went wrong only in their names.
_REASONS = {
    "NumeratorNotFoundError": "a fraction has no numerator",
    "DenominatorNotFoundError": "a fraction has no denominator",
    "ExtraLeftOrMissingRightError": "a \\left has no \\right",
    "MissingSuperScriptOrSubscriptError": "a ^ or _ has nothing after it",
    "DoubleSubscriptsError": "a double subscript: write x_{ab}, or x_a{}_b",
    "DoubleSuperscriptsError": "a double superscript: write x^{ab}, or x^a{}^b",
    "NoAvailableTokensError": "a command is missing its argument",
    "InvalidStyleForGenfracError": "\\genfrac has an invalid style",
    "MissingEndError": "a \\begin{…} has no \\end{…}",
    "InvalidAlignmentError": "an environment's column alignment is invalid",
    "InvalidWidthError": "a width is invalid",
    "LimitsMustFollowMathOperatorError": "\\limits must follow an operator such as \\sum",
    "RecursionError": "a macro calls itself without end",
}
# How many children each MathML element needs: latex2mathml writes fewer when an argument is missing.
_ARITY = {"mfrac": 2, "msup": 2, "msub": 2, "mover": 2, "munder": 2, "mroot": 2, "msubsup": 3, "munderover": 3}
_COMMAND = re.compile(r"\\[A-Za-z]+")


def _check_braces(tex: str) -> None:
    depth = 0
    for i, char in enumerate(tex):
        if char in "{}" and not _escaped(tex, i):
            depth += 1 if char == "{" else -1
            if depth < 0:
                raise MathError("a '}' closes nothing")
    if depth:
        raise MathError("a '{' is never closed")


def _check(element: ET.Element) -> None:
    for node in element.iter():
        if node.tag in _ARITY and len(node) != _ARITY[node.tag]:
            raise MathError("a command is missing an argument")
        if node.tag in {"mi", "mo", "mn"} and node.text and (command := _COMMAND.match(node.text)):
            raise MathError(f"{command[0]} is not a command this converter knows")


_ROWS = {"math", "mrow", "msqrt", "mstyle", "mtd", "mpadded", "mphantom", "menclose", "merror"}
_SIGNS = {"+", "−", "-", "±", "∓"}
_CLOSING = {")", "]", "}", "|", "‖", "⟩", "⌉", "⌋", "!", "′", "″", "‴", "%"}
_BARS = {"|", "‖"}
# TeX's operator names (\lim, \max, …) that latex2mathml writes as a base with a subscript: in
# display, TeX sets the subscript under them, which MathML says with <munder> and movablelimits.
_LIMITS = {"lim", "lim inf", "lim sup", "max", "min", "sup", "inf", "det", "gcd", "Pr", "arg max", "arg min",
           "inj lim", "proj lim"}
# TeX's operator names latex2mathml does not know (it writes "\arg" as an identifier).
_NAMES = {"arg"}


def _as_tex_sets_it(math: ET.Element) -> None:
    r"""Amend latex2mathml's MathML where it leaves a renderer to space or place things otherwise
    than TeX does. Each rule is TeX's own:

    * a sign that opens its row or follows an operator ("= −0,40") is unary: no space after it;
    * bars in pairs (|x|, ‖v‖) are fences, not relations spaced on both sides;
    * an operator alone in braces ({,}) is an ordinary symbol: no space around it;
    * \lim, \max and the like take their subscript under them in display;
    * a matrix's columns stand apart as MathML's default says, which not every renderer applies.
    """
    for node in math.iter():
        if node.tag in {"mi", "mo"} and node.text and node.text.startswith("\\") and node.text[1:] in _NAMES:
            node.text = AtomicString(node.text[1:])
    for row in math.iter():
        if row.tag == "mtable" and "columnspacing" not in row.attrib:
            row.set("columnspacing", "0.8em")
        if row.tag in {"msub", "msubsup"} and len(row) and row[0].tag == "mo" and \
                " ".join((row[0].text or "").replace("\u2006", " ").replace("\u2009", " ").split()) in _LIMITS:
            row.tag = "munder" if row.tag == "msub" else "munderover"
            row[0].set("movablelimits", "true")
        if row.tag not in _ROWS:
            continue
        children = list(row)
        if row.tag == "mrow" and len(children) == 1 and children[0].tag == "mo" and "lspace" not in children[0].attrib:
            children[0].set("lspace", "0")
            children[0].set("rspace", "0")
        bars = [c for c in children if c.tag == "mo" and c.text in _BARS and "form" not in c.attrib]
        if bars and len(bars) % 2 == 0:
            for n, bar in enumerate(bars):
                bar.set("form", "postfix" if n % 2 else "prefix")
        previous = None
        for child in children:
            if child.tag == "mo" and child.text in _SIGNS and "form" not in child.attrib and (
                    previous is None or (previous.tag == "mo" and previous.text not in _CLOSING)):
                child.set("form", "prefix")
            previous = child


def _closing_dollar(text: str, at: int) -> int | None:
    """Where the `$` that closes the one at `at` is: not an escaped one, nor one in braces."""
    i = at + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == "{":
            i = _balanced(text, i) or len(text)
        elif text[i] == "$":
            return i if i > at + 1 else None
        else:
            i += 1
    return None


def _text_pieces(command: str, body: str) -> str:
    """One `\\text{…}` that holds formulas, cut at them: text, formula, text, as one group.
    Braces in the text only group (they print nothing), and latex2mathml ends a text at its
    first `}`, so they are left out."""
    parts: list[str] = []
    piece: list[str] = []

    def flush() -> None:
        if piece:
            parts.append(command + "{" + "".join(piece) + "}")
        piece.clear()

    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            piece.append("$" if body.startswith("$", i + 1) else body[i:i + 2])  # \\$ in text is a dollar
            i += 2
        elif char == "$" and (close := _closing_dollar(body, i)) is not None:
            flush()
            parts.append("{" + _math_in_text(body[i + 1:close]) + "}")
            i = close + 1
        else:
            if char not in "{}":
                piece.append(char)
            i += 1
    flush()
    return "{" + "".join(parts) + "}"


def _math_in_text(tex: str) -> str:
    r"""The formula with the math inside its text read as math: in TeX, and in Pandoc's texmath,
    `\text{the $n$th root of $y$}` sets "the ", then n and y as math; latex2mathml prints the
    dollars as text. So such a `\text{…}` is cut at its formulas, `{\text{the }{n}\text{th root
    of }{y}}`, before it is converted; a text without dollars is left as it is."""
    out: list[str] = []
    i = 0
    while (match := _TEXT.search(tex, i)) is not None:
        end = _balanced(tex, match.end() - 1)
        if end is None:
            break
        body = tex[match.end():end - 1]
        out.append(tex[i:match.start()])
        out.append(_text_pieces(match[0][:-1].rstrip(), body) if "$" in body and not _escaped(tex, match.start())
                   else tex[match.start():end])
        i = end
    return "".join(out) + tex[i:]


def to_mathml(tex: str, *, display: bool, macros: str = "") -> ET.Element:
    """The formula as a MathML `<math>` element (xml.etree, as Python-Markdown builds its tree).

    `macros` are `\\newcommand` definitions to apply first. Raises `MathError` with the reason
    when the formula cannot be read."""
    from latex2mathml.converter import Converter

    _check_braces(tex)
    try:
        math = Converter(display="block" if display else "inline").convert_to_element(macros + _math_in_text(tex))
    except Exception as exc:  # latex2mathml raises exceptions of its own kinds, and RecursionError
        raise MathError(_REASONS.get(type(exc).__name__, f"it cannot be read ({type(exc).__name__})")) from exc
    for node in math.iter():
        # latex2mathml writes characters as references ("&#x003B2;") and serialises without
        # escaping them again; here the tree holds the characters themselves.
        if node.text:
            node.text = AtomicString(html.unescape(node.text))
        if node.tail:
            node.tail = AtomicString(html.unescape(node.tail))
    _as_tex_sets_it(math)
    _check(math)
    math.attrib.clear()
    math.set("xmlns", MATHML)
    math.set("display", "block" if display else "inline")
    math.set("alttext", tex)
    return math


def error_code(formula: Formula, reason: str) -> ET.Element:
    """What a formula that cannot be read is shown as: its source, as code; the reason as its title."""
    code = ET.Element("code", {"class": ERROR_CLASS, "title": reason})
    code.text = AtomicString(formula.source)
    return code


# -- the Python-Markdown extension ----------------------------------------------------------------

class _Macros(Preprocessor):
    """Pandoc's latex_macros: a paragraph of `\\newcommand` definitions defines macros for the
    chapter's math and is not printed. Runs after fenced code is set aside (priority 25)."""

    def __init__(self, md: Markdown, store: list[str]) -> None:
        super().__init__(md)
        self.store = store

    def run(self, lines: list[str]) -> list[str]:
        # The store is emptied by the extension's reset, once per chapter: a table's cells go
        # through the preprocessors again, and must not forget the chapter's macros.
        out: list[str] = []
        block: list[str] = []
        for line in [*lines, ""]:
            if line.strip():
                block.append(line)
                continue
            text = "\n".join(block)
            if block and self._definitions(text):
                self.store.append(text.strip())
                out.extend("" for _ in block)  # keep the line count: later stages report lines
            else:
                out.extend(block)
            out.append(line)
            block = []
        return out[:-1]

    @staticmethod
    def _definitions(text: str) -> bool:
        i = 0
        text = text.strip()
        while i < len(text):
            match = _MACRO.match(text, i)
            if match is None:
                return False
            end = _balanced(text, match.end() - 1)
            if end is None:
                return False
            i = end
            while i < len(text) and text[i] in _SPACE:
                i += 1
        return i > 0


class _MathPattern(InlineProcessor):
    def __init__(self, md: Markdown, *, single_backslash: bool, macros: list[str]) -> None:
        super().__init__(r"\$|\\[(\[]" if single_backslash else r"\$", md)
        self.single_backslash = single_backslash
        self.macros = macros

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[ET.Element | None, int | None, int | None]:  # noqa: N802
        start = m.start()
        if any(t.start() < start < t.end() for t in _TAGS.finditer(data)):
            return None, None, None
        formula = find_formula(data, start, single_backslash=self.single_backslash)
        if formula is None or _STASH.search(formula.source):
            return None, None, None
        try:
            element = to_mathml(formula.tex, display=formula.display, macros="".join(self.macros))
        except MathError as exc:
            element = error_code(formula, str(exc))
        return element, start, formula.end


class _Joiners(Treeprocessor):
    """A formula written against a word ("$\\beta$-Strahlen", "H$_2$O") stays on its line with
    it: browsers and WeasyPrint may break on either side of an inline formula or image (Unicode's
    line-breaking class CB), and a word joiner (class WJ) forbids it."""

    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            previous = None
            for child in parent:
                if child.tag == "math":
                    before = parent.text if previous is None else previous.tail
                    if before and not before[-1].isspace() and before[-1] != WORD_JOINER:
                        if previous is None:
                            parent.text = before + WORD_JOINER
                        else:
                            previous.tail = before + WORD_JOINER
                    if child.tail and not child.tail[0].isspace():
                        child.tail = WORD_JOINER + child.tail
                previous = child


class _HeaderNames(Treeprocessor):
    """A header cell that is only a formula is named by it (`aria-label`, the formula as a reader
    would type it): accessibility checkers do not count MathML as a header's text (Ace's
    empty-table-header on Curie's `$i\\cdot10^{11}$` columns), and a name on <math> is valid EPUB."""

    def run(self, root: ET.Element) -> None:
        for cell in root.iter("th"):
            formulas = [child for child in cell if child.tag == "math"]
            outside = (cell.text or "") + "".join(child.tail or "" for child in cell)
            if formulas and len(formulas) == len(cell) and not outside.replace(WORD_JOINER, "").strip():
                for formula in formulas:
                    formula.set("aria-label", plain_text(formula))


class MathExtension(Extension):
    def __init__(self, **kwargs: object) -> None:
        self.config = {"single_backslash": [False, "also read \\(…\\) and \\[…\\] (Pandoc's tex_math_single_backslash)"]}
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        self.macros: list[str] = []
        macros = self.macros
        md.registerExtension(self)  # for reset(), once per chapter
        md.preprocessors.register(_Macros(md, macros), "math_macros", 24)
        # Before the escapes (180), which would take a formula's backslashes; after code spans (190).
        md.inlinePatterns.register(_MathPattern(md, single_backslash=bool(self.getConfig("single_backslash")),
                                                macros=macros), "math", 185)
        md.treeprocessors.register(_Joiners(md), "math_joiners", 15)  # after the inline patterns (20)
        md.treeprocessors.register(_HeaderNames(md), "math_header_names", 14)
        if "$" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS.append("$")  # "\$" is a dollar sign, as in Pandoc


    def reset(self) -> None:
        self.macros.clear()


def makeExtension(**kwargs: object) -> MathExtension:  # noqa: N802 - Python-Markdown's entry point
    return MathExtension(**kwargs)


# -- after parsing --------------------------------------------------------------------------------

def formula_problems(root, source_text: str, shown: Path) -> list[Diagnostic]:  # noqa: ANN001 - an lxml element
    """A warning, with its line, for each formula of the chapter that could not be read."""
    found = []
    after = 0
    for code in root.iter("code"):
        if code.get("class") != ERROR_CLASS:
            continue
        text = code.text or ""
        position = source_text.find(text, after)
        if position < 0:
            position = source_text.find(text)
        line = source_text.count("\n", 0, position) + 1 if position >= 0 else None
        after = position + len(text) if position >= 0 else after
        found.append(warning("math-unreadable", f"the formula {text} cannot be read: {code.get('title')}; "
                             "it is shown as TeX code", file=shown, line=line,
                             hint="fix the TeX, or escape a dollar sign that is not math as \\$"))
    return found
