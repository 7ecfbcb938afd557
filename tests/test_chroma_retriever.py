"""The ``chroma`` retriever with the real chromadb (persistent client, a ``chroma run`` server): rankings
against rageval's exact ``dense`` (flat), the collection found again, ``search_ef`` without a rebuild,
``--chroma``'s published settings, existing collections evaluated read only, and bad input."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rageval import get_retriever, load_dataset
from rageval.cli import main
from rageval.data.trec import Run
from rageval.store.run_folder import pair_folder
from rageval.store.run_store import read_metrics

chromadb = pytest.importorskip("chromadb")
pytest.importorskip("faiss")

from rageval.retrievers import chroma as chroma_module  # noqa: E402 - after the skip: it needs chromadb to work
from rageval.retrievers import chroma_store  # noqa: E402


@pytest.fixture(scope="module")
def warm(tmp_path_factory, shared) -> Path:
    """A cache holding adi's embeddings (encoded once for the module)."""
    cache = tmp_path_factory.mktemp("warm-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGEVAL_CACHE", str(cache))
        get_retriever("dense").encode_corpus(load_dataset(str(shared / "adi")).corpus)
    return cache


@pytest.fixture()
def cache(tmp_path, monkeypatch, warm) -> Path:
    """A fresh cache (no Chroma collection yet) with adi's embeddings already in it."""
    folder = tmp_path / "cache"
    shutil.copytree(warm / "embeddings", folder / "embeddings")
    monkeypatch.setenv("RAGEVAL_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def adi(shared):
    return load_dataset(str(shared / "adi"))


@pytest.fixture(scope="module")
def flat(adi, warm) -> Run:
    """rageval's exact dense search (FAISS flat, inner product) of adi, top 10."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGEVAL_CACHE", str(warm))
        dense = get_retriever("dense")
        dense.index(adi.corpus)
        return dense.search(adi.queries, 10)


def agreement(reference: Run, run: Run) -> tuple[float, float]:
    """(share of queries whose top 10 is the reference's list, in order; mean recall@10 of the reference's top 10)."""
    rows = range(len(reference.query_ids))
    same = np.mean([reference.indices[r].tolist() == run.indices[r].tolist() for r in rows])
    recall = np.mean([len(set(reference.indices[r]) & set(run.indices[r])) / 10 for r in rows])
    return float(same), float(recall)


def client_on(path: Path):
    """A client on a persistent folder that coexists with rageval's in this process (chromadb allows one
    set of settings per folder)."""
    return chroma_store.persistent_client(str(path))


def run_cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["run", *args])
    return code, capsys.readouterr().err


# 1. rankings against dense flat

def test_top10_against_dense_flat_on_adi(adi, flat, cache):
    """A large search_ef makes HNSW all but exact: the same top 10 as FAISS flat on >= 99% of queries, and
    score = -distance: with unit vectors, -||q - d||^2 = 2 q.d - 2. The default ef is reported too."""
    wide = get_retriever("chroma:search_ef=500")
    wide.index(adi.corpus)
    run = wide.search(adi.queries, 10)
    same, recall = agreement(flat, run)
    default = get_retriever("chroma")
    default.index(adi.corpus)
    default_same, default_recall = agreement(flat, default.search(adi.queries, 10))
    print(f"\nadi, chroma vs dense flat: search_ef=500 identical top-10 {same:.2%}, recall@10 {recall:.2%}; "
          f"default search_ef=100 identical {default_same:.2%}, recall@10 {default_recall:.2%}")
    assert same >= 0.99 and recall >= 0.99, f"search_ef=500: identical {same:.2%}, recall@10 {recall:.2%}"
    assert default_recall >= 0.97, f"default search_ef: recall@10 vs flat {default_recall:.2%} (measured 100%)"
    rows = [r for r in range(len(adi.queries)) if run.indices[r].tolist() == flat.indices[r].tolist()]
    np.testing.assert_allclose(run.scores[rows], 2 * flat.scores[rows] - 2, atol=2e-5)
    assert (np.diff(run.scores, axis=1) <= 0).all()  # best first
    assert run.meta["chroma"]["hnsw"]["ef_search"] == 500 and default.added == 0  # one collection, two efs


@pytest.mark.slow
def test_top10_against_dense_flat_on_cosqa(shared, tmp_path, monkeypatch):
    """cosqa (6,267 functions): HNSW at Chroma's default search_ef is approximate, recall@10 vs flat is
    reported; at search_ef=500 it is >= 99% identical."""
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    cosqa = load_dataset(str(shared / "cosqa"))
    dense = get_retriever("dense")
    dense.index(cosqa.corpus)
    reference = dense.search(cosqa.queries, 10)
    figures = {}
    for ef in (100, 500):
        chroma = get_retriever(f"chroma:search_ef={ef}")
        chroma.index(cosqa.corpus)
        figures[ef] = agreement(reference, chroma.search(cosqa.queries, 10))
    print(f"\ncosqa, chroma vs dense flat (identical top-10, recall@10): {figures}")
    assert figures[100][1] >= 0.995, f"default search_ef: recall@10 vs flat {figures[100][1]:.2%} (measured 99.98%)"
    assert figures[500][0] >= 0.99 and figures[500][1] >= 0.99, f"search_ef=500: {figures[500]}"


def test_dense_index_chroma_is_the_chroma_retriever(adi, flat, cache):
    """dense:index=chroma runs the chroma code: the same collection (nothing added the second time), the
    same run; its hnsw options map to Chroma's only when given."""
    chroma = get_retriever("chroma")
    chroma.index(adi.corpus)
    dense = get_retriever("dense:index=chroma")
    dense.index(adi.corpus)
    assert dense.chroma.added == 0 and dense.chroma.encoder is dense.encoder
    run, own = dense.search(adi.queries, 10), chroma.search(adi.queries, 10)
    np.testing.assert_array_equal(run.indices, own.indices)
    assert agreement(flat, run)[1] >= 0.99
    assert dense.config()["index"] == "chroma" and dense.config()["search_ef"] == 100  # Chroma's, not dense's 128
    tuned = get_retriever("dense:index=chroma,ef_search=60,hnsw_m=8")
    assert (tuned.chroma.hnsw["ef_search"], tuned.chroma.hnsw["max_neighbors"]) == (60, 8)
    assert tuned.chroma.hnsw["ef_construction"] == 100


