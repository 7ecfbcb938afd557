"""The benchmark runner behind ``rageval run``: every retriever on every dataset, files on disk, resume.

Per dataset and retriever it writes ``<out>/<dataset>/<retriever>/``: ``run.trec``, ``run.json``
(what produced the run, and its timings), ``per_query.jsonl`` and, last, ``metrics.json``. Every file
is written atomically. A rerun skips a pair whose ``metrics.json`` has the same settings, re-scores
a pair whose ``run.trec`` is complete, and redoes the rest. ``results.json`` and the leaderboard
gather every finished pair under ``<out>``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
import time
import traceback
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

from . import registry
from .cache import cache_dir, key
from .data import Corpus, Dataset
from .datasets import dataset_loader, load_dataset
from .embedding_diagnostics import diagnostics
from .errors import MissingSplitError, RagevalError, SpecError
from .evaluation import DEFAULT_METRICS, canonical, evaluate, max_cutoff
from .files import atomic_folder, remove_stale, write_json, write_jsonl
from .plugins import Retriever
from .runs import Run
from .tokens import Unit

log = logging.getLogger("rageval")


@dataclass
class Outcome:
    """One leaderboard row: a retriever on a dataset, finished or failed."""

    dataset: str
    retriever: str
    means: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    resumed: bool = False


def slug(spec: str) -> str:
    """One safe folder name per spec: a readable prefix and a short hash of the exact spec, so two
    specs never share a folder (``bm25:k1=0.9,b=0.4`` -> ``bm25_k1=0.9_b=0.4-3f1a9c2e``)."""
    readable = re.sub(r"[^\w.=+-]", "_", spec).strip(".")[:60] or "_"
    return f"{readable}-{hashlib.sha256(spec.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def pair_folder(out: str | Path, dataset: str, retriever: str, chunker: str | None = None) -> Path:
    """Where a (dataset, [chunker +] retriever) pair's files go: ``<out>/<slug(dataset)>/<slug(retriever)>``
    (``<slug(chunker)>+<slug(retriever)>`` with a chunker)."""
    pair = f"{slug(chunker)}+{slug(retriever)}" if chunker else slug(retriever)
    return Path(out) / slug(dataset) / pair


def _file_sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


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


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class Scoring:
    """How runs are scored: metric names and the options of evaluate()."""

    metrics: Sequence[str] = DEFAULT_METRICS
    ignore_identical_ids: bool = False
    span_unit: str = "regex"
    chroma: bool = False

    def request(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "ignore_identical_ids": self.ignore_identical_ids,
                "span_unit": self.span_unit, "chroma": self.chroma}


def _run_settings(dataset: Dataset, corpus: Corpus, retriever: Retriever, spec: str, chunker: str | None,
                  depth: int) -> dict[str, Any]:
    return {"dataset": dataset.meta.get("spec", dataset.name), "split": dataset.split,
            "corpus_fingerprint": corpus.fingerprint, "qrels_fingerprint": dataset.qrels_fingerprint(),
            "chunker": chunker, "retriever": spec, "config": retriever.config(), "k": depth}


def run_one(dataset: Dataset, spec: str, scoring: Scoring, depth: int, out: Path, resume: bool = True,
            chunker: str | None = None, corpus: Corpus | None = None) -> Outcome:
    """Run one retriever on one dataset (on ``corpus``, the chunks made by ``chunker``, when given)
    and write its folder; failures are returned, not raised."""
    corpus = corpus if corpus is not None else dataset.corpus
    label = f"{chunker} + {spec}" if chunker else spec
    folder = pair_folder(out, dataset.label, spec, chunker)
    outcome = Outcome(dataset.label, label)
    try:
        retriever = registry.create("retrievers", spec)
        settings = _run_settings(dataset, corpus, retriever, spec, chunker, depth)
        run_hash = _file_sha256(folder / "run.trec") if resume else None
        done = _read_json(folder / "metrics.json") if resume else None
        if (done and done.get("run") == settings and done.get("request") == scoring.request()
                and run_hash is not None and done.get("run_sha256") == run_hash):
            outcome.means, outcome.timings, outcome.resumed = done["metrics"], done["timings"], True
            return outcome
        for stale in ("metrics.json", "per_query.jsonl"):  # never beside a run they do not describe
            (folder / stale).unlink(missing_ok=True)
        previous = _read_json(folder / "run.json") if resume else None
        if previous and previous.get("settings") == settings and run_hash and previous.get("run_sha256") == run_hash:
            run = Run.read_trec(folder / "run.trec")
            timings = previous["timings"]
            outcome.resumed = True
        else:
            (folder / "run.json").unlink(missing_ok=True)  # a run file is trusted only with its manifest
            run, timings = _retrieve(retriever, corpus, dataset, depth)
            run.write_trec(folder / "run.trec", tag=slug(spec))
            run_hash = _file_sha256(folder / "run.trec")
            write_json(folder / "run.json", {"settings": settings, "run_sha256": run_hash, "timings": timings,
                                             "meta": run.meta})
        start = time.perf_counter()
        results = evaluate(run, dataset, scoring.metrics, scoring.ignore_identical_ids, corpus,
                           scoring.span_unit, scoring.chroma)
        timings = {**timings, "eval_s": round(time.perf_counter() - start, 4)}
        scored = {q for values in results.per_query.values() for q in values}
        write_jsonl(folder / "per_query.jsonl",
                    ({"query_id": q, **{m: v[q] for m, v in results.per_query.items() if q in v}}
                     for q in dataset.queries.ids if q in scored))
        write_json(folder / "metrics.json", {
            "dataset": dataset.label, "retriever": label, "metrics": results.means,
            "n_queries": results.n_queries, "n_queries_without_relevant": results.n_without_relevant,
            "n_documents_searched": len(corpus), "run": settings, "run_sha256": run_hash,
            "request": scoring.request(),
            "evaluation": results.settings,
            "timings": timings, "versions": _versions(), "run_meta": run.meta})
        outcome.means, outcome.timings = results.means, timings
    except Exception as e:  # a failing retriever is reported; the benchmark goes on
        outcome.error = f"{type(e).__name__}: {e}" if not isinstance(e, RagevalError) else str(e)
        log.error("%s on %s failed: %s", spec, dataset.label, outcome.error)
        if not isinstance(e, RagevalError):
            log.debug("%s", traceback.format_exc())
    return outcome


def _index(retriever: Retriever, corpus: Corpus) -> bool:
    """Index ``corpus``, or load the index a previous run saved for this configuration and corpus.
    Returns whether it came from the cache."""
    if not retriever.cacheable:
        retriever.index(corpus)
        return False
    folder = cache_dir("indexes") / key(retriever.config(), corpus.fingerprint)
    if (folder / "complete").is_file():
        retriever.load(folder)
        return True
    retriever.index(corpus)
    with atomic_folder(folder, keep_existing=True) as partial:  # a concurrent run may finish it first
        retriever.save(partial)
        (partial / "complete").touch()
    return False


def training_split(retriever: Retriever, dataset: Dataset) -> Dataset:
    """The train split a trained retriever fits on: of its ``train_spec`` (which must have one), else of
    the evaluated dataset, else of its ``default_train`` (then the evaluation is zero-shot)."""
    if retriever.train_spec:
        try:
            return load_dataset(retriever.train_spec, "train")
        except MissingSplitError as e:
            raise RagevalError(f"{retriever.name} cannot train on {retriever.train_spec}: it has no train split "
                               f"({e})") from None
    try:
        return load_dataset(dataset.meta.get("spec", dataset.name), "train")
    except MissingSplitError:
        if not retriever.default_train:
            raise RagevalError(f"{retriever.name} needs training and {dataset.label} has no train split") from None
        log.info("%s has no train split: %s trains on %s (train split), zero-shot here", dataset.name,
                 retriever.name, retriever.default_train)
        return load_dataset(retriever.default_train, "train")


def development_split(train: Dataset) -> Dataset | None:
    """The dev split of the dataset a train split came from, or None when it has none."""
    try:
        return load_dataset(train.meta.get("spec", train.name), "dev")
    except MissingSplitError:
        return None


def _retrieve(retriever: Retriever, corpus: Corpus, dataset: Dataset, depth: int) -> tuple[Run, dict[str, float]]:
    fit_s = None
    if retriever.needs_fit():
        start = time.perf_counter()
        train = training_split(retriever, dataset)
        retriever.fit(train, development_split(train))
        fit_s = round(time.perf_counter() - start, 4)
    start = time.perf_counter()
    cached = _index(retriever, corpus)
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    run = retriever.search(dataset.queries, depth)
    search_s = time.perf_counter() - start
    if hasattr(retriever, "query_vectors") and hasattr(retriever, "document_vectors"):
        run.meta["embedding_diagnostics"] = diagnostics(
            dataset.queries.ids, retriever.query_vectors(dataset.queries), corpus, retriever.document_vectors(),
            dataset.qrels)
        log.info("%s embedding space: %s", retriever.name,
                 ", ".join(f"{k} {v:.4f}" for k, v in run.meta["embedding_diagnostics"].items() if k != "n_queries"))
    return run, {**({"fit_s": fit_s} if fit_s is not None else {}), "index_s": round(index_s, 4),
                 "index_from_cache": cached, "search_s": round(search_s, 4),
                 "queries_per_s": round(len(dataset.queries) / search_s, 1) if search_s else None}


def gather_results(out: Path) -> dict[str, dict[str, dict]]:
    """Every finished (dataset, retriever) under ``out``: {dataset: {retriever: metrics.json summary}}."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted(out.glob("*/*/metrics.json")):
        data = _read_json(path)
        fields = ("dataset", "retriever", "metrics", "n_queries", "timings")
        if not isinstance(data, dict) or not all(f in data for f in fields):
            log.warning("%s is not a rageval metrics file: left out of results.json", path)
            continue
        found.setdefault(str(data["dataset"]), {})[str(data["retriever"])] = {
            "metrics": data["metrics"], "n_queries": data["n_queries"], "timings": data["timings"]}
    return found


def run(datasets: str | Sequence[str], retrievers: Sequence[str] | None = None,
        metrics: Sequence[str] = DEFAULT_METRICS, k: int = 100, out: str | Path = "runs",
        split: str | None = None, ignore_identical_ids: bool = False, resume: bool = True,
        chunkers: Sequence[str] = (), span_unit: str = "regex", chroma: bool = False,
        sample: int | None = None, seed: int = 0) -> list[Outcome]:
    """Run every retriever on every dataset (the Python form of ``rageval run``); with chunkers,
    every chunker x retriever pair on the chunks of each dataset; with ``sample``, on a seeded
    random sample of that many judged queries of each dataset.

    Datasets, chunkers, retriever specs and metric names are all checked before any indexing
    starts. Returns one Outcome per pair; ``<out>/results.json`` holds every finished pair.
    """
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    retrievers = list(retrievers) if retrievers else default_retrievers()
    scoring = Scoring([canonical(m) for m in metrics], ignore_identical_ids, span_unit, chroma)
    depth = max(k, max_cutoff(scoring.metrics))
    for spec in retrievers:  # spec errors before any work
        registry.resolve("retrievers", spec)
    made = [(spec, registry.create("chunkers", spec)) for spec in chunkers] or [(None, None)]
    if span_unit != "regex" and not chroma:
        Unit(span_unit)
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
    outcomes = []
    for dataset in loaded:
        for chunker_spec, chunker in made:
            corpus = chunker.chunk(dataset.corpus) if chunker else dataset.corpus
            for spec in retrievers:
                outcomes.append(run_one(dataset, spec, scoring, depth, out, resume, chunker_spec, corpus))
                write_json(out / "results.json", {
                    "datasets": gather_results(out),
                    "failed": [{"dataset": o.dataset, "retriever": o.retriever, "error": o.error}
                               for o in outcomes if o.error]})
    return outcomes
