"""Rank-safe dynamic pruning of the BM25 search (numba): block-max MaxScore, document at a time.

MaxScore (Turtle & Flood 1995) sorts a query's terms by their score upper bound; once the heap
holds k documents, the terms whose bounds add up to less than the k-th score are *non-essential*:
a document that has only them cannot enter, so candidates come from the other (*essential*) terms
alone, and a non-essential term is looked up only for a candidate that can still enter. Block-max
bounds (Ding & Suel 2011; block-max MaxScore as Mallia et al. 2019 evaluate it) refine this: every
block of 128 postings carries its largest and smallest weight, so a run of documents whose
essential blocks cannot reach the k-th score together is skipped without decoding, and a candidate
is dropped before its non-essential terms' blocks are decoded. A cursor that steps through a block
decodes its documents once into a buffer (``held``); a seek bisects the block in place.

Exactness. A term's bound is ``max(0, v x largest weight, v x smallest weight)`` for query weight
``v`` (0: a document may lack the term; both ends: ``v`` may be negative): rounding is monotone, so
it bounds every product the score adds. Bounds are summed in another order than scores, so a
document is dropped only when its bound plus ``slack`` (8 (m + 1) ulp(1) x the sum of the terms'
largest |products|, more than the rounding of any two sums of the m products can differ by) is
below the k-th score: strictly below, since a tie on the score enters by the tie rule. A candidate
that survives is scored exactly as ``rageval.retrievers.bm25_kernel.score_top_k`` scores it (its
products summed in term-id order from 0.0; a sum of 0.0 is not a match) and offered to the same
heap, so the result is that reference's, positions and scores bit for bit.
"""
from __future__ import annotations

import numba
import numpy as np

from rageval.retrievers.bm25_kernel import (BLOCK, FIRST, LARGEST, LAST, SMALLEST, _better, block_docs, block_length,
                                            doc_at, drain, exhaustive, offer, scratch, tf_at, weight)

ULP = 2.0 ** -52
PREFILL = 16  # postings of the highest-bound terms scored first (at least 2 k), to start with a k-th score
# a query term's cursor: rows of the int64 array ``cs``, a column per term; HELD: the block whose documents
# the term's row of ``held`` holds (-1: none)
TERM, BLK, END, LEN, POS, CUR, HELD = 0, 1, 2, 3, 4, 5, 6


@numba.njit(inline="always")
def _bound(v, bounds, i):
    """Bound of ``v`` x a weight of block or term ``i``, or 0 (a document may lack the term)."""
    return max(0.0, v * bounds[LARGEST, i], v * bounds[SMALLEST, i])


@numba.njit(inline="always")
def _start(term_blocks, df, blocks, cs, j, n_docs):
    """Put term ``j``'s cursor on its first posting."""
    t = cs[TERM, j]
    b, end = term_blocks[t], term_blocks[t + 1]
    cs[BLK, j], cs[END, j], cs[POS, j] = b, end, 0
    if b < end:
        cs[LEN, j], cs[CUR, j] = block_length(term_blocks, df, t, b), blocks[FIRST, b]
    else:  # a term without postings
        cs[LEN, j], cs[CUR, j] = 0, n_docs


@numba.njit(inline="always")
def _hold(blocks, data, cs, j, held):
    """Decode the documents of term ``j``'s block into its row of ``held``, unless they are there."""
    if cs[HELD, j] != cs[BLK, j]:
        block_docs(blocks, data, cs[BLK, j], cs[LEN, j], held[j])
        cs[HELD, j] = cs[BLK, j]


@numba.njit(inline="always")
def _shallow(term_blocks, df, blocks, cs, j, target, n_docs):
    """Move term ``j``'s cursor to the first posting of the first block that can hold ``target`` or a
    later document, if that is a later block (without decoding it); False when there is none."""
    b, end = cs[BLK, j], cs[END, j]
    if b < end and blocks[LAST, b] < target:  # gallop, then bisect: the block is in (lo, hi]
        lo, step = b, 1
        hi = min(lo + step, end)
        while hi < end and blocks[LAST, hi] < target:
            lo, step = hi, step * 2
            hi = min(lo + step, end)
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if blocks[LAST, mid] < target:
                lo = mid
            else:
                hi = mid
        b = hi
        cs[BLK, j], cs[POS, j] = b, 0
        if b < end:
            cs[LEN, j], cs[CUR, j] = block_length(term_blocks, df, cs[TERM, j], b), blocks[FIRST, b]
        else:
            cs[CUR, j] = n_docs
    return b < end


