"""Our BM25 backend: an inverted index as a scipy sparse matrix of precomputed term weights.

Indexing streams the corpus in batches (term ids from ``rageval.text.lexical.Vocabulary``), counts
term frequencies per batch, and stores every (term, document) weight
``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))`` in a term-major CSR matrix.
A query touches only the postings of its terms: a batch of queries is scored and cut to its top
k in one compiled pass (``rageval.retrievers.bm25_kernel``: the sums of scipy's sparse product ``Q @ W``,
bit for bit, and trec_eval's tie rule); batches run on several threads.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Callable, Iterable, Iterator, Literal, Sequence

import numpy as np
import scipy.sparse as sp

# Queries are scored in batches whose postings add up to at most this many entries.
POSTINGS_PER_BATCH = 2_000_000
# A thread is given at least this many postings: about 2 ms of scoring, where starting it costs about 0.3 ms.
POSTINGS_PER_THREAD = 500_000


def idf_weights(df: np.ndarray, n_docs: int, kind: Literal["okapi", "lucene"], epsilon: float) -> np.ndarray:
    """``okapi``: log((N - n + .5) / (n + .5)), negatives floored at epsilon x mean idf (rank_bm25's
    BM25Okapi); ``lucene``: log(1 + (N - n + .5) / (n + .5)) (Lucene, Pyserini)."""
    if kind == "lucene":
        return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if len(idf):
        idf[idf < 0] = epsilon * idf.mean()
    return idf


def query_batches(postings: Sequence[int], budget: int) -> Iterator[tuple[int, int]]:
    """[start, stop) of consecutive queries scored together: a batch ends with the query that brings
    its postings to ``budget`` (one query always makes a batch), so one sparse product stays bounded."""
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


def score_top_k(*args):
    """``rageval.retrievers.bm25_kernel.score_top_k``, imported on the first search: importing numba takes
    about 0.2 s, which a process that never searches with BM25 should not pay."""
    from rageval.retrievers.bm25_kernel import score_top_k as compiled

    return compiled(*args)


def _count_batches(batches: Iterable[tuple[np.ndarray, np.ndarray]],
                   n_terms: Callable[[], int]) -> tuple[list[sp.csr_matrix], np.ndarray]:
    """Each batch reduced to a [documents, terms] matrix of term counts, and every document's length;
    EmptyVocabulary when no document has a term."""
    parts, lengths = [], []
    for term_ids, lens in batches:
        docs = np.repeat(np.arange(len(lens), dtype=np.int32), lens)
        counts = sp.csr_matrix((np.ones(len(term_ids), dtype=np.int32), (docs, term_ids)),
                               shape=(len(lens), n_terms()))
        counts.sum_duplicates()
        parts.append(counts)
        lengths.append(lens)
    if n_terms() == 0:
        raise EmptyVocabulary("no term in any document")
    return parts, np.concatenate(lengths)  # there is a batch: the vocabulary is not empty


def _term_major(parts: list[sp.csr_matrix], n_vocab: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The per-batch counts ``parts`` (emptied as they are placed, to free them) as term-major
    postings: (document frequency per term, row pointers, document ids, term frequencies). A counting
    sort by term; within a term, documents stay in corpus order."""
    df = np.zeros(n_vocab, dtype=np.int64)
    for part in parts:
        df += np.bincount(part.indices, minlength=n_vocab)
    index_dtype = np.int32 if df.sum() < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(index_dtype)
    doc_ids = np.empty(indptr[-1], dtype=np.int32)
    tf = np.empty(indptr[-1], dtype=np.int32)
    fill = indptr[:-1].copy()
    first_doc = 0
    while parts:
        part = parts.pop(0)
        rows = np.repeat(np.arange(first_doc, first_doc + part.shape[0], dtype=np.int32), np.diff(part.indptr))
        order = np.argsort(part.indices, kind="stable")
        terms = part.indices[order]
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        run_len = np.diff(np.r_[starts, len(terms)])
        dest = fill[terms] + (np.arange(len(terms)) - np.repeat(starts, run_len))
        doc_ids[dest] = rows[order]
        tf[dest] = part.data[order]
        fill[terms[starts]] += run_len
        first_doc += part.shape[0]
        del part, rows, order, terms, dest
    return df, indptr, doc_ids, tf


class EmptyVocabulary(ValueError):
    """No document has a term: there is nothing to index."""


