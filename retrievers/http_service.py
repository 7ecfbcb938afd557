"""``http`` — any search service behind HTTP, asked one POST per query (the contract in ``HttpService``)."""
from __future__ import annotations

import json
import os
import re
import urllib.parse

import numpy as np

from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.external import ranked_row, ranked_run
from rageval.retrieval.http_client import EndpointError, JsonEndpoint, check_client_options, concurrently

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
ANSWER = '{"results": [{"id": "...", "score": ...}, ...]}'


def parse_headers(text: str, api_key_header: str) -> dict[str, str]:
    """``Name: value; Name: value`` as a dict. A header that carries credentials (``Authorization``,
    the ``api_key_header``) is refused: options are written to metrics.json, keys go in ``api_key_env``."""
    headers: dict[str, str] = {}
    for piece in filter(str.strip, text.split(";")):
        name, colon, value = piece.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME.fullmatch(name) or "\r" in value or "\n" in value:
            raise SpecError(f"http: headers: expected 'Name: value' pairs separated by ';', got {piece.strip()!r}")
        if name.lower() in ("authorization", api_key_header.lower()):
            raise SpecError(f"http: headers: {name} carries a credential, and options are written to metrics.json: "
                            "put the key in an environment variable and name it with api_key_env")
        headers[name] = value
    return headers


class HttpService(Retriever):
    """A search service behind HTTP: one POST per query, ranked (id, score) results back.
    Contract: rageval POSTs ``{"query": TEXT, "k": K}`` (JSON, ``Content-Type: application/json``) to
    ``url``, one request per query, at most ``concurrency`` at a time, and the service answers
    ``{"results": [{"id": DOC_ID, "score": NUMBER}, ...]}``: up to K ids of the evaluated corpus (chunk
    ids, ``DOC#N``, for a chunked corpus), each once, with finite scores, higher is better. rageval
    ranks them itself (score descending, ties by doc id descending, trec_eval's rule) and cuts at K;
    other keys of the answer are ignored.
    A 429 (or 408, 409, 425), a 5xx, a timeout or a refused connection is retried ``retries`` times,
    waiting ``backoff * 2**attempt`` seconds (or the server's ``Retry-After``); then the run stops with
    an error naming the URL, after at most about ``(retries + 1) * timeout`` seconds plus the waits.
    An answer that is not JSON, lacks ``results``, or lists an id not in the corpus, an id twice or a
    score that is not a finite number stops the run with an error naming the query id; nothing is
    scored. The key of ``api_key_env`` (an environment variable's name) is sent as ``Authorization:
    Bearer KEY`` (or as the bare value of ``api_key_header``) and is written to no file; ``headers``
    (``Name: value; Name: value``) are recorded with the run, so they must hold no secret. The service
    keeps its own index: rageval builds and caches nothing, and the search time is the service's.
    """

    name = "http"
    runtime_options = ("api_key_env", "api_key_header", "timeout", "retries", "backoff", "concurrency")
    none_means = {"url": "required: the service's search URL, e.g. http:url=http://localhost:8000/search"}

    def __init__(self, url: str | None = None, headers: str = "", api_key_env: str = "",
                 api_key_header: str = "Authorization", timeout: float = 30.0, retries: int = 4,
                 backoff: float = 1.0, concurrency: int = 8):
        if not url:
            raise SpecError("http: needs the service's search URL, e.g. http:url=http://localhost:8000/search")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecError(f"http: url must be an http:// or https:// URL with a host, got {url!r}")
        if parts.username or parts.password:
            raise SpecError("http: url holds credentials, and options are written to metrics.json: put the key in "
                            "an environment variable and name it with api_key_env")
        if not _HEADER_NAME.fullmatch(api_key_header):
            raise SpecError(f"http: api_key_header must be a header name, got {api_key_header!r}")
        check_client_options("http", timeout, retries, backoff, concurrency)
        self.url, self.concurrency = url, concurrency
        self.endpoint = JsonEndpoint(url, api_key_env, timeout, retries, backoff,
                                     parse_headers(headers, api_key_header), api_key_header)
        if api_key_env and not os.environ.get(api_key_env):
            raise SpecError(f"http: api_key_env={api_key_env}: the environment variable ${api_key_env} is not set")

    def index(self, corpus: Corpus) -> None:
        """Nothing to build (the service holds its index): the corpus maps the ids it answers to positions."""
        self.corpus = corpus

    def search(self, queries: Queries, k: int) -> Run:
        rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        with progress(len(queries), f"asking {self.url}", unit="query") as step:
            for i, row in concurrently(lambda i: self._ask(queries.ids[i], queries.texts[i], k),
                                       range(len(queries)), self.concurrency):
                rows[i] = row
                step.update(1)
        return ranked_run(queries.ids, [rows[i] for i in range(len(queries))], self.corpus, k)

    def _ask(self, query_id: str, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """One query's results, checked: (corpus positions, scores)."""
        raw = self.endpoint.post({"query": text, "k": k})
        where = f"{self.url}: query {query_id!r}"
        try:
            answer = json.loads(raw)
        except (ValueError, RecursionError):
            raise EndpointError(f"{where}: malformed answer (not JSON; expected {ANSWER}): "
                                f"{self.endpoint.shown(raw)!r}") from None
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise EndpointError(f"{where}: malformed answer (no \"results\" list; expected {ANSWER}): "
                                f"{self.endpoint.shown(raw)!r}")
        pairs = []
        for n, item in enumerate(results):
            if not isinstance(item, dict) or "id" not in item or "score" not in item:
                raise EndpointError(f"{where}: malformed answer: results[{n}] is not an object with \"id\" and "
                                    f"\"score\": {self.endpoint.shown(json.dumps(item).encode())}")
            pairs.append((item["id"], item["score"]))
        return ranked_row(self.corpus, pairs, where)
