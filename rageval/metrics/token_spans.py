"""Token-level span measures for chunked retrieval (README: "Chunked retrieval and span measures").

Retrieved chunk ranges and reference spans are mapped to token positions with a declared unit
(``rageval.text.units``), merged per document (a token is counted once, however many ranges cover
it), and compared with interval arithmetic on sorted arrays: no per-token sets. With R the
retrieved tokens and E the reference tokens: recall = |R∩E|/|E|, precision = |R∩E|/|R|,
IoU = |R∩E|/|R∪E|. The published chunking evaluation's own rules are in ``rageval.metrics.chunking_eval``.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from operator import itemgetter
from typing import Callable, Sequence

import numpy as np

from rageval.data.model import Span
from rageval.text.units import Unit


def _order(group: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, start): one argsort of a combined key when it fits in 63 bits."""
    span = int(start.max()) + 1 if len(start) else 1
    if len(group) and int(group.max()) < (1 << 62) // span:
        return np.argsort(group.astype(np.int64) * span + start)
    return np.lexsort((start, group))


def _merged(group: np.ndarray, start: np.ndarray, end: np.ndarray, owner: np.ndarray, n_owners: int) -> np.ndarray:
    """Per owner, the length of the union of intervals, given intervals sorted by (group, start)."""
    if len(group) == 0:
        return np.zeros(n_owners, dtype=np.int64)
    offset = group.astype(np.int64) * (int(end.max()) + 1)
    run_max = np.maximum.accumulate(end + offset) - offset  # furthest end so far, within the group
    new = np.ones(len(group), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (start[1:] > run_max[:-1])
    firsts = np.flatnonzero(new)
    lengths = np.maximum.reduceat(end, firsts) - start[firsts]
    return np.bincount(owner[firsts], weights=lengths, minlength=n_owners).astype(np.int64)


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 0 where whole is 0 (nothing retrieved, or no reference)."""
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)


def covered(group: np.ndarray, start: np.ndarray, end: np.ndarray, n_groups: int) -> np.ndarray:
    """Length of the union of the intervals [start, end) of each group."""
    order = _order(group, start)
    g = group[order]
    return _merged(g, start[order], end[order], g, n_groups)


def _sorted_search(haystack: np.ndarray, needles: np.ndarray, side: str) -> np.ndarray:
    """np.searchsorted with the needles sorted first: far fewer cache misses on long arrays."""
    order = np.argsort(needles)
    out = np.empty_like(order)
    out[order] = np.searchsorted(haystack, needles[order], side=side)
    return out


class SpanScorer:
    """Scores retrieved ranges against reference spans for many queries at once."""

    def __init__(self, text_of: Callable[[str], str], unit: str = "regex"):
        self.text_of = text_of
        self.unit = Unit(unit)
        self._offsets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._codes: defaultdict[str, int] = defaultdict()
        self._codes.default_factory = self._codes.__len__  # a new document gets the next code
        self._laid_out = 0  # documents whose token offsets are in the arrays laid end to end

    def _to_units(self, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Character ranges to token index ranges: tokens overlapping [start, end), by one binary
        search over the token offsets of all documents laid end to end."""
        if self.unit.name == "chars":
            return starts, ends
        docs = list(self._codes)
        if len(docs) != self._laid_out:
            for doc in docs[self._laid_out:]:
                if doc not in self._offsets:
                    self._offsets[doc] = self.unit.offsets(self.text_of(doc))
            self._length = np.array([len(self.text_of(d)) for d in docs])
            counts = [len(self._offsets[d][0]) for d in docs]
            self._char_base = np.concatenate([[0], np.cumsum(self._length + 1)[:-1]])
            self._tok_base = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)[:-1]])
            self._all_starts = np.concatenate([self._offsets[d][0] + b for d, b in zip(docs, self._char_base)])
            self._all_ends = np.concatenate([self._offsets[d][1] + b for d, b in zip(docs, self._char_base)])
            self._laid_out = len(docs)
        shift, first_token, length = self._char_base[codes], self._tok_base[codes], self._length[codes]
        out_s = _sorted_search(self._all_ends, np.minimum(starts, length) + shift, "right") - first_token
        out_e = _sorted_search(self._all_starts, np.minimum(ends, length) + shift, "left") - first_token
        return out_s, np.maximum(out_e, out_s)

    def _flatten(self, per_query: Sequence[Sequence[Span]]) -> tuple[np.ndarray, ...]:
        """(query index, document code, start, end) arrays, in characters."""
        q = np.repeat(np.arange(len(per_query)), [len(r) for r in per_query])
        if not len(q):
            return q, q, q, q
        flat = list(itertools.chain.from_iterable(per_query))
        codes = np.fromiter(map(self._codes.__getitem__, map(itemgetter(0), flat)), dtype=np.int64, count=len(q))
        s = np.fromiter(map(itemgetter(1), flat), dtype=np.int64, count=len(q))
        e = np.fromiter(map(itemgetter(2), flat), dtype=np.int64, count=len(q))
        return q, codes, s, e

    def score(self, retrieved: Sequence[Sequence[Span]], references: Sequence[Sequence[Span]]) -> dict[str, np.ndarray]:
        """recall, precision and iou of every query (arrays in the order given)."""
        n = len(references)
        rq, rd, rs, re_ = self._flatten(retrieved)
        eq, ed, es, ee = self._flatten(references)
        rs, re_ = self._to_units(rd, rs, re_)
        es, ee = self._to_units(ed, es, ee)
        q = np.concatenate([rq, eq])
        group = q * max(len(self._codes), 1) + np.concatenate([rd, ed])
        starts, ends = np.concatenate([rs, es]), np.concatenate([re_, ee])
        retrieved_mask = np.arange(len(q)) < len(rq)
        order = _order(group, starts)  # one sort serves R, E and their union
        q, group, starts, ends, retrieved_mask = q[order], group[order], starts[order], ends[order], retrieved_mask[order]
        r_len = _merged(group[retrieved_mask], starts[retrieved_mask], ends[retrieved_mask], q[retrieved_mask], n)
        ref = ~retrieved_mask
        e_len = _merged(group[ref], starts[ref], ends[ref], q[ref], n)
        union = _merged(group, starts, ends, q, n)
        inter = r_len + e_len - union
        return {"recall": _ratio(inter, e_len), "precision": _ratio(inter, r_len), "iou": _ratio(inter, union)}


def full_recall_ranges(references: Sequence[Sequence[Span]],
                       chunks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[list[Span]]:
    """For each query, every chunk that overlaps one of its reference spans: the smallest
    retrieval with full recall under a chunking (``chunks``: parent -> starts (sorted), ends,
    and the running maximum of the ends)."""
    out = []
    for refs in references:
        found: dict[tuple[str, int], Span] = {}
        for doc, start, end in refs:
            if doc not in chunks:
                continue
            starts, ends, reach = chunks[doc]
            lo = np.searchsorted(reach, start, side="right")  # every chunk before lo ends at or before start
            hi = np.searchsorted(starts, end, side="left")
            for i in lo + np.flatnonzero(ends[lo:hi] > start):
                found[(doc, int(i))] = (doc, int(starts[i]), int(ends[i]))
        out.append(list(found.values()))
    return out