# 2. the collection is found again; search_ef is no rebuild

def test_second_run_adds_nothing_and_index_settings_name_the_collection(adi, cache):
    first = get_retriever("chroma")
    first.index(adi.corpus)
    assert first.added == len(adi.corpus)
    second = get_retriever("chroma")
    second.index(adi.corpus)
    assert second.added == 0 and second.encoder.calls == 0
    assert second.meta["collection"] == first.meta["collection"] and second.meta["reused"]
    other_ef = get_retriever("chroma:search_ef=42")
    other_ef.index(adi.corpus)
    assert other_ef.added == 0 and other_ef.meta["collection"] == first.meta["collection"]
    for spec in ("chroma:M=8", "chroma:construction_ef=50", "chroma:space=cosine", "chroma:doc_prefix=doc: "):
        rebuilt = get_retriever(spec)
        rebuilt.index(adi.corpus)
        assert rebuilt.added == len(adi.corpus) and rebuilt.meta["collection"] != first.meta["collection"], spec
    names = {c.name for c in client_on(cache / "chroma").list_collections()}
    assert first.meta["collection"] in names and not any("partial" in n for n in names)


RANDOM = """
import numpy as np
from rageval import Corpus
rng = np.random.default_rng(0)
docs, queries = rng.standard_normal((3000, 32)).astype(np.float32), rng.standard_normal((200, 32)).astype(np.float32)
corpus = Corpus(ids=[f"d{i:04d}" for i in range(3000)], texts=[""] * 3000, fields=("text",))
exact = np.argsort(((queries[:, None, :] - docs[None, :, :]) ** 2).sum(-1), axis=1)[:, :10]
"""  # 3,000 random vectors: an HNSW graph where search_ef=10 misses many true neighbours
RANDOM_DATA: dict = {}
exec(RANDOM, RANDOM_DATA)  # the same data here and in the subprocess below
docs, queries, corpus, exact = (RANDOM_DATA[name] for name in ("docs", "queries", "corpus", "exact"))


