"""Embedding-space diagnostics of an embedding retriever, from its query and document vectors.

All vectors are L2-normalised first. For the (query, relevant document) pairs of the qrels
(grade > 0) and the documents of the corpus:

- alignment (Wang & Isola, alpha = 2): mean over pairs of ||q - d||^2; lower is better;
- uniformity (Wang & Isola, t = 2): log of the mean over pairs of distinct documents of
  exp(-2 ||x - y||^2), on a seeded sample of at most ``max_documents`` documents; lower is better;
- angular margin: mean over queries with a relevant document in the corpus of (angle to the
  nearest non-relevant document - angle to the nearest relevant document), in degrees; positive
  when the relevant document is the closer one.
"""
from __future__ import annotations

import numpy as np

from rageval.data.model import Corpus, Qrels

BLOCK = 8192


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def diagnostics(query_ids: list[str], query_vectors: np.ndarray, corpus: Corpus, doc_vectors: np.ndarray,
                qrels: Qrels, max_documents: int = 2000, seed: int = 0) -> dict[str, float]:
    """Alignment, uniformity and mean angular margin (see the module docstring)."""
    q = _unit(query_vectors)
    qrels = qrels if isinstance(qrels, Qrels) else Qrels(qrels)
    relevant = [[corpus.position(d) for d in qrels.relevant(qid) if d in corpus]
                for qid in query_ids]
    rows = [i for i, rel in enumerate(relevant) if rel]
    out: dict[str, float] = {"n_queries": len(rows)}
    if rows:
        pair_q = np.array([i for i in rows for _ in relevant[i]])
        pair_d = np.array([d for i in rows for d in relevant[i]])
        out["alignment"] = float(np.mean(np.sum((q[pair_q] - _unit(doc_vectors[pair_d])) ** 2, axis=1)))
        best_rel = np.full(len(rows), -np.inf, dtype=np.float32)
        best_non = np.full(len(rows), -np.inf, dtype=np.float32)
        mask_rows = np.repeat(np.arange(len(rows)), [len(relevant[i]) for i in rows])
        for start in range(0, len(corpus), BLOCK):
            sims = q[rows] @ _unit(doc_vectors[start:start + BLOCK]).T
            is_rel = np.zeros(sims.shape, dtype=bool)
            inside = (pair_d >= start) & (pair_d < start + BLOCK)
            is_rel[mask_rows[inside], pair_d[inside] - start] = True
            best_rel = np.maximum(best_rel, np.where(is_rel, sims, -np.inf).max(axis=1))
            best_non = np.maximum(best_non, np.where(is_rel, -np.inf, sims).max(axis=1))
        has_non = np.isfinite(best_non)
        angle = np.degrees(np.arccos(np.clip(np.stack([best_non, best_rel]), -1.0, 1.0)))
        out["angular_margin"] = float(np.mean((angle[0] - angle[1])[has_non])) if has_non.any() else 0.0
    n = len(corpus)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, max_documents), replace=False))
    if len(sample) > 1:
        x = _unit(doc_vectors[sample])
        sq = np.clip(2.0 - 2.0 * (x @ x.T), 0.0, None)
        upper = np.triu_indices(len(sample), k=1)
        out["uniformity"] = float(np.log(np.mean(np.exp(-2.0 * sq[upper]))))
    return out
