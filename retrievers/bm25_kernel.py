"""The compiled parts of BM25 (numba) shared by both searches: block encoding and decoding, the BM25
weight of a posting, the top-k heap, and the exhaustive search that is the pruned search's reference.

Postings are blocks (``rageval.retrievers.bm25_postings``): ``term_blocks``, ``df``, ``blocks`` and
``data``; arrays are passed one by one (a tuple of arrays indexed in a hot loop costs a reference
count each time). A posting's weight is computed where it is read, in the operations and
order numpy's vectorised build used when the index stored weights:
``((tf * (k1 + 1)) / (k1 * norm(d) + tf)) * idf(t)``, rounded to float32 when ``single`` (the
``dtype=float32`` index); a query term adds ``query weight x weight``. The exhaustive search decodes
a block's documents and computes its products into small buffers (loops the compiler vectorises),
then adds them into a dense accumulator term by term in the order of the query's CSR matrix (term
ids ascending), so a document's score is the sum in term-id order; then each sum is offered once to
a k-sized heap ordered by score, ties by ``tie_rank`` (trec_eval's rule, as ``rageval.retrieval.topk``;
a sorted array up to ``SORTED`` entries), whose entries are read only when two scores tie: from a
second pass over the postings, or, for a query of many postings, from a scan of the accumulator that
reads again only the runs of sums that reach a floor and ranks the sums that reach it (``_scan``).
Compiled once per machine (``cache=True``, in ``__pycache__`` beside this file, as
``rageval.retrievers.bm25_kernel``) and run without the GIL.
"""
from __future__ import annotations

import numba
import numpy as np

BLOCK = 128  # postings per block
CHUNK = 16  # sums of the accumulator a chunk maximum covers in ``_scan``
SORTED = 16  # a top-k heap of at most this many entries is kept as a sorted array (``offer``)
RANKED = 64  # at most this many candidates are ranked in ``_scan`` (their number squared comparisons)
FIRST, LAST, START, WIDTHS = 0, 1, 2, 3  # rows of ``blocks``: first and last document, byte offset, widths
LARGEST, SMALLEST = 0, 1  # rows of the block and term bounds: largest and smallest weight


@numba.njit(inline="always")
def width_of(value: int) -> int:
    """Bytes (1, 2 or 4) that hold a value in 0 .. 2**32 - 1."""
    return 1 if value < 256 else (2 if value < 65536 else 4)


@numba.njit(inline="always")
def _read(data, offset, width):
    if width == 1:
        return np.int64(data[offset])
    if width == 2:
        return np.int64(data[offset]) | (np.int64(data[offset + 1]) << 8)
    return (np.int64(data[offset]) | (np.int64(data[offset + 1]) << 8) | (np.int64(data[offset + 2]) << 16)
            | (np.int64(data[offset + 3]) << 24))


@numba.njit(inline="always")
def _write(data, offset, width, value):
    for i in range(width):
        data[offset + i] = (value >> (8 * i)) & 255


@numba.njit(inline="always")
def block_length(term_blocks, df, t, b):
    """Postings in block ``b`` of term ``t``: ``BLOCK``, less in the term's last block."""
    return min(BLOCK, df[t] - (b - term_blocks[t]) * BLOCK)


@numba.njit(inline="always")
def doc_at(blocks, data, b, i):
    """The document of posting ``i`` of block ``b``."""
    doc_width = blocks[WIDTHS, b] & 15
    return blocks[FIRST, b] + _read(data, blocks[START, b] + i * doc_width, doc_width)


@numba.njit(inline="always")
def tf_at(blocks, data, b, n, i):
    """The term frequency of posting ``i`` of block ``b`` (of ``n`` postings)."""
    doc_width, tf_width = blocks[WIDTHS, b] & 15, blocks[WIDTHS, b] >> 4
    return _read(data, blocks[START, b] + n * doc_width + i * tf_width, tf_width) + 1


@numba.njit(inline="always")
def weight(tf, doc_k, idf, k1p1, single):
    """A posting's BM25 weight: ``((tf * (k1 + 1)) / (k1 * norm(d) + tf)) * idf``, float32-rounded when ``single``."""
    f = np.float64(tf)
    w = (f * k1p1) / (doc_k + f) * idf
    if single:
        return np.float64(np.float32(w))
    return w


