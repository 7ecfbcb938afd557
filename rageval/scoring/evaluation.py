"""``evaluate``: score a Run against Qrels (and reference spans) with measures, keeping every per-query value."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from rageval.data.model import Corpus, Dataset, Qrels, Spans
from rageval.data.trec import Run, check_qrels, check_run
from rageval.metrics import Judged, Measure, parse_measures
from rageval.metrics.ties import tie_aware
from rageval.progress import progress

log = logging.getLogger("rageval")

DEFAULT_METRICS = ("nDCG@10", "MRR@10", "Recall@100", "Sufficiency@10")
SPAN_METRICS = ("span_recall@5", "span_precision@5", "IoU@5", "precision_omega")


@dataclass
class Results:
    """Means over the judged queries, every per-query value, and the settings that produced them."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    n_queries: int
    n_without_relevant: int
    n_without_results: int = 0  # judged queries the run has no result for (scored 0, as trec_eval does)
    settings: dict[str, Any] = field(default_factory=dict)
    ties: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per measure with a tie-aware range (``Measure.tie_aware``): queries whose tie group crosses the
    cut, and the mean's expected value, least and greatest over orderings of tied documents (``rageval.metrics.ties``)."""


def max_cutoff(measures: Iterable[Measure]) -> int:
    """The deepest cutoff among measures (0 when none has one)."""
    return max((m.cutoff or 0 for m in measures), default=0)


def span_units(measures: Iterable[Measure]) -> str | dict[str, str] | None:
    """The unit the span measures count in, as recorded (one string, or by measure when they differ)."""
    units = {m.name: m.unit_label for m in measures if m.uses_spans}
    if not units:
        return None
    return next(iter(units.values())) if len(set(units.values())) == 1 else units


def evaluate(qrels: Qrels | Mapping[str, Mapping[str, int]] | Dataset, run: Run,
             measures: Sequence[str | Measure] = DEFAULT_METRICS, spans: Spans | None = None,
             parents: Corpus | None = None, *, corpus: Corpus | None = None, queries: Iterable[str] | None = None,
             ignore_identical_ids: bool = False, tie_aware_values: bool = True) -> Results:
    """Score ``run`` against ``qrels`` (a Dataset stands for its qrels, spans, documents and queries).

    Averages are over every query (of ``queries``, default: those of the qrels) with at least one
    relevant (grade > 0) judgment; a judged query without results scores 0; queries with no relevant
    judgment are left out and counted in ``n_without_relevant``. With ``ignore_identical_ids`` a
    document whose id equals the query id is dropped from the results first (BEIR's option).
    ``corpus`` is what was searched when it is not ``parents`` (a chunked corpus): ranking measures
    then see each document at the rank of its best chunk. Span measures score ``spans`` (reference
    spans into ``parents``), averaged over the queries that have them. ``tie_aware_values`` adds,
    per measure that has one, the expectation and range over orders of tied documents (``Results.ties``).
    Ids must be strings without NUL, grades integers within ``trec.MIN_GRADE``..``trec.MAX_GRADE`` and
    scores finite: anything else is a RagevalError naming the value, before any scoring. A run that
    lists nothing for any judged query (empty, or for other queries) scores 0 with a warning.
    Scoring shows progress (``rageval.progress``).
    """
    return _evaluate(qrels, run, measures, spans, parents, corpus, queries, ignore_identical_ids, tie_aware_values,
                     "scoring")


