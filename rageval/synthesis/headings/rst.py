"""reStructuredText titles, levels in order of each adornment style's first use, as docutils assigns them."""
from __future__ import annotations

import re
import unicodedata

from rageval.synthesis.headings.titles import Title, reduce_emphasis, restore

_RST_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_RST_NOT_TITLE = re.compile(r"\.\.(?:\s|$)|[-+*\u2022\u2023\u2043](?:\s|$)|:[^:\s][^:]*:(?:\s|$)|>>>|\|(?:\s|$)"
                            r"|=+(?: +=+)+ *$|\+[-=]")  # explicit markup, lists, fields, doctests, line blocks, tables


def _rule(line: str) -> str:
    """The line as a section adornment (one punctuation character repeated from column 0), or ""."""
    line = line.rstrip()
    return line if line and line[0] in _RST_PUNCT and line == line[0] * len(line) else ""


def _width(text: str) -> int:
    """Columns of a title as docutils counts them (wide East Asian characters 2, combining 0)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def rst_titles(lines: list[str]) -> list[Title]:
    """The section titles of a reStructuredText document, levels in order of each style's first use."""
    styles: list[tuple[bool, str]] = []
    titles: list[Title] = []
    may_start = True  # a title may begin on this line: the first, or after a blank line or a title
    i = 0
    while i < len(lines):
        found = _rst_title_at(lines, i) if may_start else None
        if found is not None:
            style, text, length = found
            if style not in styles:
                styles.append(style)
            titles.append(Title(styles.index(style) + 1, _rst_inline(text), i, i + length))
            i += length
            may_start = True
            continue
        line = lines[i]
        if line.rstrip().endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            i = _skip_quoted_literal(lines, i + 1)
            may_start = True
            continue
        may_start = not line.strip()
        i += 1
    return titles


def _rst_title_at(lines: list[str], i: int) -> tuple[tuple[bool, str], str, int] | None:
    """The title starting on line ``i``: (style, text, lines it takes), or None."""
    line = lines[i]
    over = _rule(line)
    if over:
        if i + 2 < len(lines):
            text = lines[i + 1].strip()
            if text and not _rule(lines[i + 1]) and _rule(lines[i + 2]) == over and _width(text) <= len(over):
                return (True, over[0]), text, 3
        if len(over) >= 4:
            return None  # a transition, or a broken title (docutils reads shorter rules as ordinary text)
    if i + 1 >= len(lines) or not line.strip() or line[0].isspace() or _RST_NOT_TITLE.match(line):
        return None
    under = _rule(lines[i + 1])
    text = line.rstrip()
    if under and len(under) >= _width(text):
        return (False, under[0]), text, 2
    return None


def _skip_quoted_literal(lines: list[str], i: int) -> int:
    """After a ``::`` paragraph and the blank line at ``i``: the line after a quoted literal block
    (unindented lines all starting with the same punctuation character), or the next non-blank line."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i][:1] in _RST_PUNCT:
        quote = lines[i][0]
        while i < len(lines) and lines[i][:1] == quote:
            i += 1
    return i


_RST_LITERAL = re.compile(r"``(?=\S)(.+?)(?<=\S)``")
_RST_REDUCE = (
    (re.compile(r":[\w.+:-]+:`([^`<]*?)\s*(?:<[^`>]*>)?`"), r"\1"),
    (re.compile(r"`([^`<]*?)\s*(?:<[^`>]*>)?`__?"), r"\1"),
    (re.compile(r"`([^`]+)`(?::[\w.+:-]+:)?"), r"\1"),
    (re.compile(r"(?<=[A-Za-z0-9])__?(?=[\s.,;:!?)]|$)"), ""),
    (re.compile(r"\\(.)"), r"\1"),
)
_RST_EMPHASIS = (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), re.compile(r"\*(?=[^\s*])([^*]*?)(?<=[^\s*])\*"))


def _rst_inline(title: str) -> str:
    """A reStructuredText title's text: literals, roles, references and emphasis reduced."""
    kept: list[str] = []

    def hold(found: re.Match) -> str:
        kept.append(found.group(1))
        return f"\ue000{len(kept) - 1}\ue001"

    title = _RST_LITERAL.sub(hold, title)
    for pattern, replacement in _RST_REDUCE:
        title = pattern.sub(replacement, title)
    return restore(reduce_emphasis(title, _RST_EMPHASIS), kept)
