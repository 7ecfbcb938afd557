"""Section titles as questions: the model-free question source of ``rageval synth --generator headings``.

Every section title of a document, with the titles of the sections it sits in, becomes a question,
written ``"Install > From source"`` (:func:`question`), and the section's own body is its reference
span: the text from the line after the title (after the underline in reStructuredText and setext
Markdown) up to the next title of any level, trimmed of surrounding whitespace. A parent's body is
therefore only its own text before its first subsection, never its children's; a section whose body
is empty yields nothing. Text before the first title belongs to no section.

Markups (:func:`markup_of` picks one from a file's suffix, or from the text for ``.txt``):

- Markdown (CommonMark block rules): ATX headings (``#`` .. ``######``, up to three spaces of
  indent, closing ``#`` s dropped) and setext headings (``===`` / ``---`` under a paragraph, whose
  lines form the title). Lines inside fenced code (```` ``` ```` / ``~~~``), indented code and HTML
  blocks are never titles, nor is a YAML front matter block (``---`` on the very first line up to the
  next ``---`` or ``...``), nor a heading inside a block quote or on a list item's first line; lazy
  lines of quotes and list items take no underline. Inline markup in titles is reduced to its text
  (``code``, emphasis, links, images, HTML tags, escapes). A list item's own content indent is not
  tracked: a line indented four or more columns is code (or a paragraph's continuation) wherever it is.
- reStructuredText: a title line at column 0 with an underline (and optionally a matching overline)
  of one repeated punctuation character at least as wide as the title (in columns), after a blank
  line, the start or another title. Levels follow the order in which each style ((overline?,
  character)) first appears, as docutils assigns them. Transitions (a lone punctuation line between
  blank lines), anything indented (literal blocks, directive bodies, block quotes), list items, field
  lists, doctests and the lines of a quoted literal block are not titles. Unlike docutils, which
  accepts with a warning an underline of four or more characters that is shorter than its title,
  such a title is not read.
- HTML: ``h1`` .. ``h6`` of the raw page, found as whole lines of the text that rageval's docs loader
  stores for the page (:func:`html_sections`); a Sphinx/MkDocs permalink (``<a class="headerlink">``)
  is matched but left out of the title.

A title's path holds the titles of the enclosing sections, however many levels lie between them: a
level-3 title right under a level-1 one has a path of two.

What such questions are worth: they are keyword-like ("Configuration > Proxy settings"), not
questions a user would write, and their words usually recur in the body they point to, often in its
first sentence. They therefore favour lexical retrievers (BM25) over dense ones and measure mostly
whether a retriever finds the passage that names a topic; their spans are whole sections, longer
than the excerpts a model picks. Use them to smoke-test a pipeline or to compare chunkers on section
boundaries, not as evidence of how well a retriever answers real questions.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from pathlib import PurePath

from rageval.synthesis.headings.html import HtmlHeadings
from rageval.synthesis.headings.markdown import MarkdownScan
from rageval.synthesis.headings.rst import rst_titles
from rageval.synthesis.headings.titles import Title

MARKUPS = ("markdown", "rst", "html")
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".html": "html", ".htm": "html"}
_SEPARATOR = " > "


@dataclass(frozen=True)
class Section:
    """A titled section: its path of titles (outermost first) and its body's span in the document."""

    path: tuple[str, ...]
    start: int
    end: int


def question(path: tuple[str, ...]) -> str:
    """The question shown to a retriever: the titles of the path joined by " > ", outermost first."""
    return _SEPARATOR.join(path)


def sections(text: str, markup: str) -> list[Section]:
    """The sections of a Markdown (``"markdown"``) or reStructuredText (``"rst"``) document, in order.

    Offsets are into ``text`` as given; HTML needs the raw page: use :func:`html_sections`."""
    if markup == "markdown":
        titles = MarkdownScan(_lines(text)).titles()
    elif markup == "rst":
        titles = rst_titles(_lines(text))
    elif markup == "html":
        raise ValueError("html sections need the raw page: call html_sections(raw_html, text)")
    else:
        raise ValueError(f"unknown markup {markup!r} (expected one of {', '.join(MARKUPS)})")
    return _sections(text, titles)


def markup_of(path: str | None, text: str) -> str | None:
    """The markup of a document: from the suffix of ``path`` (.md/.markdown, .rst, .html/.htm); for
    .txt or no path, from the text: ``rst`` when it has reStructuredText titles and no ATX heading,
    ``markdown`` when it has an ATX heading, else None. Any other suffix: None."""
    suffix = PurePath(path).suffix.lower() if path else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix not in ("", ".txt"):
        return None
    lines = _lines(text)
    if MarkdownScan(lines).titles(atx_only=True):
        return "markdown"
    return "rst" if rst_titles(lines) else None


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as the scanners read them: a byte order mark before the first is no
    part of it (it would hide a title on the first line)."""
    lines = text.split("\n")
    lines[0] = lines[0].removeprefix("\ufeff")
    return lines


def html_sections(raw_html: str, text: str) -> list[Section]:
    """The sections of an HTML page: its h1..h6 (from ``raw_html``) located, in order, as whole lines
    of ``text`` (the page's text as the docs loader stores it), each search going on from the previous
    heading; a heading not found is skipped. Offsets are into ``text``."""
    parser = HtmlHeadings()
    parser.feed(raw_html)
    parser.close()
    lines = text.split("\n")
    squashed = ["".join(line.split()) for line in lines]
    titles, at = [], 0
    for level, data, permalink in parser.found:
        key = "".join(data.split())
        found = _find_lines(squashed, key, at) if key else None
        if found is None:
            continue
        first, last = found
        title = " ".join(lines[first:last + 1]).strip()
        mark = " ".join(permalink.split())
        if mark and title.endswith(mark):
            title = title[:-len(mark)].rstrip()
        titles.append(Title(level, title, first, last + 1))
        at = last + 1
    return _sections(text, titles)


def _find_lines(squashed: list[str], key: str, at: int) -> tuple[int, int] | None:
    """The first run of whole lines from ``at`` on whose text, without whitespace, is ``key``."""
    for first in range(at, len(squashed)):
        if not squashed[first] or not key.startswith(squashed[first]):
            continue
        joined, last = squashed[first], first
        while len(joined) < len(key) and last + 1 < len(squashed):
            last += 1
            joined += squashed[last]
            if not key.startswith(joined):
                break
        if joined == key:
            return first, last
    return None


def _sections(text: str, titles: list[Title]) -> list[Section]:
    """Sections from titles in document order: each body runs to the next title, trimmed."""
    starts = [0, *accumulate(len(line) + 1 for line in text.split("\n"))]
    stack: list[Title] = []
    out = []
    for k, title in enumerate(titles):
        while stack and stack[-1].level >= title.level:
            stack.pop()
        stack.append(title)
        end_line = titles[k + 1].first if k + 1 < len(titles) else len(starts) - 1
        start, end = min(starts[title.body], len(text)), min(starts[end_line], len(text))
        body = text[start:end]
        start, end = start + len(body) - len(body.lstrip()), start + len(body.rstrip())
        if title.text and start < end:
            out.append(Section(tuple(t.text for t in stack if t.text), start, end))
    return out
