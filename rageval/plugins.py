"""Base classes of the plugin kinds: what a dataset loader and a retriever must provide."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import Corpus, Dataset, Queries
from .runs import Run


class DatasetLoader:
    """A dataset loader plugin (entry-point group ``rageval.corpora``)."""

    spec: str = ""

    def load(self, split: str | None = None) -> Dataset:
        """Read, validate and return the dataset; every problem is raised before any work starts."""
        raise NotImplementedError

    @classmethod
    def detect(cls, path: Path) -> bool:
        """Whether a bare path given as a dataset spec is of this loader's format."""
        return False


class Retriever:
    """A retriever plugin (entry-point group ``rageval.retrievers``).

    Optional: ``fit(train: Dataset)`` for trained retrievers, and ``save(dir)`` / ``load(dir)``
    so the runner can cache an index under (``config()``, corpus fingerprint).
    """

    name: str = ""
    spec: str = ""
    options: dict[str, Any] = {}
    default_run: bool = False  # part of a bare ``rageval run`` (needs no training and no download)

    @classmethod
    def usable(cls) -> bool:
        """Whether everything this retriever needs (packages, bundled models) is installed."""
        return True

    def index(self, corpus: Corpus) -> None:
        raise NotImplementedError

    def search(self, queries: Queries, k: int) -> Run:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Everything that determines the index, recorded in metrics.json and used as a cache key."""
        return {"name": self.name, **{k: (str(v) if isinstance(v, Path) else v) for k, v in self.options.items()}}
