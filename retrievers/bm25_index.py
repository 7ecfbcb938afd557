"""Our BM25 backend: an inverted index of compact block postings, searched with dynamic pruning.

Indexing streams the corpus in batches (term ids from ``rageval.text.lexical.Vocabulary``), counts
term frequencies per batch, places them term by term and encodes them in blocks with their weight
bounds (``rageval.retrievers.bm25_build``, ``rageval.retrievers.bm25_postings``); a posting weighs
``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))``. A batch of queries is scored
and cut to its top k in one compiled pass: block-max MaxScore (``rageval.retrievers.bm25_pruning``),
or every posting (``rageval.retrievers.bm25_kernel``, its reference: the same result, bit for bit,
with trec_eval's tie rule); batches run on several threads.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Callable, Iterable, Iterator, Literal, Sequence

import numpy as np
import scipy.sparse as sp

from rageval.retrievers.bm25_postings import Postings

# Queries are scored in batches whose postings add up to at most this many entries.
POSTINGS_PER_BATCH = 2_000_000
# A thread is given at least this many postings: about 0.5 ms of scoring, where handing a batch to a kept
# thread costs about 0.02 ms (cosqa's 500 queries on 2 threads: 3.9 ms where 500,000 postings a thread, one
# batch on one thread, took 4.9)
POSTINGS_PER_THREAD = 100_000


def query_batches(postings: Sequence[int], budget: int) -> Iterator[tuple[int, int]]:
    """[start, stop) of consecutive queries scored together: a batch ends with the query that brings
    its postings to ``budget`` (one query always makes a batch), so a batch's work stays bounded."""
    start = 0
    while start < len(postings):
        stop, total = start, 0
        while stop < len(postings) and (stop == start or total < budget):
            total += postings[stop]
            stop += 1
        yield start, stop
        start = stop


