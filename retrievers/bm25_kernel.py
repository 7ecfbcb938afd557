"""The compiled BM25 search loop (numba): a query batch's scores and their top k.

For each query a first pass over the postings of its terms adds ``query weight x term weight``
into a dense accumulator, in the order scipy's sparse product ``Q @ W`` adds them (query terms in
the CSR order of ``Q``, postings in index order), so every score is bit-identical to that product.
A second pass over the same postings takes each document's sum once (and resets it): those not
zero (the entries the product keeps) are offered to a k-sized heap ordered by score, ties by
``tie_rank`` (trec_eval's rule, as ``rageval.retrieval.topk``). Compiled once per machine (``cache=True``, in
``__pycache__`` beside this file, as ``rageval.retrievers.bm25_kernel``) and run without the GIL.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always")
def _better(s1: float, r1: int, s2: float, r2: int) -> bool:
    return s1 > s2 or (s1 == s2 and r1 > r2)


@numba.njit(inline="always")
def _sift_down(heap_s, heap_d, heap_r, size, pos):
    """Restore the min-heap (worst entry at the root) below ``pos``."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and _better(heap_s[child], heap_r[child], heap_s[child + 1], heap_r[child + 1]):
            child += 1
        if not _better(heap_s[pos], heap_r[pos], heap_s[child], heap_r[child]):
            return
        heap_s[pos], heap_s[child] = heap_s[child], heap_s[pos]
        heap_d[pos], heap_d[child] = heap_d[child], heap_d[pos]
        heap_r[pos], heap_r[child] = heap_r[child], heap_r[pos]
        pos = child


@numba.njit(nogil=True, cache=True)
def score_top_k(q_indptr, q_terms, q_weights, w_indptr, w_docs, w_weights, n_docs, k, tie_rank):
    """Top ``k`` (positions ``[n_queries, k]``, −1 padded; scores, 0 padded) of ``Q @ W`` for a
    CSR query matrix ``Q`` (queries x terms) and the CSR index ``W`` (terms x documents)."""
    n_queries = len(q_indptr) - 1
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float64)
    acc = np.zeros(n_docs, dtype=np.float64)
    heap_s = np.empty(k, dtype=np.float64)
    heap_d = np.empty(k, dtype=np.int64)
    heap_r = np.empty(k, dtype=np.int64)
    for q in range(n_queries):
        for jj in range(q_indptr[q], q_indptr[q + 1]):
            term = q_terms[jj]
            v = np.float64(q_weights[jj])
            for kk in range(w_indptr[term], w_indptr[term + 1]):
                d = w_docs[kk]
                acc[d] += v * np.float64(w_weights[kk])
        size = 0
        for jj in range(q_indptr[q], q_indptr[q + 1]):  # again over the postings: each match's sum, once
            term = q_terms[jj]
            for kk in range(w_indptr[term], w_indptr[term + 1]):
                d = w_docs[kk]
                s = acc[d]
                if s == 0.0:  # a zero sum (not a match), or a document taken under an earlier term
                    continue
                acc[d] = 0.0
                if size == k and s < heap_s[0]:  # below the k-th best
                    continue
                r = tie_rank[d]
                if size < k:  # push, then sift the new entry up
                    pos = size
                    size += 1
                    while pos > 0:
                        parent = (pos - 1) // 2
                        if not _better(heap_s[parent], heap_r[parent], s, r):
                            break
                        heap_s[pos], heap_d[pos], heap_r[pos] = heap_s[parent], heap_d[parent], heap_r[parent]
                        pos = parent
                    heap_s[pos], heap_d[pos], heap_r[pos] = s, d, r
                elif _better(s, r, heap_s[0], heap_r[0]):
                    heap_s[0], heap_d[0], heap_r[0] = s, d, r
                    _sift_down(heap_s, heap_d, heap_r, size, 0)
        while size > 0:  # pop the worst into the last free place: best first
            size -= 1
            indices[q, size], scores[q, size] = heap_d[0], heap_s[0]
            heap_s[0], heap_d[0], heap_r[0] = heap_s[size], heap_d[size], heap_r[size]
            _sift_down(heap_s, heap_d, heap_r, size, 0)
    return indices, scores
