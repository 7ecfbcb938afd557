"""Client handling for the ``chroma`` retriever: opening persistent and HTTP clients (the latter held to
a timeout), this process's one client on rageval's cache folder and its reload for a new ``search_ef``,
building a collection under a temporary name and renaming it when whole, and opening and checking an
existing collection (its ids, its vectors' dimension, the embedding function it records)."""
from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rageval.data.model import Corpus
from rageval.errors import DataError, RagevalError, SpecError
from rageval.progress import progress
from rageval.retrieval.encoder import Encoder
from rageval.store.cache import cache_dir
from rageval.store.files import process_alive

log = logging.getLogger("rageval")

ID_PAGE = 5000  # ids read per collection.get() when an existing collection is checked
PARTIAL = "-partial-"  # a collection being built is named <final name>-partial-<pid>

# One client per process on rageval's cache folder, and the ef_search each collection's HNSW index was
# loaded with in this process (Chroma keeps a loaded index in memory, and reads ef_search only when it loads).
_CLIENTS: dict[str, Any] = {}
_LOADED: dict[tuple[str, str], int] = {}


def client_settings():
    """The client settings rageval uses (no telemetry: chromadb before 1.5.3 sends it by default)."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def check_default_function() -> Path:
    """The folder of Chroma's default embedding function's model; an error saying it needs a download
    when it is not there (Chroma would fetch it from the network on first use; rageval does not)."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    folder = Path(ONNXMiniLM_L6_V2.DOWNLOAD_PATH) / ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
    needed = ("config.json", "model.onnx", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json",
              "vocab.txt")
    if not all((folder / name).is_file() for name in needed):
        raise RagevalError(
            f"chroma: embedding=chroma uses Chroma's default embedding function (ONNX all-MiniLM-L6-v2), whose model "
            f"is not on this machine: Chroma downloads it on first use from {ONNXMiniLM_L6_V2.MODEL_DOWNLOAD_URL} into "
            f"{folder.parent}, and rageval does not download. With network access, run once: python -c \"from "
            "chromadb.utils.embedding_functions import DefaultEmbeddingFunction as F; F()(['x'])\"; or leave "
            "embedding unset to use rageval's encoder (the bundled all-MiniLM-L6-v2)")
    return folder


# --- clients ----------------------------------------------------------------------------------------

def _running_systems() -> dict[str, Any]:
    """chromadb's in-process systems by folder (one per persistent folder, which every client on it shares)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return getattr(SharedSystemClient, "_identifier_to_system", {})


def persistent_client(path: str) -> Any:
    """A client on a persistent folder: with rageval's settings, or with those of the client this process
    already has on it (chromadb allows one set of settings per folder and process)."""
    import chromadb

    running = _running_systems().get(path)
    return chromadb.PersistentClient(path=path, settings=running.settings if running is not None else client_settings())


def http_client(url: str, host: str, port: int, ssl: bool, timeout: float) -> Any:
    """An HttpClient for a server that answered a heartbeat within ``timeout`` seconds; every later
    request is held to the same timeout (chromadb's own client waits forever)."""
    import chromadb
    import httpx

    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # something answers there: the client below says whether it is Chroma
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RagevalError(f"chroma: no Chroma server answers at {url} within {timeout:g} s ({reason})") from None
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=client_settings())
    except Exception as e:  # noqa: BLE001 - chromadb raises ValueError, httpx errors...: all mean no usable server
        detail = f"{type(e).__name__}: {str(e)[:200]}" if str(e) else type(e).__name__
        raise RagevalError(f"chroma: the server at {url} did not answer as Chroma does ({detail})") from None
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout)
    return client


def _cache_path() -> str:
    return str(cache_dir("chroma"))


def cache_client(restart: bool = False) -> Any:
    """This process's client on rageval's cache folder; ``restart`` closes it first, so Chroma drops the
    indexes it holds in memory (chromadb >= 1.5.2: ``close()``)."""
    import chromadb

    path = _cache_path()
    client = _CLIENTS.get(path)
    if client is not None and restart:
        if not hasattr(client, "close"):
            raise RagevalError(f"chroma: searching a collection again with another search_ef in one process needs "
                               f"chromadb >= 1.5.2 (Client.close), this is {chromadb.__version__}")
        client.close()
        del _CLIENTS[path]
        client = None
        for loaded in [k for k in _LOADED if k[0] == path]:
            del _LOADED[loaded]
        if path in _running_systems():
            raise RagevalError(f"chroma: another client holds {path} open in this process, so Chroma keeps the "
                               "indexes it loaded: close it to search a collection with another search_ef")
    if client is None:
        client = _CLIENTS[path] = persistent_client(path)
    return client