class SparseBM25:
    """Term-major CSR index of BM25 weights (rows: terms, columns: documents)."""

    def __init__(self, k1: float, b: float, epsilon: float, idf: Literal["okapi", "lucene"], dtype=np.float64):
        self.k1, self.b, self.epsilon, self.idf_kind, self.dtype = k1, b, epsilon, idf, dtype
        self.weights: sp.csr_matrix | None = None

    def build(self, batches: Iterable[tuple[np.ndarray, np.ndarray]], n_terms: Callable[[], int]) -> None:
        """Index from (term ids, document lengths) batches; ``n_terms()`` gives the vocabulary size so far.

        Memory stays near 12 bytes per posting: each batch is reduced to (doc, term, tf) counts,
        and the counts are placed term by term into the final arrays, batch after batch.
        """
        parts, doc_len = _count_batches(batches, n_terms)
        n_vocab, n_docs = n_terms(), len(doc_len)
        df, indptr, doc_ids, tf = _term_major(parts, n_vocab)
        weight = tf.astype(np.float64)
        del tf
        self._weigh(weight, doc_ids, df, doc_len)
        self.weights = sp.csr_matrix((weight.astype(self.dtype, copy=False), doc_ids, indptr), shape=(n_vocab, n_docs))

    def _weigh(self, weight: np.ndarray, doc_ids: np.ndarray, df: np.ndarray, doc_len: np.ndarray) -> None:
        """Turn the term frequencies ``weight`` (term-major postings) into BM25 weights, in place:
        ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))``."""
        idf = idf_weights(df, len(doc_len), self.idf_kind, self.epsilon)
        avgdl = doc_len.sum() / len(doc_len)  # > 0: some document holds a term
        norm = 1 - self.b + self.b * doc_len / avgdl
        denom = norm[doc_ids]
        denom *= self.k1
        denom += weight
        weight *= self.k1 + 1
        weight /= denom
        del denom
        weight *= np.repeat(idf, df)

    def search(self, query_terms: list[list[int]], k: int, tie_rank: np.ndarray,
               query_weights: list[list[float]] | None = None, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) for each query's term ids (a repeated term counts again, or
        each term counts its ``query_weights`` entry): ``search_arrays`` on the lists."""
        lengths = np.fromiter(map(len, query_terms), dtype=np.int64, count=len(query_terms))
        terms = np.fromiter(chain.from_iterable(query_terms), dtype=np.int64, count=lengths.sum())
        weights = None if query_weights is None else np.fromiter(
            chain.from_iterable(query_weights), dtype=np.float64, count=len(terms))
        return self.search_arrays(terms, lengths, k, tie_rank, weights, threads)

    def search_arrays(self, terms: np.ndarray, lengths: np.ndarray, k: int, tie_rank: np.ndarray,
                      weights: np.ndarray | None = None, threads: int = 1,
                      done: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) for queries given as their term ids concatenated (``terms``)
        and their numbers of terms (``lengths``); each term counts 1, or its entry of ``weights``.
        Only documents that match a term are returned. Batches of queries are scored on
        ``threads`` threads (the compiled scoring releases the GIL); the result does not depend on it.
        ``done(n)`` is called, in this thread, as each batch of ``n`` queries is scored."""
        n_queries = len(lengths)
        indices = np.empty((n_queries, k), dtype=np.int64)  # every row is written by its batch
        scores = np.empty((n_queries, k))
        W = self.weights
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if weights is None:
            weights = np.ones(len(terms))

        def score(batch: tuple[int, int]) -> None:
            start, stop = batch
            lo, hi = offsets[start], offsets[stop]
            # the batch as a [queries, terms] CSR matrix in the canonical form scipy's product reads
            # (term ids sorted, a repeated term's weights summed)
            Q = sp.csr_matrix((weights[lo:hi], terms[lo:hi], offsets[start:stop + 1] - lo),
                              shape=(stop - start, W.shape[0]))
            Q.sum_duplicates()
            indices[start:stop], scores[start:stop] = score_top_k(
                Q.indptr, Q.indices, Q.data, W.indptr, W.indices, W.data, W.shape[1], k, tie_rank)

        postings = np.bincount(np.repeat(np.arange(n_queries), lengths), np.diff(W.indptr)[terms], n_queries)
        batches = search_batches(postings.astype(np.int64).tolist(), threads)
        if threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(threads) as pool:
                for (start, stop), _ in zip(batches, pool.map(score, batches)):
                    if done:
                        done(stop - start)
        else:
            for start, stop in batches:
                score((start, stop))
                if done:
                    done(stop - start)
        return indices, scores
