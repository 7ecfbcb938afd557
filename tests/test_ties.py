"""One tie rule for every retriever: equal scores are ordered by doc id descending (trec_eval's
rule), so a cut at k keeps the documents trec_eval would. Five documents: a-d share one text, e
differs; the query is the shared text, so a-d tie at the top."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from rageval import Corpus, Queries, registry

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
CORPUS = Corpus(ids=["a", "b", "c", "d", "e"],
                texts=["the quick brown fox jumps"] * 4 + ["a completely different sentence about cats"])
QUERIES = Queries(["q"], ["the quick brown fox jumps"])
EXPECTED = {1: ["d"], 2: ["d", "c"], 3: ["d", "c", "b"]}


def ranked(retriever, k: int) -> list[str]:
    run = retriever.search(QUERIES, k)
    return [CORPUS.ids[i] for i in run.indices[0] if i >= 0]


@pytest.mark.parametrize("spec", ["bm25", "bm25:backend=rank_bm25", "bm25:idf=lucene", "rewrite:method=rm3,fb_docs=2"])
def test_lexical_retrievers_cut_ties_by_doc_id(spec):
    retriever = registry.create("retrievers", spec)
    retriever.index(CORPUS)
    for k, expected in EXPECTED.items():
        assert ranked(retriever, k) == expected, (spec, k)


@pytest.mark.parametrize("spec", ["dense", "dense:index=hnsw", "dense:index=ivf,nlist=1,nprobe=1"])
def test_dense_cuts_ties_by_doc_id(spec, bundled_model):
    retriever = registry.create("retrievers", spec)
    retriever.index(CORPUS)
    for k, expected in EXPECTED.items():
        assert ranked(retriever, k) == expected, (spec, k)
    assert ranked(retriever, 10) == ["d", "c", "b", "a", "e"]  # k beyond the corpus: all, then padding


def test_astgnn_cuts_ties_by_doc_id(bundled_model):
    pytest.importorskip("torch_geometric")
    astgnn = registry.create("retrievers", "astgnn")
    astgnn._model = astgnn._build()  # untrained: ranks as dense does
    astgnn._model.eval()
    astgnn.index(CORPUS)
    for k, expected in EXPECTED.items():
        assert ranked(astgnn, k) == expected


def test_the_example_plugin_cuts_ties_by_doc_id(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "rageval-example-plugin"))
    from rageval_example.tfidf import TfIdf

    retriever = TfIdf()
    retriever.index(CORPUS)
    for k, expected in EXPECTED.items():
        assert ranked(retriever, k) == expected
    sys.modules.pop("rageval_example.tfidf", None)


def test_dense_tie_deeper_than_the_first_fetch(bundled_model):
    """A tie of 40 documents crossing k=3: the first fetch (k + 1) sees only part of it."""
    ids = [f"doc{i:02d}" for i in range(40)] + ["other"]
    corpus = Corpus(ids=ids, texts=["identical words here"] * 40 + ["unrelated text"])
    retriever = registry.create("retrievers", "dense")
    retriever.index(corpus)
    run = retriever.search(Queries(["q"], ["identical words here"]), 3)
    assert [corpus.ids[i] for i in run.indices[0]] == ["doc39", "doc38", "doc37"]
    assert np.all(run.scores[0] == run.scores[0][0])
