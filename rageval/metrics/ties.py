"""Tie-aware ranking measures (McSherry & Najork, ECIR 2008).

trec_eval orders tied scores by doc id, so a reported value can depend on how ids are spelled. For a
run and a ranking measure at cutoff k this gives, per query, the expected value over every ordering
of the tied documents (each tie group shuffled uniformly, groups independent), and the least and
greatest value any ordering gives.

What is generic lives here: the tie structure of one query's list (``TiedList``), the lists with
ties sorted worst / best first, and the means over queries (``tie_aware``). What is particular to a
measure, its expectation, the measure carries (``Measure.expected_under_ties``); a measure that has
none gets no tie-aware range. The closed forms of the built-in measures, on the expected relevance
(and gain) of each rank:

- P@k, Recall@k, nDCG@k: sums over ranks of expected relevance / gain (linearity);
- MAP@k: adds E[rel_i rel_j], which inside a group of n documents with r relevant is r(r-1)/(n(n-1));
- MRR@k: the first relevant document lies in the first group that has one, at its j-th place with
  probability C(n-1-j, r-1) / C(n, r);
- Sufficiency@k: only the group that crosses the cut is uncertain: all its r relevant documents fall
  in its m places above the cut with probability C(m, r) / C(n, r);
- Rprec: P@R.

The least and greatest values are the measure itself on the run with each tie group sorted by grade
ascending / descending (a measure with an expectation promises that moving a better document up
never lowers it). A tie "crosses the cut" when a group holds documents on both sides of rank k.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import comb, log2
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from rageval.data.model import Qrels
from rageval.metrics import Judged, Measure

if TYPE_CHECKING:
    from rageval.progress import Step


@dataclass(frozen=True)
class TiedList:
    """One query's ranked list as a measure at cutoff ``k`` sees it through its ties: the tie
    ``groups`` ([start, end) places, the unretrieved tail last when it ties below the list), the
    number of relevant documents in each (``counts``), and per place above ``depth`` (k, at most the
    list's length) the expected relevance (0..1, ``relevance``) and expected gain (``gain``) over
    orderings. ``grades`` are the query's relevant (> 0) grades."""

    k: int | None
    depth: int
    groups: list[tuple[int, int]]
    counts: list[int]
    relevance: np.ndarray
    gain: np.ndarray
    grades: list[int]

    @property
    def n_relevant(self) -> int:
        return len(self.grades)


def tie_groups(scores: Sequence[float]) -> list[tuple[int, int]]:
    """[start, end) of each run of equal consecutive scores (the list is in rank order)."""
    if not len(scores):
        return []
    values = np.asarray(scores, dtype=np.float64)
    bounds = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    return list(zip(bounds[:-1], bounds[1:]))


def _unretrieved(docs: Sequence[tuple[str, float]], grades: Mapping[str, int]) -> list[str]:
    listed = {d for d, _ in docs}
    return [d for d, g in grades.items() if g > 0 and d not in listed]


def reordered(docs: Sequence[tuple[str, float]], grades: Mapping[str, int], best: bool, tail: int = 0,
              depth: int | None = None) -> list[tuple[str, float]]:
    """The list with each tie group sorted by grade (descending for the best case, ascending for the
    worst), scores replaced by strictly decreasing ones so every scorer keeps that order. ``tail``
    unretrieved documents tie below the list: the relevant ones among them come first (best) or
    last (worst); only the first ``depth`` places are listed (placeholders stand for unretrieved ones)."""
    out: list[str] = []
    for s, e in tie_groups([score for _, score in docs]):
        if depth is not None and s >= depth:
            break
        group = [d for d, _ in docs[s:e]]
        out += sorted(group, key=lambda d: grades.get(d, 0), reverse=best)
    if tail:
        missing = sorted(_unretrieved(docs, grades), key=lambda d: grades[d], reverse=best)
        n_others = max(0, tail - len(missing))
        others = [f"rageval:unretrieved:{i}" for i in range(n_others if depth is None else min(n_others, depth))]
        out += (missing + others) if best else (others + missing)
    out = out[:depth] if depth is not None else out
    return [(d, float(len(out) - i)) for i, d in enumerate(out)]


def tied_list(docs: Sequence[tuple[str, float]], grades: Mapping[str, int], k: int | None,
              tail: int = 0) -> TiedList:
    """The tie structure of one query's ranked list ``docs`` (trec_eval order) with judgments
    ``grades``, read to cutoff ``k`` (None: all of it). ``tail`` unretrieved documents (of a corpus
    larger than the list) tie below the last one."""
    relevant = [g for g in grades.values() if g > 0]
    total = len(docs) + tail
    depth = total if k is None else min(k, total)
    groups = tie_groups([score for _, score in docs]) + ([(len(docs), total)] if tail else [])
    missing = [grades[d] for d in _unretrieved(docs, grades)] if tail else []
    p_rel, m_gain, counts = np.zeros(depth), np.zeros(depth), []
    for s, e in groups:
        if s < len(docs):
            members = [grades.get(d, 0) for d, _ in docs[s:e]]
        else:
            members = missing  # the tail: its relevant documents; the rest are not relevant
        r = sum(1 for g in members if g > 0)
        counts.append(r)
        if s < depth:
            p_rel[s:min(e, depth)] = r / (e - s)
            m_gain[s:min(e, depth)] = sum(max(g, 0) for g in members) / (e - s)
    return TiedList(k, depth, groups, counts, p_rel, m_gain, relevant)


def expected_precision(t: TiedList) -> float:
    """E[P@k]: the expected relevance summed over the top k, over k."""
    return float(t.relevance.sum() / t.k) if t.k else 0.0


def expected_recall(t: TiedList) -> float:
    """E[Recall@k]: the expected relevance summed over the top k, over the number of relevant documents."""
    return float(t.relevance.sum() / t.n_relevant) if t.n_relevant else 0.0


def expected_ndcg(t: TiedList) -> float:
    """E[nDCG@k]: the expected gain discounted by rank, over the ideal list's DCG@k."""
    if not t.n_relevant:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, t.depth + 2))
    ideal_gains = sorted((float(g) for g in t.grades), reverse=True)[:t.k]
    ideal = sum(g / log2(i + 2) for i, g in enumerate(ideal_gains))
    return float((t.gain * discounts).sum() / ideal)


