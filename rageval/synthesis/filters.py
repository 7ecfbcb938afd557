"""The filters a verified question must pass to be kept, each switchable (``--filter``).

- ``relevance`` (the published rule): the mean cosine between the question and each of its references,
  embedded by the bundled all-MiniLM-L6-v2, must be at least ``relevance`` (0.36).
- ``duplicate`` (the published rule): the question's cosine to every question kept before it must be
  at most ``duplicate`` (0.78).
- ``roundtrip`` (ARES, InPars): a retriever (default ``bm25``) searching the question over the corpus cut
  by a chunker (default ``recursive``) must return, within its top ``roundtrip_k``, a chunk that
  overlaps one of the question's references.
- ``leak``: the question may not copy ``leak_words`` or more consecutive words of a reference
  (lower-cased word tokens): such a question is answered by string matching, not by retrieval.

Filters run in that order, cheapest first where it does not change the outcome; the first that fails
is the reason a question is dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rageval import registry
from rageval.data.model import Corpus, Queries
from rageval.errors import SpecError

FILTERS = ("leak", "relevance", "duplicate", "roundtrip")
DEFAULT_FILTERS = ("relevance", "duplicate")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class FilterSettings:
    """Which filters run and their thresholds (README: "rageval synth")."""

    names: tuple[str, ...] = DEFAULT_FILTERS
    relevance: float = 0.36
    duplicate: float = 0.78
    roundtrip: str = "bm25"
    roundtrip_chunker: str = "recursive"
    roundtrip_k: int = 5
    leak_words: int = 8

    @classmethod
    def parse(cls, text: str, **thresholds) -> FilterSettings:
        """``--filter``: a comma list of filter names, or ``none``."""
        names = [] if text.strip().lower() == "none" else [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in FILTERS]
        if unknown or (not names and text.strip().lower() != "none"):
            raise SpecError(f"--filter {text!r}: expected a comma list of {', '.join(FILTERS)}, or none")
        settings = cls(tuple(n for n in FILTERS if n in names), **thresholds)
        settings.check()
        return settings

    def check(self) -> None:
        """Thresholds in range, the round-trip specs known (nothing is built)."""
        if not (-1 <= self.relevance <= 1 and -1 <= self.duplicate <= 1):
            raise SpecError("--relevance and --duplicate are cosines: between -1 and 1")
        if self.roundtrip_k < 1 or self.leak_words < 1:
            raise SpecError("--roundtrip-k and --leak-words must be at least 1")
        if "roundtrip" in self.names:
            registry.resolve("retrievers", self.roundtrip)
            registry.resolve("chunkers", self.roundtrip_chunker)

    def record(self) -> dict:
        """The settings as the manifest records them (only those of the filters that run)."""
        own = {"relevance": {"relevance": self.relevance}, "duplicate": {"duplicate": self.duplicate},
               "roundtrip": {"roundtrip": self.roundtrip, "roundtrip_chunker": self.roundtrip_chunker,
                             "roundtrip_k": self.roundtrip_k},
               "leak": {"leak_words": self.leak_words}}
        return {"filters": list(self.names), **{k: v for n in self.names for k, v in own[n].items()}}


def longest_shared_run(question: str, reference: str) -> int:
    """The most consecutive word tokens (lower-cased) the question shares with the reference."""
    q = [w.lower() for w in _WORD.findall(question)]
    r = [w.lower() for w in _WORD.findall(reference)]
    best, previous = 0, [0] * (len(r) + 1)
    for a in q:
        current = [0] * (len(r) + 1)
        for j, b in enumerate(r, 1):
            if a == b:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


@dataclass
class Filters:
    """The filters of one synth run over one corpus; ``verdict`` says why a question is dropped (or
    None), ``keep`` records a kept one (the duplicate filter compares with every kept question)."""

    settings: FilterSettings
    corpus: Corpus
    _encoder: object = None
    _kept: list[np.ndarray] = field(default_factory=list)
    _searcher: object = None
    _chunks: Corpus | None = None
    _pending: np.ndarray | None = None  # the embedding of the question last given a None verdict

    def prepare(self) -> None:
        """Load the embedding model and build the round-trip index (before the first request)."""
        if {"relevance", "duplicate"} & set(self.settings.names):
            from rageval.retrieval.encoder import Encoder

            self._encoder = Encoder()
        if "roundtrip" in self.settings.names:
            self._chunks = registry.create("chunkers", self.settings.roundtrip_chunker).chunk(self.corpus)
            self._searcher = registry.create("retrievers", self.settings.roundtrip)
            self._searcher.index(self._chunks)

    def verdict(self, question: str, doc_id: str, spans: Sequence[tuple[int, int, str]]) -> str | None:
        """The first filter the question fails (its name), or None; ``spans`` are (start, end, content)."""
        names = self.settings.names
        if "leak" in names and max(longest_shared_run(question, c) for _, _, c in spans) >= self.settings.leak_words:
            return "leak"
        vector = None
        if self._encoder is not None:
            vectors = self._encoder.encode([question, *(c for _, _, c in spans)], desc="filtering")
            vector = vectors[0]
            if "relevance" in names and float(np.mean(vectors[1:] @ vector)) < self.settings.relevance:
                return "relevance"
            if "duplicate" in names and self._kept and \
                    float(np.max(np.stack(self._kept) @ vector)) > self.settings.duplicate:
                return "duplicate"
        if "roundtrip" in names and not self._found_again(question, doc_id, spans):
            return "roundtrip"
        self._pending = vector
        return None

    def keep(self) -> None:
        """The question last given a None verdict is kept."""
        if self._pending is not None:
            self._kept.append(self._pending)
            self._pending = None

    def _found_again(self, question: str, doc_id: str, spans: Sequence[tuple[int, int, str]]) -> bool:
        run = self._searcher.search(Queries(["q"], [question]), k=min(self.settings.roundtrip_k, len(self._chunks)))
        for position in run.indices[0]:
            if position < 0:
                continue
            meta = self._chunks.metas[int(position)]
            if meta["parent"] == doc_id and any(meta["start"] < end and start < meta["end"] for start, end, _ in spans):
                return True
        return False
