"""Scorers against hand-computed values: ties, empty results, unjudged queries, k beyond the list."""
from __future__ import annotations

import math

import numpy as np

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


def test_measures_are_objects_parsed_once():
    from rageval.metrics import parse_measure, parse_measures
    from rageval.metrics.ranking import NDCG
    from rageval.metrics.span import IoU

    assert parse_measure(" ndcg @ 10 ") == NDCG(cutoff=10) and parse_measure("nDCG@10").name == "nDCG@10"
    iou = parse_measure("IoU@5(unit=cl100k_base, chroma=true)")
    assert (iou.cutoff, iou.unit, iou.chroma, iou.name) == (5, "cl100k_base", True, "IoU@5(unit=cl100k_base,chroma=true)")
    assert len({iou, parse_measure("iou@5(chroma=true,unit=cl100k_base)"), IoU(5, unit="cl100k_base", chroma=True)}) == 1
    # defaults (the CLI's --span-unit / --chroma) fill what a measure leaves unset, and do not rename it
    assert parse_measure("IoU@5", unit="chars", chroma=True) == IoU(5, unit="chars", chroma=True)
    assert parse_measure("IoU@5", unit="chars").name == "IoU@5"
    assert parse_measure("IoU@5(unit=regex)", unit="chars").unit == "regex"
    assert parse_measure("nDCG@10", unit="chars") == NDCG(10)  # a default a family does not have is ignored
    with pytest.raises(SpecError, match=r"'IoU@5\(size=3\)': 'size=3' is not key=value of a parameter; its "
                                        r"parameters: unit \(str\), chroma \(bool\)"):
        parse_measure("IoU@5(size=3)")
    with pytest.raises(SpecError, match=r"chroma='maybe': expected true or false"):
        parse_measure("IoU@5(chroma=maybe)")
    with pytest.raises(SpecError, match="is not of the form"):
        parse_measure("nDCG@10(")
    with pytest.raises(SpecError, match="both named IoU@5"):
        parse_measures(["IoU@5", IoU(5, unit="chars")])
    assert parse_measures(["MRR@10", "mrr@10", "MRR@5"]) == (parse_measure("MRR@10"), parse_measure("MRR@5"))


def test_evaluate_on_qrels_and_run_equals_the_dataset_form():
    run = Run.from_dict({"q1": {"b": 0.9, "a": 0.5, "d": 0.5, "c": 0.1}, "q3": {"e": 1.0}})
    from_dataset = evaluate(dataset(QRELS), run, ["nDCG@3", "MRR@10"])
    from_qrels = evaluate(QRELS, run, ["nDCG@3", "MRR@10"])
    assert from_qrels.per_query == from_dataset.per_query and from_qrels.n_without_relevant == 1


def test_r_precision_by_hand():
    # q1 has R = 2 relevant (a, c); ranking b, d, a, c: none in the top 2 -> 0. q2: R = 1, no results -> 0
    run = Run.from_dict({"q1": {"b": 0.9, "a": 0.5, "d": 0.5, "c": 0.1}})
    res = evaluate(dataset(QRELS), run, ["Rprec"])
    assert res.per_query["Rprec"] == {"q1": 0.0, "q2": 0.0}
    run = Run.from_dict({"q1": {"a": 0.9, "b": 0.5, "c": 0.4}, "q2": {"a": 1.0, "b": 0.5}})
    assert evaluate(dataset(QRELS), run, ["Rprec"]).per_query["Rprec"] == {"q1": 0.5, "q2": 0.0}


