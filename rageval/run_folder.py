"""One (dataset, [chunker +] retriever) pair's folder: its layout, what a rerun may reuse, and atomic writes.

``<out>/<slug(dataset)>/<slug(retriever)>/`` (``<slug(chunker)>+<slug(retriever)>`` with a chunker)
holds ``run.trec``, ``run.json`` (what produced the run, its sha256 and timings), ``per_query.jsonl``
and, written last, ``metrics.json``. A run file is trusted only with a manifest whose settings and
sha256 match it; scores only beside the run they describe.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .files import write_json, write_jsonl
from .trec import Run


def slug(spec: str) -> str:
    """One safe folder name per spec: a readable prefix and a short hash of the exact spec, so two
    specs never share a folder (``bm25:k1=0.9,b=0.4`` -> ``bm25_k1=0.9_b=0.4-3f1a9c2e``)."""
    readable = re.sub(r"[^\w.=+-]", "_", spec).strip(".")[:60] or "_"
    return f"{readable}-{hashlib.sha256(spec.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def pair_folder(out: str | Path, dataset: str, retriever: str, chunker: str | None = None) -> Path:
    """Where a (dataset, [chunker +] retriever) pair's files go."""
    pair = f"{slug(chunker)}+{slug(retriever)}" if chunker else slug(retriever)
    return Path(out) / slug(dataset) / pair


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


class RunFolder:
    """The files of one pair; ``resume=False`` makes every earlier file count as absent."""

    def __init__(self, path: Path, resume: bool = True):
        self.path = path
        self.resume = resume
        self.run_sha256 = _sha256(path / "run.trec") if resume else None

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
        run.write_trec(self.path / "run.trec", tag=tag)
        self.run_sha256 = _sha256(self.path / "run.trec")
        write_json(self.path / "run.json", {"settings": settings, "run_sha256": self.run_sha256, "timings": timings,
                                            "meta": run.meta})

    def write_scores(self, per_query: Iterable[dict[str, Any]], metrics: dict[str, Any]) -> None:
        """per_query.jsonl, then metrics.json (which marks the pair finished)."""
        write_jsonl(self.path / "per_query.jsonl", per_query)
        write_json(self.path / "metrics.json", metrics)
