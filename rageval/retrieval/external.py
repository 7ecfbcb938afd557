"""Rankings made outside rageval: (doc id, score) lists checked against the corpus and turned into a
``Run`` (the ``http`` retriever and ``rageval.retriever`` share this), and the ``retriever`` decorator
that registers a plain function as a retriever of this process."""
from __future__ import annotations

import hashlib
import inspect
import math
import numbers
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from rageval import registry
from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError
from rageval.plugins import Retriever
from rageval.retrieval.topk import top_k_rows

SHOWN_IDS = 3  # unknown ids an error names


def ranked_row(corpus: Corpus, results: Iterable[Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """One query's ``(doc id, score)`` pairs as (corpus positions, scores), in the order given (the
    caller ranks them). Every id must be a string of ``corpus``, listed once, and every score a finite
    number; otherwise a RagevalError starting with ``where`` (which names the query) says what is wrong."""
    positions: list[int] = []
    scores: list[float] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for n, pair in enumerate(results):
        try:
            doc_id, score = pair
        except (TypeError, ValueError):
            raise RagevalError(f"{where}: result {n} is {pair!r}, not an (id, score) pair") from None
        if not isinstance(doc_id, str):
            raise RagevalError(f"{where}: result {n} has id {doc_id!r} ({type(doc_id).__name__}), not a string")
        if not isinstance(score, numbers.Real) or isinstance(score, bool) or not math.isfinite(score):
            raise RagevalError(f"{where}: result {n} (id {doc_id!r}) has score {score!r}, not a finite number")
        if doc_id in seen:
            raise RagevalError(f"{where}: id {doc_id!r} is listed twice")
        seen.add(doc_id)
        if doc_id not in corpus:
            unknown.append(doc_id)
            continue
        positions.append(corpus.position(doc_id))
        scores.append(float(score))
    if unknown:
        shown = ", ".join(repr(d) for d in unknown[:SHOWN_IDS]) + (", ..." if len(unknown) > SHOWN_IDS else "")
        raise RagevalError(f"{where}: {len(unknown)} result id(s) not in the corpus ({len(corpus):,} documents): "
                           f"{shown}")
    return np.array(positions, dtype=np.int64), np.array(scores, dtype=np.float64)


def ranked_run(query_ids: list[str], rows: list[tuple[np.ndarray, np.ndarray]], corpus: Corpus, k: int) -> Run:
    """The run of ``ranked_row`` results: each row sorted by score descending, ties by doc id
    descending (trec_eval's rule), and cut at ``k``."""
    return Run(query_ids, corpus.ids, *top_k_rows(rows, len(query_ids), k, corpus.id_ranks()))


def _source_digest(function: Callable) -> str:
    """A hash of the function's source (of its bytecode where the source cannot be read)."""
    try:
        code = inspect.getsource(function).encode()
    except (OSError, TypeError):
        code = function.__code__.co_code if hasattr(function, "__code__") else repr(function).encode()
    return hashlib.sha256(code).hexdigest()[:16]


class FunctionRetriever(Retriever):
    """Base of the retrievers ``rageval.retriever`` makes: each subclass carries one function (and its
    optional index hook); ``search`` asks it once for every query and checks what it returns."""

    function: ClassVar[Callable[[list[str], int], Any]]
    prepare: ClassVar[Callable[[Corpus], Any] | None] = None
    identity: ClassVar[dict[str, str]] = {}

    def config(self) -> dict[str, Any]:
        """The name and the function's identity (where it is defined, a hash of its source), so a resumed
        benchmark redoes the pairs of a function whose code changed."""
        return {"name": self.name, **self.identity}

    def index(self, corpus: Corpus) -> None:
        self.corpus = corpus
        if self.prepare is not None:
            self.prepare(corpus)

    def search(self, queries: Queries, k: int) -> Run:
        where = f"retriever {self.name!r}"
        returned = self.function(list(queries.texts), k)
        try:
            answers = list(returned)
        except TypeError:
            raise RagevalError(f"{where}: the function returned {type(returned).__name__}, not one list of "
                               "(id, score) pairs per query text") from None
        if len(answers) != len(queries):
            raise RagevalError(f"{where}: the function returned {len(answers)} result lists for {len(queries)} "
                               "query texts (one list of (id, score) pairs per text, in order)")
        rows = [ranked_row(self.corpus, answer, f"{where}: query {qid!r}") for qid, answer in zip(queries.ids, answers)]
        return ranked_run(queries.ids, rows, self.corpus, k)


def retriever(name: str | Callable | None = None, *,
              index: Callable[[Corpus], Any] | None = None) -> Callable:
    """Register a plain function as a retriever named ``name`` (default: the function's name)::

        @rageval.retriever("mine")
        def mine(query_texts: list[str], k: int) -> list[list[tuple[str, float]]]:
            return [my_search(text, k) for text in query_texts]   # per text: (doc id, score) pairs

        rageval.benchmark("beir:path/to/adi", ["bm25", "mine"])

    The function gets every query text at once and returns, per text and in the same order, up to
    ``k`` (doc id, score) pairs: ids of the corpus searched (chunk ids for a chunked corpus) and finite
    scores. rageval ranks them (score descending, ties by doc id descending, trec_eval's rule) and
    cuts at ``k``; an id not in the corpus, an id listed twice or a bad score is an error naming the
    query, and that pair is not scored. ``index``, when given, is called with each corpus before its
    queries are searched (to build what the function searches). ``@rageval.retriever`` without a name
    works too. The function is returned unchanged.

    The registration lives in this process only: ``rageval.get_retriever`` and ``rageval.benchmark``
    here know the name, but ``rageval run`` from a shell, other processes and a Ray worker's registry
    do not (write a plugin with an entry point for those). An installed plugin's name is refused;
    registering a name again replaces the earlier function. A resumed benchmark reuses a finished run
    only while the function's source is unchanged (it does not see edits to what the function calls:
    pass ``resume=False`` then).
    """
    if callable(name):  # @rageval.retriever without parentheses
        return retriever()(name)

    def register(function: Callable) -> Callable:
        label = name or getattr(function, "__name__", "")
        where = f"{getattr(function, '__module__', None)}.{getattr(function, '__qualname__', label)}"
        doc = inspect.getdoc(function) or f"The function {where}, registered with rageval.retriever."
        cls = type(f"FunctionRetriever[{label}]", (FunctionRetriever,), {
            "__doc__": doc, "__module__": __name__, "name": label, "function": staticmethod(function),
            "prepare": staticmethod(index) if index is not None else None,
            "identity": {"function": where, "source_sha256": _source_digest(function)}})
        registry.register("retrievers", label, cls)
        return function

    return register
