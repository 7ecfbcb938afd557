"""The ``qdrant`` retriever with the real qdrant-client (local mode, in-process) and the bundled model:
rankings equal ``dense``'s exact flat top 10, the collection is found again, chunk ids round-trip
through point ids so span measures equal dense's, an existing collection is searched as it is, and
bad input (closed port, hung or foreign server, ids not in the corpus, missing collection) is one
clear error."""
from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from rageval import RagevalError, get_retriever, load_dataset
from rageval.cli import main
from rageval.data.trec import Run
from rageval.store.run_folder import pair_folder

pytest.importorskip("qdrant_client")
from qdrant_client import QdrantClient, models  # noqa: E402


@pytest.fixture(scope="module")
def adi(shared):
    return load_dataset(str(shared / "adi"))


@pytest.fixture(scope="module")
def dense_adi(adi) -> Run:
    dense = get_retriever("dense")
    dense.index(adi.corpus)
    return dense.search(adi.queries, 10)


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def ranked(run: Run) -> dict[str, list[str]]:
    return {qid: docs for qid, docs, _ in run.results()}


def agreement(a: Run, b: Run) -> float:
    """The share of queries whose top-10 lists (documents and order) are identical."""
    assert a.query_ids == b.query_ids
    first, second = ranked(a), ranked(b)
    return sum(first[q] == second[q] for q in a.query_ids) / len(a.query_ids)


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid"])
def test_local_mode_top_10_equals_dense_flat_on_adi(adi, dense_adi, distance):
    qdrant = get_retriever(f"qdrant:distance={distance}")
    qdrant.index(adi.corpus)
    run = qdrant.search(adi.queries, 10)
    share = agreement(run, dense_adi)
    print(f"adi, qdrant local distance={distance}: top-10 identical to dense flat on {share:.2%} of "
          f"{len(adi.queries)} queries")
    assert share >= 0.99, f"top-10 agreement with dense flat {share:.4f} (distance={distance})"
    if distance == "euclid":  # a distance, smaller is better: the run's scores are its negation
        assert (run.scores[:, 0] < 0).all() and (np.diff(run.scores, axis=1) <= 0).all()
    else:
        np.testing.assert_allclose(run.scores, dense_adi.scores, atol=1e-5)


@pytest.mark.slow
def test_local_mode_top_10_equals_dense_flat_on_cosqa(shared, fresh_cache):
    cosqa = load_dataset(str(shared / "cosqa"))
    dense = get_retriever("dense")
    dense.index(cosqa.corpus)
    qdrant = get_retriever("qdrant")
    qdrant.index(cosqa.corpus)
    share = agreement(qdrant.search(cosqa.queries, 10), dense.search(cosqa.queries, 10))
    print(f"cosqa, qdrant local: top-10 identical to dense flat on {share:.2%} of {len(cosqa.queries)} queries")
    assert share >= 0.99, f"top-10 agreement with dense flat {share:.4f}"


def test_a_tie_across_the_cut_is_whole_and_cut_by_doc_id():
    from rageval import Corpus, Queries

    # five identical documents tie for the query: trec_eval's rule keeps the highest ids at k=2. Local
    # mode lists a tie by position, last first (b, c, d of the first three asked): only searching
    # deeper until the tie is whole finds f and e
    corpus = Corpus(ids=["f", "e", "d", "c", "b", "a"], texts=["same text"] * 5 + ["something else entirely"])
    qdrant = get_retriever("qdrant")
    qdrant.index(corpus)
    run = qdrant.search(Queries(["q"], ["same text"]), 2)
    assert ranked(run) == {"q": ["f", "e"]}


