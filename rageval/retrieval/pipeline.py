"""The one path from a retriever to a run, shared by ``rageval run`` and ``rageval ifrag build``:
fit (a trained retriever), index (or load the cached index), search, embedding diagnostics."""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from rageval.data.model import Corpus, Dataset
from rageval.data.training import TrainingData
from rageval.data.trec import Run
from rageval.errors import RagevalError
from rageval.plugins import EmbeddingRetriever, Retriever
from rageval.progress import progress
from rageval.retrieval.diagnostics import diagnostics
from rageval.store.index_cache import cached_index

log = logging.getLogger("rageval")


def check_scores(retriever: Retriever, run: Run) -> None:
    """A run whose scores are all finite; inf or nan (an option that overflows, a broken model) is an
    error naming the retriever's spec, before the run is written or scored."""
    returned = run.indices >= 0
    bad = returned & ~np.isfinite(run.scores)
    if bad.any():
        first = run.query_ids[int(np.flatnonzero(bad.any(axis=1))[0])]
        raise RagevalError(f"retriever {retriever.spec or retriever.name!r}: {int(bad.sum())} of {int(returned.sum())} "
                           f"scores are not finite (inf or nan; the first for query {first!r}): check its options")


def retrieve(retriever: Retriever, dataset: Dataset, depth: int, training: TrainingData,
             corpus: Corpus | None = None) -> tuple[Run, dict[str, Any]]:
    """Search ``dataset``'s queries in ``corpus`` (default: its own) for the top ``depth``; returns
    the run and the timings (never deeper than the documents searched). A retriever that needs
    training fits on ``training``'s splits first."""
    corpus = corpus if corpus is not None else dataset.corpus
    depth = min(depth, len(corpus))
    pair = f"{retriever.name} on {dataset.label}"
    timings: dict[str, Any] = {}
    if retriever.needs_fit():
        start = time.perf_counter()
        with progress(None, f"{pair}: training"):
            retriever.fit(*training.splits(retriever))
        timings["fit_s"] = round(time.perf_counter() - start, 4)
    start = time.perf_counter()
    with progress(None, f"{pair}: indexing {len(corpus):,} documents"):
        cached, index_bytes = cached_index(retriever, corpus)
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    with progress(None, f"{pair}: searching {len(dataset.queries):,} queries"):
        run = retriever.search(dataset.queries, depth)
    search_s = time.perf_counter() - start
    check_scores(retriever, run)
    if isinstance(retriever, EmbeddingRetriever):
        vectors = retriever.document_vectors()
        index_bytes = index_bytes if index_bytes is not None else int(vectors.nbytes)
        run.meta["embedding_diagnostics"] = diagnostics(
            dataset.queries.ids, retriever.query_vectors(dataset.queries), corpus, vectors, dataset.qrels)
        log.info("%s embedding space: %s", retriever.name,
                 ", ".join(f"{k} {v:.4f}" for k, v in run.meta["embedding_diagnostics"].items() if k != "n_queries"))
    return run, {**timings, "index_s": round(index_s, 4), "index_from_cache": cached, "index_bytes": index_bytes, "search_s": round(search_s, 4),
                 "queries_per_s": round(len(dataset.queries) / search_s, 1) if search_s else None}