@numba.njit(nogil=True, cache=True)
def place(rows_ptr, terms, counts, first_doc, fill, doc_ids, tf):
    """Place a chunk of counts (CSR rows: documents from ``first_doc``, columns: terms) in the term-major
    arrays at each term's ``fill`` position (advanced): a counting sort, documents in order."""
    for row in range(len(rows_ptr) - 1):
        for i in range(rows_ptr[row], rows_ptr[row + 1]):
            at = fill[terms[i]]
            doc_ids[at], tf[at] = first_doc + row, counts[i]
            fill[terms[i]] = at + 1


@numba.njit(nogil=True, cache=True)
def encode(indptr, doc_ids, tf, df, term_blocks, doc_k, doc_class, idf, k1p1, single):
    """The blocks of term-major postings (``indptr``, ``doc_ids``, ``tf``): ``blocks`` (first and last
    document, byte offset and widths of each), the encoded bytes, each block's and each term's
    largest and smallest weight."""
    n_terms, n_blocks = len(df), term_blocks[-1]
    blocks = np.empty((4, n_blocks), dtype=np.int64)
    block_bounds = np.empty((2, n_blocks), dtype=np.float64)
    term_bounds = np.empty((2, n_terms), dtype=np.float64)
    size = 0
    for t in range(n_terms):  # first pass: widths, offsets and bounds
        term_bounds[LARGEST, t], term_bounds[SMALLEST, t] = -np.inf, np.inf
        for b in range(term_blocks[t], term_blocks[t + 1]):
            lo = indptr[t] + (b - term_blocks[t]) * BLOCK
            hi = min(lo + BLOCK, indptr[t + 1])
            tf_max, hi_w, lo_w = 0, -np.inf, np.inf
            for i in range(lo, hi):
                tf_max = max(tf_max, np.int64(tf[i]) - 1)
                w = weight(tf[i], doc_k[doc_class[doc_ids[i]]], idf[t], k1p1, single)
                hi_w, lo_w = max(hi_w, w), min(lo_w, w)
            doc_width, tf_width = width_of(np.int64(doc_ids[hi - 1]) - doc_ids[lo]), width_of(tf_max)
            blocks[FIRST, b], blocks[LAST, b], blocks[START, b] = doc_ids[lo], doc_ids[hi - 1], size
            blocks[WIDTHS, b] = doc_width | (tf_width << 4)
            size += (hi - lo) * (doc_width + tf_width)
            block_bounds[LARGEST, b], block_bounds[SMALLEST, b] = hi_w, lo_w
            term_bounds[LARGEST, t] = max(term_bounds[LARGEST, t], hi_w)
            term_bounds[SMALLEST, t] = min(term_bounds[SMALLEST, t], lo_w)
        if df[t] == 0:  # a term without postings adds nothing
            term_bounds[LARGEST, t], term_bounds[SMALLEST, t] = 0.0, 0.0
    data = np.empty(size, dtype=np.uint8)
    for t in range(n_terms):  # second pass: the bytes
        for b in range(term_blocks[t], term_blocks[t + 1]):
            lo = indptr[t] + (b - term_blocks[t]) * BLOCK
            hi = min(lo + BLOCK, indptr[t + 1])
            doc_width, tf_width = blocks[WIDTHS, b] & 15, blocks[WIDTHS, b] >> 4
            offset = blocks[START, b]
            for i in range(lo, hi):
                _write(data, offset, doc_width, np.int64(doc_ids[i]) - blocks[FIRST, b])
                offset += doc_width
            for i in range(lo, hi):
                _write(data, offset, tf_width, np.int64(tf[i]) - 1)
                offset += tf_width
    return blocks, data, block_bounds, term_bounds


@numba.njit(cache=True)
def term_postings(term_blocks, df, blocks, data, t, doc_k, doc_class, idf, k1p1, single):
    """Every document of term ``t`` and its weight."""
    out_docs, out_weights = np.empty(df[t], dtype=np.int64), np.empty(df[t], dtype=np.float64)
    i = 0
    for b in range(term_blocks[t], term_blocks[t + 1]):
        n = block_length(term_blocks, df, t, b)
        for p in range(n):
            d = doc_at(blocks, data, b, p)
            w = weight(tf_at(blocks, data, b, n, p), doc_k[doc_class[d]], idf[t], k1p1, single)
            out_docs[i], out_weights[i] = d, w
            i += 1
    return out_docs, out_weights


