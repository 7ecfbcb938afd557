"""Where a model's reference is in the window of the document it read, as the document's own offsets.

Only the window is searched (the published pipeline searched the whole document and took the first
occurrence anywhere, so a sentence repeated elsewhere landed on the wrong place). Stages, the first
that succeeds wins, each taking the first occurrence in the window that begins and ends on whole
characters (never between a letter and a combining mark after it):

- ``exact``: the reference stripped of surrounding whitespace;
- ``whitespace``: the same non-space characters with whitespace differences: first any run of
  whitespace (``str.isspace``, the same set as ``\\s``) equal to any other, then, as a second try,
  whitespace present on one side and absent on the other ("data set" / "dataset"); the span runs
  from the first to the last non-space character matched. Both are plain substring searches over
  the window's words joined by one space or by nothing, mapped back to offsets: no regex, so no
  backtracking, linear in the window's length;
- ``unicode``: the same, both sides compared in Unicode NFKC with format characters (category Cf:
  zero-width spaces and joiners, soft hyphens, byte order marks) left out and typographic quotes
  and dashes as their ASCII forms, as a model copies what it reads: "café" with a combining accent
  (NFD, as some tools write it) is "café" (NFC), the ligature "ﬁ" is "fi", "ket<zero-width
  space>tle" is "kettle", "it’s “so” – yes" is "it's "so" - yes". Each character with the
  combining marks after it is normalized as one, and a match must begin and end on such whole
  characters ("cafe" never matches inside "café"); compositions across characters that are not
  combining marks (Hangul jamo, some Indic vowel signs) are not made;
- ``fuzzy`` (only when a threshold is given): ``rapidfuzz``'s ``partial_ratio_alignment`` finds the
  window substring most like the reference (its first copy in the window), trimmed of whitespace
  and widened to the whole words it touches where that passes too; it is kept when the whole
  reference against that whole substring (``fuzz.ratio``, 0-100) scores at least the threshold.
  Both sides are compared as the published chunking evaluation compares them (lower case, every
  character that is not a letter, digit or ``_`` read as a space), whitespace runs collapsed.
  Unlike it, candidates are any substring of the window, not the document's sentences, and word
  order counts (it scores with ``token_sort_ratio``, which sorts the words first).

The stored text is always ``document[start:end]``: the document's characters, never the model's.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Iterable

_WORD = re.compile(r"\S+")
_NOT_WORD = re.compile(r"\W")


@dataclass(frozen=True)
class Located:
    """A reference's place: offsets into the whole document, and the stage that found it."""

    start: int
    end: int
    how: str        # "exact" | "whitespace" | "unicode" | "fuzzy"


def locate(reference: str, document: str, start: int, end: int, fuzzy: float | None = None) -> Located | None:
    """The first place of ``reference`` inside the window ``document[start:end]`` (exact, then
    ignoring whitespace differences, then Unicode normalization too, then fuzzy when ``fuzzy`` is a
    0-100 score), or None."""
    if not 0 <= start <= end <= len(document):
        raise ValueError(f"window [{start}, {end}) is not inside a document of {len(document)} characters")
    if fuzzy is not None and not 0 <= fuzzy <= 100:
        raise ValueError(f"fuzzy must be a score from 0 to 100, got {fuzzy}")
    target = reference.strip()
    if not target:
        return None
    window = document[start:end]
    whole = _on_characters(window)
    at = window.find(target)
    while at != -1 and not whole(at, at + len(target)):
        at = window.find(target, at + 1)
    if at != -1:
        return Located(start + at, start + at + len(target), "exact")
    words = _Words(window)
    needle = target.split()
    for separator in (" ", ""):
        found = words.find(separator.join(needle), separator, whole)
        if found is not None:
            return Located(start + found[0], start + found[1], "whitespace")
    found = _unicode(target, window)
    if found is not None:
        return Located(start + found[0], start + found[1], "unicode")
    if fuzzy is None:
        return None
    found = _fuzzy(" ".join(needle), words, fuzzy)
    return None if found is None else Located(start + found[0], start + found[1], "fuzzy")


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted by start, overlapping ones merged into one; spans that only touch stay apart."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if first >= last:
            raise ValueError(f"empty span ({first}, {last})")
        if merged and first < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


