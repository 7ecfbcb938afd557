"""``tfidf`` — cosine similarity of log-tf x idf vectors, built on rageval's shared analyzer."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rageval import Corpus, Queries, Retriever, Run
from rageval.retrieval.topk import top_k_rows
from rageval.text.lexical import Analyzer, Vocabulary


def _tfidf(term_ids: np.ndarray, lengths: np.ndarray, n_terms: int, idf: np.ndarray) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(lengths)), lengths)
    counts = sp.csr_matrix((np.ones(len(term_ids)), (rows, term_ids)), shape=(len(lengths), n_terms))
    counts.data = (1 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    return sp.diags(1 / np.where(norms > 0, norms, 1)) @ counts


class TfIdf(Retriever):
    """TF-IDF cosine similarity (an example of an out-of-tree retriever plugin)."""

    name = "tfidf"

    def __init__(self, stemmer: str = "english"):
        self.vocab = Vocabulary(Analyzer(stemmer=stemmer))

    def index(self, corpus: Corpus) -> None:
        self.corpus = corpus
        term_ids, lengths = self.vocab.add(corpus.contents())
        rows = np.repeat(np.arange(len(lengths)), lengths)
        df = np.bincount(np.unique(rows.astype(np.int64) * len(self.vocab) + term_ids) % len(self.vocab),
                         minlength=len(self.vocab))
        self.idf = np.log((1 + len(corpus)) / (1 + df)) + 1
        self.docs = _tfidf(term_ids, lengths, len(self.vocab), self.idf).T.tocsr()

    def search(self, queries: Queries, k: int) -> Run:
        ids = [self.vocab.lookup(text) for text in queries.texts]
        lengths = np.array([len(t) for t in ids])
        flat = np.array([t for terms in ids for t in terms], dtype=np.int64)
        scores = (_tfidf(flat, lengths, len(self.vocab), self.idf) @ self.docs).tocsr()
        rows = (scores.getrow(i) for i in range(len(queries)))
        indices, values = top_k_rows(((row.indices, row.data) for row in rows), len(queries), k,
                                     self.corpus.id_ranks())
        return Run(queries.ids, self.corpus.ids, indices, values)
