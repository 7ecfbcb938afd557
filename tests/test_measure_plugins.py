"""A measure defined outside rageval, registered through an entry point, is treated as a built-in one:
its own expectation over tied orderings gives it a tie-aware range in ``evaluate`` and ``rageval
evaluate`` (and the report's tie mark), one without an expectation gets no range, and the report asks
a measure's class whether it scores spans (span chart) or ranked documents (per-query differences)."""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from math import comb
from typing import Sequence

import pytest
from conftest import write_beir

from rageval import Run, evaluate, registry
from rageval.cli import main
from rageval.metrics import Judged, Measure, measure_class
from rageval.metrics.span import SpanMeasure
from rageval.metrics.ties import TiedList


def _hits(judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
    return {m: {q: float(any(judged.qrels[q].get(d, 0) > 0 for d, _ in docs[:m.cutoff]))
                for q, docs in judged.documents.items()} for m in measures}


@dataclass(frozen=True)
class Found(Measure):
    """1 when a relevant document is in the top k (no tie-aware form)."""

    label = "Found"

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        return _hits(judged, measures)


@dataclass(frozen=True)
class Hits(Measure):
    """1 when a relevant document is in the top k, with its expectation over tied orderings."""

    label = "Hits"

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        return _hits(judged, measures)

    def expected_under_ties(self, tied: TiedList) -> float:
        """The first group with a relevant document decides: its r relevant ones all miss its m places
        above the cut with probability C(n - r, m) / C(n, m)."""
        for (start, end), r in zip(tied.groups, tied.counts):
            if start >= tied.depth:
                return 0.0
            if r:
                places = min(end, tied.depth) - start
                return 1.0 - comb(end - start - r, places) / comb(end - start, places)
        return 0.0


@dataclass(frozen=True)
class SpanFound(SpanMeasure):
    """1 when the top k chunks hold a token of the query's reference spans."""

    label = "span_found"

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        view, out = judged.span_view(), {}
        for m in measures:
            qids, scores = view.scores(m.cutoff, m.unit, m.chroma)  # type: ignore[attr-defined]
            out[m] = {q: float(v > 0) for q, v in zip(qids, scores["recall"].tolist())}
        return out


@pytest.fixture
def plugins(tmp_path):
    """The three classes above registered in ``rageval.metrics`` by an installed distribution's
    entry points (a dist-info folder on sys.path), as a third party's package would be."""
    site = tmp_path / "site"
    info = site / "rageval_test_measures-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rageval-test-measures\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rageval.metrics]\nhits = {__name__}:Hits\nfound = {__name__}:Found\n"
                                           f"span_found = {__name__}:SpanFound\n")
    sys.path.insert(0, str(site))
    registry.available.cache_clear()
    yield
    sys.path.remove(str(site))
    registry.available.cache_clear()


# q1: a, then b c d tied (c relevant) across the cut of 2; trec_eval puts d (the largest id) second
QRELS = {"q1": {"c": 1, "x": 0}, "q2": {"e": 1}}
TIED = {"q1": {"a": 3.0, "b": 2.0, "c": 2.0, "d": 2.0}, "q2": {"e": 5.0, "f": 1.0}}
# by hand: q1 scores 0 (top 2: a, d), expected 1 - C(2,1)/C(3,1) = 1/3, range [0, 1]; q2 scores 1
HITS_TIES = {"queries_with_tie_at_cut": 1, "expected": pytest.approx((1 / 3 + 1) / 2), "min": 0.5, "max": 1.0}


