"""Token-level span measures of chunked retrieval: span_recall@k, span_precision@k, IoU@k and
precision_omega (semantics in ``rageval.spans``). They score the queries that have reference spans."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ..chroma import chroma_precision_omega, chroma_scores, place_by_search
from ..spans import Range, SpanScorer, full_recall_ranges
from . import Judged, Metric

log = logging.getLogger("rageval")


def _chroma(judged: Judged) -> bool:
    return bool(judged.options.get("chroma", False))


def _placed(judged: Judged) -> list[Range]:
    """Every searched unit's range in its source document: by search (``place_by_search``) in
    chroma mode, falling back to the chunker's offsets when the text is not found; else the
    chunk's own offsets (a whole document: 0 to its length)."""
    if "placed" not in judged.memo:
        corpus, parents = judged.corpus, judged.dataset.corpus
        chroma, unplaced, out = _chroma(judged), 0, []
        for i, meta in enumerate(corpus.metas):
            parent = meta.get("parent", corpus.ids[i])
            own = (meta["start"], meta["end"]) if "parent" in meta else (0, len(corpus.texts[i]))
            where = place_by_search(parents.texts[parents.position(parent)], corpus.texts[i]) if chroma else own
            unplaced += where is None
            out.append((parent, *(where or own)))
        if unplaced:
            log.warning("chroma: %d of %d chunks not found in their document by search; their own offsets are used",
                        unplaced, len(out))
        judged.memo["placed"] = out
    return judged.memo["placed"]


def _references(judged: Judged) -> tuple[list[str], list[list[Range]]]:
    """Queries with reference spans and their spans. A span outside its document (kept by a
    lenient loader) counts as uncovered reference in chroma mode and is dropped otherwise."""
    key = "references"
    if key not in judged.memo:
        spans = judged.dataset.spans or {}
        parents = judged.dataset.corpus
        if not _chroma(judged):
            spans = {q: [(d, s, e) for d, s, e in refs if 0 <= s <= e <= len(parents.texts[parents.position(d)])]
                     for q, refs in spans.items()}
        qids = [q for q in judged.dataset.queries.ids if spans.get(q)]
        judged.memo[key] = qids, [spans[q] for q in qids]
    return judged.memo[key]


def _scorer(judged: Judged) -> SpanScorer:
    """One token-level scorer per evaluation: it keeps every document's token offsets."""
    if "scorer" not in judged.memo:
        parents = judged.dataset.corpus
        judged.memo["scorer"] = SpanScorer(lambda d: parents.texts[parents.position(d)],
                                           judged.options.get("span_unit", "regex"))
    return judged.memo["scorer"]


def span_scores(judged: Judged, k: int) -> tuple[list[str], dict[str, np.ndarray]]:
    """recall / precision / iou at k for every query with spans (computed once per k)."""
    key = ("scores", k)
    if key not in judged.memo:
        qids, refs = _references(judged)
        placed, corpus = _placed(judged), judged.corpus
        retrieved = [[placed[corpus.position(d)] for d, _ in judged.ranked.get(q, [])[:k]] for q in qids]
        if _chroma(judged):
            judged.memo[key] = (qids, chroma_scores(retrieved, refs))
        else:
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
        by_parent: dict[str, list[tuple[int, int]]] = {}
        for parent, start, end in _placed(judged):
            by_parent.setdefault(parent, []).append((start, end))
        qids, refs = _references(judged)
        if _chroma(judged):
            values = chroma_precision_omega(by_parent, refs)
        else:
            chunks = {}
            for parent, ranges in by_parent.items():
                arr = np.array(sorted(ranges), dtype=np.int64).reshape(-1, 2)
                chunks[parent] = (arr[:, 0], arr[:, 1], np.maximum.accumulate(arr[:, 1]))
            values = _scorer(judged).score(full_recall_ranges(refs, chunks), refs)["precision"]
        return {k: dict(zip(qids, values.tolist())) for k in cutoffs}