@numba.njit(inline="always")
def _better(s1: float, d1: int, s2: float, d2: int, tie_rank) -> bool:
    """Whether document ``d1`` (score ``s1``) ranks before ``d2``; a tie rank is read only on a tie of
    scores (a random read of a large array)."""
    return s1 > s2 or (s1 == s2 and tie_rank[d1] > tie_rank[d2])


@numba.njit(inline="always")
def _sift_down(heap_s, heap_d, tie_rank, size, pos):
    """Restore the min-heap (worst entry at the root) below ``pos``."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and _better(heap_s[child], heap_d[child], heap_s[child + 1], heap_d[child + 1], tie_rank):
            child += 1
        if not _better(heap_s[pos], heap_d[pos], heap_s[child], heap_d[child], tie_rank):
            return
        heap_s[pos], heap_s[child] = heap_s[child], heap_s[pos]
        heap_d[pos], heap_d[child] = heap_d[child], heap_d[pos]
        pos = child


@numba.njit(inline="always")
def _insert(heap_s, heap_d, tie_rank, size, k, s, d):
    """``offer`` into an array kept sorted worst first (which is a heap): an entry moves by one place
    per entry it passes, and the loop ends with one branch mispredicted, where a heap's sifts take a
    few."""
    if size < k:
        pos = size
        while pos > 0 and _better(heap_s[pos - 1], heap_d[pos - 1], s, d, tie_rank):
            heap_s[pos], heap_d[pos] = heap_s[pos - 1], heap_d[pos - 1]
            pos -= 1
        heap_s[pos], heap_d[pos] = s, d
        return size + 1
    if _better(s, d, heap_s[0], heap_d[0], tie_rank):
        pos = 0
        while pos + 1 < size and _better(s, d, heap_s[pos + 1], heap_d[pos + 1], tie_rank):
            heap_s[pos], heap_d[pos] = heap_s[pos + 1], heap_d[pos + 1]
            pos += 1
        heap_s[pos], heap_d[pos] = s, d
    return size


@numba.njit(inline="always")
def offer(heap_s, heap_d, tie_rank, size, k, s, d):
    """Offer document ``d`` (score ``s``) to the heap of ``size`` entries (ties ordered by ``tie_rank``);
    the new size. Up to ``SORTED`` entries the heap is a sorted array (``_insert``)."""
    if k <= SORTED:
        return _insert(heap_s, heap_d, tie_rank, size, k, s, d)
    if size < k:  # push, then sift the new entry up
        pos = size
        while pos > 0:
            parent = (pos - 1) // 2
            if not _better(heap_s[parent], heap_d[parent], s, d, tie_rank):
                break
            heap_s[pos], heap_d[pos] = heap_s[parent], heap_d[parent]
            pos = parent
        heap_s[pos], heap_d[pos] = s, d
        return size + 1
    if _better(s, d, heap_s[0], heap_d[0], tie_rank):
        heap_s[0], heap_d[0] = s, d
        _sift_down(heap_s, heap_d, tie_rank, size, 0)
    return size


@numba.njit(inline="always")
def drain(heap_s, heap_d, tie_rank, size, indices, scores, q):
    """Empty the heap into row ``q``, best first."""
    while size > 0:  # pop the worst into the last free place
        size -= 1
        indices[q, size], scores[q, size] = heap_d[0], heap_s[0]
        heap_s[0], heap_d[0] = heap_s[size], heap_d[size]
        _sift_down(heap_s, heap_d, tie_rank, size, 0)


@numba.njit(inline="always")
def block_docs(blocks, data, b, n, docs):
    """The documents of block ``b`` (of ``n`` postings) into ``docs``: a loop per width, which the
    compiler unrolls and vectorises."""
    doc_width, at, first = blocks[WIDTHS, b] & 15, blocks[START, b], blocks[FIRST, b]
    if doc_width == 1:
        for i in range(n):
            docs[i] = first + np.int64(data[at + i])
    elif doc_width == 2:
        for i in range(n):
            docs[i] = first + _read(data, at + 2 * i, 2)
    else:
        for i in range(n):
            docs[i] = first + _read(data, at + 4 * i, 4)


@numba.njit(inline="always")
def block_products(blocks, data, b, n, docs, out, v, doc_k, doc_class, idf, k1p1, single):
    """``v`` x the weight of each posting of block ``b`` (of ``n``; documents in ``docs``) into ``out``."""
    tf_width = blocks[WIDTHS, b] >> 4
    at = blocks[START, b] + n * (blocks[WIDTHS, b] & 15)
    if tf_width == 1:
        for i in range(n):
            out[i] = v * weight(np.int64(data[at + i]) + 1, doc_k[doc_class[docs[i]]], idf, k1p1, single)
    else:
        for i in range(n):
            tf = _read(data, at + i * tf_width, tf_width) + 1
            out[i] = v * weight(tf, doc_k[doc_class[docs[i]]], idf, k1p1, single)


@numba.njit(inline="always")
def _maxima(bits, out):
    """The largest positive float of each run of ``CHUNK`` entries of ``bits`` (floats' bits; the last run
    may be shorter), or 0.0, into ``out``: positive floats order as their bits, so this is an integer
    maximum, branch-free, in a loop of fixed length for each full run, which the compiler vectorises."""
    n, full = len(bits), len(bits) // CHUNK
    for c in range(full):
        m = 0
        for i in range(c * CHUNK, c * CHUNK + CHUNK):
            m = max(m, bits[i])
        out[c] = m
    if n > full * CHUNK:
        m = 0
        for i in range(full * CHUNK, n):
            m = max(m, bits[i])
        out[full] = m


@numba.njit(inline="always")
def _floor(values, heap_s, heap_d, k, tie_rank):
    """The k-th largest positive entry of ``values``, or −inf when fewer than k are positive."""
    size = 0
    for c in range(len(values)):
        if values[c] > 0.0 and (size < k or values[c] > heap_s[0]):
            size = offer(heap_s, heap_d, tie_rank, size, k, values[c], c)
    return heap_s[0] if size == k else -np.inf


@numba.njit(inline="always")
def _ranked(cand_s, cand_d, count, heap_s, heap_d, k, tie_rank):
    """The best min(k, ``count``) candidates (sums ``cand_s`` of documents ``cand_d``) into the empty heap,
    worst first (a sorted array is a heap): a candidate's rank is the number of candidates better than it,
    counted without a branch; returns the heap's size."""
    size = min(k, count)
    for i in range(count):
        s, t, rank = cand_s[i], tie_rank[cand_d[i]], 0
        for j in range(count):
            rank += (cand_s[j] > s) | ((cand_s[j] == s) & (tie_rank[cand_d[j]] > t))
        if rank < size:
            heap_s[size - 1 - rank], heap_d[size - 1 - rank] = s, cand_d[i]
    return size


