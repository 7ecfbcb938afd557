"""AST-GNN: graphs of real snippets, the fusion's starting point, seeded training, checkpoints,
the training split the runner picks, and the embedding diagnostics."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import stdlib_pairs, train_dev, write_beir

from rageval import load_dataset, registry
from rageval.data.model import Corpus, Dataset
from rageval.retrieval.diagnostics import diagnostics
from rageval.errors import RagevalError, SpecError
from rageval.running.benchmark import benchmark as run
from rageval.data.training import TrainingData
from rageval.retrievers.ast_graph import code_graph

ADD = "def add(a, b):\n    total = a + b\n    return total\n"


def test_python_graph_counts_and_collapsing():
    g = code_graph(ADD, "python")
    # module -> function_definition (collapsed: one named child); expression_statement -> assignment and
    # return_statement -> identifier collapse too: 12 nodes, 11 parent-child + 6 sibling edges, both ways
    assert g.n_nodes == 12 and g.edges.shape == (2, 34)
    assert g.children.tolist() == [3, 0, 2, 2, 0, 0, 2, 0, 0, 2, 0, 0]
    assert not g.parse_error and not g.text_only and not g.capped
    assert len(g.tokens) == 7 and sorted(set(g.token_nodes.tolist())) == [1, 4, 5, 7, 8, 10, 11]
    pairs = set(zip(*g.edges.tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    assert code_graph(ADD, "python").node_types.tolist() == g.node_types.tolist()  # stable hashing


def test_subtokens_split_identifiers():
    one = code_graph("def f():\n    return parseHttpResponse_body\n", "python")
    two = code_graph("def f():\n    return parse_http_response_body\n", "python")
    assert sorted(one.tokens.tolist()) == sorted(two.tokens.tolist()) and len(one.tokens) == 5


def test_cap_keeps_the_upper_tree():
    body = "".join(f"    x{i} = call{i}(a, b + {i})\n" for i in range(50))
    full = code_graph(f"def big(a, b):\n{body}", "python", max_nodes=10_000)
    capped = code_graph(f"def big(a, b):\n{body}", "python", max_nodes=20)
    assert full.n_nodes > 200 and not full.capped
    assert capped.n_nodes == 20 and capped.capped
    assert capped.children[0] == 3  # the function keeps its name, parameters and block
    assert capped.edges.max() < 20


def test_other_languages_errors_and_text_only():
    java = code_graph("class A { int add(int a, int b) { return a + b; } }", "java")
    go = code_graph("package m\nfunc Add(a int, b int) int { return a + b }\n", "go")
    assert java.n_nodes > 5 and go.n_nodes > 5 and not java.parse_error and not go.parse_error
    broken = code_graph("def f(:\n    return 1 +\n", "python")
    assert broken.parse_error and broken.n_nodes > 1
    for g in (code_graph("PROCEDURE DIVISION.", "cobol"), code_graph("   ", "python")):
        assert g.text_only and g.n_nodes == 1 and g.edges.shape == (2, 0)


def test_a_corpus_is_parsed_once_and_its_graphs_reloaded(tmp_path, monkeypatch):
    import rageval.retrievers.ast_graph as ast_graph

    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path))
    corpus = Corpus(ids=["add", "broken", "java", "empty"],
                    texts=[ADD, "def f(:\n    return 1 +\n", "class A { int f() { return 1; } }", " "],
                    metas=[{}, {}, {"language": "java"}, {}], fields=("text",))
    settings = ("python", 20, 4096, 16384, 4)
    first = ast_graph.corpus_graphs(corpus, *settings)
    assert len(list((tmp_path / "graphs").glob("*.npz"))) == 1

    def parse(*args):
        raise AssertionError("parsed again")

    monkeypatch.setattr(ast_graph, "code_graph", parse)
    again = ast_graph.corpus_graphs(corpus, *settings)  # from the cache: nothing parsed
    for a, b in zip(first, again, strict=True):
        for name in ("node_types", "tokens", "token_nodes", "edges", "children"):
            assert getattr(a, name).tolist() == getattr(b, name).tolist()
        assert (a.parse_error, a.text_only, a.capped) == (b.parse_error, b.text_only, b.capped)
    assert [g.parse_error for g in again] == [False, True, False, False]
    assert [g.text_only for g in again] == [False, False, False, True]
    assert again[0].node_types.tolist() == code_graph(ADD, "python", 20).node_types.tolist()
    with pytest.raises(AssertionError, match="parsed again"):  # other settings: another entry
        ast_graph.corpus_graphs(corpus, "python", 21, 4096, 16384, 4)


@pytest.fixture(scope="module")
def mini():
    return stdlib_pairs(60)


def test_dev_split_selects_the_best_epoch():
    both = stdlib_pairs(80)
    train, dev = train_dev(both, 60)
    astgnn = registry.create("retrievers", "astgnn:epochs=3,batch_size=16,hidden=32")
    astgnn.fit(train, dev)
    info = astgnn.train_info
    assert len(info["dev_mrr_at_10"]) == 4 and info["dev"] == "mini.dev"
    assert info["dev_mrr_at_10"][info["best_epoch"]] == max(info["dev_mrr_at_10"])
    astgnn.index(both.corpus)
    run = astgnn.search(dev.queries, 10)
    mrr = np.mean([1 / (1 + docs.index(next(iter(dev.qrels[q])))) if next(iter(dev.qrels[q])) in docs else 0.0
                   for q, docs, _ in run.results()])
    assert mrr == pytest.approx(max(info["dev_mrr_at_10"]), abs=5e-5)  # kept rounded to 4 places


def test_untrained_fusion_ranks_as_dense(mini):
    astgnn = registry.create("retrievers", "astgnn")
    astgnn._model = astgnn._build()
    astgnn._model.eval()
    astgnn.index(mini.corpus)
    dense = registry.create("retrievers", "dense")
    dense.index(mini.corpus)
    a, b = astgnn.search(mini.queries, 5), dense.search(mini.queries, 5)
    assert np.array_equal(a.indices, b.indices) and np.allclose(a.scores, b.scores, atol=1e-5)


def test_training_is_seeded_and_checkpoints_round_trip(mini, tmp_path, monkeypatch):
    import torch

    spec = "astgnn:epochs=3,batch_size=16,hidden=32"
    first = registry.create("retrievers", spec)
    first.fit(mini)
    info = first.train_info
    # no dev split: 10% of the 60 training queries (6) are held out to select on
    assert info["pairs"] == 54 and info["dev"] == "mini.dev" and len(info["dev_mrr_at_10"]) == 4
    assert info["epochs"] == 3 and info["loss"][-1] < info["loss"][0]
    assert 54 <= info["graphs"]["documents"] <= 60  # the distinct positives and bm25 negatives, in a 60-document corpus
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "other-cache"))  # no cached model: train again
    second = registry.create("retrievers", spec)
    second.fit(mini)
    for (name, x), (_, y) in zip(first._model.state_dict().items(), second._model.state_dict().items()):
        assert torch.equal(x, y), name
    path = tmp_path / "m.pt"
    first.save_checkpoint(path)
    loaded = registry.create("retrievers", f"astgnn:checkpoint={path}")
    assert not loaded.needs_fit() and loaded.params["hidden"] == 32
    first.index(mini.corpus)
    loaded.index(mini.corpus)
    assert np.allclose(first.document_vectors(), loaded.document_vectors())
    assert np.allclose(first.query_vectors(mini.queries), loaded.query_vectors(mini.queries))
    with pytest.raises(RagevalError, match=r"does not match the requested options: hidden=32 in the checkpoint, "
                                           r"hidden=64 asked"):
        registry.create("retrievers", f"astgnn:checkpoint={path},hidden=64")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(RagevalError, match="not an astgnn checkpoint"):
        registry.create("retrievers", f"astgnn:checkpoint={bad}")
    with pytest.raises(RagevalError, match="no such file"):
        registry.create("retrievers", f"astgnn:checkpoint={tmp_path / 'missing.pt'}")


def test_projection_only_ablation(mini):
    ablation = registry.create("retrievers", "astgnn:graph=false,epochs=2,batch_size=16")
    ablation.fit(mini)
    assert ablation.train_info["graphs"] == {} and not hasattr(ablation._model, "convs")


def test_fit_needs_a_train_split(mini, tmp_path):
    test_split = Dataset("mini", mini.corpus, mini.queries, mini.qrels, split="test")
    with pytest.raises(RagevalError, match="trains on a train split; mini.test is the 'test' split"):
        registry.create("retrievers", "astgnn").fit(test_split)
    with pytest.raises(RagevalError, match="has no model"):
        registry.create("retrievers", "astgnn").index(mini.corpus)
    only_test = write_beir(tmp_path / "only-test")
    with_train = write_beir(tmp_path / "with-train", ['{"_id": "x1", "text": "def area(r): return 3.14 * r * r"}'],
                            ['{"_id": "p1", "text": "area of a circle"}'], "query-id\tcorpus-id\tscore\np1\tx1\t1\n",
                            split="train")
    retriever = registry.create("retrievers", f"astgnn:train={only_test}")
    with pytest.raises(RagevalError, match=r"cannot train on .*only-test: it has no train split"):
        TrainingData(str(only_test)).splits(retriever)
    retriever = registry.create("retrievers", "astgnn")
    retriever.default_train = str(with_train)
    assert TrainingData(str(only_test)).splits(retriever)[0].split == "train"


def _mini_beir(tmp_path):
    """40 stdlib functions and their docstring queries: 30 to train on, 10 to test."""
    full = load_dataset("code:stdlib", "train")
    lines, train, test = [], [], []
    for i, q in enumerate(full.queries.ids[:40]):
        d = next(iter(full.qrels[q]))
        lines.append(json.dumps({"_id": d, "text": full.corpus.get(d).text}))
        (train if i < 30 else test).append((q, d, full.queries.texts[i]))
    queries = [json.dumps({"_id": q, "text": t}) for q, _, t in train + test]
    root = write_beir(tmp_path / "code", lines, queries,
                      "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d, _ in train), split="train")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d, _ in test))
    return root


def test_runner_trains_then_evaluates(tmp_path):
    root = _mini_beir(tmp_path)
    [outcome] = run([str(root)], ["astgnn:epochs=2,batch_size=8,hidden=32"], split="test", out=tmp_path / "runs")
    assert outcome.error is None and "fit_s" in outcome.timings
    metrics = json.loads(next((tmp_path / "runs").glob("*/*/metrics.json")).read_text())
    assert metrics["run_meta"]["astgnn"]["train"]["pairs"] == 27  # 3 of 30 held out to select on
    assert set(metrics["run_meta"]["embedding_diagnostics"]) == {"n_queries", "alignment", "angular_margin",
                                                                 "uniformity"}


def test_diagnostics_by_hand():
    corpus = Corpus(ids=["a", "b", "c"], texts=["", "", ""])
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    queries = np.array([[2.0, 0.0], [1.0, 1.0]])  # q1 at 0 degrees, q2 at 45 degrees
    out = diagnostics(["q1", "q2"], queries, corpus, docs, {"q1": {"a": 1}, "q2": {"b": 2, "c": 0}})
    # alignment: q1-a = 0; q2-b = |(.707, -.293)|^2 = 2 - 2 cos 45
    assert out["alignment"] == pytest.approx((0 + (2 - 2 * np.cos(np.pi / 4))) / 2)
    # margins: q1: nearest non-relevant b at 90 - 0; q2: nearest non-relevant a at 45 - b at 45 = 0
    assert out["angular_margin"] == pytest.approx(45.0) and out["n_queries"] == 2
    sq = [2.0, 4.0, 2.0]  # |a-b|^2, |a-c|^2, |b-c|^2
    assert out["uniformity"] == pytest.approx(np.log(np.mean(np.exp(-2 * np.array(sq)))))


def test_declared_options_make_the_model_configuration_its_cache_key_and_checkpoints_hold():
    """The 16 model options (and the search-time gate) are declared with their defaults; the trained
    model's configuration (what its cache key hashes) has the same values as when they were read from
    a dictionary, and only the options a spec sets are checked against a loaded checkpoint."""
    text = {"text_model": registry.create("retrievers", "dense").encoder.identity}
    default = {"graph": True, "hidden": 128, "layers": 2, "pool_ratio": 0.5, "max_nodes": 256, "type_buckets": 4096,
               "token_buckets": 16384, "max_subtokens": 4, "dropout": 0.3, "epochs": 10, "batch_size": 128,
               "lr": 1e-4, "graph_lr": 1e-3, "temperature": 0.05, "negatives": "none", "seed": 0}
    plain = registry.create("retrievers", "astgnn")
    declared = inspect.signature(type(plain)).parameters
    assert {k: declared[k].default for k in default} == default
    assert plain._model_config() == {**default, **text} and plain._given == {}
    assert list(plain.config())[-18:] == [*default, "gate", "language"] and declared["gate"].default is None
    spec = registry.create("retrievers", "astgnn:hidden=32,graph=false,lr=0.001,seed=4,max_train_s=5,language=go")
    asked = {"hidden": 32, "graph": False, "lr": 0.001, "seed": 4}
    assert spec._model_config() == {**default, **asked, **text} and spec._given == asked
    assert spec.max_train_s == 5 and spec.config()["language"] == "go"
    for bad in ("hidden=0", "pool_ratio=0", "pool_ratio=1.5", "max_subtokens=-1", "epochs=0", "batch_size=0"):
        with pytest.raises(SpecError, match="sizes must be positive"):
            registry.create("retrievers", f"astgnn:{bad}")
    for bad in ("gate=1.5", "gate=-0.1", "graph=false,gate=0.5"):
        with pytest.raises(SpecError, match="the structure branch's weight is in"):
            registry.create("retrievers", f"astgnn:{bad}")
    registry.create("retrievers", "astgnn:max_subtokens=0,pool_ratio=1")


def test_the_training_budget_is_epochs_and_a_time_cap_is_keyed(mini):
    plain = registry.create("retrievers", "astgnn:epochs=3,batch_size=16,hidden=32")
    capped = registry.create("retrievers", "astgnn:epochs=3,batch_size=16,hidden=32,max_train_s=1e-9")
    assert plain.max_train_s is None
    train = mini
    assert plain._cache_path(train, None) != capped._cache_path(train, None)
    capped.fit(mini)
    assert capped.train_info["epochs"] == 1 and capped.train_info["reproducible"] is False
    plain.fit(mini)
    assert plain.train_info["epochs"] == 3 and plain.train_info["reproducible"] is True


@pytest.mark.slow
def test_two_fresh_processes_train_and_write_identical_run_files(tmp_path):
    """Seeded training: two processes with different hash seeds and empty caches write the same bytes."""
    root = _mini_beir(tmp_path)
    files = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "RAGEVAL_CACHE": str(tmp_path / f"cache{seed}")}
        code = ("import sys; from rageval import benchmark; "
                "benchmark(sys.argv[1], ['astgnn:epochs=2,batch_size=8,hidden=32'], ['nDCG@10'], split='test', "
                "out=sys.argv[2])")
        subprocess.run([sys.executable, "-c", code, str(root), str(tmp_path / f"out{seed}")], env=env, check=True,
                       capture_output=True)
        files.append(next((tmp_path / f"out{seed}").glob("*/*/run.trec")).read_bytes())
    assert files[0] == files[1] and files[0]