def cached_collection(name: str, ef: int, function: Any) -> Any:
    """The cached collection ``name``, its HNSW index searched with ``ef``: set on the collection when it
    differs, and, when this process holds the index in memory with another ef_search (Chroma reads it
    only when it loads an index), with a new client, so that Chroma loads it again from disk."""
    loaded = _LOADED.get((_cache_path(), name))
    client = cache_client(restart=loaded is not None and loaded != ef)
    collection = client.get_collection(name, embedding_function=function)
    if (collection.configuration_json.get("hnsw") or {}).get("ef_search") != ef:
        with warnings.catch_warnings():  # chromadb's note that a collection given vectors has no function
            warnings.filterwarnings("ignore", "legacy embedding function config", DeprecationWarning)
            collection.modify(configuration={"hnsw": {"ef_search": ef}})
        collection = client.get_collection(name, embedding_function=function)
    _LOADED[(_cache_path(), name)] = ef
    return collection


# --- building under a temporary name ----------------------------------------------------------------

def _remove_partials(client: Any) -> None:
    """Delete the collections that builds killed midway left (their process is gone)."""
    for collection in client.list_collections():
        stem, _, pid = collection.name.rpartition(PARTIAL)
        if stem.startswith("rageval-") and pid.isdigit() and (int(pid) == os.getpid() or not process_alive(int(pid))):
            client.delete_collection(collection.name)
            log.info("chroma: removed %s, left by an interrupted build", collection.name)


def build_collection(client: Any, name: str, corpus: Corpus, vectors: np.ndarray | None, hnsw: dict[str, Any],
                     add_batch: int, doc_prefix: str, function: Any) -> bool:
    """Build collection ``name`` under a temporary name (``add_batch`` documents per ``add``, in corpus
    order: ``vectors``, or the texts with ``doc_prefix`` for ``function`` to embed) and rename it when
    whole; False when a concurrent run that finished first won. Each ``add`` is written to disk whole
    (``sync_threshold`` 2), so a later run loads the very graph built here: what Chroma leaves in its
    log is inserted again, in parallel, whenever a process loads the index, which gives another graph
    each time."""
    from chromadb.errors import ChromaError

    limit = client.get_max_batch_size()
    if add_batch > limit:
        raise SpecError(f"chroma: add_batch={add_batch} is more than this Chroma takes per add() ({limit})")
    _remove_partials(client)
    partial = f"{name}{PARTIAL}{os.getpid()}"
    collection = client.create_collection(partial, configuration={"hnsw": {**hnsw, "sync_threshold": 2}},
                                          metadata={"created_by": "rageval", "corpus": corpus.fingerprint},
                                          embedding_function=function)
    ids = corpus.ids
    texts = corpus.contents() if vectors is None else None
    try:
        with progress(len(ids), f"adding {len(ids):,} documents to Chroma", unit="doc") as step:
            for start in range(0, len(ids), add_batch):
                end = min(start + add_batch, len(ids))
                if texts is not None:
                    collection.add(ids=ids[start:end], documents=[doc_prefix + t for t in texts[start:end]])
                else:
                    collection.add(ids=ids[start:end],
                                   embeddings=np.ascontiguousarray(vectors[start:end], dtype=np.float32))
                step.update(end - start)
    except BaseException:
        client.delete_collection(partial)
        raise
    try:
        collection.modify(name=name)
    except ChromaError:  # the name exists: a concurrent run built the same collection first
        client.delete_collection(partial)
        return False
    _LOADED[(_cache_path(), name)] = hnsw["ef_search"]  # the index it holds in memory
    return True


# --- existing collections (read only) ---------------------------------------------------------------

