"""One (dataset, [chunker +] retriever) pair's folder: its layout, what a rerun may reuse, and atomic writes.

``<out>/<slug(dataset)>/<slug(retriever)>/`` (``<slug(chunker)>+<slug(retriever)>`` with a chunker)
holds ``run.trec``, ``run.json`` (what produced the run, its sha256 and timings), ``per_query.jsonl``
and, written last, ``metrics.json``; what these files hold is ``rageval.store.run_store``'s. A run file is
trusted only with a manifest whose settings and sha256 match it; scores only beside the run they
describe. A dataset or pair folder that is a symbolic link is refused: nothing is written outside
the output folder.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Iterable

from rageval.data.trec import Run
from rageval.errors import RagevalError
from rageval.store.files import write_json, write_jsonl
from rageval.store.run_store import (METRICS_JSON, PER_QUERY, RUN_JSON, RUN_TREC, BadRecord, PairResult, RunManifest,
                                     read_manifest, read_metrics)


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
        self.run_sha256 = _sha256(path / RUN_TREC) if resume else None

    def _make(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RagevalError(f"cannot create {self.path}: {e.strerror or e}") from e

    def finished(self, settings: dict[str, Any], request: dict[str, Any]) -> PairResult | None:
        """The metrics.json of a pair already scored with these settings on this very run file (a
        metrics.json in a newer format than this rageval reads: RagevalError)."""
        if not self.resume or self.run_sha256 is None:
            return None
        try:
            done = read_metrics(self.path / METRICS_JSON)
        except BadRecord:
            return None
        if done.settings == settings and done.request == request and done.run_sha256 == self.run_sha256:
            return done
        return None

    def reusable_run(self, settings: dict[str, Any]) -> tuple[Run, dict[str, Any]] | None:
        """The run (and its timings) a previous attempt wrote with these settings, when it is intact.
        Scores that do not describe what follows are removed first (a run.json in a newer format than
        this rageval reads: RagevalError, before anything is removed)."""
        previous = read_manifest(self.path / RUN_JSON) if self.resume else None
        for stale in (METRICS_JSON, PER_QUERY):
            (self.path / stale).unlink(missing_ok=True)
        if previous and previous.settings == settings and self.run_sha256 \
                and previous.run_sha256 == self.run_sha256:
            return Run.read_trec(self.path / RUN_TREC), previous.timings
        (self.path / RUN_JSON).unlink(missing_ok=True)  # a run file is trusted only with its manifest
        return None

    def write_run(self, run: Run, tag: str, settings: dict[str, Any], timings: dict[str, Any]) -> None:
        """run.trec, then its manifest run.json."""
        self._make()
        run.write_trec(self.path / RUN_TREC, tag=tag)
        self.run_sha256 = _sha256(self.path / RUN_TREC)
        write_json(self.path / RUN_JSON, RunManifest(settings, self.run_sha256, timings, run.meta).to_json())

    def write_foreign_run(self, run: Run, tag: str) -> None:
        """run.trec of a run made elsewhere (``rageval evaluate``), without a manifest, so ``rageval run``
        never takes it for its own; the scores of an earlier run there are removed first."""
        self._make()
        for stale in (METRICS_JSON, PER_QUERY):
            (self.path / stale).unlink(missing_ok=True)
        run.write_trec(self.path / RUN_TREC, tag=tag)
        self.run_sha256 = _sha256(self.path / RUN_TREC)

    def write_scores(self, per_query: Iterable[dict[str, Any]], result: PairResult) -> None:
        """per_query.jsonl (rows of ``run_store.per_query_rows``), then metrics.json, the one place it
        is written (it marks the pair finished)."""
        self._make()
        write_jsonl(self.path / PER_QUERY, per_query)
        write_json(self.path / METRICS_JSON, result.to_json())
