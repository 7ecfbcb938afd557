"""``openai`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama...).

One POST per prompt to ``<base_url>/chat/completions`` through ``rageval.retrieval.http_client`` (the
standard library, no SDK), at most ``concurrency`` at a time. A 429, a 5xx, a timeout or a refused
connection is retried up to ``retries`` times, waiting ``backoff * 2**attempt`` seconds (or the
server's ``Retry-After``, at most 60 s); then the run stops with an error naming the endpoint, keeping
every generation that finished in the cache. Other HTTP errors and malformed answers are not retried.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any, Iterator, Sequence

from rageval.errors import SpecError
from rageval.plugins import Generator
from rageval.retrieval.http_client import EndpointError, JsonEndpoint, check_client_options, concurrently

__all__ = ["EndpointError", "OpenAI"]


class OpenAI(Generator):
    """Any OpenAI-compatible chat-completions endpoint: base_url, model, key from an environment variable."""

    name = "openai"

    def __init__(self, model: str = "gpt-4o-mini", base_url: str = "https://api.openai.com/v1",
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0, retries: int = 4,
                 backoff: float = 1.0, concurrency: int = 4, system: str = "", max_new_tokens: int = 256,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int = 0):
        check_client_options("openai generator", timeout, retries, backoff, concurrency)
        parts = urllib.parse.urlsplit(base_url)
        if parts.username is not None or parts.password is not None:  # it would be written to the manifest
            raise SpecError("openai generator: base_url holds credentials (user:password@): give the key in the "
                            "environment variable api_key_env names")
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise SpecError(f"openai generator: base_url must be an http:// or https:// URL with a host, "
                            f"got {base_url!r}")
        super().__init__(max_new_tokens, temperature, top_p, seed)
        self.model, self.url = model, base_url.rstrip("/") + "/chat/completions"
        self.endpoint = JsonEndpoint(self.url, api_key_env, timeout, retries, backoff)
        self.concurrency, self.system = concurrency, system

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included."""
        return self.endpoint.requests

    def identity(self) -> dict[str, Any]:
        return {"kind": "openai-chat", "url": self.url, "model": self.model, "system": self.system}

    def _payload(self, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": prompt}]
        return {"model": self.model, "messages": messages, "max_tokens": params["max_new_tokens"],
                "temperature": params["temperature"], "top_p": params["top_p"], "seed": params["seed"]}

    def _content(self, raw: bytes) -> str:
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            raise EndpointError(f"{self.url}: malformed answer (expected JSON with choices[0].message.content): "
                                f"{self.endpoint.shown(raw)!r}") from None
        if not isinstance(content, (str, type(None))):
            raise EndpointError(f"{self.url}: malformed answer (choices[0].message.content is not text): "
                                f"{self.endpoint.shown(raw)!r}")
        key = self.endpoint.api_key()  # an endpoint that echoes the request: the key goes to no cache nor file
        return (content or "").replace(key, "[redacted]").strip() if key else (content or "").strip()

    def _generate(self, payload: dict[str, Any]) -> str:
        return self._content(self.endpoint.post(payload))

    def complete(self, prompts: Sequence[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        yield from concurrently(self._generate, [self._payload(p, params) for p in prompts], self.concurrency)