def test_the_next_process_finds_the_collection_and_gets_the_same_results(tmp_path, monkeypatch):
    """A new process adds nothing and returns the very run: every add() was written to disk whole (what
    Chroma leaves in its log it inserts again, in parallel, whenever a process loads the index: another
    graph each time)."""
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    here = get_retriever("chroma:search_ef=10,add_batch=700")
    here.index_vectors(corpus, docs)
    expected = here.search_vectors([f"q{i}" for i in range(200)], queries, 10).indices
    script = RANDOM + textwrap.dedent(f"""
        from rageval import get_retriever
        chroma = get_retriever("chroma:search_ef=10,add_batch=700")
        chroma.index_vectors(corpus, docs)
        run = chroma.search_vectors([f"q{{i}}" for i in range(200)], queries, 10)
        np.save({str(tmp_path / "indices.npy")!r}, run.indices)
        print("added", chroma.added)
    """)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "added 0" in done.stdout
        np.testing.assert_array_equal(np.load(tmp_path / "indices.npy"), expected)


def test_search_ef_takes_effect_in_the_same_process_without_a_rebuild(tmp_path, monkeypatch):
    """Chroma reads ef_search only when it loads an index: a second search_ef on a collection this process
    already holds must reload it. Random vectors, where ef_search=10 misses many true neighbours."""
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))

    def recall(spec: str, added: int = 0) -> tuple[float, np.ndarray]:
        chroma = get_retriever(spec)
        chroma.index_vectors(corpus, docs)
        run = chroma.search_vectors([f"q{i}" for i in range(200)], queries, 10)
        assert chroma.added == added and chroma.meta["hnsw"]["ef_search"] == chroma.hnsw["ef_search"]
        return float(np.mean([len(set(exact[r]) & set(run.indices[r])) / 10 for r in range(200)])), run.indices

    narrow, first = recall("chroma:search_ef=10", added=len(corpus))
    wide, _ = recall("chroma:search_ef=400")
    again, second = recall("chroma:search_ef=10")
    assert narrow < 0.9 and wide > 0.99, (narrow, wide)
    np.testing.assert_array_equal(first, second)  # the same graph, searched with the same ef again
    assert again == narrow


# 3. --chroma: the published chunking evaluation's collection settings

def write_docs(root: Path) -> Path:
    """A docs: folder of two documents and a questions CSV in the chunking evaluation's layout."""
    root.mkdir()
    (root / "apples.md").write_text("Apples are red or green. They grow on trees in orchards. " * 6, encoding="utf-8")
    (root / "cars.md").write_text("Fast cars need good brakes. Electric cars are quiet on the road. " * 6,
                                  encoding="utf-8")
    (root / "questions.csv").write_text(
        'question,references,corpus_id\n'
        '"Where do apples grow?","[{""content"": ""They grow on trees in orchards."", ""start_index"": 25, '
        '""end_index"": 56}]",apples\n'
        '"What do fast cars need?","[{""content"": ""Fast cars need good brakes."", ""start_index"": 0, '
        '""end_index"": 27}]",cars\n', encoding="utf-8")
    return root


