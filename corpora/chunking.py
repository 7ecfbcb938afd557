"""Chunkers: ``fixed``, ``recursive``, ``sentence`` and ``ast``. Each turns a document into
character ranges that cover it whole, in order, so ``parent_text[start:end] == chunk.text`` and
no text is lost. Sizes are counted in a declared unit (``rageval.tokens``: regex, chars,
cl100k_base or hf:/path[+special]).
"""
from __future__ import annotations

import logging
import re

import numpy as np

from rageval.data import Document
from rageval.errors import SpecError
from rageval.plugins import Chunker
from rageval.tokens import Unit, byte_to_char
from rageval.treesitter import BY_EXTENSION, LANGUAGES, parser

log = logging.getLogger("rageval")
Span = tuple[int, int]


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


def _windows(bounds: list[int], length: int, per_chunk: int, step: int) -> list[Span]:
    """Ranges over consecutive units: unit i starts at bounds[i]; a chunk runs to the start of the
    unit after its last one (the first from 0, the last to the end), so the chunks cover the text."""
    n = len(bounds)
    if n == 0:
        return [(0, length)] if length else []
    spans = []
    for first in range(0, n, step):
        last = min(first + per_chunk, n)
        spans.append((0 if first == 0 else bounds[first], length if last == n else bounds[last]))
        if last == n:
            break
    return spans


class FixedChunker(Chunker):
    """Windows of ``size`` tokens with ``overlap`` tokens shared by neighbours."""

    def __init__(self, size: int = 200, overlap: int = 0, unit: str = "regex"):
        _check(size, overlap)
        self.unit = Unit(unit)
        self.size, self.overlap = size - self.unit.special, overlap
        _check(self.size, overlap, "size less the special tokens")

    def spans(self, doc: Document) -> list[Span]:
        starts = self.unit.offsets(doc.text)[0].tolist()
        return _windows(starts, len(doc.text), self.size, self.size - self.overlap)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)|\n\s*\n\s*(?=\S)")


class SentenceChunker(Chunker):
    """``n`` sentences per chunk, ``overlap`` sentences shared by neighbours."""

    def __init__(self, n: int = 5, overlap: int = 0):
        _check(n, overlap, "n")
        self.n, self.overlap = n, overlap

    def spans(self, doc: Document) -> list[Span]:
        text = doc.text
        first = len(text) - len(text.lstrip())
        starts = [first] + [m.end() for m in _SENTENCE_END.finditer(text, first)] if text.strip() else []
        return _windows(starts, len(text), self.n, self.n - self.overlap)


class RecursiveChunker(Chunker):
    """Split on a separator hierarchy (paragraphs, lines, sentences, words) until pieces fit
    ``size`` units, then merge neighbours up to ``size``; ``overlap`` units of the previous
    chunk are prepended to the next."""

    def __init__(self, size: int = 400, overlap: int = 0, unit: str = "chars",
                 separators: str = "\\n\\n|\\n|. | "):
        _check(size, overlap)
        self.size, self.overlap, self.unit = size, overlap, Unit(unit)
        self.separators = [s.encode().decode("unicode_escape") for s in separators.split("|") if s]

    def spans(self, doc: Document) -> list[Span]:
        return self.split(doc.text, 0, len(doc.text), _Measure(doc.text, self.unit))

    def split(self, text: str, start: int, end: int, measure: _Measure) -> list[Span]:
        """Ranges covering text[start:end], each within the size wherever a separator allows."""
        pieces = self._pieces(text, start, end, 0, measure)
        merged = _merge(pieces, self.size, measure)
        if self.overlap and len(merged) > 1:
            merged = [merged[0]] + [(_back(s, self.overlap, measure, prev_s), e)
                                    for (prev_s, _), (s, e) in zip(merged, merged[1:])]
        return merged

    def _pieces(self, text: str, start: int, end: int, level: int, measure: _Measure) -> list[Span]:
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
        out: list[Span] = []
        for a, b in zip(cuts, cuts[1:] + [end]):
            out += self._pieces(text, a, b, level + 1, measure) if measure(a, b) > self.size else [(a, b)]
        return out


def _merge(pieces: list[Span], size: int, measure: _Measure) -> list[Span]:
    """Join consecutive ranges while the joined range fits ``size``."""
    out: list[Span] = []
    for start, end in pieces:
        if out and measure(out[-1][0], end) <= size:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _back(start: int, overlap: int, measure: _Measure, floor: int) -> int:
    """Move ``start`` back by ``overlap`` units, not before ``floor``."""
    if measure.chars:
        return max(floor, start - overlap)
    before = measure.starts[(measure.starts < start) & (measure.starts >= floor)]
    return int(before[-overlap]) if len(before) >= overlap else floor


class AstChunker(Chunker):
    """tree-sitter code chunking: syntax nodes (functions, classes, statements) as units, small
    neighbours merged up to ``size``, larger ones split at their children's boundaries. A unit
    that fits is never cut. Documents in no supported language fall back to ``recursive``."""

    def __init__(self, size: int = 1500, unit: str = "chars", language: str = "auto"):
        _check(size, 0)
        if language != "auto" and language not in LANGUAGES:
            raise SpecError(f"chunker ast: unknown language {language!r}; known: auto, {', '.join(LANGUAGES)}")
        self.size, self.unit, self.language = size, Unit(unit), language
        self.fallback = RecursiveChunker(size, 0, unit)
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

    def spans(self, doc: Document) -> list[Span]:
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

    def _units(self, node, start: int, end: int, to_char: np.ndarray, text: str, measure: _Measure) -> list[Span]:
        """Units covering text[start:end] from ``node``'s children: the gaps between children are
        units of their own, and a child is split into its own children only when it exceeds the size."""
        out: list[Span] = []
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

    def _text(self, text: str, start: int, end: int, measure: _Measure) -> list[Span]:
        return [(start, end)] if measure(start, end) <= self.size else self.fallback.split(text, start, end, measure)