@numba.njit(inline="always")
def _seek(term_blocks, df, blocks, data, cs, j, target, n_docs, held):
    """Move term ``j``'s cursor to its first posting at or after ``target`` (``n_docs`` when none)."""
    if cs[CUR, j] >= target or not _shallow(term_blocks, df, blocks, cs, j, target, n_docs):
        return
    b, lo, hi = cs[BLK, j], cs[POS, j], cs[LEN, j] - 1  # the block's last document is >= target
    while lo < hi:
        mid = (lo + hi) >> 1
        if doc_at(blocks, data, b, mid) < target:
            lo = mid + 1
        else:
            hi = mid
    cs[POS, j], cs[CUR, j] = lo, doc_at(blocks, data, b, lo)


@numba.njit(inline="always")
def _next(term_blocks, df, blocks, data, cs, j, n_docs, held):
    """Move term ``j``'s cursor to its next posting."""
    p = cs[POS, j] + 1
    if p < cs[LEN, j]:
        _hold(blocks, data, cs, j, held)
        cs[POS, j], cs[CUR, j] = p, held[j, p]
        return
    b = cs[BLK, j] + 1
    cs[BLK, j], cs[POS, j] = b, 0
    if b < cs[END, j]:
        cs[LEN, j], cs[CUR, j] = block_length(term_blocks, df, cs[TERM, j], b), blocks[FIRST, b]
    else:
        cs[CUR, j] = n_docs


@numba.njit(inline="always")
def _product(blocks, data, cs, j, v, doc_k, doc_class, idf, k1p1, single):
    """Query weight x the weight of the posting under term ``j``'s cursor."""
    b, d = cs[BLK, j], cs[CUR, j]
    tf = tf_at(blocks, data, b, cs[LEN, j], cs[POS, j])
    return v[j] * weight(tf, doc_k[doc_class[d]], idf[cs[TERM, j]], k1p1, single)


@numba.njit(inline="always")
def _offer_once(heap_s, heap_d, size, k, s, d, tie_rank, in_heap):
    """``offer``, except that a document already in the heap (scored by ``_prefill``) is not offered again.
    A score below the k-th is turned away before ``in_heap`` is read: a branch on a random read stalls
    the loop."""
    if size == k:
        if not _better(s, d, heap_s[0], heap_d[0], tie_rank):
            return size
        if in_heap[d]:
            return size
        in_heap[heap_d[0]] = False
    elif in_heap[d]:
        return size
    in_heap[d] = True
    return offer(heap_s, heap_d, tie_rank, size, k, s, d)


@numba.njit(inline="always")
def _score(c, m):
    """The exact score: the products summed in term-id order from 0.0 (then cleared)."""
    s = 0.0
    for j in range(m):
        s += c[j]
        c[j] = 0.0
    return s


@numba.njit(nogil=True, cache=True)
def score_top_k(q_indptr, q_terms, q_weights, term_blocks, df, blocks, data, block_bounds, term_bounds, doc_k,
                doc_class, idf, k1p1, single, k, tie_rank, acc, in_heap, pays, small, dense):
    """``rageval.retrievers.bm25_kernel.score_top_k``'s result, visiting only the postings that can
    change it; ``block_bounds`` and ``term_bounds``: largest and smallest weights; ``acc`` (float64)
    and ``in_heap`` (bool): zeros, one per document, left zero. A query of fewer than ``small`` postings
    is searched exhaustively (``bm25_kernel.exhaustive``, with ``dense``: the same result, at less cost
    there); another is pruned when its essential terms, at the first phase's k-th score, hold under
    1 / ``pays`` of its postings, else searched exhaustively. ``pays`` 0: every query pruned."""
    n_queries = len(q_indptr) - 1
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float64)
    width = 1
    for q in range(n_queries):
        width = max(width, q_indptr[q + 1] - q_indptr[q])
    heap_s = np.empty(k, dtype=np.float64)
    heap_d = np.empty(k, dtype=np.int64)
    cs, order = np.zeros((7, width), dtype=np.int64), np.zeros(width, dtype=np.int64)
    cs[HELD] = -1
    held = np.empty((width, BLOCK), dtype=np.int64)
    fs = np.zeros((5, width))
    docs, products, maxes = scratch(len(acc))
    _search(q_indptr, q_terms, q_weights, term_blocks, df, blocks, data, block_bounds, term_bounds, doc_k, doc_class,
            idf, k1p1, single, k, tie_rank, indices, scores, heap_s, heap_d, acc, in_heap, cs, order, fs, pays, small,
            dense, docs, products, maxes, held)
    return indices, scores