def test_chroma_flag_builds_collections_with_the_published_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    docs = write_docs(tmp_path / "docs")
    common = ["--dataset", f"docs:{docs}", "--chunker", "recursive:size=60,unit=chars", "--k", "3",
              "--retriever", "chroma", "--retriever", "dense:index=chroma", "--retriever", "chroma:search_ef=70"]
    code, err = run_cli(capsys, *common, "--chroma", "--out", str(tmp_path / "published"))
    assert code == 0, err
    settings = {}
    for spec in ("chroma", "dense:index=chroma", "chroma:search_ef=70"):
        record = read_metrics(pair_folder(tmp_path / "published", "docs.test", spec, "recursive:size=60,unit=chars")
                              / "metrics.json")
        settings[spec] = record.run_meta["chroma"]["hnsw"]
    assert settings["chroma"] == settings["dense:index=chroma"] == {"space": "l2", "ef_construction": 100,
                                                                    "ef_search": 50, "max_neighbors": 16}
    assert settings["chroma:search_ef=70"]["ef_search"] == 70  # what the spec sets stays
    with client_on(tmp_path / "cache" / "chroma") as client:  # closed: rageval reloads the index for ef 100 below
        (built,) = client.list_collections()  # one collection of the chunks for the three specs
        assert built.count() > 2 and built.configuration_json["hnsw"]["space"] == "l2"
    code, err = run_cli(capsys, *common[:-2], "--out", str(tmp_path / "plain"))
    assert code == 0, err
    record = read_metrics(pair_folder(tmp_path / "plain", "docs.test", "chroma", "recursive:size=60,unit=chars")
                          / "metrics.json")
    assert record.run_meta["chroma"]["hnsw"]["ef_search"] == 100 and record.run_meta["chroma"]["added"] == 0


def test_chunking_evaluation_defaults_leave_existing_collections_and_faiss_alone():
    chroma = chroma_module.Chroma
    assert chroma.chunking_evaluation_defaults({}) == {"search_ef": 50, "space": "l2", "add_batch": 500}
    assert chroma.chunking_evaluation_defaults({"collection": "mine"}) == {}
    dense = get_retriever("dense").__class__
    assert dense.chunking_evaluation_defaults({"index": "chroma"}) == {"ef_search": 50}
    assert dense.chunking_evaluation_defaults({"index": "hnsw"}) == {}


# 4. existing collections, read only

def own_vectors(adi, cache) -> np.ndarray:
    return np.asarray(get_retriever("dense").encode_corpus(adi.corpus))


def test_existing_persistent_collection_is_evaluated_as_it_is(adi, flat, cache, tmp_path):
    folder = tmp_path / "theirs"
    client = client_on(folder)
    theirs = client.create_collection("docs-v1", configuration={"hnsw": {"space": "cosine", "ef_search": 200}})
    theirs.add(ids=adi.corpus.ids, embeddings=own_vectors(adi, cache))
    chroma = get_retriever(f"chroma:path={folder},collection=docs-v1")
    chroma.index(adi.corpus)
    run = chroma.search(adi.queries, 10)
    assert agreement(flat, run)[0] >= 0.99
    rows = [r for r in range(len(adi.queries)) if run.indices[r].tolist() == flat.indices[r].tolist()]
    np.testing.assert_allclose(run.scores[rows], flat.scores[rows] - 1, atol=2e-5)  # cosine: -(1 - cos)
    assert chroma.config()["hnsw"]["ef_search"] == 200 and "search_ef" not in chroma.config()
    again = client_on(folder)
    assert [c.name for c in again.list_collections()] == ["docs-v1"]  # nothing added, renamed or created
    assert again.get_collection("docs-v1").configuration_json["hnsw"]["ef_search"] == 200
    assert not (cache / "chroma").exists()  # and nothing built in the cache


def test_existing_collection_embeds_queries_with_its_own_function(adi, flat, cache, tmp_path, bundled_model):
    """embedding=chroma on an existing collection: the embedding function it records (here Chroma's
    sentence-transformers one, with the bundled model), as Chroma itself would embed the queries."""
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    folder = tmp_path / "theirs"
    client = client_on(folder)
    function = SentenceTransformerEmbeddingFunction(model_name=str(bundled_model))
    theirs = client.create_collection("texts", embedding_function=function, configuration={"hnsw": {"space": "cosine"}})
    theirs.add(ids=adi.corpus.ids, documents=list(adi.corpus.contents()))
    chroma = get_retriever(f"chroma:path={folder},collection=texts,embedding=chroma")
    chroma.index(adi.corpus)
    assert agreement(flat, chroma.search(adi.queries, 10))[0] >= 0.99
    assert chroma.config()["embedding_function"]["name"] == "sentence_transformer"