def test_a_plugin_measure_gets_its_tie_aware_range_from_evaluate(plugins):
    run = Run.from_dict(TIED, ["a", "b", "c", "d", "e", "f"])
    res = evaluate(QRELS, run, ["hits@2", "found@2", "P@2"])
    assert res.means["Hits@2"] == 0.5 and res.per_query["Hits@2"] == {"q1": 0.0, "q2": 1.0}
    assert res.ties["Hits@2"] == HITS_TIES
    assert "Found@2" not in res.ties  # no expectation: no tie-aware range, and no error
    # a built-in beside it: P@2 of q1 is 1/2 when c comes second (1 in 3), else 0; q2's is 1/2
    assert res.ties["P@2"] == {"queries_with_tie_at_cut": 1, "expected": pytest.approx((1 / 6 + 1 / 2) / 2),
                               "min": 0.25, "max": 0.5}
    assert measure_class("Hits@2") is Hits and Hits(cutoff=2).tie_aware and not Found(cutoff=2).tie_aware


def test_rageval_evaluate_records_the_range_and_the_report_marks_and_compares_it(plugins, tmp_path):
    qrels = tmp_path / "test.qrels"
    qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, judged in QRELS.items() for d, g in judged.items()))
    tied, other = tmp_path / "tied.trec", tmp_path / "other.trec"
    tied.write_text("".join(f"{q} Q0 {d} {i + 1} {s} tied\n" for q, docs in TIED.items()
                            for i, (d, s) in enumerate(docs.items())))
    other.write_text("q1 Q0 c 1 9.0 other\nq1 Q0 a 2 8.0 other\nq2 Q0 f 1 9.0 other\nq2 Q0 e 2 8.0 other\n")
    out = tmp_path / "out"
    assert main(["evaluate", "--run", str(tied), "--run", str(other), "--qrels", str(qrels), "--metric", "hits@2",
                 "--metric", "found@2", "--out", str(out), "--dataset-name", "tiny"]) == 0
    (record,) = out.glob("tiny*/tied*/metrics.json")
    metrics = json.loads(record.read_text())
    assert metrics["metrics"]["Hits@2"] == 0.5 and metrics["ties"]["Hits@2"] == HITS_TIES
    assert "Found@2" not in metrics["ties"]

    assert main(["report", str(out), "--html", str(tmp_path / "p.html"), "--baseline", "other"]) == 0
    page = (tmp_path / "p.html").read_text()
    assert "<th>Hits@2</th>" in page and "<th>Found@2</th>" in page
    # † on the tied run's Hits@2 alone (0.5 is 1/6 from its expectation; Found@2 has no range)
    assert re.findall(r'>([0-9.]+)(?:<span class="(?:up|down)">.</span>)?†', page) == ["0.5000"]
    assert _page_data(page)["differences"][0]["measure"] == "Hits@2"


def test_the_report_asks_the_measure_whether_it_scores_spans(plugins, tmp_path):
    data = write_beir(tmp_path / "data", corpus=[
        '{"_id": "d1", "text": "red apples and green apples grow on trees in the orchard"}',
        '{"_id": "d2", "text": "a pear is not an apple but it grows in the orchard too"}',
        '{"_id": "d3", "text": "fast red cars drive on the road past the orchard"}'],
        qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    (data / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 0, "end": 10}\n'
                                      '{"query-id": "q2", "corpus-id": "d3", "start": 0, "end": 14}\n')
    out = tmp_path / "runs"
    assert main(["run", "--dataset", str(data), "--retriever", "bm25", "--retriever", "bm25:k1=0.5,b=0.3",
                 "--chunker", "fixed:size=20,overlap=0", "--metric", "span_found@2", "--metric", "hits@2",
                 "--out", str(out)]) == 0
    assert main(["report", str(out), "--html", str(tmp_path / "p.html")]) == 0
    data = _page_data((tmp_path / "p.html").read_text())
    assert [d["measure"] for d in data["differences"]] == ["Hits@2"]  # not the span measure listed first
    plotted = {v["measure"] for chart in data["charts"] for v in chart["spec"].get("data", {}).get("values", [])
               if "size" in v}
    assert plotted == {"span_found@2"}  # the span measures against chunk size


def _page_data(page: str) -> dict:
    start = page.index('id="report-data">') + len('id="report-data">')
    return json.loads(page[start:page.index("</script>", start)])