def expected_ap(t: TiedList) -> float:
    """E[AP@k] = (1/R) sum_i (E[rel_i] + sum_{j<i} E[rel_i rel_j]) / (i + 1)."""
    if not t.n_relevant:
        return 0.0
    before = np.concatenate([[0.0], np.cumsum(t.relevance)[:-1]])  # sum_{j<i} E[rel_j]
    total = 0.0
    for (s, e), r in zip(t.groups, t.counts):
        if s >= t.depth:
            break
        n = e - s
        q = r / n
        pair = r * (r - 1) / (n * (n - 1)) if n > 1 else 0.0
        for i in range(s, min(e, t.depth)):
            inside = i - s  # earlier places of the same group
            total += (q + q * (before[i] - inside * q) + inside * pair) / (i + 1)
    return float(total / t.n_relevant)


def expected_rr(t: TiedList) -> float:
    """E[RR@k]: the first group with a relevant document holds the first one, at its j-th place with
    probability C(n-1-j, r-1) / C(n, r)."""
    if not t.n_relevant:
        return 0.0
    for (s, e), r in zip(t.groups, t.counts):
        if s >= t.depth:
            return 0.0
        if r:
            n = e - s
            return sum(comb(n - 1 - j, r - 1) / comb(n, r) / (s + j + 1) for j in range(min(n - r + 1, t.depth - s)))
    return 0.0


def expected_sufficiency(t: TiedList) -> float:
    """E[Sufficiency@k]: the probability that every relevant document lies in the top k."""
    if not t.n_relevant or sum(t.counts) < t.n_relevant:
        return 0.0  # a relevant document that is not among the ranked (or tied unretrieved) documents
    probability = 1.0
    for (s, e), r in zip(t.groups, t.counts):
        if r == 0 or e <= t.depth:
            continue
        if s >= t.depth:
            return 0.0
        probability *= comb(t.depth - s, r) / comb(e - s, r)
    return probability


def tie_aware(judged: Judged, measures: Sequence[Measure], per_query: Mapping[str, Mapping[str, float]],
              n_documents: int | None, step: "Step | None" = None) -> dict[str, dict[str, float]]:
    """For each of ``measures`` (those with a tie-aware range, ``Measure.tie_aware``): how many queries
    have a tie crossing its cutoff, and the mean's expected value, least and greatest over orderings of tied
    documents. A list shorter than the cutoff, of a collection of ``n_documents``, leaves the
    unretrieved documents tied below it. Queries without a tie in their top k keep their value in
    all three. ``step`` counts the measures done."""
    first_tie = {}  # query -> the rank (from 0) where its first group of tied documents starts, if any
    for q, docs in judged.documents.items():
        first_tie[q] = next((s for s, e in tie_groups([score for _, score in docs]) if e - s > 1), None)
    out = {}
    for m in measures:
        values = per_query[m.name]
        tied, tails, crossing = {}, {}, 0
        for q, docs in judged.documents.items():
            k = m.depth(judged.qrels[q])
            depth = len(docs) if k is None else k
            tail = n_documents - len(docs) if n_documents is not None and len(docs) < depth else 0
            # the unretrieved documents form one more group, [len(docs), len(docs) + tail), when tail > 0
            if (first_tie[q] is not None and first_tie[q] < depth) or tail > 1:
                tied[q], tails[q] = docs, max(tail, 0)
            crossing += (0 < depth < len(docs) and docs[depth - 1][1] == docs[depth][1]) \
                or (tail > 0 and len(docs) < depth < len(docs) + tail)
        expected_values, low, high = dict(values), dict(values), dict(values)
        for q, docs in tied.items():
            grades = judged.qrels[q]
            expected_values[q] = m.expected_under_ties(tied_list(docs, grades, m.depth(grades), tails[q]))
        if tied:
            for best, target in ((False, low), (True, high)):
                lists = {q: reordered(docs, judged.qrels[q], best, tails[q],
                                      m.cutoff if m.cutoff is not None else len(docs) + tails[q])
                         for q, docs in tied.items()}
                view = Judged(Qrels({q: judged.qrels[q] for q in tied}), {}, lists, list(tied))
                target.update(type(m).compute(view, [m])[m])
        n = len(values) or 1
        if step is not None:
            step.update(1)
        out[m.name] = {"queries_with_tie_at_cut": crossing, "expected": float(sum(expected_values.values()) / n),
                       "min": float(sum(low.values()) / n), "max": float(sum(high.values()) / n)}
    return out
