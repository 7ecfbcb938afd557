"""``evaluate``: score a run against a dataset with named metrics, keeping every per-query value."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import registry
from .data import Corpus, Dataset
from .errors import SpecError
from .metrics import Judged, Metric
from .runs import Run

DEFAULT_METRICS = ("nDCG@10", "MRR@10", "Recall@100", "Sufficiency@10")
SPAN_METRICS = ("span_recall@5", "span_precision@5", "IoU@5", "precision_omega")
_NAME = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?:@\s*(\d+))?\s*")


@dataclass
class Results:
    """Means over the judged queries, every per-query value, and the settings that produced them."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    n_queries: int
    n_without_relevant: int
    settings: dict[str, Any] = field(default_factory=dict)


def parse_metric(name: str) -> tuple[Metric, int | None]:
    """``"nDCG@10"`` -> (the nDCG plugin, 10). Family names are case-insensitive."""
    m = _NAME.fullmatch(name)
    if not m:
        raise SpecError(f"metric {name!r} is not of the form NAME or NAME@K (e.g. nDCG@10)")
    family, cutoff = m.group(1).lower(), m.group(2)
    metric = registry.plugin("metrics", family)()
    if cutoff is None and metric.needs_cutoff:
        raise SpecError(f"metric {name!r} needs a cutoff, e.g. {metric.label}@10")
    k = int(cutoff) if cutoff is not None else None
    if k is not None and k < 1:
        raise SpecError(f"metric {name!r}: the cutoff must be at least 1")
    return metric, k


def canonical(name: str) -> str:
    """The display form of a metric name: ``ndcg@10`` -> ``nDCG@10``."""
    metric, k = parse_metric(name)
    return metric.name(k)


def max_cutoff(metrics: Sequence[str]) -> int:
    """The deepest cutoff among metric names (0 when none has one)."""
    return max((k or 0 for _, k in map(parse_metric, metrics)), default=0)


def evaluate(run: Run, dataset: Dataset, metrics: Sequence[str] = DEFAULT_METRICS,
             ignore_identical_ids: bool = False, corpus: Corpus | None = None,
             span_unit: str = "regex", chroma: bool = False) -> Results:
    """Score ``run`` on ``dataset``.

    Averages are over every query of the dataset with at least one relevant (grade > 0)
    judgment; a judged query without results scores 0; queries with no relevant judgment are
    left out and counted in ``n_without_relevant``. With ``ignore_identical_ids`` a document
    whose id equals the query id is dropped from the results first (BEIR's option).
    ``corpus`` is what was searched when it is not the dataset's own (a chunked corpus): ranking
    measures then see each document at the rank of its best chunk; span measures (averaged over
    the queries with reference spans) use ``span_unit`` tokens, or ``chroma`` mode.
    """
    parsed = [parse_metric(m) for m in metrics]
    corpus = corpus if corpus is not None else dataset.corpus
    query_ids = set(dataset.queries.ids)
    qrels = {q: j for q, j in dataset.qrels.items() if q in query_ids and any(g > 0 for g in j.values())}

    ranked: dict[str, list[tuple[str, float]]] = {}
    for qid, docs, scores in run.results():
        if qid in query_ids:
            ranked[qid] = sorted(zip(docs, scores), key=lambda p: (p[1], p[0]), reverse=True)
    documents = {q: _documents(ranked.get(q, []), corpus, q if ignore_identical_ids else None) for q in qrels}
    judged = Judged(dataset, corpus, ranked, documents, qrels, {"span_unit": span_unit, "chroma": chroma})

    by_family: dict[type, tuple[Metric, list[int | None]]] = {}
    for metric, k in parsed:
        by_family.setdefault(type(metric), (metric, []))[1].append(k)
    per_query: dict[str, dict[str, float]] = {}
    for metric, cutoffs in by_family.values():
        values = metric.compute(judged, sorted(set(cutoffs), key=lambda c: c or 0))
        for k in cutoffs:
            per_query[metric.name(k)] = {q: float(v) for q, v in values[k].items()}
    names = [metric.name(k) for metric, k in parsed]
    means = {n: (sum(per_query[n].values()) / len(per_query[n]) if per_query[n] else 0.0) for n in names}
    settings: dict[str, Any] = {"metrics": names, "ignore_identical_ids": ignore_identical_ids,
                                "tie_break": "score desc, doc id desc (trec_eval)"}
    if any(m.uses_spans for m, _ in parsed):
        settings["span_unit"] = "chars (chroma)" if chroma else span_unit
    if corpus is not dataset.corpus:
        settings["document_rank"] = "rank of the document's best chunk"
    return Results(means=means, per_query={n: per_query[n] for n in names}, n_queries=len(qrels),
                   n_without_relevant=len(query_ids) - len(qrels), settings=settings)


def _documents(ranked: list[tuple[str, float]], corpus: Corpus, drop: str | None) -> list[tuple[str, float]]:
    """Document-level list: a chunk stands for its parent, each document at its first (best) rank."""
    seen: dict[str, float] = {}
    for doc, score in ranked:
        if doc in corpus:
            doc = corpus.metas[corpus.position(doc)].get("parent", doc)
        if doc != drop and doc not in seen:
            seen[doc] = score
    return list(seen.items())
