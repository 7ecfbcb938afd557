"""The output folder's format: every file rageval writes under ``--out``, every field in them, and
their version. Nothing else in rageval reads or writes these files by their keys.

Under ``<out>``: ``results.json`` (every finished pair and the failures: ``write_results``,
``read_failures``), ``<dataset>/queries.jsonl`` (the query texts, for the report) and per pair
``run.trec``, ``run.json`` (``RunManifest``), ``per_query.jsonl`` (``per_query_rows``) and, written
last, ``metrics.json`` (``PairResult``). A pair is named by its ``PairKey``; its display label
(``chunker + retriever``) is made by ``PairKey.label`` and nowhere else, and never split apart: the
key is read back from the run settings that metrics.json records (``run``: its ``chunker`` and
``retriever``).

Versions: this code writes ``FORMAT`` in a ``format`` field of metrics.json, run.json and results.json.
Format 1 is what rageval wrote before the field existed (a file without it); format 2 adds the field
and requires every field of metrics.json. Every version up to ``FORMAT`` is read; a newer one is
rejected with an error naming the folder and the version, never misread.
"""
from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from rageval.data.jsonl import json_kind
from rageval.errors import RagevalError
from rageval.store.files import write_json, write_jsonl

if TYPE_CHECKING:
    from rageval.scoring.evaluation import Results

FORMAT = 2
RUN_TREC, RUN_JSON, PER_QUERY, METRICS_JSON = "run.trec", "run.json", "per_query.jsonl", "metrics.json"
RESULTS_JSON, QUERIES = "results.json", "queries.jsonl"
QUERY_ID = "query_id"  # per_query.jsonl's and queries.jsonl's query column; every other per_query column is a measure


class BadRecord(ValueError):
    """A file that is not a record of this format (corrupt, or not rageval's): the message says why."""


def newer_format(path: Path, found: int) -> RagevalError:
    """The error for a file written in a format newer than this code reads."""
    return RagevalError(f"{path.parent}: {path.name} is in output format {found}, newer than this rageval reads "
                        f"(formats 1 to {FORMAT}): upgrade rageval to read this folder, or write to another one")


def format_of(path: Path, data: dict[str, Any]) -> int:
    """The format version of a record read from ``path``: 1 without a ``format`` field. A newer version
    than ``FORMAT`` raises RagevalError; a value that is not a version raises BadRecord."""
    found = data.get("format", 1)
    if type(found) is not int or found < 1:
        raise BadRecord(f'{path.name}: "format" is not a format version (a whole number from 1): {str(found)[:80]}')
    if found > FORMAT:
        raise newer_format(path, found)
    return found


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def finite(value: object) -> bool:
    """Whether ``value`` (read from JSON) is a finite number: an int or float, not NaN, Infinity or
    an integer too large for a float."""
    if type(value) is int:
        return abs(value) <= sys.float_info.max
    return type(value) is float and math.isfinite(value)


def versions() -> dict[str, str]:
    """The versions of Python and of the packages that make the numbers, as metrics.json records them."""
    out = {"python": platform.python_version()}
    for dist in ("rageval", "numpy", "scipy", "pytrec-eval-terrier"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


@dataclass(frozen=True)
class PairKey:
    """What a pair is: the dataset's label, the retriever spec and the chunker spec (None: whole documents)."""

    dataset: str
    retriever: str
    chunker: str | None = None

    @property
    def label(self) -> str:
        """The system's name in tables, files and ``compare``: ``chunker + retriever``, or the retriever."""
        return f"{self.chunker} + {self.retriever}" if self.chunker else self.retriever


# metrics.json: key -> (PairResult attribute, JSON types its value may have); the file's order
_DICT, _INT, _TEXT = (dict,), (int,), (str,)
_KINDS = {_DICT: "an object", _INT: "a whole number", _TEXT: "a string"}
METRICS_FIELDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "dataset": ("dataset", _TEXT), "retriever": ("system", _TEXT), "metrics": ("means", _DICT),
    "intervals": ("intervals", _DICT), "ties": ("ties", _DICT), "curves": ("curves", _DICT),
    "n_queries": ("n_queries", _INT), "n_queries_without_relevant": ("n_queries_without_relevant", _INT),
    "n_queries_without_results": ("n_queries_without_results", _INT),
    "n_documents_searched": ("n_documents_searched", _INT), "run": ("settings", _DICT),
    "judgments_fingerprint": ("judgments_fingerprint", _TEXT), "run_sha256": ("run_sha256", _TEXT),
    "request": ("request", _DICT), "evaluation": ("evaluation", _DICT), "timings": ("timings", _DICT),
    "versions": ("versions", _DICT), "run_meta": ("run_meta", _DICT)}
PROVENANCE = ("run", "request", "evaluation", "versions", "n_queries", "n_queries_without_relevant",
              "n_documents_searched", "run_sha256")  # what reproduces a pair, as the report shows it


