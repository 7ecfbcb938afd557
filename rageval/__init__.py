"""rageval: benchmark retrieval and RAG systems.

>>> import rageval
>>> ds = rageval.load_dataset("beir:path/to/cranfield")
>>> bm25 = rageval.get_retriever("bm25:k1=0.9,b=0.4")
>>> bm25.index(ds.corpus)
>>> rageval.evaluate(ds.qrels, bm25.search(ds.queries, k=100), ["nDCG@10"]).means

The names below are the public API (the README's "Public API" section lists them, with the modules
a plugin author also imports from: ``rageval.plugins``, ``rageval.metrics``, ``rageval.ties``,
``rageval.lexical``, ``rageval.topk``, ``rageval.fusion``, ``rageval.errors``); every other module
is internal.
"""
from __future__ import annotations

from . import registry
from .benchmarking import benchmark
from .data import Corpus, Dataset, Document, Qrels, Queries
from .datasets import load_dataset
from .errors import RagevalError
from .evaluation import evaluate
from .metrics import Measure
from .metrics.ranking import TrecMeasure
from .plugins import Chunker, DatasetLoader, Generator, Retriever
from .results_frame import read_results
from .trec import Run, read_qrels

__version__ = "0.1.0"


def get_retriever(spec: str) -> Retriever:
    """A retriever from its spec string, e.g. ``bm25:k1=0.9,b=0.4``."""
    return registry.create("retrievers", spec)


__all__ = ["load_dataset", "get_retriever", "evaluate", "benchmark", "read_qrels", "read_results",
           "Document", "Corpus", "Queries", "Qrels", "Dataset", "Run",
           "Retriever", "DatasetLoader", "Chunker", "Generator", "Measure", "TrecMeasure",
           "RagevalError", "__version__"]
