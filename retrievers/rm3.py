"""RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model, interpolated as in Anserini).

From the analyzed terms of the top ``fb_docs`` documents of a first retrieval:
P(w|d) = tf(w, d) / |d| over the document's feedback terms (at least 2 characters, letters and
digits only); RM1(w) = sum over feedback documents of score(d) * P(w|d), cut to the ``fb_terms``
heaviest terms (ties: term ascending) and scaled to sum 1; the query's own terms are scaled to
sum 1 the same way; the expanded query is
``original_weight * P(w|Q) + (1 - original_weight) * RM1(w)`` over the union of their terms.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

_FEEDBACK_TERM = re.compile(r"[^\W_]{2,}")


def _unit(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()} if total > 0 else {}


def relevance_model(documents: Sequence[Sequence[str]], scores: Sequence[float], fb_terms: int) -> dict[str, float]:
    """RM1 over feedback documents (analyzed terms) weighted by their retrieval scores."""
    model: Counter[str] = Counter()
    for terms, score in zip(documents, scores):
        counts = Counter(t for t in terms if _FEEDBACK_TERM.fullmatch(t))
        length = sum(counts.values())
        for term, tf in counts.items():
            model[term] += score * tf / length
    top = sorted(model.items(), key=lambda item: (-item[1], item[0]))[:fb_terms]
    return _unit(dict(top))


def expand(query_terms: Sequence[str], documents: Sequence[Sequence[str]], scores: Sequence[float],
           fb_terms: int, original_weight: float) -> dict[str, float]:
    """The RM3 query: {term: weight}, the original query interpolated with the relevance model."""
    original = _unit(dict(Counter(query_terms)))
    feedback = relevance_model(documents, scores, fb_terms)
    if not feedback:
        return original
    return {t: original_weight * original.get(t, 0.0) + (1 - original_weight) * feedback.get(t, 0.0)
            for t in dict.fromkeys([*original, *feedback])}
