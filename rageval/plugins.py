"""Base classes of the plugin kinds (what a dataset loader, retriever, chunker and generator must
provide) and the protocols of optional retriever capabilities the runner and wrappers look for."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from rageval import registry
from rageval.data.model import Corpus, Dataset, Document, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.progress import progress
from rageval.store.generation_cache import GenerationCache, generation_key


class Plugin:
    """Base of every plugin class. Construction records ``options`` (every parameter of ``__init__``
    with its value, defaults included, in signature order) and ``given`` (the ones the caller set),
    so a plugin never lists its own options again."""

    spec: str = ""
    options: dict[str, Any]
    given: dict[str, Any]
    # What an option's default of None stands for, by option name (``rageval list -v`` shows it).
    none_means: ClassVar[dict[str, str]] = {}

    def __new__(cls, *args: Any, **kwargs: Any):
        instance = super().__new__(cls)
        instance.options, instance.given = registry.bound_options(cls, args, kwargs)
        return instance


class DatasetLoader(Plugin):
    """A dataset loader plugin (entry-point group ``rageval.corpora``)."""

    def load(self, split: str | None = None) -> Dataset:
        """Read, validate and return the dataset; every problem is raised before any work starts."""
        raise NotImplementedError

    def check(self) -> None:
        """Cheap checks made before any data is read, such as a missing folder (none by default)."""

    def corpus(self) -> Corpus:
        """The documents alone (what ``rageval synth`` reads): by default those of ``load()``; a loader
        whose folders may hold no questions yet (``docs:``) reads just the documents."""
        return self.load().corpus

    @classmethod
    def detect(cls, path: Path) -> bool:
        """Whether a bare path given as a dataset spec is of this loader's format."""
        return False


