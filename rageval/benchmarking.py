"""The benchmark behind ``rageval run``: every retriever on every dataset, files on disk, resume.

Per dataset and retriever it fills a ``RunFolder`` (``run.trec``, ``run.json``, ``per_query.jsonl``
and, last, ``metrics.json``; every file written atomically). A rerun skips a pair whose
``metrics.json`` has the same settings, re-scores a pair whose ``run.trec`` is complete, and redoes
the rest. ``results.json`` gathers every finished pair under ``<out>``, updated as each pair ends.
"""
from __future__ import annotations

import logging
import platform
import traceback
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

from . import registry
from .cache import cache_dir
from .data import Corpus, Dataset
from .datasets import dataset_loader, load_dataset
from .errors import RagevalError, SpecError
from .evaluation import DEFAULT_METRICS, curves, evaluate, max_cutoff
from .executors import Task
from .executors import executor as make_executor
from .files import remove_stale, write_json, write_jsonl
from .metrics import Measure, parse_measures
from .plugins import Retriever
from .retrieval import retrieve
from .run_folder import RunFolder, pair_folder, read_json, slug
from .significance import interval
from .training import TrainingData

log = logging.getLogger("rageval")
CURVE_DEPTH = 100  # measure@k curves in metrics.json run from k = 1 to this (or the run's depth)


@dataclass
class Outcome:
    """One leaderboard row: a retriever on a dataset, finished or failed."""

    dataset: str
    retriever: str
    means: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    resumed: bool = False
    n_queries: int = 0
    intervals: dict[str, list[float]] = field(default_factory=dict)  # 95% bootstrap interval of each mean
    ties: dict[str, dict[str, float]] = field(default_factory=dict)  # tie-aware expectation and range


