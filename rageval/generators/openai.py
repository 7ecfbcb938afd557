"""``openai`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama...).

One POST per prompt to ``<base_url>/chat/completions`` through the standard library (no SDK), at
most ``concurrency`` at a time. A 429, a 5xx, a timeout or a refused connection is retried up to
``retries`` times, waiting ``backoff * 2**attempt`` seconds (or the server's ``Retry-After``, at most
60 s); then the run stops with an error naming the endpoint, keeping every generation that
finished in the cache. Other HTTP errors and malformed answers are not retried.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Iterator, Sequence

from rageval.errors import RagevalError, SpecError
from rageval.plugins import Generator

log = logging.getLogger("rageval")
RETRY_STATUS = {408, 409, 425, 429}


class EndpointError(RagevalError):
    """The endpoint could not give a generation (after the retries that apply)."""


def redact(text: str, api_key: str) -> str:
    """``text`` without the API key or any bearer token an endpoint echoed back."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return re.sub(r"(?i)(authorization|bearer)([\s:=\"']+)[^\s\"',]+", r"\1\2[redacted]", text)


class OpenAI(Generator):
    """Any OpenAI-compatible chat-completions endpoint: base_url, model, key from an environment variable."""

    name = "openai"

    def __init__(self, model: str = "gpt-4o-mini", base_url: str = "https://api.openai.com/v1",
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0, retries: int = 4,
                 backoff: float = 1.0, concurrency: int = 4, system: str = "", max_new_tokens: int = 256,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int = 0):
        if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1:
            raise SpecError("openai generator: need timeout > 0, retries >= 0, backoff >= 0, concurrency >= 1")
        super().__init__(max_new_tokens, temperature, top_p, seed)
        self.model, self.url = model, base_url.rstrip("/") + "/chat/completions"
        self.api_key_env, self.timeout, self.retries, self.backoff = api_key_env, timeout, retries, backoff
        self.concurrency, self.system = concurrency, system
        self.requests = 0  # HTTP requests sent, retries included

    def identity(self) -> dict[str, Any]:
        return {"kind": "openai-chat", "url": self.url, "model": self.model, "system": self.system}

    def _body(self, prompt: str, params: dict[str, Any]) -> bytes:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": prompt}]
        return json.dumps({"model": self.model, "messages": messages, "max_tokens": params["max_new_tokens"],
                           "temperature": params["temperature"], "top_p": params["top_p"],
                           "seed": params["seed"]}).encode()

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env, "")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        problem, wait_s = "", 0.0
        for attempt in range(self.retries + 1):
            time.sleep(wait_s)
            wait_s = self.backoff * 2 ** attempt * (1 + random.random() / 4)
            self.requests += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, body, headers), timeout=self.timeout) as r:
                    raw = r.read()
            except urllib.error.HTTPError as e:
                detail = redact(e.read()[:200].decode("utf-8", "replace"), api_key)
                if e.code in RETRY_STATUS or e.code >= 500:
                    problem = f"HTTP {e.code} {detail}".strip()
                    retry_after = e.headers.get("Retry-After", "")
                    if retry_after.replace(".", "", 1).isdigit():
                        wait_s = min(float(retry_after), 60.0)
                    if attempt < self.retries:
                        log.warning("%s: %s; retry %d of %d in %.1f s", self.url, problem[:80], attempt + 1,
                                    self.retries, wait_s)
                    continue
                hint = f" (is ${self.api_key_env} set?)" if e.code in (401, 403) else ""
                raise EndpointError(f"{self.url}: HTTP {e.code}{hint}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                problem = "timed out" if isinstance(reason, TimeoutError) else f"unreachable ({reason})"
                if attempt < self.retries:
                    log.warning("%s: %s; retry %d of %d in %.1f s", self.url, problem, attempt + 1, self.retries,
                                wait_s)
                continue
            return self._content(raw, api_key)
        raise EndpointError(f"{self.url}: {problem} after {self.retries + 1} attempts")

    def _content(self, raw: bytes, api_key: str = "") -> str:
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            shown = redact(raw[:200].decode("utf-8", "replace"), api_key)
            raise EndpointError(f"{self.url}: malformed answer (expected JSON with choices[0].message.content): "
                                f"{shown!r}") from None
        return (content or "").strip()

    def complete(self, prompts: Sequence[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            pending: dict[Future, int] = {pool.submit(self._post, self._body(p, params)): i
                                          for i, p in enumerate(prompts)}
            error: BaseException | None = None
            while pending:
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    i = pending.pop(future)
                    if future.exception() is None:
                        yield i, future.result()
                    elif error is None:
                        error = future.exception()
                        for other in pending:  # stop what has not started; what runs may still finish
                            other.cancel()
                pending = {f: i for f, i in pending.items() if not f.cancelled()}
            if error is not None:
                raise error