def test_reciprocal_rank_fusion_by_hand():
    from rageval.retrieval.fusion import fuse

    one = Run.from_dict({"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 1.0}})
    two = Run.from_dict({"q1": {"c": 9.0, "a": 8.0}})
    fused = fuse([one, two], k=60)
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62; a and c differ only in the last term: a first
    assert fused.to_dict()["q1"] == pytest.approx({"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62})
    assert [d for _, docs, _ in fused.results() for d in docs][:3] == ["a", "c", "b"]
    assert fused.to_dict()["q2"] == {"x": 1 / 61}
    tied = fuse([Run.from_dict({"q": {"a": 1.0}}), Run.from_dict({"q": {"b": 1.0}})], k=0)
    assert next(tied.results())[1] == ["b", "a"]  # equal fused scores: doc id descending
    assert fuse([one, two], depth=1).k == 1
    assert fuse([one, two]).to_dict() == fused.to_dict()  # k = 60 by default (Cormack et al.)
    empty = fuse([Run.from_dict({}), Run.from_dict({})])
    assert empty.k == 0 and len(empty) == 0
    with pytest.raises(SpecError, match="fusion method 'combmnz' is not known"):
        fuse([one], method="combmnz")


def test_list_shows_a_measures_parameters(capsys):
    from rageval.cli import main

    assert main(["list", "-v"]) == 0
    text = capsys.readouterr().out
    iou = text[text.index("metrics iou"):text.index("metrics map")]
    assert "unit: str = 'regex'" in iou and "chroma: bool = False" in iou and "written" not in iou
    assert "cutoff" not in text[text.index("metrics ndcg"):text.index("metrics p\n")]


def test_span_measure_edges(caplog):
    from rageval import RagevalError
    from rageval.metrics import parse_measure

    parents = Corpus(ids=["a", "b"], texts=["xyz abc", "hello"])
    ds = Dataset("w", parents, Queries(["q", "r"], ["t", "u"]), {"q": {"a": 1}, "r": {"b": 1}},
                 {"q": [("a", 0, 3)], "r": [("b", 0, 5)]})
    # whole documents in character units: retrieving a covers all 7 characters, 3 of them the reference;
    # r has no result at all and scores 0
    res = evaluate(ds, Run.from_dict({"q": {"a": 1.0}}, parents.ids), ["span_recall@1(unit=chars)",
                                                                       "span_precision@1(unit=chars)"])
    assert res.per_query == {"span_recall@1(unit=chars)": {"q": 1.0, "r": 0.0},
                             "span_precision@1(unit=chars)": {"q": 3 / 7, "r": 0.0}}
    for searched in (None, parents):  # without the parents, with or without the searched corpus
        with pytest.raises(RagevalError, match=r"^span measures need the documents the reference spans point "
                                               r"into \(parents=\)$"):
            evaluate({"q": {"a": 1}}, Run.from_dict({"q": {"a": 1.0}}), ["IoU@1"], spans={"q": [("a", 0, 3)]},
                     corpus=searched)
    with pytest.raises(SpecError, match="unknown token unit 'nonsense'"):
        parse_measure("IoU@5(unit=nonsense)")  # checked when the measure is made, before any work
    chunks = Corpus(ids=["a#0", "a#1", "a#2"], texts=["xyz", "QQQ", "abc"],  # the second is not in the text
                    metas=[{"parent": "a", "start": 0, "end": 3}, {"parent": "a", "start": 4, "end": 7},
                           {"parent": "a", "start": 4, "end": 7}])
    with caplog.at_level("WARNING", logger="rageval"):
        evaluate(ds, Run.from_dict({"q": {"a#0": 1.0}}, chunks.ids), ["precision_omega(chroma=true)"], corpus=chunks)
    assert [r.getMessage() for r in caplog.records if "not found" in r.getMessage()] == [
        "chroma: 1 of 3 chunks not found in their document by search; their own offsets are used"]
    # a chunker that records no offsets: placed by search in chroma mode, an error naming the chunk otherwise
    bare = Corpus(ids=["a#0", "a#1"], texts=["xyz", "QQQ"], metas=[{"parent": "a"}, {"parent": "a"}])
    run = Run.from_dict({"q": {"a#0": 1.0}}, bare.ids)
    with pytest.raises(RagevalError, match=r"^span measures: chunk 'a#0' of 'a' has no start/end offsets in its "
                                           r"meta \(the chunker must record them, or use chroma=true"):
        evaluate(ds, run, ["IoU@1(unit=chars)"], corpus=bare)
    with pytest.raises(RagevalError, match=r"^span measures: chunk 'a#1' of 'a' has no start/end offsets in its "
                                           r"meta and its text is not found in the document$"):
        evaluate(ds, run, ["IoU@1(unit=chars,chroma=true)"], corpus=bare)
    placed = evaluate(ds, run, ["IoU@1(unit=chars,chroma=true)"], corpus=Corpus(ids=["a#0"], texts=["xyz"],
                                                                                 metas=[{"parent": "a"}]))
    assert placed.per_query["IoU@1(unit=chars,chroma=true)"]["q"] == 1.0  # found at 0..3: the whole reference


def test_each_row_is_ordered_by_trec_evals_rule_whatever_order_the_retriever_gave():
    # a retriever that returns its tie in ascending id order: trec_eval ranks b (the larger id) first
    run = Run(["q1"], ["a", "b"], np.array([[0, 1]]), np.array([[1.0, 1.0]]))
    res = evaluate({"q1": {"a": 1}}, run, ["MRR@10", "Sufficiency@1"])  # pytrec_eval sorts; Sufficiency reads our order
    assert res.per_query == {"MRR@10": {"q1": 0.5}, "Sufficiency@1": {"q1": 0.0}}


def test_which_queries_are_averaged_and_counted():
    run = Run.from_dict({"q1": {"a": 1.0}, "q4": {"a": 1.0}})
    qrels = {**QRELS, "q4": {"a": 1}}
    ds = dataset(qrels)  # q4 is judged but not a query of the dataset: left out
    res = evaluate(ds, run, ["MRR@10"])
    assert (res.n_queries, res.n_without_relevant, res.n_without_results) == (2, 1, 1)
    assert res.per_query["MRR@10"] == {"q1": 1.0, "q2": 0.0}
    on_qrels = evaluate(qrels, run, ["MRR@10"])
    assert on_qrels.per_query["MRR@10"] == {"q1": 1.0, "q2": 0.0, "q4": 1.0} and on_qrels.n_without_results == 1
    assert evaluate(ds, run, ["MRR@10"], queries=["q1"]).per_query["MRR@10"] == {"q1": 1.0}  # queries= wins
    only = evaluate(qrels, run, ["MRR@10"], queries=["q4", "q3"])
    assert only.per_query["MRR@10"] == {"q4": 1.0} and (only.n_queries, only.n_without_relevant) == (1, 1)
    nothing = evaluate({"q3": {"e": 0}}, run, ["MRR@10", "nDCG@10"])
    assert nothing.means == {"MRR@10": 0.0, "nDCG@10": 0.0} and nothing.n_queries == 0


def test_the_settings_recorded_with_the_results():
    parents = Corpus(ids=["a", "b"], texts=["one two three four", "five six"])
    chunks = Corpus(ids=["a#0", "a#1", "b#0"], texts=["one two", "three four", "five six"],
                    metas=[{"parent": "a", "start": 0, "end": 7}, {"parent": "a", "start": 8, "end": 18},
                           {"parent": "b", "start": 0, "end": 8}])
    run = Run.from_dict({"q": {"b#0": 3.0, "a#1": 2.0, "a#0": 1.0}}, chunks.ids)
    spans = {"q": [("a", 4, 7)]}
    plain = evaluate({"q": {"a": 1}}, run, ["MRR@10"], corpus=chunks, parents=parents)
    assert plain.settings == {"metrics": ["MRR@10"], "ignore_identical_ids": False,
                              "tie_break": "score desc, doc id desc (trec_eval)",
                              "document_rank": "rank of the document's best chunk"}
    assert plain.per_query["MRR@10"] == {"q": 0.5}  # a at the rank of a#1, its best chunk
    one_unit = evaluate({"q": {"a": 1}}, run, ["IoU@2", "span_recall@2"], spans, parents, corpus=chunks)
    assert one_unit.settings["span_unit"] == "regex"
    two_units = evaluate({"q": {"a": 1}}, run, ["IoU@2", "span_recall@2(chroma=true)"], spans, parents,
                         corpus=chunks)
    assert two_units.settings["span_unit"] == {"IoU@2": "regex", "span_recall@2(chroma=true)": "chars (chroma)"}
    unchunked = evaluate({"q": {"a": 1}}, Run.from_dict({"q": {"a": 1.0}}), ["MRR@10"], parents=parents)
    assert "document_rank" not in unchunked.settings and "span_unit" not in unchunked.settings


def test_tie_aware_values_are_on_by_default_and_count_the_unretrieved_tail():
    parents = Corpus(ids=["a", "b", "c", "d"], texts=["x"] * 4)
    run = Run.from_dict({"q": {"a": 1.0}})  # b, c, d unretrieved: tied below a
    res = evaluate({"q": {"b": 1}}, run, ["MRR@10"], parents=parents)
    # b is at rank 2, 3 or 4 with equal chance: expected RR = (1/2 + 1/3 + 1/4) / 3
    assert res.ties["MRR@10"] == {"queries_with_tie_at_cut": 0, "expected": pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3),
                                  "min": 0.25, "max": 0.5}
    assert evaluate({"q": {"b": 1}}, run, ["MRR@10"], parents=parents, tie_aware_values=False).ties == {}
    # means over queries: r has no tie and keeps its value in all three
    both = evaluate({"q": {"b": 1}, "r": {"a": 1}}, Run.from_dict({"q": {"a": 1.0}, "r": {"a": 1.0}}), ["MRR@10"],
                    parents=parents)
    assert both.ties["MRR@10"] == {"queries_with_tie_at_cut": 0,
                                   "expected": pytest.approx(((1 / 2 + 1 / 3 + 1 / 4) / 3 + 1) / 2),
                                   "min": (0.25 + 1) / 2, "max": (0.5 + 1) / 2}


def test_curves_are_the_measures_at_each_depth():
    from rageval.scoring.evaluation import CURVES, curves

    run = Run.from_dict({"q1": {"b": 0.9, "a": 0.5, "d": 0.5, "c": 0.1}, "q2": {"b": 0.3}})
    ds = dataset(QRELS)
    values = curves(ds, run, 4)
    assert set(values) == set(CURVES) and all(len(v) == 4 for v in values.values())
    for family in CURVES:
        for k in range(1, 5):
            assert values[family][k - 1] == evaluate(ds, run, [f"{family}@{k}"]).means[f"{family}@{k}"]
    assert values["Recall"] == [0.5, 0.5, 0.75, 1.0]  # q2 found at 1; q1's a at 3 and c at 4
    # a result that is its own query counts unless dropped; chunks count for their document
    own = Run.from_dict({"q2": {"q2": 2.0, "b": 1.0}})
    two = dataset({"q2": {"b": 1}}, ("q2",))
    assert curves(two, own, 1)["Recall"] == [0.0] and curves(two, own, 1, ignore_identical_ids=True)["Recall"] == [1.0]
    parents = Corpus(ids=["a", "b"], texts=["one two three four", "five six"])
    chunks = Corpus(ids=["a#0", "b#0"], texts=["one two", "five six"],
                    metas=[{"parent": "a", "start": 0, "end": 7}, {"parent": "b", "start": 0, "end": 8}])
    chunked = Dataset("c", parents, Queries(["q"], ["t"]), {"q": {"a": 1}})
    by_chunk = Run.from_dict({"q": {"b#0": 2.0, "a#0": 1.0}}, chunks.ids)
    assert curves(chunked, by_chunk, 2, corpus=chunks)["Recall"] == [0.0, 1.0]


def test_the_deepest_cutoff_sets_the_depth_kept():
    from rageval.scoring.evaluation import max_cutoff
    from rageval.metrics import parse_measures

    assert max_cutoff(parse_measures(["MRR@10", "nDCG@100", "Rprec"])) == 100
    assert max_cutoff(parse_measures(["Rprec"])) == 0 and max_cutoff([]) == 0


def test_measures_carry_their_label_family_and_tie_aware_form():
    from rageval.metrics import measure_class, parse_measure

    names = ["nDCG@10", "MAP@5", "Recall@100", "P@5", "MRR@10", "Sufficiency@10", "Rprec", "bpref", "P_5", "map",
             "span_recall@5", "IoU@5(unit=chars)", "precision_omega(chroma=true)"]
    carried = {n: (measure_class(n).label, measure_class(n).family, parse_measure(n).tie_aware) for n in names}
    ranked = {n: (n.split("@")[0], "ranking", True) for n in names[:6]}
    assert carried == {**ranked, "Rprec": ("Rprec", "ranking", True), "bpref": ("trec_eval", "ranking", False),
                       "P_5": ("trec_eval", "ranking", False), "map": ("trec_eval", "ranking", False),
                       "span_recall@5": ("span_recall", "span", False), "IoU@5(unit=chars)": ("IoU", "span", False),
                       "precision_omega(chroma=true)": ("precision_omega", "span", False)}
    assert [parse_measure(n).uses_spans for n in ("IoU@5", "nDCG@10")] == [True, False]
    # no installed measure by that name (an uninstalled plugin, trec_eval's sums, not a measure name)
    assert [measure_class(n) for n in ("gone@5", "num_q", "P_5@3", "nDCG@")] == [None] * 4
    # Rprec reads as deep as the query has relevant documents; the others to their cutoff
    grades = {"a": 2, "b": 0, "c": 1}
    assert [parse_measure(n).depth(grades) for n in ("Rprec", "P@5", "bpref")] == [2, 5, None]


def test_a_chunked_document_stands_at_the_rank_of_its_best_chunk():
    parents = Corpus(ids=["d1", "d2", "d3"], texts=["aaaa bbbb", "cccc", "dddd"])
    chunks = Corpus(ids=["d1#0", "d1#1", "d2#0", "d3#0"], texts=["aaaa", "bbbb", "cccc", "dddd"],
                    metas=[{"parent": "d1", "start": 0, "end": 4}, {"parent": "d1", "start": 5, "end": 9},
                           {"parent": "d2", "start": 0, "end": 4}, {"parent": "d3", "start": 0, "end": 4}])
    ds = Dataset("toy", parents, Queries(["q"], ["x"]), {"q": {"d1": 1}})
    run = Run.from_dict({"q": {"d2#0": 4.0, "d1#1": 3.0, "d3#0": 2.0, "d1#0": 1.0}}, chunks.ids)
    values = evaluate(ds, run, ["MRR@10", "P@2", "Recall@2"], corpus=chunks).means
    # documents: d2, d1 (its best chunk is second), d3 -- d1 is not counted twice
    assert values == {"MRR@10": 0.5, "P@2": 0.5, "Recall@2": 1.0}
