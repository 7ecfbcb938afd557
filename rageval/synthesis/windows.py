"""Which text each request shows the model: a seeded sequence of windows over the corpus.

As the published pipeline does (Chroma's ``SyntheticEvaluation``): a document drawn uniformly at
random, then a window of ``size`` characters at a uniformly random start, or the whole document when
it is shorter. The i-th window drawn depends only on the seed, the corpus and ``size``.
``FreshWindows`` skips a draw whose prompt was already sent (the same window of a document that has
kept no question since): its answer would be the cached one again, no new request. Which draws are
skipped depends only on which answers were kept, so a rerun or a resumed run (its answers cached)
sends the same windows in the same order.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence


@dataclass(frozen=True)
class Window:
    """Characters ``start:end`` of the corpus document at position ``doc``."""

    doc: int
    start: int
    end: int


def windows(texts: Sequence[str], size: int, seed: int) -> Iterator[Window]:
    """The seeded, endless sequence of windows; documents with no non-space character are never drawn
    (the caller checks that some document has text)."""
    usable = [i for i, text in enumerate(texts) if text.strip()]
    rng = random.Random(seed)
    while True:
        doc = usable[rng.randrange(len(usable))]
        length = len(texts[doc])
        start = rng.randrange(length - size + 1) if length > size else 0
        yield Window(doc, start, min(start + size, length))


class FreshWindows:
    """The seeded windows, less those already asked since their document last gave a kept question."""

    def __init__(self, texts: Sequence[str], size: int, seed: int):
        self._drawn = windows(texts, size, seed)
        self._starts = {i: max(1, len(text) - size + 1) for i, text in enumerate(texts) if text.strip()}
        self._asked: dict[int, set[int]] = {}
        self._exhausted = 0  # documents whose every window is asked

    def next(self) -> Window | None:
        """The next window not asked since its document's last kept question; None when there is none."""
        while self._exhausted < len(self._starts):
            w = next(self._drawn)
            asked = self._asked.setdefault(w.doc, set())
            if w.start in asked:
                continue
            asked.add(w.start)
            self._exhausted += len(asked) == self._starts[w.doc]
            return w
        return None

    def renew(self, doc: int) -> None:
        """A question of document ``doc`` was kept: its prompts list it now, so each window is new again."""
        self._exhausted -= len(self._asked.get(doc, ())) == self._starts[doc]
        self._asked[doc] = set()
