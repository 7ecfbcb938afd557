"""The data model every loader returns and every retriever and scorer takes (README: "Public API",
"Architecture")."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from rageval.data.text_column import TextColumn
from rageval.errors import RagevalError


@dataclass(frozen=True)
class Document:
    """One retrievable unit. A chunk carries ``parent``, ``start`` and ``end`` in ``meta``."""

    id: str
    text: str
    title: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


class Corpus:
    """Ordered, id-addressable documents, stored column-wise.

    ``fields`` names what makes a document's searchable text (``contents``): ``title`` and
    ``text`` by default, any other name is read from the document's ``meta``.
    """

    def __init__(self, documents: Sequence[Document] | None = None, *, ids: Sequence[str] = (),
                 texts: Sequence[str] = (), titles: Sequence[str] | None = None,
                 metas: Sequence[Mapping[str, Any]] | None = None,
                 fields: Sequence[str] = ("title", "text")):
        if documents is not None:
            ids = [d.id for d in documents]
            texts = [d.text for d in documents]
            titles = [d.title for d in documents]
            metas = [d.meta for d in documents]
        self.ids: list[str] = list(ids)
        self.texts: Sequence[str] = _column(texts)
        self.titles: Sequence[str] = _column(titles) if titles is not None else [""] * len(self.ids)
        self.metas: list[Mapping[str, Any]] = list(metas) if metas is not None else [{}] * len(self.ids)
        self.fields: tuple[str, ...] = tuple(fields)
        if not (len(self.ids) == len(self.texts) == len(self.titles) == len(self.metas)):
            raise ValueError("Corpus columns differ in length")
        self._position: dict[str, int] | None = None
        self._fingerprint: str | None = None
        self._contents: list[str] | None = None
        self._id_ranks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Document]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: int) -> Document:
        return Document(self.ids[i], self.texts[i], self.titles[i], self.metas[i])

    def position(self, doc_id: str) -> int:
        """Position of ``doc_id`` in the corpus (KeyError if absent)."""
        if self._position is None:
            self._position = {d: i for i, d in enumerate(self.ids)}
        return self._position[doc_id]

    def __contains__(self, doc_id: str) -> bool:
        try:
            self.position(doc_id)
        except KeyError:
            return False
        return True

    def get(self, doc_id: str) -> Document:
        return self[self.position(doc_id)]

    def id_ranks(self) -> np.ndarray:
        """Rank of each document's id in ascending string order: ties in score are broken by
        the larger rank first (doc id descending, trec_eval's rule)."""
        if self._id_ranks is None:
            order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
            ranks = np.empty(len(self.ids), dtype=np.int64)
            ranks[order] = np.arange(len(self.ids))
            self._id_ranks = ranks
        return self._id_ranks

    def contents(self) -> Sequence[str]:
        """Searchable text of every document: the ``fields`` joined by a space (empty ones skipped);
        a ``TextColumn`` when the texts are one."""
        if self._contents is None:
            if "text" in self.fields and set(self.fields) <= {"title", "text"} and not any(self.titles):
                self._contents = self.texts  # nothing but the text is searchable
            elif isinstance(self.texts, TextColumn):
                self._contents = TextColumn.of(self._content(i) for i in range(len(self)))
            else:
                self._contents = [self._content(i) for i in range(len(self))]
        return self._contents

    def _content(self, i: int) -> str:
        parts = []
        for name in self.fields:
            if name == "text":
                value = self.texts[i]
            elif name == "title":
                value = self.titles[i]
            else:
                value = self.metas[i].get(name, "")
                if not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            if value:
                parts.append(value)
        return " ".join(parts)

    def batches(self, size: int) -> Iterator[Sequence[str]]:
        """The searchable contents in consecutive batches of at most ``size``."""
        contents = self.contents()
        for start in range(0, len(contents), size):
            yield contents[start:start + size]

    @property
    def fingerprint(self) -> str:
        """Stable content hash (ids, titles, texts, meta and fields): the cache key of indexes."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(json.dumps(self.fields).encode())
            for i in range(len(self)):
                meta = json.dumps(self.metas[i], sort_keys=True, ensure_ascii=False, default=str)
                for part in (self.ids[i], self.titles[i], self.texts[i], meta):
                    h.update(part.encode("utf-8", "surrogatepass"))
                    h.update(b"\x00")
            self._fingerprint = h.hexdigest()[:32]
        return self._fingerprint


def _column(texts: Sequence[str]) -> Sequence[str]:
    """A ``TextColumn`` as it is (immutable, compact); any other sequence as a list."""
    return texts if isinstance(texts, TextColumn) else list(texts)


class Queries:
    """Query id -> text, with an optional ``instruction`` and ``meta`` per query."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str],
                 instructions: Sequence[str] | None = None,
                 metas: Sequence[Mapping[str, Any]] | None = None):
        self.ids = list(ids)
        self.texts = list(texts)
        self.instructions = list(instructions) if instructions is not None else [""] * len(self.ids)
        self.metas = list(metas) if metas is not None else [{}] * len(self.ids)
        if not (len(self.ids) == len(self.texts) == len(self.instructions) == len(self.metas)):
            raise ValueError("Queries columns differ in length")

    @classmethod
    def from_dict(cls, queries: Mapping[str, str]) -> "Queries":
        return cls(list(queries), list(queries.values()))

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: set[str] | Sequence[str]) -> "Queries":
        """The queries whose id is in ``keep``, in their original order."""
        keep = set(keep)
        rows = [i for i, q in enumerate(self.ids) if q in keep]
        return Queries([self.ids[i] for i in rows], [self.texts[i] for i in rows],
                       [self.instructions[i] for i in rows], [self.metas[i] for i in rows])

    def items(self) -> Iterator[tuple[str, str]]:
        return zip(self.ids, self.texts)


