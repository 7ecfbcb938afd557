"""Base classes of the plugin kinds: what a dataset loader and a retriever must provide."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import Corpus, Dataset, Document, Queries
from .errors import RagevalError
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
    so the runner can cache an index under (``config()``, corpus fingerprint); a retriever that
    has them says so with ``cacheable = True``.
    """

    name: str = ""
    spec: str = ""
    options: dict[str, Any] = {}
    default_run: bool = False  # part of a bare ``rageval run`` (needs no training and no download)
    cacheable: bool = False

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


class Chunker:
    """A chunker plugin (entry-point group ``rageval.chunkers``): documents to chunks.

    ``spans(doc)`` gives the chunks' character ranges; every chunk is a Document whose ``meta``
    holds ``parent``, ``start`` and ``end``, so ``parent.text[start:end] == chunk.text``.
    """

    spec: str = ""

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        raise NotImplementedError

    def chunk(self, corpus: Corpus) -> Corpus:
        ids, texts, titles, metas = [], [], [], []
        for i in range(len(corpus)):
            doc = corpus[i]
            for n, (start, end) in enumerate(self.spans(doc)):
                ids.append(f"{doc.id}#{n}")
                texts.append(doc.text[start:end])
                titles.append(doc.title)
                metas.append({"parent": doc.id, "start": start, "end": end})
        if not ids:
            raise RagevalError(f"chunker {self.spec or type(self).__name__}: the corpus gave no chunk (all documents empty?)")
        fields = tuple(f for f in corpus.fields if f in ("title", "text")) or ("text",)
        return Corpus(ids=ids, texts=texts, titles=titles, metas=metas, fields=fields)
