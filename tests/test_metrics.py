"""Scorers against hand-computed values: ties, empty results, unjudged queries, k beyond the list."""
from __future__ import annotations

import math

import pytest

from rageval import Corpus, Dataset, Queries, Run, evaluate
from rageval.errors import SpecError


def dataset(qrels, query_ids=("q1", "q2", "q3")):
    corpus = Corpus(ids=["a", "b", "c", "d", "e"], texts=["x"] * 5)
    return Dataset("toy", corpus, Queries(list(query_ids), ["t"] * len(query_ids)), qrels)


QRELS = {"q1": {"a": 2, "c": 1}, "q2": {"b": 1}, "q3": {"e": 0}}


def test_hand_computed_values_with_ties_missing_results_and_unjudged():
    # q1: b (0.9), then a tie at 0.5 between a and d: doc id descending puts d before a; then c.
    run = Run.from_dict({"q1": {"b": 0.9, "a": 0.5, "d": 0.5, "c": 0.1}, "q3": {"e": 1.0}})
    res = evaluate(dataset(QRELS), run, ["nDCG@3", "MRR@10", "P@2", "Recall@3", "MAP@10", "Sufficiency@3",
                                         "Sufficiency@4", "MRR@2"])
    # q3 has no relevant judgment: left out and counted; q2 has no results: scores 0.
    assert res.n_queries == 2 and res.n_without_relevant == 1
    assert set(res.per_query["nDCG@3"]) == {"q1", "q2"}
    q1 = {m: v["q1"] for m, v in res.per_query.items()}
    # ranking b, d, a, c -> relevant at ranks 3 (a, grade 2) and 4 (c, grade 1)
    # trec_eval's nDCG: gain = grade, discount log2(rank + 1)
    dcg3 = 2 / math.log2(4)
    idcg3 = 2 / math.log2(2) + 1 / math.log2(3)
    assert q1["nDCG@3"] == pytest.approx(dcg3 / idcg3)
    assert q1["MRR@10"] == pytest.approx(1 / 3)
    assert q1["MRR@2"] == 0.0
    assert q1["P@2"] == 0.0
    assert q1["Recall@3"] == pytest.approx(0.5)
    assert q1["MAP@10"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert q1["Sufficiency@3"] == 0.0 and q1["Sufficiency@4"] == 1.0
    assert all(v["q2"] == 0.0 for v in res.per_query.values())
    assert res.means["MRR@10"] == pytest.approx((1 / 3 + 0) / 2)


def test_k_larger_than_the_list_and_identical_ids():
    run = Run.from_dict({"q1": {"q1": 5.0, "a": 1.0}, "q2": {"b": 1.0}})
    ds = dataset({"q1": {"a": 1}, "q2": {"b": 1}}, ("q1", "q2"))
    plain = evaluate(ds, run, ["MRR@100", "Recall@1000", "P@5"])
    assert plain.per_query["MRR@100"] == {"q1": 0.5, "q2": 1.0}
    assert plain.per_query["Recall@1000"] == {"q1": 1.0, "q2": 1.0}
    assert plain.per_query["P@5"]["q2"] == pytest.approx(1 / 5)
    ignored = evaluate(ds, run, ["MRR@100"], ignore_identical_ids=True)
    assert ignored.per_query["MRR@100"] == {"q1": 1.0, "q2": 1.0}
    assert ignored.settings["ignore_identical_ids"] is True


def test_sufficiency_needs_every_relevant_item():
    run = Run.from_dict({"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"a": 1.0}})
    ds = dataset({"q1": {"a": 1, "c": 1, "d": 0}, "q2": {"b": 1}}, ("q1", "q2"))
    res = evaluate(ds, run, ["Sufficiency@2", "Sufficiency@3"])
    assert res.per_query["Sufficiency@2"] == {"q1": 0.0, "q2": 0.0}
    assert res.per_query["Sufficiency@3"] == {"q1": 1.0, "q2": 0.0}
    assert res.means["Sufficiency@3"] == 0.5


def test_metric_names_are_checked():
    run = Run.from_dict({"q1": {"a": 1.0}})
    ds = dataset({"q1": {"a": 1}}, ("q1",))
    with pytest.raises(SpecError, match=r"unknown metric 'ndgc' \(did you mean 'ndcg'\?\); available: .*ndcg"):
        evaluate(ds, run, ["ndgc@10"])
    with pytest.raises(SpecError, match="needs a cutoff"):
        evaluate(ds, run, ["nDCG"])
    assert list(evaluate(ds, run, ["ndcg@10"]).means) == ["nDCG@10"]


def test_several_cutoffs_of_one_measure_in_one_call():
    run = Run.from_dict({"q1": {"b": 0.9, "a": 0.5, "d": 0.5, "c": 0.1}, "q2": {"b": 1.0}})
    together = evaluate(dataset(QRELS), run, ["nDCG@2", "nDCG@3", "P@1", "P@3"]).per_query
    for metric in ("nDCG@2", "nDCG@3", "P@1", "P@3"):
        assert together[metric] == evaluate(dataset(QRELS), run, [metric]).per_query[metric]
    assert together["nDCG@2"]["q1"] == 0.0 and together["P@3"]["q1"] == pytest.approx(1 / 3)


def test_sufficiency_when_the_top_k_is_exactly_the_relevant_set():
    run = Run.from_dict({"q1": {"a": 1.0, "c": 0.9, "b": 0.1}, "q2": {"b": 1.0}})
    res = evaluate(dataset(QRELS), run, ["Sufficiency@2", "Sufficiency@1"]).per_query
    assert res["Sufficiency@2"] == {"q1": 1.0, "q2": 1.0}
    assert res["Sufficiency@1"] == {"q1": 0.0, "q2": 1.0}


def test_span_measures_on_whole_documents(caplog):
    parents = Corpus(ids=["a", "b"], texts=["one two three four", "five six"])
    ds = Dataset("w", parents, Queries(["q"], ["t"]), {"q": {"a": 1}}, {"q": [("a", 4, 7)]})
    run = Run.from_dict({"q": {"a": 2.0, "b": 1.0}}, parents.ids)
    default = evaluate(ds, run, ["span_recall@1", "span_precision@1", "precision_omega"]).per_query
    # regex tokens: a = one two three four; the span is "two"
    assert default == {"span_recall@1": {"q": 1.0}, "span_precision@1": {"q": 0.25}, "precision_omega": {"q": 0.25}}
    chroma = evaluate(ds, run, ["span_precision@1(chroma=true)", "precision_omega(chroma=true)"]).per_query
    assert chroma == {"span_precision@1(chroma=true)": {"q": 3 / 18}, "precision_omega(chroma=true)": {"q": 3 / 18}}
    assert "not found in their document" not in caplog.text