def test_the_collection_is_found_again_and_a_partial_one_completed(adi, fresh_cache):
    first = get_retriever("qdrant")
    first.index(adi.corpus)
    name = first.collection_name(adi.corpus)
    assert first.uploaded == len(adi.corpus) and name.startswith("rageval-")
    assert [p.name for p in (fresh_cache / "qdrant").iterdir()] == [name]  # one folder per collection
    expected = first.search(adi.queries, 10)
    again = get_retriever("qdrant")
    again.index(adi.corpus)
    assert again.uploaded == 0 and ranked(again.search(adi.queries, 10)) == ranked(expected)
    assert expected.meta["qdrant"]["reused"] is False and again.meta == {
        "collection": name, "where": f"local storage {fresh_cache / 'qdrant' / name}", "points": len(adi.corpus),
        "existing": False, "reused": True, "uploaded": 0, "search": "exhaustive (local mode)"}
    # a run stopped during the upload left 40 points: the next run uploads them all again
    first.client.delete(name, points_selector=models.PointIdsList(points=list(range(40, len(adi.corpus)))))
    third = get_retriever("qdrant")
    third.index(adi.corpus)
    assert third.uploaded == len(adi.corpus) and third.client.count(name, exact=True).count == len(adi.corpus)
    # another configuration is another collection, beside the first
    prefixed = get_retriever("qdrant:doc_prefix=passage: ")
    prefixed.index(adi.corpus)
    assert prefixed.uploaded == len(adi.corpus) and prefixed.collection_name(adi.corpus) != name
    assert len(list((fresh_cache / "qdrant").iterdir())) == 2


def xquad_docs(shared: Path, root: Path, paragraphs: int = 40) -> Path:
    """A docs: folder of xquad_en's first paragraphs (one .txt file each) with their questions and spans."""
    root.mkdir()
    corpus = [json.loads(line) for line in (shared / "xquad_en" / "corpus.jsonl").read_text().splitlines()]
    kept = {doc["_id"] for doc in corpus[:paragraphs]}
    for doc in corpus[:paragraphs]:
        (root / f"{doc['_id']}.txt").write_text(doc["text"], encoding="utf-8")
    spans = [line for line in (shared / "xquad_en" / "spans.jsonl").read_text().splitlines()
             if json.loads(line)["corpus-id"] in kept]
    (root / "spans.jsonl").write_text("\n".join(spans) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text((shared / "xquad_en" / "queries.jsonl").read_text(), encoding="utf-8")
    return root


def test_chunk_ids_round_trip_so_span_measures_equal_dense(shared, fresh_cache, tmp_path):
    folder = xquad_docs(shared, tmp_path / "xq")
    out = tmp_path / "out"
    chunker = "recursive:size=200"
    assert main(["run", "--dataset", f"docs:{folder}", "--chunker", chunker, "--retriever", "dense",
                 "--retriever", "qdrant", "--out", str(out)]) == 0

    def per_query(retriever: str) -> dict[str, dict]:
        lines = (pair_folder(out, "xq.test", retriever, chunker) / "per_query.jsonl").read_text().splitlines()
        return {row["query_id"]: row for row in map(json.loads, lines)}

    def trec(retriever: str) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        for line in (pair_folder(out, "xq.test", retriever, chunker) / "run.trec").read_text().splitlines():
            qid, _, doc, *_ = line.split()
            lists.setdefault(qid, []).append(doc)
        return lists

    dense, qdrant = per_query("dense"), per_query("qdrant")
    assert len(qdrant) > 100 and {"IoU@5", "span_recall@5", "span_precision@5", "precision_omega"} <= set(
        next(iter(qdrant.values())))
    assert qdrant == dense  # every measure of every query, span measures included
    runs = trec("qdrant")
    assert all("#" in doc for docs in runs.values() for doc in docs)  # chunk ids, not point ids
    assert runs == trec("dense")


def existing_collection(root: Path, corpus_ids: list[str], vectors: np.ndarray, extra: list[str] = ()) -> Path:
    """A local-mode folder holding collection 'docs' as another tool would make it: UUID point ids, the
    corpus id nested in the payload (``metadata.doc_id``), a named vector 'text'; ``extra`` adds
    points with ids of no corpus."""
    client = QdrantClient(path=str(root))
    client.create_collection("docs", vectors_config={"text": models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE)})
    ids = [*corpus_ids, *extra]
    rows = [*vectors, *vectors[:len(extra)]]
    client.upsert("docs", points=[models.PointStruct(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, doc)), vector={"text": row.tolist()},
        payload={"metadata": {"doc_id": doc}, "page_content": "..."}) for doc, row in zip(ids, rows)])
    client.close()
    return root


