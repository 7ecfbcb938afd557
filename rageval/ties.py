"""Tie-aware ranking measures (McSherry & Najork, ECIR 2008).

trec_eval orders tied scores by doc id, so a reported value can depend on how ids are spelled. For a
run and a ranking measure at cutoff k this gives, per query, the expected value over every ordering
of the tied documents (each tie group shuffled uniformly, groups independent), and the least and
greatest value any ordering gives. Closed forms, on the expected relevance (and gain) of each rank:

- P@k, Recall@k, nDCG@k: sums over ranks of expected relevance / gain (linearity);
- MAP@k: adds E[rel_i rel_j], which inside a group of n documents with r relevant is r(r-1)/(n(n-1));
- MRR@k: the first relevant document lies in the first group that has one, at its j-th place with
  probability C(n-1-j, r-1) / C(n, r);
- Sufficiency@k: only the group that crosses the cut is uncertain: all its r relevant documents fall
  in its m places above the cut with probability C(m, r) / C(n, r);
- Rprec: P@R.

The least and greatest values are the measure itself on the run with each tie group sorted by grade
ascending / descending (every measure here is monotone in moving a better document up). A tie
"crosses the cut" when a group holds documents on both sides of rank k.
"""
from __future__ import annotations

from math import comb, log2
from typing import Sequence

import numpy as np

RANKING_LABELS = ("nDCG", "MAP", "Recall", "P", "MRR", "Sufficiency", "Rprec")


def tie_groups(scores: Sequence[float]) -> list[tuple[int, int]]:
    """[start, end) of each run of equal consecutive scores (the list is in rank order)."""
    if not len(scores):
        return []
    values = np.asarray(scores, dtype=np.float64)
    bounds = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    return list(zip(bounds[:-1], bounds[1:]))


def _unretrieved(docs: Sequence[tuple[str, float]], grades: dict[str, int]) -> list[str]:
    listed = {d for d, _ in docs}
    return [d for d, g in grades.items() if g > 0 and d not in listed]


def reordered(docs: Sequence[tuple[str, float]], grades: dict[str, int], best: bool, tail: int = 0,
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


def expected(label: str, k: int | None, docs: Sequence[tuple[str, float]], grades: dict[str, int],
             tail: int = 0) -> float:
    """The expected value over orderings of tied documents of measure ``label`` at cutoff ``k`` for
    one query's ranked list ``docs`` (trec_eval order) and its judgments ``grades``. ``tail``
    unretrieved documents (of a corpus larger than the list) tie below the last one."""
    relevant = [g for g in grades.values() if g > 0]
    n_rel = len(relevant)
    if label == "Rprec":
        label, k = "P", n_rel
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
    if label == "P":
        return float(p_rel.sum() / k) if k else 0.0
    if n_rel == 0:
        return 0.0
    if label == "Recall":
        return float(p_rel.sum() / n_rel)
    if label == "nDCG":
        discounts = 1.0 / np.log2(np.arange(2, depth + 2))
        ideal_gains = sorted((float(g) for g in relevant), reverse=True)[:k]
        ideal = sum(g / log2(i + 2) for i, g in enumerate(ideal_gains))
        return float((m_gain * discounts).sum() / ideal)
    if label == "MAP":
        return _expected_ap(p_rel, groups, counts, depth, n_rel)
    if label == "MRR":
        return _expected_rr(groups, counts, depth)
    if label == "Sufficiency":
        return _expected_sufficiency(groups, counts, depth, n_rel)
    raise ValueError(f"no tie-aware form for {label}")


def _expected_ap(p_rel: np.ndarray, groups: list[tuple[int, int]], counts: list[int], depth: int,
                 n_rel: int) -> float:
    """E[AP@k] = (1/R) sum_i (E[rel_i] + sum_{j<i} E[rel_i rel_j]) / (i + 1)."""
    before = np.concatenate([[0.0], np.cumsum(p_rel)[:-1]])  # sum_{j<i} E[rel_j]
    total = 0.0
    for (s, e), r in zip(groups, counts):
        if s >= depth:
            break
        n = e - s
        q = r / n
        pair = r * (r - 1) / (n * (n - 1)) if n > 1 else 0.0
        for i in range(s, min(e, depth)):
            inside = i - s  # earlier places of the same group
            total += (q + q * (before[i] - inside * q) + inside * pair) / (i + 1)
    return float(total / n_rel)


def _expected_rr(groups: list[tuple[int, int]], counts: list[int], depth: int) -> float:
    for (s, e), r in zip(groups, counts):
        if s >= depth:
            return 0.0
        if r:
            n = e - s
            return sum(comb(n - 1 - j, r - 1) / comb(n, r) / (s + j + 1) for j in range(min(n - r + 1, depth - s)))
    return 0.0


def _expected_sufficiency(groups: list[tuple[int, int]], counts: list[int], depth: int, n_rel: int) -> float:
    if sum(counts) < n_rel:
        return 0.0  # a relevant document that is not among the ranked (or tied unretrieved) documents
    probability = 1.0
    for (s, e), r in zip(groups, counts):
        if r == 0 or e <= depth:
            continue
        if s >= depth:
            return 0.0
        probability *= comb(depth - s, r) / comb(e - s, r)
    return probability
