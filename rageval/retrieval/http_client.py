"""JSON over HTTP with retries: the one client of every plugin that calls a service (the ``openai``
generator, the ``http`` retriever).

One POST per call through the standard library (no SDK). A 429 (or 408, 409, 425), a 5xx, a timeout,
a refused connection or an answer cut short is retried up to ``retries`` times, waiting
``backoff * 2**attempt`` seconds (a quarter more at random, or the server's ``Retry-After``, at most
60 s); then an ``EndpointError`` names the URL, the last problem and the number of attempts. Other
HTTP errors are not retried. The API key is read from an environment variable when a request is
made, sent as a header, and redacted from every message; it is never stored in an option, a file
or an error.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

from rageval.errors import RagevalError, SpecError

log = logging.getLogger("rageval")
RETRY_STATUS = {408, 409, 425, 429}
SHOWN = 200  # characters of a bad answer an error shows
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
T = TypeVar("T")
R = TypeVar("R")


class EndpointError(RagevalError):
    """The endpoint could not give an answer (after the retries that apply), or gave a malformed one."""


def redact(text: str, api_key: str) -> str:
    """``text`` without the API key or any bearer token an endpoint echoed back."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return re.sub(r"(?i)(authorization|bearer)([\s:=\"']+)[^\s\"',]+", r"\1\2[redacted]", text)


def check_client_options(what: str, timeout: float, retries: int, backoff: float, concurrency: int) -> None:
    """The options every HTTP plugin shares, checked when the plugin is made (SpecError naming ``what``)."""
    if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1:
        raise SpecError(f"{what}: need timeout > 0, retries >= 0, backoff >= 0, concurrency >= 1, got "
                        f"timeout={timeout}, retries={retries}, backoff={backoff}, concurrency={concurrency}")


class JsonEndpoint:
    """POSTs JSON to one URL with retries (the module's rules); ``requests`` counts every request sent.

    ``api_key_env`` names the environment variable holding the key ("" for none); it is sent as
    ``Authorization: Bearer KEY`` or, with another ``api_key_header``, as that header's bare value.
    ``headers`` are sent with every request (not for secrets)."""

    def __init__(self, url: str, api_key_env: str = "", timeout: float = 60.0, retries: int = 4,
                 backoff: float = 1.0, headers: Mapping[str, str] | None = None,
                 api_key_header: str = "Authorization"):
        if api_key_env and not _VARIABLE.fullmatch(api_key_env):  # the value is not shown: it may be the key itself
            raise SpecError(f"{url}: api_key_env must name an environment variable (letters, digits and _), "
                            "not hold the key itself")
        self.url, self.api_key_env, self.api_key_header = url, api_key_env, api_key_header
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.headers = dict(headers or {})
        self.requests = 0
        self._lock = threading.Lock()

    def api_key(self) -> str:
        """The key, read from the environment now ("" when none is set)."""
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    def shown(self, raw: bytes) -> str:
        """The start of an answer, for an error message (the key redacted)."""
        return redact(raw[:SHOWN].decode("utf-8", "replace"), self.api_key())

    def post(self, payload: Any) -> bytes:
        """The body of the answer to ``payload`` (sent as JSON), retried by the module's rules."""
        body = json.dumps(payload).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        api_key = self.api_key()
        if api_key:
            headers[self.api_key_header] = f"Bearer {api_key}" if self.api_key_header.lower() == "authorization" \
                else api_key
        problem, wait_s = "", 0.0
        for attempt in range(self.retries + 1):
            time.sleep(wait_s)
            wait_s = self.backoff * 2 ** attempt * (1 + random.random() / 4)
            with self._lock:
                self.requests += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, body, headers), timeout=self.timeout) as r:
                    return r.read()
            except urllib.error.HTTPError as e:
                detail = redact(e.read()[:SHOWN].decode("utf-8", "replace"), api_key)
                if e.code in RETRY_STATUS or e.code >= 500:
                    problem = f"HTTP {e.code} {detail}".strip()
                    retry_after = e.headers.get("Retry-After", "")
                    if retry_after.replace(".", "", 1).isdigit():
                        wait_s = min(float(retry_after), 60.0)
                    if attempt < self.retries:
                        log.warning("%s: %s; retry %d of %d in %.1f s", self.url, problem[:80], attempt + 1,
                                    self.retries, wait_s)
                    continue
                raise EndpointError(f"{self.url}: HTTP {e.code}{self._key_hint(e.code)}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, TimeoutError):
                    problem = "timed out"
                elif isinstance(e, (urllib.error.URLError, ConnectionError)):
                    problem = f"unreachable ({reason})"
                else:  # an answer cut short, a malformed status line or header
                    problem = f"broken HTTP answer ({e!r})"
                if attempt < self.retries:
                    log.warning("%s: %s; retry %d of %d in %.1f s", self.url, problem, attempt + 1, self.retries,
                                wait_s)
        raise EndpointError(f"{self.url}: {problem} after {self.retries + 1} attempts")

    def _key_hint(self, status: int) -> str:
        if status not in (401, 403):
            return ""
        return f" (is ${self.api_key_env} set?)" if self.api_key_env else " (no API key was sent: set api_key_env)"


def concurrently(work: Callable[[T], R], items: Sequence[T], concurrency: int) -> Iterator[tuple[int, R]]:
    """``work`` on every item, at most ``concurrency`` at a time, yielding (position in ``items``,
    result) as each one ends. The first exception stops what has not started (what runs may still
    finish, and is yielded) and is raised once the rest has ended."""
    with ThreadPoolExecutor(concurrency) as pool:
        pending: dict[Future, int] = {pool.submit(work, item): i for i, item in enumerate(items)}
        error: BaseException | None = None
        while pending:
            done, _ = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                i = pending.pop(future)
                if future.exception() is None:
                    yield i, future.result()
                elif error is None:
                    error = future.exception()
                    for other in pending:
                        other.cancel()
            pending = {f: i for f, i in pending.items() if not f.cancelled()}
        if error is not None:
            raise error