@dataclass
class PairResult:
    """A pair's metrics.json: the means with their 95% bootstrap intervals, tie-aware values, measure@k
    ``curves``, query counts, what produced the run (``settings``: ``run`` in the file), what was asked
    (``request``), the fingerprint of the judgments scored against, timings and versions. Fields that
    a format-1 file may lack are None (or empty) when it does."""

    key: PairKey
    means: dict[str, float]
    intervals: dict[str, list[float]] | None = None
    ties: dict[str, dict[str, float]] | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    n_queries: int | None = None
    n_queries_without_relevant: int | None = None
    n_queries_without_results: int = 0
    n_documents_searched: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    judgments_fingerprint: str | None = None
    run_sha256: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    run_meta: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    @classmethod
    def of(cls, key: PairKey, results: "Results", *, settings: dict[str, Any], request: dict[str, Any],
           judgments: str, run_sha256: str | None, curves: dict[str, list[float]], timings: dict[str, Any],
           n_documents_searched: int | None = None, run_meta: dict[str, Any] | None = None) -> "PairResult":
        """The record of a run just scored (``rageval run`` and ``rageval evaluate`` both make it here);
        ``settings`` name the same chunker and retriever as ``key``."""
        from rageval.scoring.significance import interval

        if (settings.get("chunker"), settings.get("retriever")) != (key.chunker, key.retriever):
            raise ValueError(f"run settings name {settings.get('chunker')!r} + {settings.get('retriever')!r}, "
                             f"not the pair's {key.chunker!r} + {key.retriever!r}")  # the key is read back from them
        return cls(key, results.means,
                   {m: list(interval(list(v.values()))) for m, v in results.per_query.items() if len(v) >= 2},
                   results.ties, curves, results.n_queries, results.n_without_relevant, results.n_without_results,
                   n_documents_searched, settings, judgments, run_sha256, request, results.settings, timings,
                   versions(), run_meta or {})

    @property
    def complete(self) -> bool:
        """Whether it holds everything a resumed run reports (a format-1 file of an older rageval may not)."""
        return self.intervals is not None and self.ties is not None and self.judgments_fingerprint is not None

    def to_json(self) -> dict[str, Any]:
        """metrics.json's object."""
        key = {"dataset": self.key.dataset, "retriever": self.key.label}
        return {"format": self.format, **{name: key[name] if name in key else getattr(self, attr)
                                          for name, (attr, _) in METRICS_FIELDS.items()}}

    def provenance(self) -> dict[str, Any]:
        """The fields that say how to reproduce the pair, by their names in metrics.json."""
        record = self.to_json()
        return {name: record[name] for name in PROVENANCE}

    @classmethod
    def from_json(cls, path: Path, data: Any) -> "PairResult":
        """The record of a metrics.json's content; BadRecord says why it is not one (a newer format:
        RagevalError)."""
        if not isinstance(data, dict):
            raise BadRecord(f"metrics.json holds {json_kind(data)}, not a rageval metrics object")
        found = format_of(path, data)
        required = ("dataset", "retriever", "metrics") if found == 1 else tuple(METRICS_FIELDS)
        missing = [f'"{name}"' for name in required if name not in data]
        if missing:
            raise BadRecord(f"metrics.json lacks {', '.join(missing)}")
        means = data["metrics"]
        if not isinstance(means, dict):
            raise BadRecord(f'"metrics" of metrics.json is not an object of numbers: {str(means)[:80]}')
        bad = next(((m, v) for m, v in means.items() if not finite(v)), None)
        if bad is not None:
            raise BadRecord(f'"metrics" of metrics.json: {bad[0]} is not a finite number: {str(bad[1])[:80]}')
        values: dict[str, Any] = {}
        for name, (attr, kinds) in METRICS_FIELDS.items():
            value = values[attr] = data.get(name)
            if value is not None and type(value) not in kinds:
                raise BadRecord(f'"{name}" of metrics.json is not {_KINDS[kinds]}: {str(value)[:80]}')
        dataset, label = values.pop("dataset"), values.pop("system")
        if dataset is None or label is None:
            raise BadRecord('"dataset" and "retriever" of metrics.json are null, not strings')
        defaults = {"curves": {}, "n_queries_without_results": 0, "settings": {}, "request": {}, "evaluation": {},
                    "timings": {}, "versions": {}, "run_meta": {}}
        values.update({attr: value for attr, value in defaults.items() if values[attr] is None})
        return cls(_key(dataset, label, values["settings"]), **values, format=found)


def _key(dataset: str, label: str, settings: dict[str, Any]) -> PairKey:
    """A pair's key: its chunker and retriever as its run settings record them, when they give its
    label back; else (settings that do not name them) the label, as a retriever without a chunker."""
    retriever, chunker = settings.get("retriever"), settings.get("chunker")
    if isinstance(retriever, str) and (chunker is None or isinstance(chunker, str)):
        key = PairKey(dataset, retriever, chunker or None)
        if key.label == label:
            return key
    return PairKey(dataset, label)


