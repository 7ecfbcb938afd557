"""Our BM25 backend: an inverted index as a scipy sparse matrix of precomputed term weights.

Indexing streams the corpus in batches (term ids from ``rageval.lexical.Vocabulary``), counts
term frequencies per batch, and stores every (term, document) weight
``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))`` in a term-major CSR matrix.
A batch of queries is one sparse product with that matrix, so a query touches only the
postings of its terms; top-k is a partial sort of the documents that matched, for the whole batch
at once (``rageval.topk.top_k_sparse``); batches run on several threads.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Literal, Sequence

import numpy as np
import scipy.sparse as sp

from rageval.topk import top_k_sparse

# Queries are scored in batches whose postings add up to at most this many entries.
POSTINGS_PER_BATCH = 2_000_000


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
    """The query batches of one search: at most ``POSTINGS_PER_BATCH`` postings each, and at least
    one batch per thread when the postings allow it (``query_batches`` with a budget of the total
    postings over ``threads``)."""
    return list(query_batches(postings, min(POSTINGS_PER_BATCH, -(-sum(postings) // max(threads, 1)) or 1)))


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
        parts, lengths = [], []
        for term_ids, lens in batches:
            docs = np.repeat(np.arange(len(lens), dtype=np.int32), lens)
            counts = sp.csr_matrix((np.ones(len(term_ids), dtype=np.int32), (docs, term_ids)),
                                   shape=(len(lens), n_terms()))
            counts.sum_duplicates()
            parts.append(counts)
            lengths.append(lens)
        n_vocab = n_terms()
        if n_vocab == 0:
            raise EmptyVocabulary("no term in any document")
        doc_len = np.concatenate(lengths)  # there is a batch: the vocabulary is not empty
        n_docs = len(doc_len)
        df = np.zeros(n_vocab, dtype=np.int64)
        for part in parts:
            df += np.bincount(part.indices, minlength=n_vocab)
        index_dtype = np.int32 if df.sum() < 2**31 else np.int64
        indptr = np.concatenate([[0], np.cumsum(df)]).astype(index_dtype)
        doc_ids = np.empty(indptr[-1], dtype=np.int32)
        tf = np.empty(indptr[-1], dtype=np.int32)
        fill = indptr[:-1].copy()
        first_doc = 0
        while parts:  # counting sort by term; within a term documents stay in corpus order
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
        idf = idf_weights(df, n_docs, self.idf_kind, self.epsilon)
        avgdl = doc_len.sum() / n_docs  # > 0: some document holds a term
        norm = 1 - self.b + self.b * doc_len / avgdl
        weight = tf.astype(np.float64)
        del tf
        denom = norm[doc_ids]
        denom *= self.k1
        denom += weight
        weight *= self.k1 + 1
        weight /= denom
        del denom
        weight *= np.repeat(idf, df)
        self.weights = sp.csr_matrix((weight.astype(self.dtype, copy=False), doc_ids, indptr), shape=(n_vocab, n_docs))

    def search(self, query_terms: list[list[int]], k: int, tie_rank: np.ndarray,
               query_weights: list[list[float]] | None = None, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) for each query's term ids (a repeated term counts again, or
        each term counts its ``query_weights`` entry); only documents that match a term. Batches of
        queries are scored on ``threads`` threads (the sparse product and the selection release the
        GIL); the result does not depend on it."""
        indices = np.empty((len(query_terms), k), dtype=np.int64)  # every row is written by its batch
        scores = np.empty((len(query_terms), k))

        def score(batch: tuple[int, int]) -> None:
            start, stop = batch
            S = self._product(query_terms[start:stop], None if query_weights is None else query_weights[start:stop])
            indices[start:stop], scores[start:stop] = top_k_sparse(S.indptr, S.indices, S.data, k, tie_rank)

        postings = np.diff(self.weights.indptr)
        batches = search_batches([int(postings[terms].sum()) for terms in query_terms], threads)
        if threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(score, batches))
        else:
            for batch in batches:
                score(batch)
        return indices, scores

    def _product(self, query_terms: list[list[int]], query_weights: list[list[float]] | None) -> sp.csr_matrix:
        """[queries, documents] scores of one batch: the sparse product keeps no zero sum, so its
        entries are exactly the matching documents."""
        rows = np.repeat(np.arange(len(query_terms)), [len(t) for t in query_terms])
        cols = np.fromiter((t for terms in query_terms for t in terms), dtype=np.int64, count=len(rows))
        if query_weights is None:
            values = np.ones(len(rows))
        else:
            values = np.fromiter((w for ws in query_weights for w in ws), dtype=np.float64, count=len(rows))
        Q = sp.csr_matrix((values, (rows, cols)), shape=(len(query_terms), self.weights.shape[0]))
        return (Q @ self.weights).tocsr()
