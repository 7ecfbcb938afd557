"""The ``http`` retriever against a real search service started in the test (http.server in a thread)
that answers from rageval's own bm25 run over adi: the same run back, the request contract,
concurrency, retries, timeouts, bad answers, and the API key kept out of every file."""
from __future__ import annotations

import http.server
import json
import random
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rageval import get_retriever, load_dataset, registry
from rageval.cli import main
from rageval.data.model import Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.store.cache import cache_dir
from rageval.store.run_folder import pair_folder

from conftest import write_beir


class SearchServer:
    """A search service on 127.0.0.1 following the ``http`` retriever's contract.

    ``answer(body) -> (status, text)`` answers each request; ``script`` holds (status, text) answers
    given first, one per request; ``delay`` seconds pass before each answer. Bodies, headers (lower-case
    names) and the most requests in flight at once are recorded."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.script: list[tuple[int, str]] = []
        self.delay = 0.0
        self.cut_short = 0  # answers sent with a Content-Length 10 bytes longer than the body
        self.bodies: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    server.bodies.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    scripted = server.script.pop(0) if server.script else None
                    short, server.cut_short = server.cut_short > 0, max(0, server.cut_short - 1)
                try:
                    time.sleep(server.delay)
                    status, text = scripted or server.answer(body)
                    data = text.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data) + (10 if short else 0)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with lock:
                        server.in_flight -= 1

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/search"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def spec(self, **options: object) -> str:
        """An ``http`` retriever spec for this server (fast back-off for tests)."""
        opts = {"url": self.url, "backoff": 0.01, "timeout": 5, **options}
        return "http:" + ",".join(f"{k}={v}" for k, v in opts.items())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def adi(shared):
    return load_dataset(str(shared / "adi"))


@pytest.fixture(scope="module")
def bm25_results(adi):
    """bm25's top 100 of every adi query, by query text: the service's answers."""
    bm25 = get_retriever("bm25")
    bm25.index(adi.corpus)
    run = bm25.search(adi.queries, 100)
    return {text: list(zip(docs, scores)) for text, (_, docs, scores) in zip(adi.queries.texts, run.results())}


def bm25_answer(bm25_results, shuffle: bool = True):
    """An ``answer`` giving bm25's results for the query, cut at the k asked, in a shuffled order
    (rageval ranks them itself)."""
    def answer(body: dict) -> tuple[int, str]:
        results = [{"id": d, "score": s} for d, s in bm25_results[body["query"]][:body["k"]]]
        if shuffle:
            random.Random(body["query"]).shuffle(results)
        return 200, json.dumps({"results": results, "took_ms": 3})
    return answer


@pytest.fixture
def service(bm25_results):
    server = SearchServer(bm25_answer(bm25_results))
    yield server
    server.close()


def same_run(a: Run, b: Run) -> None:
    assert a.query_ids == b.query_ids
    assert list(a.doc_ids) == list(b.doc_ids)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_the_run_equals_bm25s_exactly(adi, service):
    """Ids and scores round-trip through JSON exactly; the shuffled answers are ranked by rageval."""
    bm25 = get_retriever("bm25")
    bm25.index(adi.corpus)
    remote = get_retriever(service.spec())
    remote.index(adi.corpus)
    for k in (10, 100):
        same_run(remote.search(adi.queries, k), bm25.search(adi.queries, k))
    # the contract: one POST per query, {"query": text, "k": k}, JSON
    asked = service.bodies[:len(adi.queries)]
    assert sorted(asked, key=lambda b: b["query"]) == sorted(({"query": t, "k": 10} for t in adi.queries.texts),
                                                             key=lambda b: b["query"])
    assert all(h["content-type"] == "application/json" and "authorization" not in h for h in service.headers)


def test_the_benchmark_scores_it_as_bm25(adi, service, shared, tmp_path, capsys):
    """`rageval run` with bm25 and the service: the same run file and the same means."""
    spec = service.spec(concurrency=4)
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25", "--retriever", spec, "--k", "10",
                 "--out", str(tmp_path)]) == 0
    runs = [Run.read_trec(pair_folder(tmp_path, adi.label, s) / "run.trec").to_dict() for s in ("bm25", spec)]
    assert runs[0] == runs[1] and len(runs[0]) == len(adi.queries)
    means = [json.loads((pair_folder(tmp_path, adi.label, s) / "metrics.json").read_text())["metrics"]
             for s in ("bm25", spec)]
    assert means[0] == means[1]


def test_results_are_ranked_by_score_then_id_descending_and_cut_at_k(tmp_path):
    """Hand-made: d1 and d2 tie at 1.0; trec_eval's rule puts d2 first; k=2 keeps d3, d2."""
    ds = load_dataset(str(write_beir(tmp_path / "tiny")))
    server = SearchServer(lambda body: (200, json.dumps(
        {"results": [{"id": "d1", "score": 1}, {"id": "d3", "score": 2.5}, {"id": "d2", "score": 1.0}]})))
    try:
        remote = get_retriever(server.spec())
        remote.index(ds.corpus)
        run = remote.search(ds.queries, 2)
    finally:
        server.close()
    assert [(docs, scores) for _, docs, scores in run.results()] == [(["d3", "d2"], [2.5, 1.0])] * 2


