"""nDCG@k, MAP@k, Recall@k, P@k, MRR@k and Rprec, computed by pytrec_eval (trec_eval's C code), each
with its expectation over orderings of tied documents (``rageval.metrics.ties``).

Another trec_eval measure is one small class: its label, the trec_eval name, and whether trec_eval
cuts it itself (``ndcg_cut.10``) or rageval cuts the run at k first (``recip_rank``); it has no
tie-aware range unless it defines ``expected_under_ties``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pytrec_eval

from rageval.metrics import Judged, Measure, ties


@dataclass(frozen=True)
class TrecMeasure(Measure):
    """A trec_eval measure. ``own_cutoff``: trec_eval computes it at k (``measure.k``); otherwise the
    run is cut at k before trec_eval sees it (and a measure without a cutoff sees the whole run)."""

    measure = ""
    own_cutoff = True

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        qrels = {q: dict(j) for q, j in judged.qrels.items()}
        ranked = judged.documents
        out: dict[Measure, dict[str, float]] = {}
        if cls.own_cutoff and all(m.cutoff is not None for m in measures):
            cutoffs = sorted({m.cutoff for m in measures})
            evaluator = pytrec_eval.RelevanceEvaluator(qrels, {f"{cls.measure}.{','.join(map(str, cutoffs))}"})
            values = evaluator.evaluate({q: dict(docs) for q, docs in ranked.items() if docs})
            for m in measures:
                out[m] = {q: values.get(q, {}).get(f"{cls.measure}_{m.cutoff}", 0.0) for q in qrels}  # no results: 0
            return out
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {cls.measure})
        for m in measures:
            values = evaluator.evaluate({q: dict(docs[:m.cutoff]) for q, docs in ranked.items() if docs})
            out[m] = {q: values.get(q, {}).get(cls.measure, 0.0) for q in qrels}
        return out


@dataclass(frozen=True)
class NDCG(TrecMeasure):
    """Normalised discounted cumulative gain at k (trec_eval ndcg_cut, graded)."""

    label, measure = "nDCG", "ndcg_cut"

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_ndcg(tied)


@dataclass(frozen=True)
class MAP(TrecMeasure):
    """Mean average precision at k (trec_eval map_cut)."""

    label, measure = "MAP", "map_cut"

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_ap(tied)


@dataclass(frozen=True)
class Recall(TrecMeasure):
    """Share of a query's relevant documents in the top k (trec_eval recall)."""

    label, measure = "Recall", "recall"

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_recall(tied)


@dataclass(frozen=True)
class Precision(TrecMeasure):
    """Share of the top k that is relevant (trec_eval P)."""

    label, measure = "P", "P"

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_precision(tied)


@dataclass(frozen=True)
class MRR(TrecMeasure):
    """Reciprocal rank of the first relevant document within the top k (trec_eval recip_rank on the run cut at k)."""

    label, measure, own_cutoff = "MRR", "recip_rank", False

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_rr(tied)


@dataclass(frozen=True)
class RPrecision(TrecMeasure):
    """Precision at rank R, R the query's number of relevant documents (trec_eval Rprec)."""

    label, measure, needs_cutoff = "Rprec", "Rprec", False

    def depth(self, grades: Mapping[str, int]) -> int | None:
        """R: the query's number of relevant documents."""
        return sum(1 for g in grades.values() if g > 0)

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_precision(tied)  # P@R
