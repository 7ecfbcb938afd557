"""Scorers. Each family is a plugin in the ``rageval.metrics`` entry-point group; a metric name
is the family plus an optional cutoff: ``nDCG@10``, ``MRR@10``, ``Sufficiency@5``, ``IoU@5``.

Semantics (DESIGN.md): results are ordered by score descending, ties by doc id descending
(trec_eval's rule) and cut at k; ranking measures are computed by pytrec_eval on that run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..data import Corpus, Dataset

Ranked = Mapping[str, Sequence[tuple[str, float]]]
"""Query id -> [(doc id, score)] in trec_eval order."""


@dataclass
class Judged:
    """What a scorer sees. ``ranked`` lists the searched corpus's items (chunks when the corpus
    was chunked) for every query; ``documents`` the same lists at document level (each document
    at the rank of its best chunk), for every query with a relevant judgment."""

    dataset: Dataset
    corpus: Corpus
    ranked: Ranked
    documents: Ranked
    qrels: Mapping[str, Mapping[str, int]]
    options: dict[str, Any] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)


class Metric:
    """A metric family. ``compute`` returns, per cutoff, the value of every query it judges."""

    label: str = ""
    needs_cutoff: bool = True
    uses_spans: bool = False  # scores reference spans (the queries that have them), not qrels

    def compute(self, judged: Judged, cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        raise NotImplementedError

    def name(self, cutoff: int | None) -> str:
        return self.label if cutoff is None else f"{self.label}@{cutoff}"