def existing_client(path: Path | None, host: str, port: int, ssl: bool, timeout: float) -> tuple[Any, str]:
    """A client on the deployment at ``path`` (a persistent folder) or ``host`` (a server), and where it
    is, for messages (``at FOLDER`` / ``on URL``)."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise DataError(path, f"chroma path=: {'no such folder' if not path.exists() else 'not a folder'}")
        if not (path / "chroma.sqlite3").is_file():
            raise DataError(path, "chroma path=: not a Chroma persistent folder (no chroma.sqlite3 in it)")
        return persistent_client(str(path)), f"at {path}"
    if "://" in host or "/" in host:
        raise SpecError(f"chroma: host= takes a host name or address, got {host!r} (ssl=true for https)")
    url = f"{'https' if ssl else 'http'}://{host}:{port}"
    return http_client(url, host, port, ssl, timeout), f"on {url}"


def open_collection(client: Any, name: str, where: str) -> Any:
    """Collection ``name`` of the client, or an error listing the collections there are."""
    from chromadb.errors import NotFoundError

    try:
        return client.get_collection(name, embedding_function=None)
    except NotFoundError:
        names = sorted(c.name for c in client.list_collections())
        listed = ", ".join(names[:10]) + (f" ... ({len(names)} in all)" if len(names) > 10 else "")
        raise RagevalError(f"chroma: no collection {name!r} {where} (it has: {listed or 'no collection'})") from None


def recorded_function(collection: Any, where: str) -> Any:
    """The embedding function an existing collection records (what Chroma itself embeds queries with)."""
    recorded = (collection.configuration_json or {}).get("embedding_function") or {}
    if recorded.get("type") != "known":
        raise RagevalError(f"chroma: collection {collection.name!r} {where} records no embedding function "
                           "(its vectors were given by the client): embed the queries with the model that made "
                           "them: leave embedding unset and set model=PATH")
    if recorded.get("name") == "default":
        check_default_function()
    try:
        function = collection.configuration.get("embedding_function")
    except Exception as e:  # noqa: BLE001 - building a plugin's embedding function can fail in any way
        raise RagevalError(f"chroma: the embedding function {recorded.get('name')!r} of collection "
                           f"{collection.name!r} cannot be built here ({type(e).__name__}: "
                           f"{str(e)[:200]})") from None
    if function is None:
        raise RagevalError(f"chroma: the embedding function {recorded.get('name')!r} of collection "
                           f"{collection.name!r} is not known to this chromadb")
    return function


def check_existing(collection: Any, where: str, corpus: Corpus, encoder: Encoder | None) -> tuple[int, int]:
    """(items, corpus documents lacking) of an existing collection, whose ids must be corpus ids (else an
    error naming a few) and whose vectors must have the encoder's dimension; lacking documents are warned
    about."""
    name, count = collection.name, collection.count()
    if count == 0:
        raise RagevalError(f"chroma: collection {name!r} {where} is empty")
    ids: list[str] = []
    with progress(count, f"reading the ids of collection {name}", unit="id") as step:
        while len(ids) < count:
            page = collection.get(include=[], limit=ID_PAGE, offset=len(ids))["ids"]
            if not page:
                break
            ids += page
            step.update(len(page))
    foreign = [i for i in ids if i not in corpus]
    lacking = len(corpus) - (len(ids) - len(foreign))
    if foreign:
        raise RagevalError(
            f"chroma: collection {name!r} {where} holds {len(foreign):,} of its {len(ids):,} ids "
            f"that are not corpus ids (e.g. {', '.join(repr(i) for i in foreign[:5])}), and lacks {lacking:,} of "
            f"the corpus's {len(corpus):,} documents: its ids must be the dataset's document ids "
            "(chunk ids such as 'doc#0' with --chunker)")
    if lacking:
        log.warning("chroma: collection %r %s lacks %d of the corpus's %d documents: it is evaluated as it is, "
                    "and those cannot be retrieved", name, where, lacking, len(corpus))
    if encoder is not None:
        sample = collection.get(ids=[ids[0]], include=["embeddings"])["embeddings"]
        if len(sample[0]) != encoder.dim:
            raise RagevalError(f"chroma: collection {name!r} {where} holds {len(sample[0])}-dim "
                               f"vectors and model {encoder.path} makes {encoder.dim}-dim ones: set "
                               "model= to the model that made them, or embedding=chroma")
    return count, lacking