def default_retrievers() -> list[str]:
    """Built-in retrievers that need no training and no download, and whose dependencies are installed."""
    specs = []
    for name in registry.available("retrievers"):
        try:
            cls = registry.plugin("retrievers", name)
        except ImportError:
            continue
        if getattr(cls, "default_run", False) and cls.usable():
            specs.append(name)
    return specs


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("rageval", "numpy", "scipy", "pytrec-eval-terrier"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def _common(values: list[Any], default: Any) -> Any:
    """The one value of a list (``default`` when empty), or every distinct value in order."""
    distinct = list(dict.fromkeys(values))
    return default if not distinct else distinct[0] if len(distinct) == 1 else distinct


@dataclass(frozen=True)
class Scoring:
    """How runs are scored: the measures (parsed once) and the options of evaluate()."""

    measures: tuple[Measure, ...]
    ignore_identical_ids: bool = False

    def request(self) -> dict[str, Any]:
        """What was asked, as metrics.json records it and a resume compares it."""
        spans = [m for m in self.measures if m.uses_spans]
        return {"metrics": [m.name for m in self.measures], "ignore_identical_ids": self.ignore_identical_ids,
                "span_unit": _common([m.unit for m in spans], "regex"),
                "chroma": _common([m.chroma for m in spans], False)}


def _run_settings(dataset: Dataset, corpus: Corpus, retriever: Retriever, spec: str, chunker: str | None,
                  depth: int) -> dict[str, Any]:
    return {"dataset": dataset.meta.get("spec", dataset.name), "split": dataset.split,
            "corpus_fingerprint": corpus.fingerprint, "qrels_fingerprint": dataset.qrels_fingerprint(),
            "chunker": chunker, "retriever": spec, "config": retriever.config(), "k": depth}


def run_one(dataset: Dataset, spec: str, scoring: Scoring, depth: int, out: Path, resume: bool = True,
            chunker: str | None = None, corpus: Corpus | None = None,
            training: TrainingData | None = None) -> Outcome:
    """Run one retriever on one dataset (on ``corpus``, the chunks made by ``chunker``, when given)
    and write its folder; failures are returned, not raised."""
    corpus = corpus if corpus is not None else dataset.corpus
    label = f"{chunker} + {spec}" if chunker else spec
    outcome = Outcome(dataset.label, label)
    try:
        folder = RunFolder(pair_folder(out, dataset.label, spec, chunker), resume)
        retriever = registry.create("retrievers", spec)
        settings = _run_settings(dataset, corpus, retriever, spec, chunker, depth)
        done = folder.finished(settings, scoring.request())
        if done and "intervals" in done and "ties" in done:  # an older metrics.json is scored again
            outcome.means, outcome.timings, outcome.resumed = done["metrics"], done["timings"], True
            outcome.n_queries, outcome.intervals, outcome.ties = done["n_queries"], done["intervals"], done["ties"]
            return outcome
        if reused := folder.reusable_run(settings):
            (run, timings), outcome.resumed = reused, True
        else:
            run, timings = retrieve(retriever, dataset, depth,
                                    training or TrainingData(dataset.meta.get("spec", dataset.name)), corpus)
            folder.write_run(run, slug(spec), settings, timings)
        start = time.perf_counter()
        results = evaluate(dataset, run, scoring.measures, corpus=corpus,
                           ignore_identical_ids=scoring.ignore_identical_ids)
        intervals = {m: list(interval(list(v.values()))) for m, v in results.per_query.items() if len(v) >= 2}
        at_k = curves(dataset, run, min(depth, CURVE_DEPTH), corpus, scoring.ignore_identical_ids)
        timings = {**timings, "eval_s": round(time.perf_counter() - start, 4)}
        scored = {q for values in results.per_query.values() for q in values}
        folder.write_scores(
            ({"query_id": q, **{m: v[q] for m, v in results.per_query.items() if q in v}}
             for q in dataset.queries.ids if q in scored),
            {"dataset": dataset.label, "retriever": label, "metrics": results.means, "intervals": intervals,
             "ties": results.ties, "curves": at_k, "n_queries": results.n_queries, "n_queries_without_relevant": results.n_without_relevant, "n_queries_without_results": results.n_without_results,
             "n_documents_searched": len(corpus), "run": settings, "run_sha256": folder.run_sha256,
             "request": scoring.request(), "evaluation": results.settings,
             "timings": timings, "versions": _versions(), "run_meta": run.meta})
        outcome.means, outcome.timings, outcome.n_queries = results.means, timings, results.n_queries
        outcome.intervals, outcome.ties = intervals, results.ties
    except Exception as e:  # a failing retriever is reported; the benchmark goes on
        outcome.error = f"{type(e).__name__}: {e}" if not isinstance(e, RagevalError) else str(e)
        log.error("%s on %s failed: %s", spec, dataset.label, outcome.error)
        if not isinstance(e, RagevalError):
            log.debug("%s", traceback.format_exc())
    return outcome


class ResultsFile:
    """``<out>/results.json``: every finished pair under ``out`` (read once), updated as pairs end."""

    FIELDS = ("dataset", "retriever", "metrics", "intervals", "n_queries", "timings")

    def __init__(self, out: Path):
        self.path = out / "results.json"
        self.pairs: dict[Path, dict[str, Any]] = {}
        for path in sorted(out.glob("*/*/metrics.json")):
            data = read_json(path)
            if not isinstance(data, dict) or not all(f in data for f in self.FIELDS):
                log.warning("%s is not a rageval metrics file: left out of results.json", path)
                continue
            self.pairs[path.parent] = {f: data[f] for f in self.FIELDS}
        self.failed: list[dict[str, Any]] = []

    def update(self, folder: Path, outcome: Outcome) -> None:
        """Record one pair's outcome and rewrite the file (pairs in folder order)."""
        if outcome.error:
            self.failed.append({"dataset": outcome.dataset, "retriever": outcome.retriever, "error": outcome.error})
            if not (folder / "metrics.json").is_file():  # scores of an earlier run stay only while their file does
                self.pairs.pop(folder, None)
        else:
            self.pairs[folder] = {"dataset": outcome.dataset, "retriever": outcome.retriever, "metrics": outcome.means,
                                  "intervals": outcome.intervals, "n_queries": outcome.n_queries,
                                  "timings": outcome.timings}
        datasets: dict[str, dict[str, dict]] = {}
        for _, pair in sorted(self.pairs.items(), key=lambda item: str(item[0] / "metrics.json")):
            datasets.setdefault(str(pair["dataset"]), {})[str(pair["retriever"])] = {
                "metrics": pair["metrics"], "intervals": pair["intervals"], "n_queries": pair["n_queries"],
                "timings": pair["timings"]}
        write_json(self.path, {"datasets": datasets, "failed": self.failed})


def benchmark(datasets: str | Sequence[str], retrievers: Sequence[str] | None = None,
              metrics: Sequence[str | Measure] = DEFAULT_METRICS, k: int = 100, out: str | Path = "runs",
              split: str | None = None, ignore_identical_ids: bool = False, resume: bool = True,
              chunkers: Sequence[str] = (), span_unit: str = "regex", chroma: bool = False,
              sample: int | None = None, seed: int = 0, executor: str = "local") -> list[Outcome]:
    """Run every retriever on every dataset (the Python form of ``rageval run``); with chunkers,
    every chunker x retriever pair on the chunks of each dataset; with ``sample``, on a seeded
    random sample of that many judged queries of each dataset. ``span_unit`` and ``chroma`` are
    the defaults of span measures given as strings without their own. ``executor`` runs the pairs:
    ``local`` (default) or ``ray[:address=...,num_cpus=...,num_gpus=...]`` (``rageval.executors``).

    Datasets, chunkers, retriever specs and measures are all checked before any indexing starts.
    Returns one Outcome per pair; ``<out>/results.json`` holds every finished pair.
    """
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    retrievers = list(retrievers) if retrievers else default_retrievers()
    runner = make_executor(executor)
    scoring = Scoring(parse_measures(metrics, unit=span_unit, chroma=chroma), ignore_identical_ids)
    depth = max(k, max_cutoff(scoring.measures))
    for spec in retrievers:  # spec errors before any work
        registry.resolve("retrievers", spec)
    made = [(spec, registry.create("chunkers", spec)) for spec in chunkers] or [(None, None)]
    loaders = [dataset_loader(spec) for spec in datasets]  # missing paths, before anything heavy loads
    for spec in retrievers:  # option values the constructors check (k1 >= 0, a model that exists...)
        try:
            registry.create("retrievers", spec)
        except RagevalError:
            raise
        except Exception as e:  # noqa: BLE001 - a plugin's own check: still a bad spec
            raise SpecError(f"retriever {spec!r}: {type(e).__name__}: {e}") from None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RagevalError(f"--out {out} is a file, not a folder")
    for folder in (out, cache_dir()):
        if folder.is_dir() and (removed := remove_stale(folder)):
            log.info("removed %d temporary files left by interrupted runs under %s", removed, folder)
    loaded = [load_dataset(spec, split, loader) for spec, loader in zip(datasets, loaders)]
    if sample is not None:
        loaded = [dataset.sample(sample, seed) for dataset in loaded]
    results = ResultsFile(out)
    tasks, folders = [], []
    for spec_of_dataset, loader, dataset in zip(datasets, loaders, loaded):
        training = TrainingData(spec_of_dataset, loader)
        for chunker_spec, chunker in made:
            corpus = chunker.chunk(dataset.corpus) if chunker else dataset.corpus
            for spec in retrievers:
                tasks.append(Task(run_one, (dataset, spec, scoring, depth, out, resume, chunker_spec, corpus, training)))
                folders.append(pair_folder(out, dataset.label, spec, chunker_spec))
    outcomes: list[Outcome | None] = [None] * len(tasks)
    for i, outcome in runner.run(tasks):
        outcomes[i] = outcome
        results.update(folders[i], outcome)
    for dataset in loaded:
        try:  # the query texts, for the report's hover text; the scores do not depend on them
            write_jsonl(out / slug(dataset.label) / "queries.jsonl",
                        ({"query_id": q, "text": t} for q, t in dataset.queries.items()))
        except RagevalError as e:
            log.warning("%s (the report will show query ids without their text)", e)
    return [o for o in outcomes if o is not None]