def read_metrics(path: Path) -> PairResult:
    """A pair's metrics.json. BadRecord says why it is not a rageval metrics record (missing, empty,
    corrupt); a newer format raises RagevalError."""
    if not path.is_file():
        raise BadRecord("no metrics.json (interrupted, or its retriever failed)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadRecord(f"metrics.json cannot be read ({type(e).__name__}: {e})") from None
    if not text.strip():
        raise BadRecord("metrics.json is empty")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise BadRecord(f"metrics.json is not valid JSON ({e})") from None
    return PairResult.from_json(path, data)


def judgments_by_dataset(out: str | Path) -> dict[str, set[str | None]]:
    """Each dataset under ``out`` with the ``judgments_fingerprint`` values its finished pairs record
    (None for a metrics.json written before rageval recorded them)."""
    found: dict[str, set[str | None]] = {}
    for path in sorted(Path(out).glob(f"*/*/{METRICS_JSON}")):
        try:
            result = read_metrics(path)
        except BadRecord:
            continue
        found.setdefault(result.key.dataset, set()).add(result.judgments_fingerprint)
    return found


@dataclass
class RunManifest:
    """A pair's run.json: the settings that produced its run.trec, the file's sha256, the timings of
    indexing and searching, and the run's own notes (``Run.meta``)."""

    settings: dict[str, Any]
    run_sha256: str | None
    timings: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """run.json's object."""
        return {"format": FORMAT, "settings": self.settings, "run_sha256": self.run_sha256, "timings": self.timings,
                "meta": self.meta}


def read_manifest(path: Path) -> RunManifest | None:
    """A pair's run.json, or None when it is missing or not a manifest (then its run is not trusted);
    a newer format raises RagevalError."""
    data = read_json(path)
    if not isinstance(data, dict):
        return None
    try:
        format_of(path, data)
    except BadRecord:
        return None
    settings, sha, timings, meta = (data.get(k) for k in ("settings", "run_sha256", "timings", "meta"))
    if not isinstance(settings, dict) or not isinstance(timings, dict) or not isinstance(sha, (str, type(None))):
        return None
    return RunManifest(settings, sha, timings, meta if isinstance(meta, dict) else {})


def per_query_rows(results: "Results", query_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """per_query.jsonl's rows: every scored query of ``query_ids``, in that order, with its values."""
    scored = {q for values in results.per_query.values() for q in values}
    return ({QUERY_ID: q, **{m: v[q] for m, v in results.per_query.items() if q in v}}
            for q in query_ids if q in scored)


def write_queries(folder: Path, queries: Iterable[tuple[str, str]]) -> None:
    """A dataset folder's queries.jsonl: (query id, text) pairs."""
    write_jsonl(folder / QUERIES, ({QUERY_ID: q, "text": t} for q, t in queries))


def query_texts(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Query id -> text of queries.jsonl's rows."""
    return {str(row.get(QUERY_ID)): str(row.get("text", "")) for row in rows}


@dataclass
class Outcome:
    """One pair's line of the leaderboard and of results.json: a system on a dataset, finished or failed."""

    dataset: str
    system: str  # PairKey.label
    means: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    resumed: bool = False
    n_queries: int = 0
    intervals: dict[str, list[float]] = field(default_factory=dict)  # 95% bootstrap interval of each mean
    ties: dict[str, dict[str, float]] = field(default_factory=dict)  # tie-aware expectation and range

    @classmethod
    def of(cls, result: PairResult, resumed: bool = False) -> "Outcome":
        """The line of a finished pair."""
        return cls(result.key.dataset, result.key.label, result.means, result.timings, resumed=resumed,
                   n_queries=result.n_queries or 0, intervals=result.intervals or {}, ties=result.ties or {})


def write_results(out: Path, finished: Iterable[Outcome], failed: Iterable[Outcome]) -> None:
    """``<out>/results.json``: the finished pairs by dataset and system (in the order given), and the failures."""
    datasets: dict[str, dict[str, dict[str, Any]]] = {}
    for o in finished:
        datasets.setdefault(o.dataset, {})[o.system] = {"metrics": o.means, "intervals": o.intervals,
                                                        "n_queries": o.n_queries, "timings": o.timings}
    write_json(out / RESULTS_JSON, {"format": FORMAT, "datasets": datasets, "failed": [
        {"dataset": o.dataset, "retriever": o.system, "error": o.error} for o in failed]})


def read_failures(out: Path) -> list[Outcome]:
    """The failures ``<out>/results.json`` lists (none when it is missing or not rageval's); a newer
    format raises RagevalError."""
    data = read_json(out / RESULTS_JSON)
    if not isinstance(data, dict):
        return []
    try:
        format_of(out / RESULTS_JSON, data)
    except BadRecord:
        return []
    failed = data.get("failed")
    return [Outcome(str(f.get("dataset")), str(f.get("retriever")), error=str(f.get("error")))
            for f in (failed if isinstance(failed, list) else []) if isinstance(f, dict)]