@numba.njit(inline="always")
def _offer_all(cand_s, cand_d, count, heap_s, heap_d, size, k, tie_rank):
    """Offer the candidates to the heap of ``size`` entries; the new size."""
    for i in range(count):
        if size < k or cand_s[i] >= heap_s[0]:
            size = offer(heap_s, heap_d, tie_rank, size, k, cand_s[i], cand_d[i])
    return size


@numba.njit(inline="always")
def _scan(acc, maxes, heap_s, heap_d, k, tie_rank, cand_d, cand_s):
    """Offer every match of ``acc`` (a nonzero sum) that may enter the empty heap, and clear ``acc``;
    returns the heap's size. The sums are read in chunks of ``CHUNK`` and groups of ``CHUNK`` chunks,
    whose largest sums (``maxes``: the chunks' then the groups') give a floor: the k-th largest positive
    group maximum, or chunk maximum when fewer than k groups hold a positive sum, since k other groups
    (chunks) hold a larger match each. Only the chunks that reach the floor are read again: their sums
    that reach it are gathered without a branch (``cand_d``, ``cand_s``: ``RANKED + CHUNK`` entries) and
    ranked (``_ranked``), or offered to the heap once more than ``RANKED`` are gathered."""
    n = len(acc)
    n_chunks = (n + CHUNK - 1) // CHUNK
    n_groups = (n_chunks + CHUNK - 1) // CHUNK
    chunks, groups = maxes[:n_chunks], maxes[n_chunks:n_chunks + n_groups]
    _maxima(acc.view(np.int64), chunks.view(np.int64))
    _maxima(chunks.view(np.int64), groups.view(np.int64))
    floor = _floor(groups, heap_s, heap_d, k, tie_rank)
    if floor == -np.inf:
        floor = _floor(chunks, heap_s, heap_d, k, tie_rank)
    size, count, heaped = 0, 0, False
    for g in range(n_groups):
        if groups[g] < floor:
            continue
        for c in range(g * CHUNK, min(g * CHUNK + CHUNK, n_chunks)):
            if chunks[c] < floor:
                continue
            for d in range(c * CHUNK, min(c * CHUNK + CHUNK, n)):
                s = acc[d]
                cand_s[count], cand_d[count] = s, d
                count += (s >= floor) & (s != 0.0)  # a match that may enter
            if count > RANKED:
                size, count, heaped = _offer_all(cand_s, cand_d, count, heap_s, heap_d, size, k, tie_rank), 0, True
    acc[:] = 0.0
    if heaped:
        return _offer_all(cand_s, cand_d, count, heap_s, heap_d, size, k, tie_rank)
    return _ranked(cand_s, cand_d, count, heap_s, heap_d, k, tie_rank)


