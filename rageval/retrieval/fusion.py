"""``fuse``: combine the rankings of several runs over the same queries into one."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from rageval.data.trec import Run
from rageval.errors import SpecError
from rageval.retrieval.topk import top_k_rows


def fuse(runs: Sequence[Run], method: str = "rrf", k: int = 60, depth: int | None = None) -> Run:
    """Reciprocal-rank fusion (Cormack et al. 2009): a document scores the sum over runs of
    1 / (k + its rank there). Queries are matched by id (a query missing from a run gains nothing
    from it); the fused lists keep ``depth`` results (default: every document any run gave), ties
    broken by doc id descending (trec_eval's rule)."""
    if method != "rrf":
        raise SpecError(f"fusion method {method!r} is not known; known: rrf")
    if k < 0:
        raise SpecError(f"rrf: k must be >= 0, got {k}")
    fused: dict[str, Counter[str]] = {}
    for run in runs:
        for qid, docs, _ in run.results():
            scores = fused.setdefault(qid, Counter())
            for rank, doc in enumerate(docs, start=1):
                scores[doc] += 1.0 / (k + rank)
    doc_ids = sorted({d for scores in fused.values() for d in scores})
    position = {d: i for i, d in enumerate(doc_ids)}
    depth = max(map(len, fused.values()), default=0) if depth is None else depth
    rows = ((np.array([position[d] for d in scores], dtype=np.int64), np.fromiter(scores.values(), dtype=np.float64))
            for scores in fused.values())
    indices, values = top_k_rows(rows, len(fused), depth, np.arange(len(doc_ids)))
    return Run(list(fused), doc_ids, indices, values)
