"""rageval: benchmark retrieval and RAG systems.

>>> import rageval
>>> ds = rageval.load_dataset("beir:path/to/cranfield")
>>> bm25 = rageval.get_retriever("bm25:k1=0.9,b=0.4")
>>> bm25.index(ds.corpus)
>>> rageval.evaluate(ds.qrels, bm25.search(ds.queries, k=100), ["nDCG@10"]).means

What a plugin author needs: the base class of each plugin kind (``DatasetLoader``, ``Retriever``,
``Chunker``, ``Generator``, ``Measure`` / ``TrecMeasure``), the capability protocols, the data
model, the shared lexical ``Analyzer`` / ``Vocabulary`` and the top-k helpers. What a notebook
needs: ``load_dataset``, ``get_retriever``, ``evaluate``, ``benchmark``, ``fuse``, ``results`` (a DataFrame).
"""
from __future__ import annotations

from .benchmarking import Outcome, benchmark
from .data import Corpus, Dataset, Document, Qrels, Queries, Span, Spans
from .datasets import load_dataset
from .errors import DataError, RagevalError, SpecError
from .evaluation import Results, evaluate
from .fusion import fuse
from .lexical import Analyzer, Vocabulary
from .metrics import Measure, parse_measure
from .metrics.ranking import TrecMeasure
from .plugins import (Chunker, DatasetLoader, EmbeddingRetriever, Generator, Retriever, VectorRetriever,
                      WeightedQueryRetriever)
from .registry import create
from .results_frame import results
from .topk import top_k, top_k_rows, top_k_sparse
from .trec import Run, read_qrels

__version__ = "0.1.0"


def get_retriever(spec: str) -> Retriever:
    """A retriever from its spec string, e.g. ``bm25:k1=0.9,b=0.4``."""
    return create("retrievers", spec)


__all__ = ["Analyzer", "Chunker", "Corpus", "DataError", "Dataset", "DatasetLoader", "Document", "EmbeddingRetriever",
           "Generator", "Measure", "Outcome", "Qrels", "Queries", "RagevalError", "Results", "Retriever", "Run", "Span",
           "Spans", "SpecError", "TrecMeasure", "VectorRetriever", "Vocabulary", "WeightedQueryRetriever",
           "benchmark", "evaluate", "fuse", "get_retriever", "load_dataset", "parse_measure", "read_qrels", "results",
           "top_k", "top_k_rows", "top_k_sparse", "__version__"]
