"""Client handling for the ``qdrant`` retriever: the process's local-mode clients and their closing,
a server client, calls whose client and HTTP failures become one-line RagevalErrors, payload paths,
and reading an existing collection (its vector settings and the corpus ids its points hold)."""
from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from rageval.data.model import Corpus
from rageval.errors import RagevalError, SpecError
from rageval.progress import progress
from rageval.retrieval.encoder import Encoder

log = logging.getLogger("rageval")

SCROLL_PAGE = 1024  # points per scroll page when reading an existing collection's ids
_LOCAL_CLIENTS: dict[Path, Any] = {}  # local-mode storage folder -> its one client in this process


def few(items: list[Any], n: int = 5) -> str:
    """The first ``n`` items, repr'd and comma-separated, with how many more there are."""
    shown = ", ".join(repr(x) for x in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def payload_value(payload: dict[str, Any] | None, field: str) -> Any:
    """The value at a dotted path of a payload (``metadata.doc_id``), or None where it is missing."""
    value: Any = payload
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def nested_payload(field: str, value: Any) -> dict[str, Any]:
    """A payload holding ``value`` at a dotted path (``metadata.doc_id`` -> {"metadata": {"doc_id": value}})."""
    for part in reversed(field.split(".")):
        value = {part: value}
    return value


def local_client(folder: Path) -> Any:
    """The process's one local-mode client of ``folder`` (a storage folder is locked by the client that
    opens it: two retrievers of one process share it, another process gets a clear error)."""
    from qdrant_client import QdrantClient

    folder = folder.resolve()
    client = _LOCAL_CLIENTS.get(folder)
    if client is None:
        try:
            client = QdrantClient(path=str(folder))
        except RuntimeError as e:
            if "already accessed" not in str(e):
                raise
            raise RagevalError(f"qdrant: the local storage {folder} is open in another process (local mode lets one "
                               "client at a time use it): wait for that run, or use a Qdrant server (url=)") from None
        except (ValueError, KeyError, OSError) as e:
            raise RagevalError(f"qdrant: {folder} could not be opened as Qdrant local storage "
                               f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
        if not _LOCAL_CLIENTS:
            atexit.register(close_local_clients)
        _LOCAL_CLIENTS[folder] = client
    return client


def close_local_clients() -> None:
    """Close every local-mode client of this process (at exit: before the interpreter's teardown,
    where qdrant-client's own finaliser fails noisily), releasing their storage locks."""
    while _LOCAL_CLIENTS:
        _LOCAL_CLIENTS.popitem()[1].close()


def server_client(url: str, api_key: str | None, timeout: int) -> Any:
    """A client of the server at ``url``, tried once (listing its collections) within ``timeout``."""
    from qdrant_client import QdrantClient

    try:
        client = QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False)
    except Exception as e:  # noqa: BLE001 - a malformed url is qdrant-client's ValueError or httpx's error
        raise SpecError(f"qdrant: url={url}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    call(url, timeout, client.get_collections, "list its collections")
    return client


def call(url: str | None, timeout: int, function: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a client call asked to do ``what``; a server's failures (unreachable,
    timed out, an HTTP error, an answer that is not Qdrant's) become one clear RagevalError. ``url``
    None is local mode, whose errors pass through."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        return function(*args, **kwargs)
    except UnexpectedResponse as e:
        hint = {401: ": check the key in api_key_env", 403: ": check the key in api_key_env",
                404: ": is it a Qdrant server?"}.get(e.status_code, "")
        detail = e.content.decode("utf-8", "replace").strip()[:200] if e.content else ""
        raise RagevalError(f"qdrant: {url} answered HTTP {e.status_code} {e.reason_phrase or ''}".rstrip()
                           + f" when asked to {what}{hint}" + (f" ({detail})" if detail else "")) from None
    except ResponseHandlingException as e:
        cause = e.source if getattr(e, "source", None) is not None else e
        timed_out = "timeout" in type(cause).__name__.lower() or "timed out" in str(cause).lower()
        raise RagevalError(f"qdrant: cannot reach {url} " + (f"within the timeout ({timeout} s)"
                           if timed_out else f"({type(cause).__name__}: {cause})") + f" to {what}") from None
    except ValueError as e:  # pydantic's ValidationError: an answer that is not Qdrant's
        if url is None:
            raise
        raise RagevalError(f"qdrant: {url} gave an answer that is not Qdrant's when asked to {what}: "
                           f"{str(e).splitlines()[0][:200]}") from None


def vector_settings(vectors: Any, collection: str, vector: str | None, encoder: Encoder) -> tuple[str | None, float]:
    """An existing collection's dense vector to search (``vector``: a name, None for its unnamed or
    only vector), checked against ``encoder``: its name (None: unnamed) and the sign that turns its
    scores into higher-is-better (-1 for distances)."""
    from qdrant_client import models

    if isinstance(vectors, models.VectorParams):
        if vector not in (None, ""):
            raise RagevalError(f"qdrant: collection {collection!r} has one unnamed vector, no vector {vector!r}")
        name, params = None, vectors
    else:
        named = dict(vectors or {})
        if vector is not None:
            if vector not in named:
                raise RagevalError(f"qdrant: collection {collection!r} has no vector {vector!r} "
                                   f"(its vectors: {few(sorted(named))})")
            name = vector
        elif len(named) == 1:
            name = next(iter(named))
        else:
            raise RagevalError(f"qdrant: collection {collection!r} has " + (f"the vectors {few(sorted(named))}: name "
                               "one with vector=" if named else "no dense vector"))
        params = named[name]
    if params.multivector_config is not None:
        raise RagevalError(f"qdrant: collection {collection!r}: vector {name or '(unnamed)'} is a "
                           "multivector; rageval's encoders give one vector per text")
    if params.size != encoder.dim:
        raise RagevalError(f"qdrant: collection {collection!r} holds {params.size}-dimensional vectors and model "
                           f"{encoder.path} gives {encoder.dim}: give the model= it was built with")
    return name, -1.0 if params.distance in (models.Distance.EUCLID, models.Distance.MANHATTAN) else 1.0


def scroll_ids(client: Any, collection: str, id_field: str, total: int, url: str | None,
               timeout: int) -> Iterator[tuple[Any, Any]]:
    """Every point of ``collection`` as (point id, its payload's ``id_field`` value or None), read page
    by page (``call``s with ``url`` and ``timeout``) under a progress bar of ``total`` points."""
    top = id_field.split(".")[0]
    with progress(total, f"reading the ids of Qdrant collection {collection}", unit="point") as step:
        offset = None
        while True:
            page, offset = call(url, timeout, client.scroll, f"read the points of {collection!r}", collection,
                                limit=SCROLL_PAGE, offset=offset, with_payload=[top], with_vectors=False)
            for point in page:
                yield point.id, payload_value(point.payload, id_field)
            step.update(len(page))
            if offset is None:
                break


def corpus_positions(points: Iterable[tuple[Any, Any]], corpus: Corpus, total: int, id_field: str,
                     where: str) -> dict[Any, int]:
    """Point id -> corpus position from (point id, id value) pairs (an int value is read as its string);
    points without a value or with one that is not a corpus id, and corpus ids held by more than one
    point, are an error naming a few (``where`` opens it), a corpus document no point holds a warning."""
    position = {doc_id: i for i, doc_id in enumerate(corpus.ids)}
    found: dict[Any, int] = {}
    unknown: list[Any] = []
    missing: list[Any] = []
    holders: dict[int, list[Any]] = {}
    for point_id, value in points:
        doc_id = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if value is None:
            missing.append(point_id)
        elif not isinstance(doc_id, str) or doc_id not in position:
            unknown.append(value)
        else:
            found[point_id] = position[doc_id]
            holders.setdefault(position[doc_id], []).append(point_id)
    missing, unknown = sorted(missing, key=str), sorted(unknown, key=str)
    if missing:
        raise RagevalError(f"{where}: {len(missing)} of {total} points have no payload field {id_field!r} "
                           f"(points {few(missing)}): name the field that holds the corpus ids with id_field=")
    if unknown:
        raise RagevalError(f"{where}: {len(unknown)} of {total} points hold ids that are not in the corpus "
                           f"({few(unknown)}): the collection was not built from this corpus, or id_field="
                           f"{id_field!r} is not the field with its ids")
    shared = {corpus.ids[pos]: ids for pos, ids in holders.items() if len(ids) > 1}
    if shared:
        first = next(iter(shared))
        raise RagevalError(f"{where}: {len(shared)} corpus ids are held by more than one point (e.g. {first!r} "
                           f"by points {few(shared[first], 3)}): a ranking would list a document twice")
    if len(holders) < len(corpus):
        absent = [doc_id for i, doc_id in enumerate(corpus.ids) if i not in holders]
        log.warning("%s holds %d of the corpus's %d documents: the %d others (%s) are never retrieved",
                    where, len(holders), len(corpus), len(absent), few(absent))
    return found