class Qrels(dict[str, dict[str, int]]):
    """Query id -> {doc id: grade}. The one place that says what is relevant: a grade > 0."""

    def relevant(self, qid: str) -> list[str]:
        """The documents judged relevant for ``qid``, in judgment order (none for an unknown query)."""
        return [d for d, g in self.get(qid, {}).items() if g > 0]

    def has_relevant(self, qid: str) -> bool:
        return any(g > 0 for g in self.get(qid, {}).values())

    def scored(self, query_ids: Iterable[str] | None = None) -> "Qrels":
        """The judgments of the queries that are scored: those (of ``query_ids``, when given) with a
        relevant judgment."""
        keep = self if query_ids is None else set(query_ids)
        return Qrels({q: j for q, j in self.items() if q in keep and self.has_relevant(q)})

Span = tuple[str, int, int]
"""A reference span: (doc id, start, end) in characters of the document's text, end exclusive."""

Spans = dict[str, list[Span]]
"""Query id -> its reference spans."""


@dataclass
class Dataset:
    """What every loader returns."""

    name: str
    corpus: Corpus
    queries: Queries
    qrels: Qrels
    spans: Spans | None = None
    split: str = "test"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.qrels, Qrels):
            self.qrels = Qrels(self.qrels)
        if len(self.corpus) == 0:
            raise RagevalError(f"dataset {self.name!r}: the corpus is empty")
        if len(self.queries) == 0:
            raise RagevalError(f"dataset {self.name!r} ({self.split}): there are no queries")

    @property
    def label(self) -> str:
        """``name`` plus split (and sample), as used for folder names and report rows."""
        label = f"{self.name}.{self.split}" if self.split else self.name
        if "sample" in self.meta:
            n, seed = self.meta["sample"]["n"], self.meta["sample"]["seed"]
            label += f".sample{n}" + (f"-seed{seed}" if seed else "")
        return label

    def sample(self, n: int, seed: int = 0) -> "Dataset":
        """A seeded random sample of ``n`` queries among those with a relevant judgment (the ones
        that are scored); the whole dataset when it has no more than ``n``."""
        if n < 1:
            raise RagevalError(f"a sample needs at least one query, got {n}")
        judged = [q for q in self.queries.ids if self.qrels.has_relevant(q)]
        if n >= len(judged):
            return self
        return self.subset(random.Random(seed).sample(judged, n), {"sample": {"n": n, "seed": seed}})

    def subset(self, keep: Iterable[str], meta: Mapping[str, Any] | None = None) -> "Dataset":
        """The same corpus with only the queries in ``keep`` (their judgments and spans), ``meta`` added."""
        keep = set(keep)
        spans = {q: s for q, s in self.spans.items() if q in keep} if self.spans is not None else None
        return Dataset(self.name, self.corpus, self.queries.subset(keep),
                       Qrels({q: r for q, r in self.qrels.items() if q in keep}), spans, self.split,
                       {**self.meta, **(meta or {})})

    def qrels_fingerprint(self) -> str:
        h = hashlib.sha256(json.dumps(self.qrels, sort_keys=True).encode())
        h.update(json.dumps(list(self.queries.items())).encode())
        return h.hexdigest()[:32]