def search_batches(postings: Sequence[int], threads: int) -> list[tuple[int, int]]:
    """The query batches of one search: at most ``POSTINGS_PER_BATCH`` postings each, and one batch
    per thread when the postings allow it and each thread gets at least ``POSTINGS_PER_THREAD``
    (``query_batches`` with a budget of the total postings over ``threads``, within those bounds)."""
    share = -(-sum(postings) // max(threads, 1))
    return list(query_batches(postings, min(POSTINGS_PER_BATCH, max(share, POSTINGS_PER_THREAD))))


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads kept for later searches (starting one costs about 0.2 ms, a tenth of a
    small collection's search); one per process, since a forked child does not inherit the threads."""
    key = (os.getpid(), threads)
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(threads, thread_name_prefix="rageval-bm25")
    return _POOLS[key]


def _kernel(pruning: bool):
    """The compiled search (``bm25_pruning`` or, without pruning, ``bm25_kernel``), imported on the first
    search: importing numba takes about 0.2 s, which a process that never searches with BM25 should not pay."""
    if pruning:
        from rageval.retrievers.bm25_pruning import score_top_k
    else:
        from rageval.retrievers.bm25_kernel import score_top_k
    return score_top_k


class BM25Index:
    """BM25 over compact block postings (``rageval.retrievers.bm25_postings``), searched with
    block-max MaxScore pruning or, as its reference, exhaustively."""

    # a query is pruned when the terms its first k-th score leaves essential hold under 1 / pays of its
    # postings (0: every query), else searched exhaustively. Measured on this machine (k = 10, compiled
    # search of the 1,000 queries of the 1M-document Zipf corpus, best of 8): 55.1 ms at 6 and 8, 56.0 at 4,
    # 57.4 at 12, 65-70 at 3, 81 at 0 (since the exhaustive loop computes a block's products at once)
    pays = 6
    # a query of fewer postings is searched exhaustively, without the first phase (its seeks cost more
    # than the search): cranfield's 225 queries (about 2,000 postings each) in 4.8 ms where they took 6.6;
    # 1M Zipf documents unchanged (8,192 was slower there)
    small = 4096
    # the exhaustive loop offers the sums from a scan of the accumulator when a query has at least 1 / dense
    # as many postings as there are documents, else from a second pass over the postings. Measured (pruned
    # search, k = 10, best of 30, against dense 1 in the same run): cosqa (1,400 postings a query, 6,267
    # documents) 4.19 ms where it took 5.46, cranfield (2,000 postings, 1,400 documents) 2.39 where it took
    # 2.55; the 100k and 1M Zipf corpora unchanged
    dense = 8

    def __init__(self, k1: float, b: float, epsilon: float, idf: Literal["okapi", "lucene"], dtype=np.float64):
        self.params = {"k1": k1, "b": b, "epsilon": epsilon, "idf": idf, "single": np.dtype(dtype) == np.float32}
        self.postings: Postings | None = None
        self._scratch = threading.local()  # each thread's zeroed buffers, one entry per document (left zero)

    def build(self, batches: Iterable[tuple[np.ndarray, np.ndarray]], n_terms: Callable[[], int]) -> None:
        """Index from (term ids, document lengths) batches; ``n_terms()`` gives the vocabulary size so far
        (``rageval.retrievers.bm25_build``: segments of counts, then ranges of terms, in bounded memory)."""
        from rageval.retrievers.bm25_build import build  # numba: imported where an index is built

        self.postings = build(batches, n_terms, self.params)

    def _buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's accumulator and in-heap flags (zeros, one per document, which every search leaves
        zero), kept for its later searches: allocating them anew faults in their pages each time (2 ms of
        the 1M corpus's 70 ms)."""
        n_docs = self.postings.shape[1]
        buffers = getattr(self._scratch, "buffers", None)
        if buffers is None or len(buffers[0]) != n_docs:
            buffers = self._scratch.buffers = (np.zeros(n_docs), np.zeros(n_docs, dtype=np.bool_))
        return buffers

    def search(self, query_terms: list[list[int]], k: int, tie_rank: np.ndarray,
               query_weights: list[list[float]] | None = None, threads: int = 1,
               pruning: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) for each query's term ids (a repeated term counts again, or
        each term counts its ``query_weights`` entry): ``search_arrays`` on the lists."""
        lengths = np.fromiter(map(len, query_terms), dtype=np.int64, count=len(query_terms))
        terms = np.fromiter(chain.from_iterable(query_terms), dtype=np.int64, count=lengths.sum())
        weights = None if query_weights is None else np.fromiter(
            chain.from_iterable(query_weights), dtype=np.float64, count=len(terms))
        return self.search_arrays(terms, lengths, k, tie_rank, weights, threads, pruning=pruning)

    def search_arrays(self, terms: np.ndarray, lengths: np.ndarray, k: int, tie_rank: np.ndarray,
                      weights: np.ndarray | None = None, threads: int = 1,
                      done: Callable[[int], None] | None = None,
                      pruning: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) for queries given as their term ids concatenated (``terms``)
        and their numbers of terms (``lengths``); each term counts 1, or its entry of ``weights``.
        Only documents that match a term are returned; ``pruning`` changes the work, not the result.
        Batches of queries are scored on ``threads`` threads (the compiled search releases the GIL);
        the result does not depend on it. ``done(n)`` is called, in this thread, as each batch of
        ``n`` queries is scored."""
        n_queries = len(lengths)
        if k == 0:
            return np.empty((n_queries, 0), dtype=np.int64), np.empty((n_queries, 0))
        indices = np.empty((n_queries, k), dtype=np.int64)  # every row is written by its batch
        scores = np.empty((n_queries, k))
        postings, kernel = self.postings, _kernel(pruning)
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if weights is None:
            weights = np.ones(len(terms))
        fixed = (postings.doc_k, postings.doc_class, postings.idf, postings.k1 + 1, postings.single, k, tie_rank)
        index_arrays = (postings.term_blocks, postings.df, postings.blocks, postings.data)
        # pays and dense passed as floats, whatever was set: one compiled signature, and the faster one (cosqa's
        # pruned search 4.22 ms where integers took 5.35, cranfield 2.13 where they took 2.48, 1M unchanged)
        tuning = (float(self.pays), self.small, float(self.dense)) if pruning else (float(self.dense),)
        if pruning:
            index_arrays += (postings.block_bounds, postings.term_bounds)

        def score(batch: tuple[int, int]) -> None:
            start, stop = batch
            lo, hi = offsets[start], offsets[stop]
            # the batch as a [queries, terms] CSR matrix in canonical form (term ids sorted, a repeated term's
            # weights summed): a document's products are added in term-id order
            Q = sp.csr_matrix((weights[lo:hi], terms[lo:hi], offsets[start:stop + 1] - lo),
                              shape=(stop - start, postings.shape[0]))
            Q.sum_duplicates()
            try:
                indices[start:stop], scores[start:stop] = kernel(Q.indptr, Q.indices, Q.data, *index_arrays, *fixed,
                                                                 *self._buffers()[:1 + pruning], *tuning)
            except BaseException:  # the buffers may be left dirty: the next search makes new ones
                self._scratch.buffers = None
                raise

        per_query = np.bincount(np.repeat(np.arange(n_queries), lengths), postings.df[terms], n_queries)
        batches = search_batches(per_query.astype(np.int64).tolist(), threads)
        if threads > 1 and len(batches) > 1:
            for (start, stop), _ in zip(batches, _pool(threads).map(score, batches)):
                if done:
                    done(stop - start)
        else:
            for start, stop in batches:
                score((start, stop))
                if done:
                    done(stop - start)
        return indices, scores
