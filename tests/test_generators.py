"""Generators: the openai client against a local chat-completions server, the generation cache,
and the bundled local model for real (slow)."""
from __future__ import annotations

import json
import socket

import pytest

from rageval import registry
from rageval.errors import RagevalError, SpecError
from rageval.generators.openai import EndpointError


def make(spec: str):
    return registry.create("generators", spec)


def test_request_format_and_key(chat_server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-test")
    gen = make(chat_server.spec(api_key_env="TEST_KEY", system="be brief", max_new_tokens=17, temperature=0.5))
    assert gen.generate(["hello"]) == ["answer to: hello"]
    body, headers = chat_server.bodies[0], chat_server.headers[0]
    assert body["model"] == "test-model"
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (17, 0.5, 1.0, 0)
    assert headers["Authorization"] == "Bearer sk-test"
    assert headers["Content-Type"] == "application/json"


def test_no_key_sends_no_authorization(chat_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make(chat_server.spec()).generate(["x"])
    assert "Authorization" not in chat_server.headers[0]


def test_retries_429_and_500_then_succeeds(chat_server):
    chat_server.script = [(429, '{"error": "slow down"}'), (500, '{"error": "oops"}'), (503, "")]
    gen = make(chat_server.spec(retries=3))
    assert gen.generate(["q"]) == ["answer to: q"]
    assert gen.requests == 4 and len(chat_server.bodies) == 4


def test_bounded_retries_then_clear_error_and_finished_work_kept(chat_server):
    gen = make(chat_server.spec(retries=2, concurrency=1))
    assert gen.generate(["kept"]) == ["answer to: kept"]
    chat_server.script = [(500, "down")] * 3
    with pytest.raises(EndpointError, match=r"HTTP 500 down after 3 attempts"):
        gen.generate(["fails"])
    assert gen.requests == 4
    # one prompt answered before the endpoint went down stays cached; only the missing one is asked again
    chat_server.script = [(200, json.dumps({"choices": [{"message": {"content": "first"}}]})),
                          (503, ""), (503, ""), (503, "")]
    with pytest.raises(EndpointError, match="HTTP 503"):
        gen.generate(["a", "b"])
    before = len(chat_server.bodies)
    assert gen.generate(["kept", "a"]) == ["answer to: kept", "first"]
    assert len(chat_server.bodies) == before


def test_client_errors_are_not_retried(chat_server):
    chat_server.script = [(401, '{"error": "bad key"}')]
    gen = make(chat_server.spec(api_key_env="NO_SUCH_VARIABLE"))
    with pytest.raises(EndpointError, match=r"HTTP 401 \(is \$NO_SUCH_VARIABLE set\?\)"):
        gen.generate(["q"])
    assert len(chat_server.bodies) == 1


def test_timeout_is_retried_then_reported(chat_server):
    chat_server.delay = 1.0
    gen = make(chat_server.spec(timeout=0.2, retries=1))
    with pytest.raises(EndpointError, match="timed out after 2 attempts"):
        gen.generate(["slow"])


def test_malformed_json(chat_server):
    chat_server.script = [(200, "{not json")]
    with pytest.raises(EndpointError, match="malformed answer.*not json"):
        make(chat_server.spec()).generate(["q"])
    chat_server.script = [(200, '{"choices": []}')]
    with pytest.raises(EndpointError, match="malformed answer"):
        make(chat_server.spec()).generate(["r"])


def test_unreachable_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    gen = make(f"openai:base_url=http://127.0.0.1:{port}/v1,retries=1,backoff=0.01")
    with pytest.raises(EndpointError, match=rf"127.0.0.1:{port}/v1/chat/completions: unreachable .* after 2 attempts"):
        gen.generate(["q"])


def test_cache_second_run_makes_no_request(chat_server):
    prompts = [f"prompt {i}" for i in range(6)] + ["prompt 0"]
    first = make(chat_server.spec()).generate(prompts)
    assert len(chat_server.bodies) == 6  # the repeated prompt is asked once
    again = make(chat_server.spec())
    assert again.generate(prompts) == first and again.calls == 0
    assert len(chat_server.bodies) == 6
    make(chat_server.spec()).generate(prompts[:2], max_new_tokens=5)  # other parameters: other entries
    assert len(chat_server.bodies) == 8


def test_concurrency_limit(chat_server):
    chat_server.delay = 0.15
    make(chat_server.spec(concurrency=2)).generate([f"p{i}" for i in range(6)])
    assert chat_server.max_in_flight == 2


def test_empty_content_is_an_empty_generation(chat_server):
    chat_server.reply = lambda prompt: ""
    assert make(chat_server.spec()).generate(["q"]) == [""]


def test_bad_options():
    with pytest.raises(SpecError, match="concurrency"):
        make("openai:concurrency=0")
    with pytest.raises(SpecError, match="top_p"):
        make("openai:top_p=0")
    with pytest.raises(SpecError, match="unknown generation option"):
        make("openai").generate(["x"], beam_width=3)
    with pytest.raises(RagevalError, match="no such file or folder"):
        make("local:model=/no/such/model")


@pytest.mark.slow
def test_local_generator_for_real(tmp_path):
    """The bundled SmolLM2-135M-Instruct: converted once, greedy (repeatable), cached."""
    from rageval.generators.local import Local

    gen = make("local:max_new_tokens=24,batch_size=2")
    prompts = ["What is the capital of France?", "Write a Python function that adds two numbers.",
               "Name a colour."]
    first = gen.generate(prompts)
    assert len(first) == 3 and all(isinstance(t, str) and t.strip() for t in first)
    assert "paris" in first[0].lower()
    folder = gen.folder()
    assert (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    stamp = (folder / "config.json").stat().st_mtime_ns
    # a fresh instance: every prompt from the cache, no model loaded
    cached = make("local:max_new_tokens=24,batch_size=2")
    assert cached.generate(prompts) == first and cached.calls == 0 and cached._model is None
    # greedy decoding repeats itself, batched or not, and the converted folder is reused
    fresh = Local(max_new_tokens=24, batch_size=1)
    assert [t for _, t in sorted(fresh.complete(prompts, fresh.defaults))] == first
    assert (fresh.folder() / "config.json").stat().st_mtime_ns == stamp


def test_endpoint_errors_never_show_the_key(chat_server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-very-secret-123")
    chat_server.script = [(400, '{"error": "bad key sk-very-secret-123, header Authorization: Bearer sk-very-secret-123"}')]
    generator = registry.create("generators", chat_server.spec(api_key_env="TEST_KEY", retries=0))
    with pytest.raises(RagevalError) as error:
        generator.generate(["hello"])
    assert "sk-very-secret" not in str(error.value) and "[redacted]" in str(error.value)


def test_endpoint_retries_are_logged(chat_server, caplog):
    chat_server.script = [(503, "busy"), (503, "busy")]
    generator = registry.create("generators", chat_server.spec(retries=3))
    assert generator.generate(["hi"]) == ["answer to: hi"]
    assert caplog.text.count("retry") == 2 and "retry 1 of 3 in" in caplog.text
