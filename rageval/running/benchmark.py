"""The benchmark behind ``rageval run``: every retriever on every dataset, files on disk, resume.

Per dataset and retriever it fills a ``RunFolder`` (``run.trec``, ``run.json``, ``per_query.jsonl``
and, last, ``metrics.json``; every file written atomically). A rerun skips a pair whose
``metrics.json`` has the same settings, re-scores a pair whose ``run.trec`` is complete, and redoes
the rest. ``results.json`` gathers every finished pair under ``<out>``, updated as each pair ends.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any, Sequence

from rageval import registry
from rageval.data.loading import dataset_loader, load_dataset
from rageval.data.model import Corpus, Dataset
from rageval.data.training import TrainingData
from rageval.data.trec import judgments_fingerprint
from rageval.errors import RagevalError, SpecError
from rageval.metrics import MAX_CUTOFF, Measure, parse_measures
from rageval.plugins import Retriever
from rageval.retrieval.pipeline import retrieve
from rageval.running.executors import Task, executor as make_executor
from rageval.scoring.evaluation import DEFAULT_METRICS, curves, evaluate, max_cutoff
from rageval.scoring.significance import check_seed
from rageval.store.cache import cache_dir, check_cache
from rageval.store.files import output_folder, remove_stale
from rageval.store.run_folder import RunFolder, own_folders, pair_folder, refuse_links, slug
from rageval.store.run_store import (METRICS_JSON, RUN_JSON, BadRecord, Outcome, PairKey, PairResult, per_query_rows,
                                     read_manifest, read_metrics, write_queries, write_results)
from rageval.text.units import Unit

log = logging.getLogger("rageval")
CURVE_DEPTH = 100  # measure@k curves in metrics.json run from k = 1 to this (or the run's depth)


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
                  depth: int, asked: int) -> dict[str, Any]:
    return {"dataset": dataset.meta.get("spec", dataset.name), "split": dataset.split,
            "corpus_fingerprint": corpus.fingerprint, "qrels_fingerprint": dataset.qrels_fingerprint(),
            "chunker": chunker, "retriever": spec, "config": retriever.config(), "k": depth, "k_asked": asked}


def run_one(dataset: Dataset, parsed: registry.Spec, scoring: Scoring, depth: int, out: Path, resume: bool = True,
            chunker: str | None = None, corpus: Corpus | None = None,
            training: TrainingData | None = None) -> Outcome:
    """Run one retriever (built here, once, from its parsed spec: where the pair runs, a Ray worker
    included) on one dataset (on ``corpus``, the chunks made by ``chunker``, when given) and write its
    folder; failures are returned, not raised. The search goes ``depth`` deep, or as deep as there are
    documents searched when there are fewer (metrics.json records both)."""
    spec = parsed.text
    corpus = corpus if corpus is not None else dataset.corpus
    asked, depth = depth, min(depth, len(corpus))
    key = PairKey(dataset.label, spec, chunker)
    outcome = Outcome(key.dataset, key.label)
    try:
        folder = RunFolder(pair_folder(out, key.dataset, key.retriever, key.chunker), resume)
        retriever = _build(parsed)
        settings = _run_settings(dataset, corpus, retriever, spec, chunker, depth, asked)
        done = folder.finished(settings, scoring.request())
        if done and done.complete:  # else scored again
            return Outcome.of(done, resumed=True)
        if reused := folder.reusable_run(settings):
            (run, timings), outcome.resumed = reused, True
        else:
            run, timings = retrieve(retriever, dataset, depth,
                                    training or TrainingData(dataset.meta.get("spec", dataset.name)), corpus)
            folder.write_run(run, slug(spec), settings, timings)
        start = time.perf_counter()
        results = evaluate(dataset, run, scoring.measures, corpus=corpus,
                           ignore_identical_ids=scoring.ignore_identical_ids)
        at_k = curves(dataset, run, min(depth, CURVE_DEPTH), corpus, scoring.ignore_identical_ids)
        timings = {**timings, "eval_s": round(time.perf_counter() - start, 4)}
        record = PairResult.of(key, results, settings=settings, request=scoring.request(),
                               judgments=judgments_fingerprint(dataset.qrels), run_sha256=folder.run_sha256,
                               curves=at_k, timings=timings, n_documents_searched=len(corpus), run_meta=run.meta)
        folder.write_scores(per_query_rows(results, dataset.queries.ids), record)
        outcome = Outcome.of(record, resumed=outcome.resumed)
    except Exception as e:  # a failing retriever is reported; the benchmark goes on
        outcome.error = f"{type(e).__name__}: {e}" if not isinstance(e, RagevalError) else str(e)
        log.error("%s on %s failed: %s", spec, dataset.label, outcome.error)
        if not isinstance(e, RagevalError):
            log.debug("%s", traceback.format_exc())
    return outcome


class ResultsFile:
    """``<out>/results.json``: every finished pair under ``out`` (read once), updated as pairs end. A
    metrics.json in a newer format than this rageval reads is an error (RagevalError naming its
    folder and version), before any pair is run."""

    def __init__(self, out: Path):
        self.out = out
        self.pairs: dict[Path, Outcome] = {}
        for path in sorted(out.glob(f"*/*/{METRICS_JSON}")):
            try:
                result = read_metrics(path)
            except BadRecord as e:
                log.warning("%s is not a rageval metrics file (%s): left out of results.json", path, e)
                continue
            if result.intervals is None or result.n_queries is None:
                log.warning("%s is not a rageval metrics file (it lacks intervals or n_queries): left out of "
                            "results.json", path)
                continue
            self.pairs[path.parent] = Outcome.of(result)
        self.failed: list[Outcome] = []

    def update(self, folder: Path, outcome: Outcome) -> None:
        """Record one pair's outcome and rewrite the file (pairs in folder order)."""
        if outcome.error:
            self.failed.append(outcome)
            if not (folder / METRICS_JSON).is_file():  # scores of an earlier run stay only while their file does
                self.pairs.pop(folder, None)
        else:
            self.pairs[folder] = outcome
        write_results(self.out, [o for _, o in sorted(self.pairs.items(), key=lambda item: str(item[0] / METRICS_JSON))],
                      self.failed)