class Retriever(Plugin):
    """A retriever plugin (entry-point group ``rageval.retrievers``).

    Optional: ``save(dir)`` / ``load(dir)`` so the runner can cache an index under (``config()``,
    corpus fingerprint); a retriever that has them says so with ``cacheable = True``.

    Trained retrievers implement ``fit(train, dev=None)`` and ``needs_fit()``: the runner then fits
    them on the train split of ``train_spec`` when set (an error if it has none), else of the
    evaluated dataset, else of ``default_train``, passing that dataset's dev split when it has one.
    Other capabilities are the protocols below (``EmbeddingRetriever``, ``WeightedQueryRetriever``,
    ``VectorRetriever``).
    """

    name: str = ""
    runtime_options: ClassVar[tuple[str, ...]] = ()  # options that change speed, not results: not in config()
    default_run: bool = False  # part of a bare ``rageval run`` (needs no training and no download)
    cacheable: bool = False
    train_spec: str | None = None  # the dataset whose train split fit() must use
    default_train: str | None = None  # where to train when the evaluated dataset has no train split

    @classmethod
    def usable(cls) -> bool:
        """Whether everything this retriever needs (packages, bundled models) is installed."""
        return True

    def needs_fit(self) -> bool:
        """Whether ``fit`` must run before ``index`` (a trained retriever without a model)."""
        return False

    def fit(self, train: Dataset, dev: Dataset | None = None) -> None:
        """Train on ``train``; ``dev`` (the same dataset's dev split, when it has one) may select the model."""
        raise NotImplementedError

    def index(self, corpus: Corpus) -> None:
        raise NotImplementedError

    def search(self, queries: Queries, k: int) -> Run:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Everything that determines the index, recorded in metrics.json and used as a cache key:
        the options, less ``runtime_options``."""
        return {"name": self.name, **{k: (str(v) if isinstance(v, Path) else v) for k, v in self.options.items()
                                      if k not in self.runtime_options}}


@runtime_checkable
class EmbeddingRetriever(Protocol):
    """A retriever whose scores are inner products of vectors it can show (for the embedding diagnostics)."""

    def query_vectors(self, queries: Queries) -> np.ndarray: ...

    def document_vectors(self) -> np.ndarray: ...


@runtime_checkable
class VectorRetriever(Protocol):
    """A retriever that encodes texts and documents and searches given vectors (dense query rewriting)."""

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...

    def encode_corpus(self, corpus: Corpus) -> np.ndarray: ...

    def index_vectors(self, corpus: Corpus, vectors: np.ndarray) -> None: ...

    def search_vectors(self, query_ids: list[str], vectors: np.ndarray, k: int) -> Run: ...


@runtime_checkable
class WeightedQueryRetriever(Protocol):
    """A lexical retriever that takes queries as {analysed term: weight} (pseudo-relevance feedback)."""

    analyzer: Any

    def search_weighted(self, query_ids: list[str], weighted: list[dict[str, float]], k: int) -> Run: ...


class Chunker(Plugin):
    """A chunker plugin (entry-point group ``rageval.chunkers``): documents to chunks.

    ``ranges(doc)`` gives the chunks' character ranges; every chunk is a Document whose ``meta``
    holds ``parent``, ``start`` and ``end``, so ``parent.text[start:end] == chunk.text``. A chunker
    that rewrites its chunks' text (whitespace normalised, say) overrides ``pieces`` instead; its
    ranges then run from a chunk's first to its last character in the parent.
    """

    def ranges(self, doc: Document) -> list[tuple[int, int]]:
        raise NotImplementedError

    def pieces(self, doc: Document) -> list[tuple[int, int, str]]:
        """(start, end, text) of every chunk of ``doc``."""
        return [(start, end, doc.text[start:end]) for start, end in self.ranges(doc)]

    def chunk(self, corpus: Corpus) -> Corpus:
        ids, texts, titles, metas = [], [], [], []
        for i in range(len(corpus)):
            doc = corpus[i]
            pieces = self.pieces(doc)
            ids += [f"{doc.id}#{n}" for n in range(len(pieces))]
            texts += [text for _, _, text in pieces]
            titles += [doc.title] * len(pieces)
            metas += [{"parent": doc.id, "start": start, "end": end} for start, end, _ in pieces]
        if not ids:
            raise RagevalError(f"chunker {self.spec or type(self).__name__}: the corpus gave no chunk (all documents empty?)")
        fields = tuple(f for f in corpus.fields if f in ("title", "text")) or ("text",)
        return Corpus(ids=ids, texts=texts, titles=titles, metas=metas, fields=fields)


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate (an escape such as ``\\ud800`` in JSON or a Python literal) as
    U+FFFD, so that it can be written as UTF-8 (the generation cache, a file)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Generator(Plugin):
    """A text generator plugin (entry-point group ``rageval.generators``).

    ``generate(prompts, **options)`` returns one text per prompt. Every generation is cached on
    disk under (``identity()``, prompt, parameters), so a rerun makes no call; a subclass only
    implements ``complete`` for the prompts the cache does not hold. Parameters: ``max_new_tokens``,
    ``temperature`` (0 = greedy), ``top_p``, ``seed``; the spec sets defaults, ``generate`` overrides.
    """

    name: str = ""

    def __init__(self, max_new_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0, seed: int = 0):
        self.defaults: dict[str, Any] = {}
        self.defaults = self.parameters({"max_new_tokens": max_new_tokens, "temperature": temperature,
                                         "top_p": top_p, "seed": seed})
        self.calls = 0  # prompts sent to the model (cache misses), for tests and run metadata

    def parameters(self, options: dict[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``options``, checked."""
        unknown = set(options) - {"max_new_tokens", "temperature", "top_p", "seed"}
        if unknown:
            raise SpecError(f"generator {self.name}: unknown generation option(s) {sorted(unknown)}; "
                            "known: max_new_tokens, temperature, top_p, seed")
        params = {**self.defaults, **options}
        if params["max_new_tokens"] < 1 or params["temperature"] < 0 or not 0 < params["top_p"] <= 1:
            raise SpecError(f"generator {self.name}: need max_new_tokens >= 1, temperature >= 0 and "
                            f"0 < top_p <= 1, got {params}")
        return params

    def identity(self) -> dict[str, Any]:
        """What determines the outputs besides prompt and parameters (model files, endpoint and model name)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Load what ``complete`` needs (a model), before generation starts; nothing by default."""

    def complete(self, prompts: Sequence[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        """Generate for ``prompts``, yielding (position in ``prompts``, text) as each one is ready."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **self.identity(), **self.defaults}

    def generate(self, prompts: Sequence[str], **options: Any) -> list[str]:
        params = self.parameters(options)
        identity = self.identity()
        keys = [generation_key(identity, p, params) for p in prompts]
        cache = GenerationCache()
        try:
            found = cache.get_many(keys)
            todo = list({k: i for i, k in enumerate(keys) if k not in found}.values())  # each prompt once
            if todo:
                self.calls += len(todo)
                with progress(None, f"loading generator {self.name}"):
                    self.prepare()  # a model load is not part of the generation rate the progress shows
                with progress(len(todo), f"generating with {self.name}", unit="text") as step:
                    for j, text in self.complete([prompts[i] for i in todo], params):
                        if not isinstance(text, str):
                            raise RagevalError(f"generator {self.name} gave a {type(text).__name__}, not text")
                        text = valid_text(text)  # what the cache holds and what a rerun reads back
                        cache.put(keys[todo[j]], text)
                        found[keys[todo[j]]] = text
                        step.update(1)
        finally:
            cache.close()
        return [found[k] for k in keys]