@pytest.fixture()
def chroma_server(tmp_path):
    """A real Chroma server (``chroma run``) on a free local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(tmp_path / "server"),
               "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("chroma run did not start")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_existing_collection_on_a_server(adi, flat, cache, chroma_server):
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server)
    theirs = client.create_collection("served")
    theirs.add(ids=adi.corpus.ids, embeddings=own_vectors(adi, cache))
    chroma = get_retriever(f"chroma:host=127.0.0.1,port={chroma_server},collection=served")
    chroma.index(adi.corpus)
    assert agreement(flat, chroma.search(adi.queries, 10))[0] >= 0.99
    assert [c.name for c in client.list_collections()] == ["served"] and client.get_collection("served").count() == 82


def test_embedding_chroma_builds_with_chromas_default_function(adi, flat, cache, tmp_path, monkeypatch, bundled_model):
    """embedding=chroma: the collection embeds the texts with Chroma's default function (ONNX MiniLM). Its
    model is made here from the bundled one (rageval's ONNX export), where Chroma would download it."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    from rageval.retrieval.encoder import Encoder
    from rageval.retrieval.onnx_encoder import onnx_model

    pytest.importorskip("onnx")
    encoder = Encoder(backend="onnx")
    model_folder = tmp_path / "chroma-home" / "all-MiniLM-L6-v2" / "onnx"
    model_folder.mkdir(parents=True)
    shutil.copy(onnx_model(encoder.model, encoder.path, encoder.identity, "onnx"), model_folder / "model.onnx")
    for name in ("config.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt"):
        shutil.copy(bundled_model / name, model_folder / name)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", model_folder.parent)
    chroma = get_retriever("chroma:embedding=chroma")
    chroma.index(adi.corpus)
    assert chroma.added == len(adi.corpus)
    assert agreement(flat, chroma.search(adi.queries, 10))[0] >= 0.99
    assert chroma.config()["embedding_function"] == "default" and "backend" not in chroma.config()


# 5. bad input: the command line, a message naming what is wrong

def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host_is_an_error_within_the_timeout(shared, capsys, cache):
    port = free_port()
    start = time.monotonic()
    code, err = run_cli(capsys, "--dataset", str(shared / "adi"), "--out", str(cache / "out"),
                        "--retriever", f"chroma:host=127.0.0.1,port={port},collection=docs,timeout=2")
    assert code == 2 and time.monotonic() - start < 30
    assert f"rageval: error: chroma: no Chroma server answers at http://127.0.0.1:{port} within 2 s" in err
    assert not (cache / "out").exists()


def test_a_server_that_is_not_chroma_is_an_error(shared, capsys, cache, chat_server):
    port = chat_server.httpd.server_address[1]
    code, err = run_cli(capsys, "--dataset", str(shared / "adi"), "--out", str(cache / "out"),
                        "--retriever", f"chroma:host=127.0.0.1,port={port},collection=docs,timeout=5")
    assert code == 2 and f"chroma: the server at http://127.0.0.1:{port} did not answer as Chroma does" in err


@pytest.mark.parametrize("spec, message", [
    ("chroma:path={missing},collection=docs", "{missing}: chroma path=: no such folder"),
    ("chroma:path={empty},collection=docs", "{empty}: chroma path=: not a Chroma persistent folder (no chroma.sqlite3"),
    ("chroma:path={theirs},collection=nope", "chroma: no collection 'nope' at {theirs} (it has: mine)"),
    ("chroma:path={theirs}", "path= and host= name an existing Chroma deployment: give collection=NAME"),
    ("chroma:collection=mine", "collection= needs where the collection is: path=FOLDER"),
    ("chroma:path={theirs},collection=mine,search_ef=50", "search_ef cannot be set"),
    ("chroma:host=http://localhost,collection=mine", "host= takes a host name or address, got 'http://localhost'"),
    ("chroma:M=1", "chroma: M must be at least 2, got 1"),
    ("chroma:embedding=chroma,model=default", "model set rageval's encoder, and embedding=chroma embeds with"),
])
def test_bad_specs_stop_before_any_dataset_is_read(spec, message, shared, tmp_path, capsys, cache):
    (tmp_path / "empty").mkdir()
    client = client_on(tmp_path / "theirs")
    client.create_collection("mine").add(ids=["x"], embeddings=[[0.0] * 384])
    places = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "theirs": tmp_path / "theirs"}
    code, err = run_cli(capsys, "--dataset", str(shared / "adi"), "--out", str(tmp_path / "out"),
                        "--retriever", spec.format(**places))
    assert code == 2 and "rageval: error: " in err and message.format(**places) in err, err
    assert not (tmp_path / "out").exists()