def test_at_most_concurrency_requests_in_flight(adi, service):
    service.delay = 0.05
    remote = get_retriever(service.spec(concurrency=3))
    remote.index(adi.corpus)
    remote.search(adi.queries, 5)
    assert service.max_in_flight == 3 and len(service.bodies) == len(adi.queries)


def test_429_and_5xx_are_retried_then_the_answer_is_used(adi, service, caplog):
    bm25 = get_retriever("bm25")
    bm25.index(adi.corpus)
    service.script = [(429, '{"error": "slow down"}'), (503, "busy"), (500, "")]
    remote = get_retriever(service.spec(concurrency=1, retries=3))
    remote.index(adi.corpus)
    same_run(remote.search(adi.queries, 10), bm25.search(adi.queries, 10))
    assert remote.endpoint.requests == len(adi.queries) + 3
    assert caplog.text.count("retry") == 3 and f"{service.url}: HTTP 503 busy; retry 2 of 3" in caplog.text


def test_an_answer_cut_short_is_retried_then_reported(adi, service):
    remote = get_retriever(service.spec(concurrency=1, retries=2))
    remote.index(adi.corpus)
    service.cut_short = 1
    [(_, docs, _)] = remote.search(Queries(["1"], [adi.queries.texts[0]]), 3).results()
    assert len(docs) == 3 and remote.endpoint.requests == 2
    service.cut_short = 3
    with pytest.raises(RagevalError, match=rf"{service.url}: broken HTTP answer \(IncompleteRead\(.*\)\) after 3 "
                                           "attempts"):
        remote.search(Queries(["1"], [adi.queries.texts[0]]), 3)


def test_bounded_retries_then_an_error_naming_the_url(adi, service, shared, tmp_path, capsys):
    service.answer = lambda body: (502, "bad gateway")
    spec = service.spec(retries=2, concurrency=1)
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path)]) == 1
    assert f"{service.url}: HTTP 502 bad gateway after 3 attempts" in capsys.readouterr().err
    assert not (pair_folder(tmp_path, adi.label, spec) / "metrics.json").exists()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the block ends: nothing listens there


def test_an_unreachable_host_is_a_clear_error_within_the_timeout(adi, shared, tmp_path, capsys):
    port = closed_port()
    spec = f"http:url=http://127.0.0.1:{port}/search,timeout=3,retries=1,backoff=0.05"
    start = time.perf_counter()
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path)]) == 1
    assert time.perf_counter() - start < 3
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:{port}/search: unreachable (" in err and "after 2 attempts" in err
    folder = pair_folder(tmp_path, adi.label, spec)
    assert not (folder / "metrics.json").exists() and not (folder / "run.trec").exists()


def test_a_slow_service_times_out(adi, service):
    service.delay = 1.0
    remote = get_retriever(service.spec(timeout=0.2, retries=1, concurrency=2))
    remote.index(adi.corpus)
    start = time.perf_counter()
    with pytest.raises(RagevalError, match=rf"{service.url}: timed out after 2 attempts"):
        remote.search(Queries(adi.queries.ids[:2], adi.queries.texts[:2]), 10)
    assert time.perf_counter() - start < 1.0  # two attempts of 0.2 s each, a short wait between


BAD_ANSWERS = {
    "not JSON": ("{not json", "malformed answer (not JSON; expected {\"results\""),
    "no results": ('{"hits": []}', "malformed answer (no \"results\" list"),
    "results not a list": ('{"results": {"1": 2.0}}', "malformed answer (no \"results\" list"),
    "item without score": ('{"results": [{"id": "1"}]}', "results[0] is not an object with \"id\" and \"score\""),
    "unknown id": ('{"results": [{"id": "1", "score": 2}, {"id": "no-such-doc", "score": 1}]}',
                   "1 result id(s) not in the corpus (82 documents): 'no-such-doc'"),
    "id not a string": ('{"results": [{"id": 1, "score": 2}]}', "result 0 has id 1 (int), not a string"),
    "NaN score": ('{"results": [{"id": "1", "score": NaN}]}', "result 0 (id '1') has score nan, not a finite number"),
    "overflowing score": ('{"results": [{"id": "1", "score": 1e400}]}', "has score inf, not a finite number"),
    "string score": ('{"results": [{"id": "1", "score": "2.0"}]}', "has score '2.0', not a finite number"),
    "duplicate id": ('{"results": [{"id": "1", "score": 2}, {"id": "1", "score": 1}]}', "id '1' is listed twice"),
}


@pytest.mark.parametrize("case", BAD_ANSWERS, ids=list(BAD_ANSWERS))
def test_a_bad_answer_stops_the_run_naming_the_query(case, adi, bm25_results, shared, tmp_path, capsys):
    """One query (adi's query "7") gets a bad answer, the others good ones: the pair fails with the query
    id and the problem, and nothing is written as scored."""
    text, expected = BAD_ANSWERS[case]
    bad_query = adi.queries.texts[adi.queries.ids.index("7")]
    good = bm25_answer(bm25_results)
    server = SearchServer(lambda body: (200, text) if body["query"] == bad_query else good(body))
    try:
        spec = server.spec()
        assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path)]) == 1
    finally:
        server.close()
    err = capsys.readouterr().err
    assert f"{server.url}: query '7': " in err and expected in err, err
    folder = pair_folder(tmp_path, adi.label, spec)
    assert not (folder / "metrics.json").exists() and not (folder / "run.trec").exists()
    [failed] = json.loads((tmp_path / "results.json").read_text())["failed"]
    assert failed["retriever"] == spec and "query '7': " in failed["error"] and not \
        json.loads((tmp_path / "results.json").read_text())["datasets"]