def test_an_existing_collection_is_searched_as_it_is(adi, dense_adi, fresh_cache, tmp_path, caplog):
    vectors = np.asarray(get_retriever("dense").encoder.corpus_embeddings(adi.corpus))
    store = existing_collection(tmp_path / "store", adi.corpus.ids, vectors)
    spec = f"qdrant:path={store},collection=docs,id_field=metadata.doc_id"
    qdrant = get_retriever(spec)
    qdrant.index(adi.corpus)
    assert qdrant.vector_name == "text" and qdrant.uploaded == 0
    share = agreement(qdrant.search(adi.queries, 10), dense_adi)
    assert share >= 0.99, f"top-10 agreement with dense flat {share:.4f}"
    assert not (fresh_cache / "qdrant").exists()  # read only: nothing built in the cache
    # a collection that lacks documents is searched, with a warning naming how many
    part = existing_collection(tmp_path / "part", adi.corpus.ids[:80], vectors[:80])
    get_retriever(f"qdrant:path={part},collection=docs,id_field=metadata.doc_id").index(adi.corpus)
    assert "holds 80 of the corpus's 82 documents: the 2 others" in caplog.text


def test_a_collection_built_in_path_is_read_back_as_an_existing_one(adi, dense_adi, fresh_cache, tmp_path):
    built = get_retriever(f"qdrant:path={tmp_path / 'mine'},id_field=metadata.doc_id")
    built.index(adi.corpus)
    name = built.collection_name(adi.corpus)
    assert built.uploaded == len(adi.corpus) and not (fresh_cache / "qdrant").exists()
    payload = built.client.retrieve(name, ids=[5], with_payload=True)[0].payload
    assert payload == {"metadata": {"doc_id": adi.corpus.ids[5]}}
    read = get_retriever(f"qdrant:path={tmp_path / 'mine'},collection={name},id_field=metadata.doc_id")
    read.index(adi.corpus)
    assert read.meta["existing"] and read.meta["points"] == len(adi.corpus)
    assert ranked(read.search(adi.queries, 10)) == ranked(built.search(adi.queries, 10))
    assert agreement(read.search(adi.queries, 10), dense_adi) >= 0.99


def test_existing_collections_that_cannot_be_searched_as_the_corpus(adi, fresh_cache, tmp_path):
    client = QdrantClient(path=str(tmp_path / "store"))
    ids = adi.corpus.ids[:4]
    # two points hold one corpus id
    client.create_collection("twice", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))
    client.upsert("twice", points=[models.PointStruct(id=i, vector=[1.0] * 384, payload={"rageval_id": doc})
                                   for i, doc in enumerate([*ids, ids[1]])])
    # vectors of another model's size
    client.create_collection("wide", vectors_config=models.VectorParams(size=768, distance=models.Distance.COSINE))
    client.upsert("wide", points=[models.PointStruct(id=0, vector=[1.0] * 768, payload={"rageval_id": ids[0]})])
    # two named vectors and no vector= to choose
    both = {name: models.VectorParams(size=384, distance=models.Distance.DOT) for name in ("body", "title")}
    client.create_collection("named", vectors_config=both)
    client.close()
    cases = {"twice": "1 corpus ids are held by more than one point (e.g. '2' by points 1, 4)",
             "wide": "holds 768-dimensional vectors and model",
             "named": "has the vectors 'body', 'title': name one with vector="}
    for collection, message in cases.items():
        with pytest.raises(RagevalError, match=re.escape(message)):
            get_retriever(f"qdrant:path={tmp_path / 'store'},collection={collection}").index(adi.corpus)


def run_adi(shared, tmp_path, spec: str) -> int:
    return main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path / "o")])


def test_cli_a_collection_with_ids_not_in_the_corpus_fails_naming_a_few(shared, adi, fresh_cache, tmp_path, capsys):
    vectors = np.zeros((len(adi.corpus), 384), dtype=np.float32) + 1
    store = existing_collection(tmp_path / "store", adi.corpus.ids, vectors, extra=["x1", "x2", "x3", "x4", "x5", "x6"])
    assert run_adi(shared, tmp_path, f"qdrant:path={store},collection=docs,id_field=metadata.doc_id") == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "6 of 88 points hold ids that are not in the corpus ('x1', 'x2', 'x3', 'x4', 'x5' " \
                               "and 1 more)" in out
    # the default field is not in these payloads: the message says which option names it
    assert run_adi(shared, tmp_path, f"qdrant:path={store},collection=docs") == 1
    assert "88 of 88 points have no payload field 'rageval_id'" in capsys.readouterr().out


