"""Scorers. Each family is a plugin in the ``rageval.metrics`` entry-point group; a metric name
is the family plus an optional cutoff: ``nDCG@10``, ``MRR@10``, ``Sufficiency@5``.

Semantics (DESIGN.md): results are ordered by score descending, ties by doc id descending
(trec_eval's rule) and cut at k; ranking measures are computed by pytrec_eval on that run.
"""
from __future__ import annotations

from typing import Mapping, Sequence

Ranked = Mapping[str, Sequence[tuple[str, float]]]
"""Query id -> [(doc id, score)] in trec_eval order, for every judged query ([] when no results)."""


class Metric:
    """A metric family. ``compute`` returns, per cutoff, the value of every judged query."""

    label: str = ""
    needs_cutoff: bool = True

    def compute(self, ranked: Ranked, qrels: Mapping[str, Mapping[str, int]],
                cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        raise NotImplementedError

    def name(self, cutoff: int | None) -> str:
        return self.label if cutoff is None else f"{self.label}@{cutoff}"
