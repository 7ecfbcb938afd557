"""rageval: benchmark retrieval and RAG systems.

>>> import rageval
>>> ds = rageval.load_dataset("beir:path/to/cranfield")
>>> bm25 = rageval.get_retriever("bm25:k1=0.9,b=0.4")
>>> bm25.index(ds.corpus)
>>> rageval.evaluate(ds.qrels, bm25.search(ds.queries, k=100), ["nDCG@10"]).means

The names below are the public API (the README's "Public API" section lists them, with the modules
a plugin author also imports from: ``rageval.plugins``, ``rageval.metrics``, ``rageval.metrics.ties``,
``rageval.text.lexical``, ``rageval.retrieval.topk``, ``rageval.retrieval.fusion``, ``rageval.errors``); every other module
is internal.
"""
from __future__ import annotations

from rageval import registry
from rageval.data.loading import load_dataset
from rageval.data.model import Corpus, Dataset, Document, Qrels, Queries
from rageval.data.trec import Run, read_qrels
from rageval.errors import RagevalError
from rageval.metrics import Measure
from rageval.metrics.ranking import TrecMeasure
from rageval.plugins import Chunker, DatasetLoader, Generator, Retriever
from rageval.reporting.frame import read_results
from rageval.retrieval.external import retriever
from rageval.running.benchmark import benchmark
from rageval.scoring.evaluation import evaluate
from rageval.synthesis.pipeline import synth

__version__ = "0.1.0"


def get_retriever(spec: str) -> Retriever:
    """A retriever from its spec string, e.g. ``bm25:k1=0.9,b=0.4``."""
    return registry.create("retrievers", spec)


__all__ = ["load_dataset", "get_retriever", "retriever", "evaluate", "benchmark", "synth", "read_qrels", "read_results",
           "Document", "Corpus", "Queries", "Qrels", "Dataset", "Run",
           "Retriever", "DatasetLoader", "Chunker", "Generator", "Measure", "TrecMeasure",
           "RagevalError", "__version__"]