def test_the_api_key_is_sent_as_a_header_and_written_to_no_file(adi, service, shared, tmp_path, capsys,
                                                               monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("SEARCH_KEY", secret)
    spec = service.spec(api_key_env="SEARCH_KEY", headers="X-Tenant: acme; X-Index: adi-v2")
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path / "out"),
                 "--k", "10"]) == 0
    assert len(service.headers) == len(adi.queries)
    for headers in service.headers:
        assert headers["authorization"] == f"Bearer {secret}"
        assert (headers["x-tenant"], headers["x-index"]) == ("acme", "adi-v2")
    shown = capsys.readouterr()
    assert secret not in shown.out + shown.err
    written = [p for root in (tmp_path / "out", cache_dir()) for p in Path(root).rglob("*") if p.is_file()]
    assert any(p.name == "metrics.json" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    # another header name carries the bare key
    service.headers.clear()
    remote = get_retriever(service.spec(api_key_env="SEARCH_KEY", api_key_header="X-API-Key"))
    remote.index(adi.corpus)
    remote.search(Queries(["1"], [adi.queries.texts[0]]), 3)
    assert service.headers[0]["x-api-key"] == secret and "authorization" not in service.headers[0]


def test_an_error_answer_never_shows_the_key(adi, service, monkeypatch):
    monkeypatch.setenv("SEARCH_KEY", "sk-very-secret-123")
    service.answer = lambda body: (400, '{"error": "bad key sk-very-secret-123"}')
    remote = get_retriever(service.spec(api_key_env="SEARCH_KEY"))
    remote.index(adi.corpus)
    with pytest.raises(RagevalError) as error:
        remote.search(Queries(["1"], ["titles"]), 3)
    assert "sk-very-secret" not in str(error.value) and "[redacted]" in str(error.value)
    assert str(error.value).startswith(f"{service.url}: HTTP 400")


BAD_SPECS = {
    "http": "http: needs the service's search URL, e.g. http:url=http://localhost:8000/search",
    "http:url=ftp://example.org/search": "url must be an http:// or https:// URL with a host, got "
                                         "'ftp://example.org/search'",
    "http:url=http:///search": "url must be an http:// or https:// URL with a host",
    "http:url=https://user:pw@example.org/search": "url holds credentials",
    "http:url=http://127.0.0.1:9/s,headers=Authorization: Bearer abc": "headers: Authorization carries a credential",
    "http:url=http://127.0.0.1:9/s,headers=X-Tenant": "expected 'Name: value' pairs separated by ';', got 'X-Tenant'",
    "http:url=http://127.0.0.1:9/s,api_key_env=NO_SUCH_VARIABLE_SET": "the environment variable $NO_SUCH_VARIABLE_SET "
                                                                     "is not set",
    "http:url=http://127.0.0.1:9/s,api_key_env=sk-abc-123": "api_key_env must name an environment variable",
    "http:url=http://127.0.0.1:9/s,concurrency=0": "need timeout > 0, retries >= 0, backoff >= 0, concurrency >= 1",
    "http:url=http://127.0.0.1:9/s,timeout=0": "need timeout > 0",
}


@pytest.mark.parametrize("spec", BAD_SPECS, ids=list(BAD_SPECS))
def test_bad_options_are_refused_before_any_work(spec, shared, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE_SET", raising=False)
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rageval: error: ") and BAD_SPECS[spec] in err, err
    for secret in ("sk-abc-123", "Bearer abc", ":pw@"):  # credentials given by mistake are not shown
        assert secret not in err
    assert not (tmp_path / "out").exists()


def test_the_openai_generator_shares_the_key_name_check():
    """One client: a key written where its variable's name belongs is refused for the generator too."""
    with pytest.raises(SpecError, match="api_key_env must name an environment variable") as error:
        registry.create("generators", "openai:api_key_env=sk-abc-123")
    assert "sk-abc-123" not in str(error.value)


def test_rageval_list_shows_the_options(capsys):
    assert main(["list", "-v"]) == 0
    section = next(s for s in capsys.readouterr().out.split("\n\n") if s.startswith("retrievers http"))
    for option in ("url: str = None (required", "headers: str = ''", "api_key_env: str = ''",
                   "api_key_header: str = 'Authorization'", "timeout: float = 30.0", "retries: int = 4",
                   "backoff: float = 1.0", "concurrency: int = 8"):
        assert f"    {option}" in section, option
