"""One (dataset, [chunker +] retriever) pair's folder: its layout, what a rerun may reuse, and atomic writes.

``<out>/<slug(dataset)>/<slug(retriever)>/`` (``<slug(chunker)>+<slug(retriever)>`` with a chunker)
holds ``run.trec``, ``run.json`` (what produced the run, its sha256 and timings), ``per_query.jsonl``
and, written last, ``metrics.json``. A run file is trusted only with a manifest whose settings and
sha256 match it; scores only beside the run they describe. A dataset or pair folder that is a
symbolic link is refused: nothing is written outside the output folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .errors import RagevalError
from .files import write_json, write_jsonl
from .trec import Run

if TYPE_CHECKING:
    from .evaluation import Results


def slug(spec: str) -> str:
    """One safe folder name per spec: a readable prefix and a short hash of the exact spec, so two
    specs never share a folder (``bm25:k1=0.9,b=0.4`` -> ``bm25_k1=0.9_b=0.4-3f1a9c2e``)."""
    readable = re.sub(r"[^\w.=+-]", "_", spec).strip(".")[:60] or "_"
    return f"{readable}-{hashlib.sha256(spec.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def pair_folder(out: str | Path, dataset: str, retriever: str, chunker: str | None = None) -> Path:
    """Where a (dataset, [chunker +] retriever) pair's files go."""
    pair = f"{slug(chunker)}+{slug(retriever)}" if chunker else slug(retriever)
    return Path(out) / slug(dataset) / pair


_SLUG = re.compile(r"[\w.=+-]+-[0-9a-f]{8}")  # a name slug() makes, or two joined by + (a pair folder)


def own_folders(out: str | Path) -> list[Path]:
    """``out`` and the dataset and pair folders under it whose names ``slug`` makes (real folders
    only, no symbolic link): the folders where rageval writes its files, and nothing else."""
    def below(folder: Path) -> list[Path]:
        try:
            return sorted(Path(e.path) for e in os.scandir(folder)
                          if _SLUG.fullmatch(e.name) and e.is_dir(follow_symlinks=False))
        except OSError:
            return []
    datasets = below(Path(out))
    return [Path(out), *datasets, *(pair for dataset in datasets for pair in below(dataset))]