def test_embedding_chroma_without_its_model_says_it_needs_a_download(tmp_path, monkeypatch, capsys, cache, shared):
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", tmp_path / "nothing-here")
    code, err = run_cli(capsys, "--dataset", str(shared / "adi"), "--out", str(tmp_path / "out"),
                        "--retriever", "chroma:embedding=chroma")
    assert code == 2
    assert "Chroma's default embedding function (ONNX all-MiniLM-L6-v2), whose model is not on this machine" in err
    assert "chroma-onnx-models.s3.amazonaws.com" in err and "rageval does not download" in err
    assert not (tmp_path / "nothing-here").exists()  # no attempt was made


@pytest.mark.parametrize("ids, vectors, message", [
    (["1", "2", "stray-a", "stray-b"], 384,
     "holds 2 of its 4 ids that are not corpus ids (e.g. 'stray-a', 'stray-b'), and lacks 80 of the corpus's 82"),
    (["1", "2"], 8, "holds 8-dim vectors and model"),
])
def test_collection_that_does_not_match_the_corpus_fails_its_pair(ids, vectors, message, shared, tmp_path, capsys,
                                                                  cache):
    """Checked against the corpus, so after the dataset is loaded: the pair fails (exit 1) with the message,
    and nothing is scored."""
    client = client_on(tmp_path / "theirs")
    client.create_collection("mine").add(ids=ids, embeddings=np.ones((len(ids), vectors), dtype=np.float32))
    code, err = run_cli(capsys, "--dataset", str(shared / "adi"), "--out", str(tmp_path / "out"),
                        "--retriever", f"chroma:path={tmp_path / 'theirs'},collection=mine")
    assert code == 1 and message in err, err
    assert not (pair_folder(tmp_path / "out", "adi", f"chroma:path={tmp_path / 'theirs'},collection=mine")
                / "metrics.json").exists()
    assert client.get_collection("mine").count() == len(ids)


def test_chroma_flag_without_span_measures_warns_only_when_no_retriever_takes_its_settings(tmp_path, caplog):
    """--chroma has no effect on bm25 without span measures (a warning), but it sets chroma:'s HNSW settings."""
    from rageval.running.benchmark import _warn_without_spans, chunking_evaluation_spec
    from rageval import registry
    from rageval.metrics import parse_measures

    measures = parse_measures(["nDCG@10"])
    bm25, chroma = registry.resolve("retrievers", "bm25"), registry.resolve("retrievers", "chroma")
    assert chunking_evaluation_spec(bm25) == bm25 and chunking_evaluation_spec(chroma) != chroma
    with caplog.at_level("WARNING", logger="rageval"):
        _warn_without_spans(measures, "regex", True, [bm25])
    assert "--chroma has no effect" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="rageval"):
        _warn_without_spans(measures, "regex", True, [bm25, chroma])
    assert "--chroma" not in caplog.text
