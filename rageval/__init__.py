"""rageval: benchmark retrieval and RAG systems.

>>> import rageval
>>> ds = rageval.load_dataset("beir:path/to/cranfield")
>>> bm25 = rageval.get_retriever("bm25:k1=0.9,b=0.4")
>>> bm25.index(ds.corpus)
>>> rageval.evaluate(bm25.search(ds.queries, k=100), ds, ["nDCG@10"]).means
"""
from __future__ import annotations

from .data import Corpus, Dataset, Document, Qrels, Queries, Span, Spans
from .datasets import load_dataset
from .errors import DataError, RagevalError, SpecError
from .evaluation import Results, evaluate
from .plugins import DatasetLoader, Retriever
from .registry import create
from .runner import run
from .runs import Run

__version__ = "0.1.0"


def get_retriever(spec: str) -> Retriever:
    """A retriever from its spec string, e.g. ``bm25:k1=0.9,b=0.4``."""
    return create("retrievers", spec)


__all__ = ["Corpus", "Dataset", "DataError", "DatasetLoader", "Document", "Qrels", "Queries", "RagevalError",
           "Results", "Retriever", "Run", "Span", "Spans", "SpecError", "evaluate", "get_retriever",
           "load_dataset", "run", "__version__"]