class _Words:
    """A window's non-space runs, joinable by a separator, with offsets mapped back to the window."""

    def __init__(self, window: str):
        self.bounds = [found.span() for found in _WORD.finditer(window)]
        self.texts = [window[first:last] for first, last in self.bounds]
        self._joined: dict[str, tuple[str, list[int]]] = {}

    def joined(self, separator: str) -> tuple[str, list[int]]:
        """The words joined by ``separator``, and where each word starts in that text."""
        if separator not in self._joined:
            starts, at = [], 0
            for text in self.texts:
                starts.append(at)
                at += len(text) + len(separator)
            self._joined[separator] = (separator.join(self.texts), starts)
        return self._joined[separator]

    def to_window(self, at: int, separator: str) -> int:
        """The window offset of a character of the joined text that is not a separator."""
        starts = self.joined(separator)[1]
        word = bisect_right(starts, at) - 1
        return self.bounds[word][0] + at - starts[word]

    def span(self, first: int, last: int, separator: str) -> tuple[int, int]:
        """The window span of joined-text characters [first, last), both ends non-separators."""
        return self.to_window(first, separator), self.to_window(last - 1, separator) + 1

    def find(self, needle: str, separator: str,
             accept: Callable[[int, int], bool] | None = None) -> tuple[int, int] | None:
        """The window span of the first occurrence of ``needle`` (no edge whitespace) in the joined text
        (the first whose span ``accept`` takes, when given)."""
        joined = self.joined(separator)[0]
        at = joined.find(needle)
        while at != -1:
            span = self.span(at, at + len(needle), separator)
            if accept is None or accept(*span):
                return span
            at = joined.find(needle, at + 1)
        return None


def _on_characters(text: str) -> Callable[[int, int], bool]:
    """Whether a span [first, last) of ``text`` begins and ends on whole characters: no combining
    mark at its start, none right after its end (it would belong to the span's last letter)."""
    def whole(first: int, last: int) -> bool:
        return not (first < len(text) and unicodedata.combining(text[first])) and \
            not (last < len(text) and unicodedata.combining(text[last]))
    return whole


# typographic quotes, primes and dashes (after NFKC) as the ASCII a model often writes for them
_TYPOGRAPHIC = str.maketrans("\u2018\u2019\u201a\u201b\u2032\u201c\u201d\u201e\u201f\u2033"
                             "\u2010\u2012\u2013\u2014\u2015\u2212", "'''''\"\"\"\"\"------")


def _normal(text: str) -> str:
    """``text`` in NFKC, format characters (category Cf) left out, typographic quotes and dashes in ASCII."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)
                   if unicodedata.category(c) != "Cf")


def _plain(text: str) -> bool:
    """Whether ``_normal`` leaves ``text`` as it is."""
    return unicodedata.is_normalized("NFKC", text) and text.translate(_TYPOGRAPHIC) == text and \
        not any(unicodedata.category(c) == "Cf" for c in text)


class _Normalized:
    """A window in ``_normal`` form, each of its characters mapped to the window's span of the
    character (with the combining marks after it) it came from."""

    def __init__(self, window: str):
        parts: list[str] = []
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        first = 0
        for at in range(1, len(window) + 1):
            if at < len(window) and unicodedata.combining(window[at]):
                continue
            part = _normal(window[first:at])
            parts.append(part)
            self.firsts += [first] * len(part)
            self.lasts += [at] * len(part)
            first = at
        self.text = "".join(parts)

    def whole(self, first: int, last: int) -> bool:
        """Whether the characters [first, last) of the text begin and end on whole window characters."""
        return (first == 0 or self.firsts[first - 1] != self.firsts[first]) and \
            (last == len(self.text) or self.firsts[last] != self.firsts[last - 1])

    def window_span(self, first: int, last: int) -> tuple[int, int]:
        return self.firsts[first], self.lasts[last - 1]


def _unicode(target: str, window: str) -> tuple[int, int] | None:
    """The window span of ``target`` compared in ``_normal`` form, whitespace differences ignored."""
    if _plain(target) and _plain(window):
        return None  # the same texts as the whitespace stage compared
    needle = _normal(target).split()
    if not needle:
        return None
    normalized = _Normalized(window)
    words = _Words(normalized.text)
    for separator in (" ", ""):
        found = words.find(separator.join(needle), separator, normalized.whole)
        if found is not None:
            return normalized.window_span(*found)
    return None


def _fold(text: str) -> str:
    """Lower case, non-word characters as spaces, one character for one (offsets are kept)."""
    text = _NOT_WORD.sub(" ", text)
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def _fuzzy(needle: str, words: _Words, threshold: float) -> tuple[int, int] | None:
    from rapidfuzz import fuzz

    joined = words.joined(" ")[0]
    folded, wanted = _fold(joined), _fold(needle)
    aligned = fuzz.partial_ratio_alignment(wanted, folded, score_cutoff=threshold)
    if aligned is None:
        return None
    first, last = aligned.dest_start, aligned.dest_end
    earlier = folded.find(folded[first:last])     # the same text earlier in the window: the first
    first, last = _trimmed(joined, earlier, earlier + last - first)
    if first == last:
        return None
    # the alignment is as long as the reference and may cut words: the whole words it touches are
    # taken instead when they pass too
    whole_first = joined.rfind(" ", 0, first) + 1
    whole_last = joined.find(" ", last)
    whole_last = len(joined) if whole_last == -1 else whole_last
    for first, last in ((whole_first, whole_last), (first, last)):
        if fuzz.ratio(wanted, folded[first:last]) >= threshold:
            return words.span(first, last, " ")
    return None


def _trimmed(joined: str, first: int, last: int) -> tuple[int, int]:
    while first < last and joined[first] == " ":
        first += 1
    while last > first and joined[last - 1] == " ":
        last -= 1
    return first, last
