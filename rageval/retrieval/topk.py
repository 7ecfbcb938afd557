"""Top-k selection shared by every retriever: score descending, ties by doc id descending.

``tie_rank`` is ``Corpus.id_ranks()``: the rank of each document's id in string order, so the
order of results is the one trec_eval and pytrec_eval use, and a cut at k keeps the same documents.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np


def top_k(candidates: np.ndarray, scores: np.ndarray, k: int, tie_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of ``candidates`` (corpus positions) by ``scores``, in rank order."""
    if len(candidates) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth  # every tie at the boundary stays, the sort below decides
        candidates, scores = candidates[keep], scores[keep]
    order = np.lexsort((-tie_rank[candidates], -scores))[:k]
    return candidates[order], scores[order]


def top_k_rows(rows: Iterable[tuple[np.ndarray, np.ndarray]], n_rows: int, k: int,
               tie_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` of each row's (candidates, scores), as ``[n_rows, k]`` positions (−1 pads a row
    with fewer than k candidates) and scores (0 there)."""
    indices = np.full((n_rows, k), -1)  # numpy's default int (int64) and float (float64)
    scores = np.zeros((n_rows, k))
    for row, (candidates, values) in enumerate(rows):
        if len(candidates):
            pos, val = top_k(np.asarray(candidates), np.asarray(values), k, tie_rank)
            indices[row, :len(pos)], scores[row, :len(pos)] = pos, val
    return indices, scores


def top_k_sparse(indptr: np.ndarray, candidates: np.ndarray, values: np.ndarray, k: int,
                 tie_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` of every row of a CSR matrix (``indptr``, column ``candidates``, ``values``): the
    same ``[n_rows, k]`` result as ``top_k_rows``, with one partition per long row and one sort for
    the whole matrix. A row with more than k entries is cut at its k-th largest value; what is left
    (k entries and the ties at the cut) is sorted in one pass by row, score, doc id."""
    n_rows = len(indptr) - 1
    counts = np.diff(indptr)
    long_rows = np.flatnonzero(counts > k)
    if len(long_rows):
        threshold = np.full(n_rows, -np.inf)
        bounds = indptr.tolist()
        for row in long_rows.tolist():
            lo, hi = bounds[row], bounds[row + 1]
            threshold[row] = np.partition(values[lo:hi], hi - lo - k)[hi - lo - k]
        keep = values >= np.repeat(threshold, counts)  # every tie at the cut stays, the sort decides
        row_of, candidates, values = np.repeat(np.arange(n_rows), counts)[keep], candidates[keep], values[keep]
    else:
        row_of = np.repeat(np.arange(n_rows), counts)
    order = np.lexsort((-tie_rank[candidates], -values, row_of))
    row_of, candidates, values = row_of[order], candidates[order], values[order]
    rank = np.arange(len(row_of)) - np.searchsorted(row_of, row_of)
    taken = rank < k
    indices = np.full((n_rows, k), -1)
    scores = np.zeros((n_rows, k))
    indices[row_of[taken], rank[taken]] = candidates[taken]
    scores[row_of[taken], rank[taken]] = values[taken]
    return indices, scores


def top_k_dense(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense ``[n_queries, n_docs]`` score matrix; returns ``[n_queries, k]``
    positions (−1 where a row has fewer than k documents) and their scores."""
    n_queries, n_docs = scores.shape
    width = min(k, n_docs)
    if width < n_docs:
        part = np.argpartition(-scores, width - 1, axis=1)[:, :width]
    else:
        part = np.broadcast_to(np.arange(n_docs), (n_queries, n_docs)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((-tie_rank[part], -part_scores), axis=1)
    indices = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(part_scores, order, axis=1)
    if width < n_docs:
        # Rows with ties at the cut: argpartition picked arbitrary members of the tie; redo exactly.
        kth = top[:, -1:]
        ties_total = (scores == kth).sum(axis=1)
        ties_taken = (top == kth).sum(axis=1)
        for row in np.flatnonzero(ties_total > ties_taken):
            indices[row], top[row] = top_k(np.arange(n_docs), scores[row], width, tie_rank)
    if width < k:
        pad = k - width
        indices = np.pad(indices, ((0, 0), (0, pad)), constant_values=-1)
        top = np.pad(top, ((0, 0), (0, pad)), constant_values=0)
    return indices, top
