"""Chunkers: ``fixed`` and ``recursive`` (LangChain's ``TokenTextSplitter`` and
``RecursiveCharacterTextSplitter``, chunk for chunk), ``sentence`` and ``ast``. Each turns a
document into character ranges in order, with ``parent_text[start:end] == chunk.text`` (but for
``sentence:split=punct``, whose chunks join their sentences with one space). Sizes are counted in
a declared unit (``rageval.text.units``: regex, chars, cl100k_base or hf:/path[+special]).
"""
from __future__ import annotations

import itertools
import logging
import re

import numpy as np

from rageval.data.model import Document
from rageval.errors import SpecError
from rageval.plugins import Chunker
from rageval.text.treesitter import BY_EXTENSION, LANGUAGES, parser
from rageval.text.units import Unit, byte_to_char

log = logging.getLogger("rageval")
CharRange = tuple[int, int]


class _Measure:
    """Length of any range of one text in a unit, by binary search over its token starts."""

    def __init__(self, text: str, unit: Unit):
        self.chars = unit.name == "chars"
        self.special = unit.special
        self.starts = None if self.chars else unit.offsets(text)[0]

    def __call__(self, start: int, end: int) -> int:
        if self.chars:
            return end - start
        return int(np.searchsorted(self.starts, end) - np.searchsorted(self.starts, start)) + self.special


def _check(size: int, overlap: int, what: str = "size") -> None:
    if size <= 0:
        raise SpecError(f"chunker: {what} must be positive, got {size}")
    if not 0 <= overlap < size:
        raise SpecError(f"chunker: overlap must be at least 0 and smaller than {what} ({size}), got {overlap}")


