"""Sufficiency@k (Massive Tool Retrieval benchmark): 1 when every relevant item is in the top k."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rageval.metrics import Judged, Measure, ties


@dataclass(frozen=True)
class Sufficiency(Measure):
    """1 when every relevant (grade > 0) item of the query is in the top k, else 0."""

    label = "Sufficiency"

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        return {m: {q: float(set(judged.qrels.relevant(q)) <= {d for d, _ in docs[:m.cutoff]})
                    for q, docs in judged.documents.items()} for m in measures}

    def expected_under_ties(self, tied: ties.TiedList) -> float:
        return ties.expected_sufficiency(tied)