def _sampled(dataset: Dataset, n: int, seed: int) -> Dataset:
    """``dataset.sample(n, seed)``, with a warning when it has fewer than ``n`` judged queries."""
    judged = sum(1 for q in dataset.queries.ids if dataset.qrels.has_relevant(q))
    if n > judged:
        log.warning("--sample %d: %s has only %d judged queries; all of them are scored", n, dataset.label, judged)
    return dataset.sample(n, seed)


def _warn_without_spans(measures: Sequence[Measure], span_unit: str, chroma: bool,
                        specs: Sequence[registry.Spec]) -> None:
    """A warning for each span option given while no span measure is asked: it has no effect (``--chroma``
    still has one when it sets a retriever's options, ``chunking_evaluation_spec``)."""
    if any(m.uses_spans for m in measures):
        return
    chroma = chroma and all(chunking_evaluation_spec(s) == s for s in specs)
    for given, option in ((chroma, "--chroma"), (span_unit != "regex", f"--span-unit {span_unit}")):
        if given:
            log.warning("%s has no effect: no span measure is asked (e.g. --metric IoU@5, or --chunker for the "
                        "default span measures)", option)


def benchmark(datasets: str | Sequence[str], retrievers: Sequence[str] | None = None,
              metrics: Sequence[str | Measure] = DEFAULT_METRICS, k: int = 100, out: str | Path = "runs",
              split: str | None = None, ignore_identical_ids: bool = False, resume: bool = True,
              chunkers: Sequence[str] = (), span_unit: str = "regex", chroma: bool = False,
              sample: int | None = None, seed: int = 0, executor: str = "local") -> list[Outcome]:
    """Run every retriever on every dataset (the Python form of ``rageval run``); with chunkers,
    every chunker x retriever pair on the chunks of each dataset; with ``sample``, on a seeded
    random sample of that many judged queries of each dataset. ``span_unit`` and ``chroma`` are
    the defaults of span measures given as strings without their own. ``executor`` runs the pairs:
    ``local`` (default) or ``ray[:address=...,num_cpus=...,num_gpus=...]`` (``rageval.running.executors``).

    Datasets, chunkers, retriever specs and measures are all checked before any indexing starts.
    Returns one Outcome per pair; ``<out>/results.json`` holds every finished pair.
    """
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    _check_settings(k, sample, seed, span_unit)
    # Every check a user's input can fail comes before any heavy import (torch, sentence-transformers):
    # paths, measures and chunker specs first, then the retriever specs (the defaults only looked up).
    loaders = [dataset_loader(spec) for spec in datasets]
    scoring = Scoring(parse_measures(metrics, unit=span_unit, chroma=chroma), ignore_identical_ids)
    depth = max(k, max_cutoff(scoring.measures))
    made = [(spec, registry.create("chunkers", spec)) for spec in chunkers] or [(None, None)]
    parsed = [registry.resolve("retrievers", spec) for spec in (retrievers or default_retrievers())]
    _warn_without_spans(scoring.measures, span_unit, chroma, parsed)
    specs = [chunking_evaluation_spec(spec) for spec in parsed] if chroma else parsed  # the published settings
    runner = make_executor(executor)
    for spec in specs:  # the constructors' checks of option values, before any dataset is loaded
        _build(spec)
    out = output_folder(out, "--out")
    results = ResultsFile(out)  # a newer format under --out is refused before any dataset is loaded
    _remove_stale(out)
    loaded = [load_dataset(spec, split, loader) for spec, loader in zip(datasets, loaders)]
    if sample is not None:
        loaded = [_sampled(dataset, sample, seed) for dataset in loaded]
    _check_pairs(loaded, [spec for spec, _ in made], [spec.text for spec in specs], scoring, out, resume)
    output_folder(out, "--out", create=True)
    tasks, folders = [], []
    for spec_of_dataset, loader, dataset in zip(datasets, loaders, loaded):
        training = TrainingData(spec_of_dataset, loader)
        for chunker_spec, chunker in made:
            corpus = chunker.chunk(dataset.corpus) if chunker else dataset.corpus
            for spec in specs:
                tasks.append(Task(run_one, (dataset, spec, scoring, depth, out, resume, chunker_spec, corpus, training)))
                folders.append(pair_folder(out, dataset.label, spec.text, chunker_spec))
    outcomes: list[Outcome | None] = [None] * len(tasks)
    for i, outcome in runner.run(tasks):
        outcomes[i] = outcome
        results.update(folders[i], outcome)
    _write_query_texts(out, loaded)
    return [o for o in outcomes if o is not None]


