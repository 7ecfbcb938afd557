"""Token-level span measures of chunked retrieval: span_recall@k, span_precision@k, IoU@k and
precision_omega (semantics in ``rageval.metrics.token_spans``). They score the queries that have reference spans.
Each takes ``unit`` (regex, chars, cl100k_base, hf:PATH[+special]) and ``chroma`` (the published
chunking evaluation's rules, ``rageval.metrics.chunking_eval``; characters)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rageval.data.model import Span
from rageval.errors import RagevalError
from rageval.metrics import Judged, Measure
from rageval.metrics.chunking_eval import chroma_precision_omega, chroma_scores, place_by_search
from rageval.metrics.token_spans import SpanScorer, full_recall_ranges

log = logging.getLogger("rageval")


class SpanView:
    """What the span measures of one evaluation share: where each searched item lies in its
    document, the reference spans, one token-level scorer per unit, and the scores per setting."""

    def __init__(self, judged: Judged):
        if judged.parents is None or judged.corpus is None:
            raise RagevalError("span measures need the documents the reference spans point into (parents=)")
        self.judged = judged
        self._placed: dict[bool, list[Span]] = {}
        self._references: dict[bool, tuple[list[str], list[list[Span]]]] = {}
        self._scorers: dict[str, SpanScorer] = {}
        self._scores: dict[tuple[int | None, str, bool], tuple[list[str], dict[str, np.ndarray]]] = {}

    def text(self, doc: str) -> str:
        parents = self.judged.parents
        return parents.texts[parents.position(doc)]

    def placed(self, chroma: bool) -> list[Span]:
        """Every searched item's range in its source document: by search (``place_by_search``) in
        chroma mode, falling back to the chunker's offsets when the text is not found; else the
        chunk's own offsets (a whole document: 0 to its length)."""
        if chroma not in self._placed:
            corpus, unplaced, out = self.judged.corpus, 0, []
            for i, meta in enumerate(corpus.metas):
                parent = meta.get("parent", corpus.ids[i])
                if "parent" not in meta:
                    own = (0, len(corpus.texts[i]))
                else:
                    own = (meta["start"], meta["end"]) if "start" in meta and "end" in meta else None
                where = place_by_search(self.text(parent), corpus.texts[i]) if chroma else None
                if where is None and own is None:
                    raise RagevalError(
                        f"span measures: chunk {corpus.ids[i]!r} of {parent!r} has no start/end offsets in its meta"
                        + (" and its text is not found in the document" if chroma else
                           " (the chunker must record them, or use chroma=true to place chunks by search)"))
                unplaced += chroma and where is None
                out.append((parent, *(where or own)))
            if unplaced:
                log.warning("chroma: %d of %d chunks not found in their document by search; their own offsets are "
                            "used", unplaced, len(out))
            self._placed[chroma] = out
        return self._placed[chroma]

    def references(self, chroma: bool) -> tuple[list[str], list[list[Span]]]:
        """Queries with reference spans and their spans. A span outside its document (kept by a
        lenient loader) counts as uncovered reference in chroma mode and is dropped otherwise."""
        if chroma not in self._references:
            spans = self.judged.spans or {}
            if not chroma:
                spans = {q: [(d, s, e) for d, s, e in refs if 0 <= s <= e <= len(self.text(d))]
                         for q, refs in spans.items()}
            qids = [q for q in self.judged.query_ids if spans.get(q)]
            self._references[chroma] = qids, [spans[q] for q in qids]
        return self._references[chroma]

    def scorer(self, unit: str) -> SpanScorer:
        """One token-level scorer per unit: it keeps every document's token offsets."""
        if unit not in self._scorers:
            self._scorers[unit] = SpanScorer(self.text, unit)
        return self._scorers[unit]

    def scores(self, k: int | None, unit: str, chroma: bool) -> tuple[list[str], dict[str, np.ndarray]]:
        """recall / precision / iou at k for every query with spans (computed once per setting)."""
        key = (k, unit, chroma)
        if key not in self._scores:
            qids, refs = self.references(chroma)
            placed, corpus, ranked = self.placed(chroma), self.judged.corpus, self.judged.ranked
            retrieved = [[placed[corpus.position(d)] for d, _ in ranked.get(q, [])[:k]] for q in qids]
            self._scores[key] = (qids, chroma_scores(retrieved, refs) if chroma
                                 else self.scorer(unit).score(retrieved, refs))
        return self._scores[key]

    def precision_omega(self, unit: str, chroma: bool) -> dict[str, float]:
        """Per query, the precision of every chunk that overlaps one of its reference spans."""
        by_parent: dict[str, list[tuple[int, int]]] = {}
        for parent, start, end in self.placed(chroma):
            by_parent.setdefault(parent, []).append((start, end))
        qids, refs = self.references(chroma)
        if chroma:
            values = chroma_precision_omega(by_parent, refs)
        else:
            chunks = {}
            for parent, ranges in by_parent.items():
                arr = np.array(sorted(ranges), dtype=np.int64).reshape(-1, 2)
                chunks[parent] = (arr[:, 0], arr[:, 1], np.maximum.accumulate(arr[:, 1]))
            values = self.scorer(unit).score(full_recall_ranges(refs, chunks), refs)["precision"]
        return dict(zip(qids, values.tolist()))


def _view(judged: Judged, measures: Sequence[Measure]) -> SpanView:
    """The shared span state; scoring without reference spans is an error naming the measures."""
    if judged.spans is None:
        raise RagevalError(f"{', '.join(m.name for m in measures)}: span measures need reference spans "
                           "(spans.jsonl), and the dataset has none")
    return judged.span_view()


@dataclass(frozen=True)
class SpanMeasure(Measure):
    """A token-level span measure: ``unit`` that tokens are counted in, ``chroma`` for the published rules."""

    family = "span"
    field = ""

    unit: str = "regex"
    chroma: bool = False

    def __post_init__(self) -> None:
        from rageval.text.units import Unit

        if not self.chroma:
            Unit(self.unit)  # an unknown unit or a missing tokenizer file: an error before any work

    @property
    def unit_label(self) -> str:
        """The unit as recorded with the results."""
        return "chars (chroma)" if self.chroma else self.unit

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        view = _view(judged, measures)
        out = {}
        for m in measures:
            qids, scores = view.scores(m.cutoff, m.unit, m.chroma)
            out[m] = dict(zip(qids, scores[cls.field].tolist()))
        return out


@dataclass(frozen=True)
class SpanRecall(SpanMeasure):
    """Share of the reference-span tokens covered by the top k chunks."""

    label, field = "span_recall", "recall"


@dataclass(frozen=True)
class SpanPrecision(SpanMeasure):
    """Share of the top k chunks' tokens (merged) that lie in a reference span."""

    label, field = "span_precision", "precision"


@dataclass(frozen=True)
class IoU(SpanMeasure):
    """Tokens in both the top k chunks and the reference spans over tokens in either."""

    label, field = "IoU", "iou"


@dataclass(frozen=True)
class PrecisionOmega(SpanMeasure):
    """Precision of the best retrieval with full recall under the chunking: every chunk that overlaps a reference span."""

    label, needs_cutoff = "precision_omega", False

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        view = _view(judged, measures)
        return {m: view.precision_omega(m.unit, m.chroma) for m in measures}