@numba.njit(nogil=True, cache=True, _nrt=False, error_model="numpy")
def _search(q_indptr, q_terms, q_weights, term_blocks, df, blocks, data, block_bounds, term_bounds, doc_k, doc_class,
            idf, k1p1, single, k, tie_rank, indices, scores, heap_s, heap_d, acc, in_heap, cs, order, fs, pays, small,
            dense, docs, products, maxes, held):
    """The queries one by one, in buffers allocated by the caller: compiled without reference counting."""
    v, ub, c, prefix, near = fs[0], fs[1], fs[2], fs[3], fs[4]
    for q in range(len(q_indptr) - 1):
        lo, m = q_indptr[q], q_indptr[q + 1] - q_indptr[q]
        if m == 0:
            continue
        total = 0.0
        for j in range(m):
            t = q_terms[lo + j]
            cs[TERM, j], v[j] = t, np.float64(q_weights[lo + j])
            ub[j] = _bound(v[j], term_bounds, t)
            total += max(abs(v[j] * term_bounds[LARGEST, t]), abs(v[j] * term_bounds[SMALLEST, t]))
            i = j  # insertion sort: bounds ascending, the non-essential terms first
            while i > 0 and ub[order[i - 1]] > ub[j]:
                order[i] = order[i - 1]
                i -= 1
            order[i] = j
        slack = 8.0 * (m + 1) * ULP * total
        running = 0.0
        for i in range(m):
            running += ub[order[i]]
            prefix[i] = running
        size, budget, postings = 0, max(PREFILL, 2 * k), 0
        for j in range(m):
            postings += df[cs[TERM, j]]
        whole = pays > 0 and postings < small  # every posting, without the first phase
        if not whole:
            for i in range(m - 1, -1, -1):  # the highest-bound terms' first postings: a k-th score to prune with
                if budget > 0:
                    size, budget = _prefill(term_blocks, df, blocks, data, cs, m, order[i], v, c, heap_s, heap_d,
                                            size, k, in_heap, doc_k, doc_class, idf, k1p1, single, tie_rank, budget,
                                            held)
            whole = not _pays(df, cs, m, order, prefix, slack, heap_s, size, k, pays)
            if whole:
                for i in range(size):
                    in_heap[heap_d[i]] = False
        if whole:
            size = exhaustive(q_terms, q_weights, lo, lo + m, term_blocks, df, blocks, data, doc_k, doc_class, idf,
                              k1p1, single, acc, heap_s, heap_d, k, tie_rank, dense, docs, products, maxes)
            drain(heap_s, heap_d, tie_rank, size, indices, scores, q)
            continue
        for j in range(m):
            _start(term_blocks, df, blocks, cs, j, len(doc_class))
        size = _traverse(term_blocks, df, blocks, data, block_bounds, cs, m, order, prefix, slack, v, c, near,
                         heap_s, heap_d, size, k, in_heap, doc_k, doc_class, idf, k1p1, single, tie_rank, held)
        for i in range(size):
            in_heap[heap_d[i]] = False
        drain(heap_s, heap_d, tie_rank, size, indices, scores, q)


@numba.njit(inline="always")
def _pays(df, cs, m, order, prefix, slack, heap_s, size, k, pays):
    """Whether the terms left essential by the first phase's k-th score hold under 1 / ``pays`` of the postings."""
    theta = heap_s[0] if size == k else -np.inf
    essential, total = 0, 0
    for i in range(m):
        n = df[cs[TERM, order[i]]]
        total += n
        if not prefix[i] + slack < theta:
            essential += n
    return essential * pays < total


@numba.njit(inline="always")
def _prefill(term_blocks, df, blocks, data, cs, m, top, v, c, heap_s, heap_d, size, k, in_heap, doc_k,
             doc_class, idf, k1p1, single, tie_rank, budget, held):
    """Score exactly up to ``budget`` of term ``top``'s first postings into the heap; returns the heap's
    size and the budget left."""
    n_docs = len(doc_class)
    for j in range(m):  # every term's cursor from the start: seeks only go forward
        _start(term_blocks, df, blocks, cs, j, n_docs)
    while cs[CUR, top] < n_docs and budget > 0:
        d = cs[CUR, top]
        for j in range(m):
            if j != top:
                _seek(term_blocks, df, blocks, data, cs, j, d, n_docs, held)
            if cs[CUR, j] == d:
                c[j] = _product(blocks, data, cs, j, v, doc_k, doc_class, idf, k1p1, single)
        s = _score(c, m)
        if s != 0.0:
            size = _offer_once(heap_s, heap_d, size, k, s, d, tie_rank, in_heap)
        _next(term_blocks, df, blocks, data, cs, top, n_docs, held)
        budget -= 1
    return size, budget


