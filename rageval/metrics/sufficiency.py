"""Sufficiency@k (Massive Tool Retrieval benchmark): 1 when every relevant item is in the top k."""
from __future__ import annotations

from typing import Sequence

from . import Judged, Metric


class Sufficiency(Metric):
    """1 when every relevant (grade > 0) item of the query is in the top k, else 0."""

    label = "Sufficiency"

    def compute(self, judged: Judged, cutoffs: Sequence[int | None]) -> dict[int | None, dict[str, float]]:
        out: dict[int | None, dict[str, float]] = {}
        for k in cutoffs:
            values = {}
            for q, docs in judged.documents.items():
                relevant = {d for d, g in judged.qrels[q].items() if g > 0}
                top = {d for d, _ in docs[:k]}
                values[q] = float(relevant <= top)
            out[k] = values
        return out
