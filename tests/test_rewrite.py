"""Query rewriting: RM3 by hand, gar / reco / multi against a local chat server, caching, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_beir

from rageval import load_dataset, registry
from rageval.data.model import Queries
from rageval.errors import DataError, SpecError
from rageval.running.benchmark import benchmark as run_benchmark
from rageval.retrievers.rewrite import paraphrases
from rageval.retrievers.rewrite_prompts import PROMPTS
from rageval.retrievers.rm3 import expand, relevance_model

CORPUS = [
    '{"_id": "d1", "text": "jaguar cars are fast cars"}',
    '{"_id": "d2", "text": "fast sports vehicles and engines"}',
    '{"_id": "d3", "text": "the jaguar is a big cat of the jungle"}',
    '{"_id": "d4", "text": "cat food"}',
    '{"_id": "d5", "text": "apple pie recipe"}',
    '{"_id": "d6", "text": "old river boats"}',
]
QUERIES = ['{"_id": "q1", "text": "jaguar car"}', '{"_id": "q2", "text": "big cat"}']
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t1\nq2\td3\t1\n"


@pytest.fixture
def tiny(tmp_path):
    return load_dataset(str(write_beir(tmp_path / "cars", CORPUS, QUERIES, QRELS)))


def retriever(spec: str, dataset):
    r = registry.create("retrievers", spec)
    r.index(dataset.corpus)
    return r


def results(run) -> dict[str, list[tuple[str, float]]]:
    return {q: list(zip(docs, scores)) for q, docs, scores in run.results()}


def test_relevance_model_by_hand():
    # P(w|d1): appl .5, red .25, green .25; P(w|d2): appl .5, pear .5 ("a" is too short to be a feedback term)
    # RM1 = 2.0 * P(w|d1) + 1.0 * P(w|d2): appl 1.5, green .5, pear .5, red .5 -> top 2 (ties by term): appl, green
    docs = [["appl", "red", "appl", "green"], ["appl", "pear", "a"]]
    assert relevance_model(docs, [2.0, 1.0], 2) == {"appl": 0.75, "green": 0.25}
    assert expand(["appl"], docs, [2.0, 1.0], 2, 0.5) == {"appl": 0.875, "green": 0.125}
    assert expand(["appl", "tree"], docs, [2.0, 1.0], 2, 1.0) == {"appl": 0.5, "tree": 0.5, "green": 0.0}
    assert expand(["appl"], [], [], 10, 0.5) == {"appl": 1.0}


def test_rm3_run_by_hand(tiny):
    """q1 "jaguar car", one feedback document d1 ("jaguar car car fast" after analysis): RM1 = car .5,
    jaguar .25, fast .25; expanded = car .5, jaguar .375, fast .125, so d2 (only "fast") is found."""
    from rank_bm25 import BM25Okapi

    rm3 = retriever("rewrite:method=rm3,fb_docs=1,fb_terms=3,original_weight=0.5", tiny)
    got = results(rm3.search(tiny.queries.subset(["q1"]), 10))["q1"]
    analyzer = rm3.base.analyzer
    reference = BM25Okapi([analyzer.tokenize(t) for t in tiny.corpus.contents()])
    expected = 0.5 * reference.get_scores(["car"]) + 0.375 * reference.get_scores(["jaguar"]) \
        + 0.125 * reference.get_scores(["fast"])
    assert [d for d, _ in got] == ["d1", "d3", "d2"]
    for doc, score in got:
        assert score == pytest.approx(expected[tiny.corpus.position(doc)], abs=1e-9)
    assert "d2" in dict(got) and "d2" not in dict(results(retriever("bm25", tiny).search(tiny.queries, 10))["q1"])


def test_rm3_backends_agree(shared):
    ds = load_dataset(str(shared / "adi"))
    a = retriever("rewrite:method=rm3", ds).search(ds.queries, 20)
    b = retriever("rewrite:base=[bm25:backend=rank_bm25],method=rm3", ds).search(ds.queries, 20)
    assert np.array_equal(a.indices, b.indices)
    assert np.allclose(a.scores, b.scores, atol=1e-9)


def test_weighted_search_with_unit_weights_is_search(tiny):
    bm25 = retriever("bm25", tiny)
    weighted = [{t: float(n) for t, n in zip(*np.unique(bm25.analyzer.tokenize(q), return_counts=True))}
                for q in tiny.queries.texts]
    a, b = bm25.search(tiny.queries, 4), bm25.search_weighted(tiny.queries.ids, weighted, 4)
    assert np.array_equal(a.indices, b.indices) and np.allclose(a.scores, b.scores)


def test_gar_sparse_expands_and_falls_back(tiny, chat_server):
    chat_server.reply = lambda p: "" if "big cat" in p else "jaguar cars are fast vehicles"
    gar = retriever(f"rewrite:method=gar,generator=[{chat_server.spec()}]", tiny)
    run = gar.search(tiny.queries, 4)
    assert sorted(b["messages"][-1]["content"] for b in chat_server.bodies) == \
        sorted(PROMPTS["gar"].format(query=q) for q in ("jaguar car", "big cat"))
    bm25 = retriever("bm25", tiny)
    expected = bm25.search(Queries(["q1", "q2"], ["jaguar car jaguar cars are fast vehicles", "big cat"]), 4)
    assert np.array_equal(run.indices, expected.indices) and np.allclose(run.scores, expected.scores)
    assert run.meta["rewrite"] == {"method": "gar", "fallbacks": {"queries": 1}, "generator_calls": 2}


def test_gar_code_prompt_for_code_corpora(chat_server):
    """Documents with a ``language`` (what the code loaders give) select the *_code prompts."""
    from rageval.data.model import Corpus

    corpus = Corpus(ids=["f1", "f2"], texts=["def add(a, b):\n    return a + b", "def mul(a, b):\n    return a * b"],
                    metas=[{"language": "python"}] * 2)
    gar = registry.create("retrievers", f"rewrite:method=gar,generator=[{chat_server.spec()}]")
    gar.index(corpus)
    gar.search(Queries(["q"], ["add two numbers"]), 2)
    assert chat_server.bodies[0]["messages"][-1]["content"] == PROMPTS["gar_code"].format(query="add two numbers")


def test_gar_dense_uses_the_mean_vector(tiny, chat_server):
    chat_server.reply = lambda p: "a fast sports car"
    gar = retriever(f"rewrite:base=dense,method=gar,generator=[{chat_server.spec()}]", tiny)
    run = gar.search(tiny.queries, 4)
    dense = gar.base
    vectors = (dense.encode_texts(tiny.queries.texts) + dense.encode_texts(["a fast sports car"] * 2)) / 2
    expected = dense.search_vectors(tiny.queries.ids, vectors, 4)
    assert np.array_equal(run.indices, expected.indices) and np.allclose(run.scores, expected.scores, atol=1e-6)


def test_multi_paraphrases_and_rrf(tiny, chat_server):
    chat_server.reply = lambda p: "Rephrasings:\n1. jaguar engine\n2) \"big cat\"\n- jaguar car\n\n- jaguar engine"
    assert paraphrases(chat_server.reply(""), "jaguar car", 3) == ["jaguar engine", "big cat"]
    multi = retriever(f"rewrite:method=multi,paraphrases=3,rrf_k=60,generator=[{chat_server.spec()}]", tiny)
    run = results(multi.search(tiny.queries.subset(["q1"]), 4))["q1"]
    assert "{m}" not in chat_server.bodies[0]["messages"][-1]["content"]
    bm25 = retriever("bm25", tiny)
    lists = results(bm25.search(Queries(["a", "b", "c"], ["jaguar car", "jaguar engine", "big cat"]), 4))
    fused: dict[str, float] = {}
    for ranked in lists.values():
        for rank, (doc, _) in enumerate(ranked, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1 / (60 + rank)
    assert dict(run) == pytest.approx(fused)
    assert [d for d, _ in run] == sorted(fused, key=lambda d: (-fused[d], [-ord(c) for c in d]))


def test_reco_rewrites_documents_once(tiny, chat_server, tmp_path):
    def reply(prompt: str) -> str:
        if prompt.startswith("Summarise"):
            return "" if "cat food" in prompt else "about " + prompt.split("\n\n")[1]
        return "regenerated text about engines"
    chat_server.reply = reply
    spec = f"rewrite:method=reco,generator=[{chat_server.spec()}]"
    reco = retriever(spec, tiny)
    summaries = [b for b in chat_server.bodies if b["messages"][-1]["content"].startswith("Summarise")]
    assert len(summaries) == 6 and len(chat_server.bodies) == 6 + 5  # the empty summary is not regenerated
    run = reco.search(tiny.queries, 4)
    assert run.meta["rewrite"]["fallbacks"] == {"documents": 1, "queries": 0}
    # the indexed text of d1 is the original plus its rewrite
    assert "engines" in reco.base.vocab.terms or "engin" in reco.base.vocab.terms
    # through the runner: a rerun without resume asks nothing, and writes the same run
    out = tmp_path / "runs"
    run_benchmark([str(tmp_path / "cars")], [spec], out=out)
    asked = len(chat_server.bodies)
    trec = next(out.glob("*/*/run.trec")).read_text()
    run_benchmark([str(tmp_path / "cars")], [spec], out=out, resume=False)
    assert len(chat_server.bodies) == asked
    assert next(out.glob("*/*/run.trec")).read_text() == trec
    meta = json.loads(next(out.glob("*/*/run.json")).read_text())["meta"]
    assert meta["rewrite"]["generator_calls"] == 0


def test_prompts_file(tiny, chat_server, tmp_path):
    good = tmp_path / "prompts.json"
    good.write_text(json.dumps({"gar": "Answer briefly: {query}"}))
    retriever(f"rewrite:method=gar,prompts={good},generator=[{chat_server.spec()}]", tiny).search(tiny.queries, 2)
    assert sorted(b["messages"][-1]["content"] for b in chat_server.bodies) == \
        ["Answer briefly: big cat", "Answer briefly: jaguar car"]
    toml = tmp_path / "prompts.toml"
    toml.write_text('multi = """Give {m} variants of: {query}"""\n')
    registry.create("retrievers", f"rewrite:method=multi,prompts={toml},generator=[{chat_server.spec()}]")
    for content, message in [({"gar": "no placeholder"}, r"placeholders \['query'\], it uses \[\]"),
                             ({"nope": "{query}"}, "unknown prompt 'nope'"), ([1], "expected a mapping")]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(content))
        with pytest.raises(DataError, match=message):
            registry.create("retrievers", f"rewrite:method=gar,prompts={bad},generator=[{chat_server.spec()}]")


def test_bad_specs():
    with pytest.raises(SpecError, match="rm3 needs a lexical base"):
        registry.create("retrievers", "rewrite:base=dense,method=rm3")
    with pytest.raises(SpecError, match="not rewrite"):
        registry.create("retrievers", "rewrite:base=rewrite")
    with pytest.raises(SpecError, match="unknown generator 'nope'"):
        registry.create("retrievers", "rewrite:method=gar,generator=nope")
    with pytest.raises(SpecError, match="fb_docs"):
        registry.create("retrievers", "rewrite:fb_docs=0")


def test_endpoint_down_is_reported_and_the_benchmark_goes_on(tmp_path, chat_server):
    root = write_beir(tmp_path / "cars", CORPUS, QUERIES, QRELS)
    chat_server.script = [(503, "")] * 10
    outcomes = run_benchmark([str(root)], [f"rewrite:method=gar,generator=[{chat_server.spec(retries=1)}]", "bm25"],
                             out=tmp_path / "runs")
    assert "HTTP 503" in outcomes[0].error and "after 2 attempts" in outcomes[0].error
    assert outcomes[1].error is None and not list((tmp_path / "runs").glob("*/rewrite*/run.trec"))


@pytest.mark.slow
def test_gar_with_the_local_model(tiny):
    gar = retriever("rewrite:method=gar,generator=[local:max_new_tokens=16]", tiny)
    run = gar.search(tiny.queries, 4)
    assert run.meta["rewrite"]["generator_calls"] == 2 and (run.indices[:, 0] >= 0).all()


def test_rewrite_reuses_its_base_index_from_the_cache(shared, tmp_path, monkeypatch):
    from rageval.retrievers.bm25 import BM25

    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    ds = load_dataset(str(shared / "adi"))
    built = []
    real = BM25.index
    monkeypatch.setattr(BM25, "index", lambda self, corpus: (built.append(1), real(self, corpus))[1])
    first = registry.create("retrievers", "rewrite:base=bm25,method=rm3")
    first.index(ds.corpus)
    second = registry.create("retrievers", "rewrite:base=bm25,method=rm3")
    second.index(ds.corpus)
    assert built == [1]  # the second base index came from the cache
    assert first.search(ds.queries, 10).to_dict() == second.search(ds.queries, 10).to_dict()