@numba.njit(inline="always")
def _skip_range(term_blocks, df, blocks, data, block_bounds, cs, m, ne, order, prefix, slack, theta, v, n_docs, held):
    """Skip the documents from the candidate to the end of the first of the essential terms' current
    blocks when those blocks' bounds and the non-essential terms' bounds cannot reach ``theta``."""
    bound, last = prefix[ne - 1] if ne > 0 else 0.0, n_docs - 1
    for i in range(ne, m):
        j = order[i]
        if cs[CUR, j] < n_docs:
            b = cs[BLK, j]
            bound += _bound(v[j], block_bounds, b)
            last = min(last, blocks[LAST, b])
    if not bound + slack < theta:
        return False
    for i in range(ne, m):
        if cs[CUR, order[i]] <= last:
            _seek(term_blocks, df, blocks, data, cs, order[i], last + 1, n_docs, held)
    return True


@numba.njit(inline="always")
def _near(term_blocks, df, blocks, block_bounds, cs, m, ne, d, order, v, near, n_docs):
    """The candidate ``d``'s bound from blocks: of its essential terms' blocks, and of the blocks that
    may hold ``d`` in the non-essential terms (``near[i]``: of terms 0 .. i, summed)."""
    running = 0.0
    for i in range(ne):
        j = order[i]
        if _shallow(term_blocks, df, blocks, cs, j, d, n_docs):
            running += _bound(v[j], block_bounds, cs[BLK, j])
        near[i] = running
    for i in range(ne, m):
        j = order[i]
        if cs[CUR, j] == d:
            running += _bound(v[j], block_bounds, cs[BLK, j])
    return running


@numba.njit(inline="always")
def _traverse(term_blocks, df, blocks, data, block_bounds, cs, m, order, prefix, slack, v, c, near, heap_s, heap_d,
              size, k, in_heap, doc_k, doc_class, idf, k1p1, single, tie_rank, held):
    """Block-max MaxScore over the postings, from the cursors' start; returns the heap's size."""
    n_docs, ne = len(doc_class), 0
    theta = heap_s[0] if size == k else -np.inf
    while ne < m and prefix[ne] + slack < theta:
        ne += 1
    while True:
        d = n_docs
        for i in range(ne, m):
            d = min(d, cs[CUR, order[i]])
        if d == n_docs:
            return size
        if size == k:
            if _skip_range(term_blocks, df, blocks, data, block_bounds, cs, m, ne, order, prefix, slack, theta, v,
                           n_docs, held):
                continue
            if _near(term_blocks, df, blocks, block_bounds, cs, m, ne, d, order, v, near, n_docs) + slack < theta:
                for i in range(ne, m):
                    if cs[CUR, order[i]] == d:
                        _next(term_blocks, df, blocks, data, cs, order[i], n_docs, held)
                continue
        partial = 0.0
        for i in range(ne, m):
            j = order[i]
            if cs[CUR, j] == d:
                c[j] = _product(blocks, data, cs, j, v, doc_k, doc_class, idf, k1p1, single)
                partial += c[j]
                _next(term_blocks, df, blocks, data, cs, j, n_docs, held)
        if ne > 0 and not _probe(term_blocks, df, blocks, data, cs, ne, d, partial, slack, theta, order, v, c, near,
                                 doc_k, doc_class, idf, k1p1, single, held):
            for j in range(m):
                c[j] = 0.0
            continue
        s = _score(c, m)
        if s != 0.0:
            size = _offer_once(heap_s, heap_d, size, k, s, d, tie_rank, in_heap)
            if size == k:
                theta = heap_s[0]
                while ne < m and prefix[ne] + slack < theta:
                    ne += 1


@numba.njit(inline="always")
def _probe(term_blocks, df, blocks, data, cs, ne, d, partial, slack, theta, order, v, c, near, doc_k, doc_class, idf,
           k1p1, single, held):
    """Add the non-essential terms' products for candidate ``d`` into ``c``, largest bound first;
    False as soon as the candidate's bound (its products so far + the block bounds ``near`` of the
    terms left) falls below ``theta``."""
    n_docs = len(doc_class)
    for i in range(ne - 1, -1, -1):
        j = order[i]
        _seek(term_blocks, df, blocks, data, cs, j, d, n_docs, held)
        if cs[CUR, j] == d:
            c[j] = _product(blocks, data, cs, j, v, doc_k, doc_class, idf, k1p1, single)
            partial += c[j]
        if partial + (near[i - 1] if i > 0 else 0.0) + slack < theta:
            return False
    return True