def refuse_links(path: Path) -> None:
    """Raise RagevalError when a pair folder or its dataset folder is a symbolic link: files written
    there would land outside the output folder."""
    for folder in (path.parent, path):
        if folder.is_symlink():
            raise RagevalError(f"{folder} is a symbolic link (to {os.readlink(folder)}): rageval writes only "
                               f"into real folders under the output folder; remove the link or choose another folder")


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def versions() -> dict[str, str]:
    """The versions of Python and of the packages that make the numbers, as metrics.json records them."""
    out = {"python": platform.python_version()}
    for dist in ("rageval", "numpy", "scipy", "pytrec-eval-terrier"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def metrics_record(dataset: str, system: str, results: "Results", *, settings: dict[str, Any],
                   request: dict[str, Any], judgments: str, run_sha256: str | None, curves: dict[str, list[float]],
                   timings: dict[str, Any], n_documents_searched: int | None = None,
                   run_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pair's metrics.json, the one shape every command that scores a run writes (``rageval run``,
    ``rageval evaluate``) and ``results.json``, compare and the report read: the means with their 95%
    bootstrap intervals, tie-aware values, measure@k ``curves``, query counts, what produced the run
    (``settings``: ``run`` in the file), what was asked (``request``), ``judgments_fingerprint``
    (``trec.judgments_fingerprint`` of the qrels scored against), timings and versions."""
    from .significance import interval

    return {"dataset": dataset, "retriever": system, "metrics": results.means,
            "intervals": {m: list(interval(list(v.values()))) for m, v in results.per_query.items() if len(v) >= 2},
            "ties": results.ties, "curves": curves, "n_queries": results.n_queries,
            "n_queries_without_relevant": results.n_without_relevant,
            "n_queries_without_results": results.n_without_results, "n_documents_searched": n_documents_searched,
            "run": settings, "judgments_fingerprint": judgments, "run_sha256": run_sha256, "request": request,
            "evaluation": results.settings, "timings": timings, "versions": versions(), "run_meta": run_meta or {}}


def per_query_rows(results: "Results", query_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """per_query.jsonl's rows: every scored query of ``query_ids``, in that order, with its values."""
    scored = {q for values in results.per_query.values() for q in values}
    return ({"query_id": q, **{m: v[q] for m, v in results.per_query.items() if q in v}}
            for q in query_ids if q in scored)


def judgments_by_dataset(out: str | Path) -> dict[str, set[str | None]]:
    """Each dataset under ``out`` with the ``judgments_fingerprint`` values its finished pairs record
    (None for a metrics.json written before rageval recorded them)."""
    found: dict[str, set[str | None]] = {}
    for path in sorted(Path(out).glob("*/*/metrics.json")):
        record = read_json(path)
        if isinstance(record, dict) and "dataset" in record:
            found.setdefault(str(record["dataset"]), set()).add(record.get("judgments_fingerprint"))
    return found


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


class RunFolder:
    """The files of one pair; ``resume=False`` makes every earlier file count as absent. The folder
    (and its dataset folder) is made when the first file is written; a symbolic link there is refused."""

    def __init__(self, path: Path, resume: bool = True):
        refuse_links(path)
        self.path = path
        self.resume = resume
        self.run_sha256 = _sha256(path / "run.trec") if resume else None

    def _make(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RagevalError(f"cannot create {self.path}: {e.strerror or e}") from e

    def finished(self, settings: dict[str, Any], request: dict[str, Any]) -> dict | None:
        """The metrics.json of a pair already scored with these settings on this very run file."""
        done = read_json(self.path / "metrics.json") if self.resume else None
        if (done and done.get("run") == settings and done.get("request") == request
                and self.run_sha256 is not None and done.get("run_sha256") == self.run_sha256):
            return done
        return None

    def reusable_run(self, settings: dict[str, Any]) -> tuple[Run, dict[str, Any]] | None:
        """The run (and its timings) a previous attempt wrote with these settings, when it is intact.
        Scores that do not describe what follows are removed first."""
        for stale in ("metrics.json", "per_query.jsonl"):
            (self.path / stale).unlink(missing_ok=True)
        previous = read_json(self.path / "run.json") if self.resume else None
        if previous and previous.get("settings") == settings and self.run_sha256 \
                and previous.get("run_sha256") == self.run_sha256:
            return Run.read_trec(self.path / "run.trec"), previous["timings"]
        (self.path / "run.json").unlink(missing_ok=True)  # a run file is trusted only with its manifest
        return None

    def write_run(self, run: Run, tag: str, settings: dict[str, Any], timings: dict[str, Any]) -> None:
        """run.trec, then its manifest run.json."""
        self._make()
        run.write_trec(self.path / "run.trec", tag=tag)
        self.run_sha256 = _sha256(self.path / "run.trec")
        write_json(self.path / "run.json", {"settings": settings, "run_sha256": self.run_sha256, "timings": timings,
                                            "meta": run.meta})

    def write_foreign_run(self, run: Run, tag: str) -> None:
        """run.trec of a run made elsewhere (``rageval evaluate``), without a manifest, so ``rageval run``
        never takes it for its own; the scores of an earlier run there are removed first."""
        self._make()
        for stale in ("metrics.json", "per_query.jsonl"):
            (self.path / stale).unlink(missing_ok=True)
        run.write_trec(self.path / "run.trec", tag=tag)
        self.run_sha256 = _sha256(self.path / "run.trec")

    def write_scores(self, per_query: Iterable[dict[str, Any]], metrics: dict[str, Any]) -> None:
        """per_query.jsonl, then metrics.json (which marks the pair finished)."""
        self._make()
        write_jsonl(self.path / "per_query.jsonl", per_query)
        write_json(self.path / "metrics.json", metrics)