def _check_settings(k: int, sample: int | None, seed: int, span_unit: str) -> None:
    """The numeric options, the span unit and the cache folder, checked before anything else."""
    if not 1 <= k <= MAX_CUTOFF:
        raise RagevalError(f"--k must be between 1 and {MAX_CUTOFF}, got {k}")
    if sample is not None and sample < 1:
        raise RagevalError(f"--sample must be at least 1, got {sample}")
    check_seed(seed)
    try:  # an unknown unit is an error even when no span measure uses it
        Unit(span_unit)
    except SpecError as e:
        raise SpecError(f"--span-unit: {e}") from None
    check_cache()


def chunking_evaluation_spec(spec: registry.Spec) -> registry.Spec:
    """The spec as ``--chroma`` runs it: the options its plugin declares in ``chunking_evaluation_defaults``
    (the published chunking evaluation's settings: a dict, or a function of the spec's options giving one)
    added wherever the spec leaves them unset. The spec's text, and so its folder, stays the same."""
    defaults = getattr(spec.plugin, "chunking_evaluation_defaults", None) or {}
    if callable(defaults):
        defaults = defaults(spec.options)
    return replace(spec, options={**defaults, **spec.options}) if defaults else spec


def _build(spec: registry.Spec) -> Retriever:
    """A retriever from its parsed spec: the constructor checks the option values (k1 >= 0, a model
    that exists...); a plugin's own exception is still a bad spec (SpecError naming it). Each spec is
    built once before any dataset is loaded (that check), and each pair builds its own where it runs
    (an instance may hold what does not pickle, e.g. a stemmer, so a Ray task carries the spec)."""
    try:
        return spec.create()
    except RagevalError:
        raise
    except Exception as e:  # noqa: BLE001 - a plugin's own check: still a bad spec
        raise SpecError(f"retriever {spec.text!r}: {type(e).__name__}: {e}") from None


def _remove_stale(out: Path) -> None:
    """Remove the temporary files interrupted runs left under ``out`` and in the cache, saying how many."""
    stale = {out: sum(remove_stale(folder) for folder in own_folders(out)), cache_dir(): remove_stale(cache_dir(), 2)}
    for folder, removed in stale.items():
        if removed:
            log.info("removed %d temporary files left by interrupted runs under %s", removed, folder)


def _check_pairs(loaded: Sequence[Dataset], chunkers: Sequence[str | None], retrievers: Sequence[str],
                 scoring: Scoring, out: Path, resume: bool) -> None:
    """Before any chunking or indexing: span measures need every dataset to have spans; no pair folder
    may be a link; on resume, a run.json in a newer format is an error here, not a failed pair."""
    for dataset in loaded:
        if dataset.spans is None and (span := [m.name for m in scoring.measures if m.uses_spans]):
            raise RagevalError(f"{', '.join(span)}: span measures need reference spans, and dataset "
                               f"{dataset.label!r} has none (spans.jsonl in a BEIR folder, or a docs: folder)")
    for dataset, chunker_spec, spec in product(loaded, chunkers, retrievers):
        folder = pair_folder(out, dataset.label, spec, chunker_spec)
        refuse_links(folder)
        if resume:
            read_manifest(folder / RUN_JSON)


def _write_query_texts(out: Path, loaded: Sequence[Dataset]) -> None:
    """Each dataset's query texts, for the report's hover text (the scores do not depend on them: a
    failure is a warning)."""
    for dataset in loaded:
        try:
            (out / slug(dataset.label)).mkdir(exist_ok=True)
            write_queries(out / slug(dataset.label), dataset.queries.items())
        except (OSError, RagevalError) as e:
            log.warning("%s (the report will show query ids without their text)", e)