def _stripped(text: str, start: int, end: int) -> CharRange:
    """The range of ``text[start:end].strip()``."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _windows(n: int, per_window: int, step: int) -> list[tuple[int, int]]:
    """(first, last + 1) unit indices of windows of ``per_window`` units every ``step`` units; the
    last window ends at the last unit."""
    out = []
    for first in range(0, n, step):
        last = min(first + per_window, n)
        out.append((first, last))
        if last == n:
            break
    return out


class FixedChunker(Chunker):
    """Windows of ``size`` tokens, ``overlap`` tokens shared by neighbours (LangChain's
    ``TokenTextSplitter``: encode the whole text, window the tokens, decode each window). A
    chunk runs from its first token's first character to its last token's last character."""

    def __init__(self, size: int = 200, overlap: int = 0, unit: str = "regex"):
        _check(size, overlap)
        self.unit = Unit(unit)
        self.size, self.overlap = size - self.unit.special, overlap
        _check(self.size, overlap, "size less the special tokens")

    def ranges(self, doc: Document) -> list[CharRange]:
        starts, ends = self.unit.offsets(doc.text)
        out = []
        for first, last in _windows(len(starts), self.size, self.size - self.overlap):
            start, end = int(starts[first]), int(ends[last - 1])
            if start < end:
                out.append((start, end))
        return out


_PUNCT_END = re.compile(r"(?<=[.!?])\s+")
_PROSE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)|\n\s*\n\s*(?=\S)")


class SentenceChunker(Chunker):
    """``n`` sentences per chunk, ``overlap`` sentences shared by neighbours.

    ``split=punct`` (default; the token-level evaluation paper's rule): a sentence ends at every run
    of whitespace that follows ``.``, ``!`` or ``?`` and nowhere else; a chunk's text is its
    sentences joined by one space, so whitespace inside it is normalised and its offsets span its
    first to its last sentence. ``split=prose``: sentences also end after closing quotes or
    brackets and at blank lines, and the chunks cover the document (``text[start:end]``)."""

    def __init__(self, n: int = 5, overlap: int = 0, split: str = "punct"):
        _check(n, overlap, "n")
        if split not in ("punct", "prose"):
            raise SpecError(f"chunker sentence: split must be punct or prose, got {split!r}")
        self.n, self.overlap, self.split = n, overlap, split

    def _sentences(self, text: str) -> list[CharRange]:
        if self.split == "punct":
            bounds = [0, *(x for m in _PUNCT_END.finditer(text) for x in m.span()), len(text)]
            return [(a, b) for a, b in zip(bounds[::2], bounds[1::2]) if a < b]
        if not text.strip():
            return []
        first = len(text) - len(text.lstrip())
        starts = [first] + [m.end() for m in _PROSE_END.finditer(text, first)]
        return list(zip([0, *starts[1:]], [*starts[1:], len(text)]))

    def pieces(self, doc: Document) -> list[tuple[int, int, str]]:
        sentences = self._sentences(doc.text)
        out = []
        for first, last in _windows(len(sentences), self.n, self.n - self.overlap):
            group = sentences[first:last]
            start, end = group[0][0], group[-1][1]
            text = " ".join(doc.text[a:b] for a, b in group) if self.split == "punct" else doc.text[start:end]
            out.append((start, end, text))
        return out

    def ranges(self, doc: Document) -> list[CharRange]:
        return [(start, end) for start, end, _ in self.pieces(doc)]


def _separators(spec: str) -> list[str]:
    """``|``-separated separators with backslash escapes; an empty entry is the empty separator
    (split into characters)."""
    return [s.encode().decode("unicode_escape") for s in spec.split("|")]


class RecursiveChunker(Chunker):
    """LangChain's ``RecursiveCharacterTextSplitter``, with exact character offsets.

    Split on the first separator present in the text, each separator kept at the start of the
    piece after it; merge pieces shorter than ``size`` greedily, within one recursion level, while
    ``length(pieces so far) + length(separator) + length(next) <= size``, every piece measured on
    its own in ``unit``; split a piece that is not shorter than ``size`` again with the separators
    after the one used; start the next chunk with whole trailing pieces that total at most
    ``overlap``; strip whitespace from every chunk. Default separators: paragraph, line, ``.``,
    ``?``, ``!``, space, character (those of the published chunking evaluation)."""

    def __init__(self, size: int = 400, overlap: int = 0, unit: str = "chars",
                 separators: str = "\\n\\n|\\n|.|?|!| |"):
        _check(size, overlap)
        self.size, self.overlap, self.unit = size, overlap, Unit(unit)
        self.separators = _separators(separators)
        self.separator_length = self.unit.count("")

    def ranges(self, doc: Document) -> list[CharRange]:
        return self._split(doc.text, 0, len(doc.text), self.separators)

    def _split(self, text: str, start: int, end: int, separators: list[str]) -> list[CharRange]:
        separator, rest = separators[-1], []
        for i, candidate in enumerate(separators):
            if not candidate:
                separator = candidate
                break
            if text.find(candidate, start, end) != -1:
                separator, rest = candidate, separators[i + 1:]
                break
        bounds = _bounds_keeping_separator(text, start, end, separator)  # piece i is bounds[i]:bounds[i + 1]
        if self.unit.name == "chars":
            lengths = [b - a for a, b in zip(bounds, bounds[1:])]
        else:
            lengths = self.unit.counts([text[a:b] for a, b in zip(bounds, bounds[1:])])
        out: list[CharRange] = []
        first, n = 0, len(lengths)  # pieces shorter than the size are merged in runs; a longer one is split again
        for i in [*(i for i, length in enumerate(lengths) if length >= self.size), n]:
            if i > first:
                out += self._merge(text, bounds, lengths, first, i)
            if i < n:
                out += self._split(text, bounds[i], bounds[i + 1], rest) if rest else [(bounds[i], bounds[i + 1])]
            first = i + 1
        return out

    def _merge(self, text: str, bounds: list[int], lengths: list[int], lo: int, hi: int) -> list[CharRange]:
        """Pieces lo..hi-1 joined into chunks of at most ``size`` (LangChain's ``_merge_splits``)."""
        sep, size, overlap = self.separator_length, self.size, self.overlap
        out: list[CharRange] = []
        first, total = lo, 0  # the current chunk is pieces first..i-1
        for i in range(lo, hi):
            n = lengths[i]
            if i > first and total + n + sep > size:
                start, end = _stripped(text, bounds[first], bounds[i])
                if start < end:
                    out.append((start, end))
                if sep:
                    while total > overlap or (total > 0 and total + n + (sep if i > first else 0) > size):
                        total -= lengths[first] + (sep if i - first > 1 else 0)
                        first += 1
                else:  # the same loop without separator lengths (characters, tokens without specials)
                    while total > overlap or (total > 0 and total + n > size):
                        total -= lengths[first]
                        first += 1
            total += n + (sep if sep and i > first else 0)
        start, end = _stripped(text, bounds[first], bounds[hi])
        if start < end:
            out.append((start, end))
        return out


def _bounds_keeping_separator(text: str, start: int, end: int, separator: str) -> list[int]:
    """Boundaries of the pieces of text[start:end] cut before every occurrence of ``separator``
    (non-overlapping, left to right; the empty separator cuts between characters); an empty first
    piece is dropped."""
    if not separator:
        return list(range(start, end + 1))
    parts = text[start:end].split(separator)
    width = len(separator)
    bounds = list(itertools.accumulate((len(part) + width for part in parts[1:]), initial=start + len(parts[0])))
    return [start, *bounds] if parts[0] else bounds


class _CoveringSplitter:
    """The ``ast`` chunker's splitter for text outside syntax nodes: ranges that cover the text
    whole, split at paragraphs, lines, sentences, then words until each fits ``size``, and
    neighbours merged while they fit."""

    separators = ["\n\n", "\n", ". ", " "]

    def __init__(self, size: int):
        self.size = size

    def split(self, text: str, start: int, end: int, measure: _Measure) -> list[CharRange]:
        """Ranges covering text[start:end], each within the size wherever a separator allows."""
        return _merge(self._pieces(text, start, end, 0, measure), self.size, measure)

    def _pieces(self, text: str, start: int, end: int, level: int, measure: _Measure) -> list[CharRange]:
        if measure(start, end) <= self.size or start >= end:
            return [(start, end)] if start < end else []
        if level == len(self.separators):  # no separator left: cut every `size` units
            units = range(start, end) if measure.chars else \
                measure.starts[(measure.starts >= start) & (measure.starts < end)].tolist()
            cuts = [start, *(u for u in units[self.size::self.size] if u > start)]
            return list(zip(cuts, cuts[1:] + [end]))
        sep = self.separators[level]
        cuts, pos = [start], text.find(sep, start, end)
        while pos != -1:
            cut = pos + len(sep)
            if start < cut < end:
                cuts.append(cut)
            pos = text.find(sep, cut, end)
        if len(cuts) == 1:
            return self._pieces(text, start, end, level + 1, measure)
        out: list[CharRange] = []
        for a, b in zip(cuts, cuts[1:] + [end]):
            out += self._pieces(text, a, b, level + 1, measure) if measure(a, b) > self.size else [(a, b)]
        return out


def _merge(pieces: list[CharRange], size: int, measure: _Measure) -> list[CharRange]:
    """Join consecutive ranges while the joined range fits ``size``."""
    out: list[CharRange] = []
    for start, end in pieces:
        if out and measure(out[-1][0], end) <= size:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class AstChunker(Chunker):
    """tree-sitter code chunking: syntax nodes (functions, classes, statements) as units, small
    neighbours merged up to ``size``, larger ones split at their children's boundaries. A unit
    that fits is never cut. Text outside any node, and documents in no supported language, are
    split at paragraphs, lines, sentences and words, so the chunks cover the document whole."""

    def __init__(self, size: int = 1500, unit: str = "chars", language: str = "auto"):
        _check(size, 0)
        if language != "auto" and language not in LANGUAGES:
            raise SpecError(f"chunker ast: unknown language {language!r}; known: auto, {', '.join(LANGUAGES)}")
        self.size, self.unit, self.language = size, Unit(unit), language
        self.fallback = _CoveringSplitter(size)
        self.fallbacks = 0

    def _language(self, doc: Document) -> str | None:
        if self.language != "auto":
            return self.language
        if doc.meta.get("language") in LANGUAGES:
            return doc.meta["language"]
        for name in (doc.meta.get("path", ""), doc.id, doc.title):
            for ext, lang in BY_EXTENSION.items():
                if str(name).lower().endswith(ext):
                    return lang
        return None

    def ranges(self, doc: Document) -> list[CharRange]:
        text = doc.text
        measure = _Measure(text, self.unit)
        language = self._language(doc)
        if language is None:
            self.fallbacks += 1
            return self.fallback.split(text, 0, len(text), measure)
        data = text.encode("utf-8")
        to_char = byte_to_char(text)
        root = parser(language).parse(data).root_node
        units = self._units(root, 0, len(text), to_char, text, measure)
        return _merge(units, self.size, measure)

    def _units(self, node, start: int, end: int, to_char: np.ndarray, text: str, measure: _Measure) -> list[CharRange]:
        """Units covering text[start:end] from ``node``'s children: the gaps between children are
        units of their own, and a child is split into its own children only when it exceeds the size."""
        out: list[CharRange] = []
        pos = start
        for child in node.children:
            a, b = int(to_char[child.start_byte]), int(to_char[child.end_byte])
            if b <= pos:
                continue
            if a > pos:
                out += self._text(text, pos, a, measure)
            a = max(a, pos)
            if measure(a, b) <= self.size:
                out.append((a, b))
            elif child.children:
                out += self._units(child, a, b, to_char, text, measure)
            else:
                out += self._text(text, a, b, measure)
            pos = b
        if pos < end:
            out += self._text(text, pos, end, measure)
        return out

    def _text(self, text: str, start: int, end: int, measure: _Measure) -> list[CharRange]:
        return [(start, end)] if measure(start, end) <= self.size else self.fallback.split(text, start, end, measure)