@numba.njit(inline="always")
def exhaustive(q_terms, q_weights, lo, hi, term_blocks, df, blocks, data, doc_k, doc_class, idf, k1p1, single, acc,
               heap_s, heap_d, k, tie_rank, dense, docs, products, maxes):
    """One query (entries ``lo`` .. ``hi`` of the CSR matrix) over every posting of its terms into the
    empty heap; returns its size and leaves ``acc`` zero. A block's products are computed into
    ``products`` (its documents decoded into ``docs``), then added. The sums are offered from a
    scan of ``acc`` (``_scan``, with ``maxes`` from ``scratch``) when the query has at
    least 1 / ``dense`` as many postings as there are documents (0: never), else from a second pass
    over the postings (whose branch on each sum, zero or taken, is mispredicted where the terms share
    documents); the heap's order is total, so the order of offers is free."""
    for jj in range(lo, hi):
        t, v = q_terms[jj], np.float64(q_weights[jj])
        for b in range(term_blocks[t], term_blocks[t + 1]):
            n = block_length(term_blocks, df, t, b)
            block_docs(blocks, data, b, n, docs)
            block_products(blocks, data, b, n, docs, products, v, doc_k, doc_class, idf[t], k1p1, single)
            for i in range(n):
                acc[docs[i]] += products[i]
    size, postings = 0, 0
    for jj in range(lo, hi):
        postings += df[q_terms[jj]]
    if dense * postings >= len(acc):
        return _scan(acc, maxes, heap_s, heap_d, k, tie_rank, docs, products)
    for jj in range(lo, hi):  # again over the postings: each match's sum, once
        t = q_terms[jj]
        for b in range(term_blocks[t], term_blocks[t + 1]):
            n = block_length(term_blocks, df, t, b)
            block_docs(blocks, data, b, n, docs)
            for i in range(n):
                d = docs[i]
                s = acc[d]
                if s == 0.0:  # a zero sum (not a match), or a document taken under an earlier term
                    continue
                acc[d] = 0.0
                if size == k and s < heap_s[0]:  # below the k-th best
                    continue
                size = offer(heap_s, heap_d, tie_rank, size, k, s, d)
    return size


@numba.njit(inline="always")
def scratch(n_docs):
    """``exhaustive``'s scratch arrays for an index of ``n_docs`` documents: a block's documents and
    products, and the scan's chunk and group maxima."""
    n_chunks = (n_docs + CHUNK - 1) // CHUNK
    return np.empty(BLOCK, dtype=np.int64), np.empty(BLOCK), np.empty(n_chunks + (n_chunks + CHUNK - 1) // CHUNK)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def score_top_k(q_indptr, q_terms, q_weights, term_blocks, df, blocks, data, doc_k, doc_class, idf, k1p1, single, k,
                tie_rank, acc, dense):
    """Top ``k`` (positions ``[n_queries, k]``, −1 padded; scores, 0 padded) of every query of the CSR
    matrix (``q_indptr``, ``q_terms`` ascending within a row, ``q_weights``), visiting every posting
    of every query term (``acc``: zeros, one per document, left zero): the reference of
    ``rageval.retrievers.bm25_pruning.score_top_k``."""
    n_queries = len(q_indptr) - 1
    indices = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float64)
    heap_s, heap_d = np.empty(k, dtype=np.float64), np.empty(k, dtype=np.int64)
    docs, products, maxes = scratch(len(acc))
    for q in range(n_queries):
        size = exhaustive(q_terms, q_weights, q_indptr[q], q_indptr[q + 1], term_blocks, df, blocks, data, doc_k,
                          doc_class, idf, k1p1, single, acc, heap_s, heap_d, k, tie_rank, dense, docs, products, maxes)
        drain(heap_s, heap_d, tie_rank, size, indices, scores, q)
    return indices, scores
