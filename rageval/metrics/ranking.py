"""nDCG@k, MAP@k, Recall@k, P@k and MRR@k, computed by pytrec_eval (trec_eval's C code)."""
from __future__ import annotations

from typing import Sequence

import pytrec_eval

from . import Judged, Metric


class _TrecMetric(Metric):
    measure = ""          # trec_eval measure family, e.g. "ndcg_cut"
    truncate = False      # True when the measure has no cutoff of its own (recip_rank)

    def compute(self, judged: Judged, cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        qrels = {q: dict(j) for q, j in judged.qrels.items()}
        ranked = judged.documents
        out: dict[int | None, dict[str, float]] = {}
        if self.truncate:
            evaluator = pytrec_eval.RelevanceEvaluator(qrels, {self.measure})
            for k in cutoffs:
                values = evaluator.evaluate({q: dict(docs[:k]) for q, docs in ranked.items() if docs})
                out[k] = {q: values.get(q, {}).get(self.measure, 0.0) for q in qrels}
            return out
        measures = {f"{self.measure}.{','.join(str(k) for k in cutoffs)}"}
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
        values = evaluator.evaluate({q: dict(docs) for q, docs in ranked.items() if docs})
        for k in cutoffs:
            key = f"{self.measure}_{k}"
            out[k] = {q: values.get(q, {}).get(key, 0.0) for q in qrels}  # no results: 0
        return out


class NDCG(_TrecMetric):
    """Normalised discounted cumulative gain at k (trec_eval ndcg_cut, graded)."""

    label, measure = "nDCG", "ndcg_cut"


class MAP(_TrecMetric):
    """Mean average precision at k (trec_eval map_cut)."""

    label, measure = "MAP", "map_cut"


class Recall(_TrecMetric):
    """Share of a query's relevant documents in the top k (trec_eval recall)."""

    label, measure = "Recall", "recall"


class Precision(_TrecMetric):
    """Share of the top k that is relevant (trec_eval P)."""

    label, measure = "P", "P"


class MRR(_TrecMetric):
    """Reciprocal rank of the first relevant document within the top k (trec_eval recip_rank on the run cut at k)."""

    label, measure, truncate = "MRR", "recip_rank", True