def _evaluate(qrels: Qrels | Mapping[str, Mapping[str, int]] | Dataset, run: Run, measures: Sequence[str | Measure],
              spans: Spans | None, parents: Corpus | None, corpus: Corpus | None, queries: Iterable[str] | None,
              ignore_identical_ids: bool, tie_aware_values: bool, desc: str) -> Results:
    """``evaluate``, its progress shown as ``desc``; the warning about a run without any judged query
    is given only for ``"scoring"`` (not again for the curves of the same run)."""
    if isinstance(qrels, Dataset):
        dataset = qrels
        qrels, spans, parents = dataset.qrels, dataset.spans, dataset.corpus
        queries = dataset.queries.ids if queries is None else queries
    check_qrels(qrels)  # what trec_eval's C code would misread (NUL in ids, grades out of range)
    check_run(run)
    qrels = Qrels({q: {d: int(g) for d, g in judged.items()} for q, judged in qrels.items()})  # numpy ints too
    parsed = parse_measures(measures)
    query_ids = list(queries) if queries is not None else list(qrels)
    asked = set(query_ids)
    scored = qrels.scored(asked)
    searched = corpus if corpus is not None else parents

    ranked = _ranked(run, asked)
    if desc == "scoring" and scored and not any(ranked.get(q) for q in scored):
        log.warning("the run lists %d queries (%d results), none of the %d judged queries with a relevant "
                    "judgment: every one of them scores 0", len(run), int((run.indices >= 0).sum()), len(scored))
    documents = {q: _documents(ranked.get(q, []), searched, q if ignore_identical_ids else None) for q in scored}
    judged = Judged(scored, ranked, documents, query_ids, searched, parents, spans)

    by_class: dict[type[Measure], list[Measure]] = {}
    for m in parsed:
        by_class.setdefault(type(m), []).append(m)
    bounded = [m for m in parsed if m.tie_aware] if tie_aware_values else []
    per_query: dict[str, dict[str, float]] = {}
    with progress(len(by_class) + len(bounded), f"{desc} {len(scored):,} queries", unit="step") as step:
        for cls, group in by_class.items():
            for m, values in cls.compute(judged, group).items():
                per_query[m.name] = {q: float(v) for q, v in values.items()}
            step.update(1)
        ties = tie_aware(judged, bounded, per_query, len(parents) if parents is not None else None, step) \
            if tie_aware_values else {}
    names = [m.name for m in parsed]
    means = {n: (sum(per_query[n].values()) / len(per_query[n]) if per_query[n] else 0.0) for n in names}
    return Results(means=means, per_query={n: per_query[n] for n in names}, n_queries=len(scored),
                   n_without_relevant=len(asked) - len(scored),
                   n_without_results=sum(1 for q in scored if not ranked.get(q)),
                   settings=_settings(parsed, ignore_identical_ids, corpus is not None and corpus is not parents),
                   ties=ties)


def _ranked(run: Run, asked: set[str]) -> dict[str, list[tuple[str, float]]]:
    """The (document, score) results of each query of ``asked`` in the run, in trec_eval's order
    (score descending, ties by document id descending)."""
    ranked: dict[str, list[tuple[str, float]]] = {}
    for qid, docs, scores in run.results():
        if qid in asked:
            ranked[qid] = sorted(zip(docs, scores), key=lambda p: (p[1], p[0]), reverse=True)
    return ranked


def _settings(measures: Sequence[Measure], ignore_identical_ids: bool, chunked: bool) -> dict[str, Any]:
    """How the scores were computed, as ``Results.settings`` records it: the measures, the options,
    the tie rule, the span unit(s) and, for a ``chunked`` corpus, how documents are ranked."""
    settings: dict[str, Any] = {"metrics": [m.name for m in measures], "ignore_identical_ids": ignore_identical_ids,
                                "tie_break": "score desc, doc id desc (trec_eval)"}
    if (units := span_units(measures)) is not None:
        settings["span_unit"] = units
    if chunked:
        settings["document_rank"] = "rank of the document's best chunk"
    return settings


CURVES = ("Recall", "nDCG", "Sufficiency")


def curves(dataset: Dataset | Qrels, run: Run, depth: int, corpus: Corpus | None = None,
           ignore_identical_ids: bool = False) -> dict[str, list[float]]:
    """Means of Recall@k, nDCG@k and Sufficiency@k for k = 1..``depth`` (the report's measure@k curves)
    of a run on a dataset, or on judgments alone (a run scored by ``rageval evaluate``)."""
    names = [f"{label}@{k}" for label in CURVES for k in range(1, depth + 1)]
    means = _evaluate(dataset, run, names, None, None, corpus, None, ignore_identical_ids, False,
                      "measure@k curves of").means
    return {label: [means[f"{label}@{k}"] for k in range(1, depth + 1)] for label in CURVES}


def _documents(ranked: list[tuple[str, float]], corpus: Corpus | None, drop: str | None) -> list[tuple[str, float]]:
    """Document-level list: a chunk stands for its parent, each document at its first (best) rank."""
    seen: dict[str, float] = {}
    for doc, score in ranked:
        if corpus is not None and doc in corpus:
            doc = corpus.metas[corpus.position(doc)].get("parent", doc)
        if doc != drop and doc not in seen:
            seen[doc] = score
    return list(seen.items())