def test_cli_a_missing_collection_exits_2_naming_the_ones_there(shared, adi, fresh_cache, tmp_path, capsys):
    store = existing_collection(tmp_path / "store", adi.corpus.ids[:3], np.ones((3, 384), dtype=np.float32))
    assert run_adi(shared, tmp_path, f"qdrant:path={store},collection=nope") == 2
    err = capsys.readouterr().err
    assert f"qdrant: no collection 'nope' at local storage {store} (it has: 'docs')" in err
    assert not (tmp_path / "o").exists()


def test_cli_local_storage_open_in_another_client(shared, adi, fresh_cache, tmp_path, capsys):
    store = existing_collection(tmp_path / "store", adi.corpus.ids[:3], np.ones((3, 384), dtype=np.float32))
    holder = QdrantClient(path=str(store))  # holds the storage's lock, as another process's run would
    try:
        assert run_adi(shared, tmp_path, f"qdrant:path={store},collection=docs") == 2
    finally:
        holder.close()
    assert f"qdrant: the local storage {store} is open in another process" in capsys.readouterr().err


def test_cli_a_closed_port_is_an_error_at_once(shared, fresh_cache, tmp_path, capsys):
    port = free_port()
    start = time.monotonic()
    assert run_adi(shared, tmp_path, f"qdrant:url=http://127.0.0.1:{port},timeout=5") == 2
    assert time.monotonic() - start < 5
    assert f"qdrant: cannot reach http://127.0.0.1:{port} (ConnectError" in capsys.readouterr().err


def test_cli_a_server_that_never_answers_fails_within_the_timeout(shared, fresh_cache, tmp_path, capsys):
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        assert run_adi(shared, tmp_path, f"qdrant:url=http://127.0.0.1:{port},timeout=2") == 2
        elapsed = time.monotonic() - start
    assert 2 <= elapsed < 8
    assert f"qdrant: cannot reach http://127.0.0.1:{port} within the timeout (2 s)" in capsys.readouterr().err


def test_cli_a_server_that_is_not_qdrant(shared, fresh_cache, tmp_path, capsys):
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert run_adi(shared, tmp_path, f"qdrant:url={url}") == 2
    finally:
        server.shutdown()
        server.server_close()
    assert f"qdrant: {url} answered HTTP 404 Not Found when asked to list its collections: is it a Qdrant " \
           "server?" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    ("exact=false", "exact=false: local mode always searches exhaustively"),
    ("m=32,hnsw_ef=64", "hnsw_ef, m: local mode always searches exhaustively"),
    ("collection=docs", "collection='docs' names an existing collection: say where it is, with url="),
    ("url=http://127.0.0.1:9,path=/tmp/x", "give url= (a server) or path= (a local-mode folder), not both"),
    ("url=http://127.0.0.1:9,api_key_env=RAGEVAL_TEST_NO_SUCH_VARIABLE",
     "the environment variable RAGEVAL_TEST_NO_SUCH_VARIABLE is not set"),
    ("url=http://127.0.0.1:9,exact=true,hnsw_ef=64", "hnsw_ef has no effect with exact=true"),
    ("url=http://127.0.0.1:9,collection=docs,distance=dot", "distance set how rageval builds a collection"),
    ("ef_construct=2,url=http://127.0.0.1:9", "need m >= 0, ef_construct >= 4"),
    ("id_field=a..b", "id_field='a..b' is not a payload field name"),
])
def test_cli_bad_options_exit_2_before_any_work(shared, fresh_cache, tmp_path, capsys, options, message):
    assert run_adi(shared, tmp_path, f"qdrant:{options}") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_path_that_is_not_qdrant_storage(shared, fresh_cache, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not Qdrant's")
    assert run_adi(shared, tmp_path, f"qdrant:path={tmp_path / 'mine'}") == 2
    assert "a folder that is not Qdrant local storage (no meta.json)" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]  # nothing written there


def test_listed_with_typed_options(capsys):
    assert main(["list", "-v"]) == 0
    out = capsys.readouterr().out
    assert "Qdrant through qdrant-client: local mode (in-process, no server) or a server (url=)" in out
    for option in ("distance: cosine|dot|euclid = 'cosine'", "exact: bool = None (true in local mode, false (HNSW "
                   "search) on a server)", "m: int = 16", "ef_construct: int = 100", "id_field: str = 'rageval_id'"):
        assert option in out
