"""Token-level span measures of chunked retrieval: span_recall@k, span_precision@k, IoU@k and
precision_omega (semantics in ``rageval.spans``). They score the queries that have reference spans."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..spans import Range, SpanScorer, full_recall_ranges
from . import Judged, Metric


def _ranges(judged: Judged, doc_ids: Sequence[str]) -> list[Range]:
    """Character ranges in the source documents: a chunk's (parent, start, end), a whole document's (id, 0, len)."""
    corpus = judged.corpus
    out = []
    for d in doc_ids:
        i = corpus.position(d)
        meta = corpus.metas[i]
        out.append((meta["parent"], meta["start"], meta["end"]) if "parent" in meta else (d, 0, len(corpus.texts[i])))
    return out


def _scorer(judged: Judged) -> SpanScorer:
    key = ("scorer",)
    if key not in judged.memo:
        parents = judged.dataset.corpus
        judged.memo[key] = SpanScorer(lambda d: parents.texts[parents.position(d)],
                                      judged.options.get("span_unit", "regex"), judged.options.get("chroma", False))
    return judged.memo[key]


def _references(judged: Judged) -> tuple[list[str], list[list[Range]]]:
    spans = judged.dataset.spans or {}
    qids = [q for q in judged.dataset.queries.ids if spans.get(q)]
    return qids, [spans[q] for q in qids]


def span_scores(judged: Judged, k: int) -> tuple[list[str], dict[str, np.ndarray]]:
    """recall / precision / iou at k for every query with spans (computed once per k)."""
    key = ("scores", k)
    if key not in judged.memo:
        qids, refs = _references(judged)
        retrieved = [_ranges(judged, [d for d, _ in judged.ranked.get(q, [])[:k]]) for q in qids]
        judged.memo[key] = (qids, _scorer(judged).score(retrieved, refs))
    return judged.memo[key]


class _SpanMetric(Metric):
    field = ""
    uses_spans = True

    def compute(self, judged: Judged, cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        out = {}
        for k in cutoffs:
            qids, scores = span_scores(judged, k)
            out[k] = dict(zip(qids, scores[self.field].tolist()))
        return out


class SpanRecall(_SpanMetric):
    """Share of the reference-span tokens covered by the top k chunks."""

    label, field = "span_recall", "recall"


class SpanPrecision(_SpanMetric):
    """Share of the top k chunks' tokens (merged) that lie in a reference span."""

    label, field = "span_precision", "precision"


class IoU(_SpanMetric):
    """Tokens in both the top k chunks and the reference spans over tokens in either."""

    label, field = "IoU", "iou"


class PrecisionOmega(Metric):
    """Precision of the best retrieval with full recall under the chunking: every chunk that overlaps a reference span."""

    label, needs_cutoff, uses_spans = "precision_omega", False, True

    def compute(self, judged: Judged, cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        corpus = judged.corpus
        by_parent: dict[str, list[tuple[int, int]]] = {}
        for i, meta in enumerate(corpus.metas):
            parent = meta.get("parent", corpus.ids[i])
            by_parent.setdefault(parent, []).append((meta.get("start", 0), meta.get("end", len(corpus.texts[i]))))
        chunks = {}
        for parent, ranges in by_parent.items():
            arr = np.array(sorted(ranges), dtype=np.int64).reshape(-1, 2)
            chunks[parent] = (arr[:, 0], arr[:, 1], np.maximum.accumulate(arr[:, 1]))
        qids, refs = _references(judged)
        best = full_recall_ranges(refs, chunks)
        values = _scorer(judged).score(best, refs)["precision"]
        return {k: dict(zip(qids, values.tolist())) for k in cutoffs}
