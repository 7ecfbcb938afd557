"""``bm25`` — Okapi BM25 with two backends: ``sparse`` (ours, the default) and ``rank_bm25`` (the reference)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import numpy as np

from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.topk import top_k_rows
from rageval.retrievers.bm25_index import BM25Index
from rageval.retrievers.bm25_postings import EmptyVocabulary, Postings
from rageval.running.index_shards import analyse_on_processes, analyse_on_tasks, process_count, shard_count
from rageval.store.array_files import InvalidArrays
from rageval.text.lexical import Analyzer, Vocabulary

INDEX_BATCH = 4_096
MAX_PARAMETER = 1_000.0  # bound of k1 and |epsilon|: the usual k1 lies in 0.5..3; far larger ones overflow


NO_TERMS = "bm25: no document has a term once analysed (every text empty, or stop words only): nothing to index"


class BM25(Retriever):
    """Okapi BM25 (k1, b; okapi or lucene idf) over the shared lexical analyzer; backend sparse or rank_bm25."""

    name = "bm25"
    default_run = True
    runtime_options = ("threads", "pruning")

    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25,
                 idf: Literal["okapi", "lucene"] = "okapi",
                 backend: Literal["sparse", "rank_bm25"] = "sparse",
                 tokenizer: Literal["regex", "whitespace"] = "regex", lowercase: bool = True,
                 split_identifiers: bool = True, stopwords: Literal["english", "none"] = "english",
                 stemmer: str = "english", dtype: Literal["float64", "float32"] = "float64", threads: int = 0,
                 pruning: bool = True):
        if k1 < 0 or not 0 <= b <= 1:
            raise SpecError(f"bm25: need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        if k1 > MAX_PARAMETER or abs(epsilon) > MAX_PARAMETER:
            raise SpecError(f"bm25: need k1 <= {MAX_PARAMETER:g} and |epsilon| <= {MAX_PARAMETER:g} (larger values "
                            f"overflow the scores), got k1={k1:g}, epsilon={epsilon:g}")
        if threads < 0:
            raise SpecError(f"bm25: threads must be 0 (every core) or more, got {threads}")
        self.threads = threads or os.cpu_count() or 1
        self.pruning = pruning
        if backend == "rank_bm25" and idf != "okapi":
            raise SpecError("bm25: backend=rank_bm25 implements idf=okapi only")
        self.k1, self.b, self.epsilon, self.idf, self.backend = k1, b, epsilon, idf, backend
        self.analyzer = Analyzer(tokenizer, lowercase, split_identifiers, stopwords, stemmer)
        self.dtype = np.dtype(dtype)
        self._ids: list[str] | None = None
        self.shards = 0  # how many Ray tasks analysed the corpus of the last index build (0: none)
        self.processes = 0  # how many forked processes analysed it (0: none)

    @property
    def cacheable(self) -> bool:
        """The sparse index can be saved and loaded (the rank_bm25 reference cannot)."""
        return self.backend == "sparse"

    def index(self, corpus: Corpus) -> None:
        self._ids, self._tie_rank = corpus.ids, corpus.id_ranks()
        with progress(len(corpus), f"bm25 ({self.backend}): indexing") as step:
            if self.backend == "rank_bm25":
                from rank_bm25 import BM25Okapi

                tokenized = []
                for batch in corpus.batches(INDEX_BATCH):
                    tokenized += [self.analyzer.tokenize(t) for t in batch]
                    step.update(len(batch))
                if not any(tokenized):
                    raise RagevalError(NO_TERMS)
                self._reference = BM25Okapi(tokenized, k1=self.k1, b=self.b, epsilon=self.epsilon)
                return
            self.vocab = Vocabulary(self.analyzer)
            self.shards = shard_count(len(corpus))
            self.processes = 0 if self.shards else process_count(len(corpus), self.threads)

            def batches():  # analysed on Ray tasks, forked processes or here (rageval.running.index_shards)
                if self.shards or self.processes:
                    shards = (analyse_on_tasks(self.vocab, corpus.contents(), self.shards, INDEX_BATCH) if self.shards
                              else analyse_on_processes(self.vocab, corpus.contents(), self.processes, INDEX_BATCH))
                    for term_ids, lengths in shards:
                        yield term_ids, lengths
                        step.update(len(lengths))
                    return
                for batch in corpus.batches(INDEX_BATCH):
                    yield self.vocab.add(batch)
                    step.update(len(batch))

            self._index = BM25Index(self.k1, self.b, self.epsilon, self.idf, self.dtype)
            try:
                self._index.build(batches(), self.vocab.__len__)
            except EmptyVocabulary:
                raise RagevalError(NO_TERMS) from None

    def save(self, folder: Path) -> None:
        """The index: its postings (``Postings.save``: checksummed arrays), terms in id order, document ids."""
        self._index.postings.save(folder)
        (folder / "terms.json").write_text(json.dumps(list(self.vocab.terms)), encoding="utf-8")
        (folder / "ids.json").write_text(json.dumps(self._ids), encoding="utf-8")

    def load(self, folder: Path) -> None:
        """What ``save`` wrote, the postings as memory maps; ``InvalidArrays`` when anything is damaged,
        of another layout, or does not fit the rest."""
        postings = Postings.load(folder)
        try:
            terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
            ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidArrays(f"{folder}: terms or ids unreadable ({type(e).__name__}: {e})") from None
        if postings.shape != (len(terms), len(ids)):
            raise InvalidArrays(f"{folder}: {len(terms)} terms and {len(ids)} ids for postings of shape "
                                f"{postings.shape}")
        self._index = BM25Index(self.k1, self.b, self.epsilon, self.idf, self.dtype)
        self._index.postings = postings
        self.vocab = Vocabulary(self.analyzer)
        self.vocab.terms = {t: i for i, t in enumerate(terms)}
        self._ids, self._tie_rank = ids, Corpus(ids=ids, texts=[""] * len(ids)).id_ranks()

    def search_weighted(self, query_ids: list[str], weighted: list[dict[str, float]], k: int) -> Run:
        """Top ``k`` for queries given as {analyzed term: weight}: the sum of weight x BM25 term score."""
        if self._ids is None:
            raise RuntimeError("bm25: index() a corpus before search_weighted()")
        if self.backend == "rank_bm25":
            rows = (self._matching(sum((w * self._reference.get_scores([t]) for t, w in query.items()),
                                       np.zeros(len(self._ids)))) for query in weighted)
            return Run(query_ids, self._ids, *top_k_rows(rows, len(weighted), k, self._tie_rank))
        known = self.vocab.terms
        terms = [[known[t] for t in query if t in known] for query in weighted]
        weights = [[w for t, w in query.items() if t in known] for query in weighted]
        indices, scores = self._index.search(terms, k, self._tie_rank, weights, self.threads, self.pruning)
        return Run(query_ids, self._ids, indices, scores)

    @staticmethod
    def _matching(all_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of the documents with a non-zero score: those that match a term."""
        candidates = np.flatnonzero(all_scores)
        return candidates, all_scores[candidates]

    def search(self, queries: Queries, k: int) -> Run:
        if self._ids is None:
            raise RuntimeError("bm25: index() a corpus before search()")
        tie_rank = self._tie_rank
        with progress(len(queries), f"bm25 ({self.backend}): searching", unit="query") as step:
            if self.backend == "rank_bm25":
                def rows():
                    for text in queries.texts:
                        yield self._matching(self._reference.get_scores(self.analyzer.tokenize(text)))
                        step.update(1)

                indices, scores = top_k_rows(rows(), len(queries), k, tie_rank)
            else:
                terms, lengths = self.vocab.lookup_many(queries.texts)
                indices, scores = self._index.search_arrays(terms, lengths, k, tie_rank, threads=self.threads,
                                                            done=step.update, pruning=self.pruning)
        return Run(queries.ids, self._ids, indices, scores)
