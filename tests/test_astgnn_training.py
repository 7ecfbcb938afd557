"""AST-GNN training: bm25 hard negatives, the late fusion's dev gate (never below the text branch on
dev), determinism on a small corpus, and an interrupted training that resumes from its last epoch."""
from __future__ import annotations

import io

import numpy as np
import pytest

from conftest import stdlib_pairs, train_dev
from rageval import registry
from rageval.data.model import Corpus, Dataset, Queries
from rageval.retrievers import astgnn as astgnn_module
from rageval.retrievers.astgnn_training import mine_bm25_negatives

SPEC = "astgnn:epochs=3,batch_size=16,hidden=32"


@pytest.fixture(scope="module")
def splits() -> tuple[Dataset, Dataset]:
    return train_dev(stdlib_pairs(80), 60)


def _state_bytes(retriever) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(retriever._model.state_dict(), buffer)
    return buffer.getvalue()


def _dev_mrr(retriever, dev: Dataset) -> float:
    retriever.index(dev.corpus)
    run = retriever.search(dev.queries, 10)
    return float(np.mean([1 / (1 + docs.index(next(iter(dev.qrels[q])))) if next(iter(dev.qrels[q])) in docs else 0.0
                          for q, docs, _ in run.results()]))


def test_hard_negatives_are_the_best_non_relevant_bm25_result():
    corpus = Corpus(ids=["a", "b", "c", "d", "e", "f"],
                    texts=["parse the header line", "parse a header value", "merge sorted intervals",
                           "rotate list items", "open a file", "close the socket"])
    queries = Queries(["q1", "q2"], ["parse header line", "merge intervals"])
    data = Dataset("toy", corpus, queries, {"q1": {"a": 1}, "q2": {"c": 1, "d": 1}}, split="train")
    # by hand: for q1 bm25 ranks a (3 terms) then b (parse, header: 2 of 6 documents, positive idf); for q2
    # only c shares a term, and c and d are relevant: each q2 pair gets a seeded random document outside {c, d}
    negatives = mine_bm25_negatives(data, [(0, 0), (1, 2), (1, 3)], seed=0)
    assert negatives[0] == 1
    assert set(negatives[1:]) <= {0, 1, 4, 5}
    everything = Dataset("toy", corpus, queries, {"q1": {d: 1 for d in corpus.ids}}, split="train")
    assert list(mine_bm25_negatives(everything, [(0, 2)], seed=0)) == [2]  # no negative: the positive, masked


def test_fusion_never_ranks_below_its_text_branch_on_dev(splits):
    train, dev = splits
    fused = registry.create("retrievers", SPEC)
    fused.fit(train, dev)
    info = fused.train_info
    kept = info["dev_mrr_at_10_by_gate"][info["best_epoch"]]
    assert kept[str(info["gate"])] == max(kept.values()) >= kept["0.0"]
    assert info["dev_mrr_at_10"][info["best_epoch"]] == max(info["dev_mrr_at_10"])
    # measured through the index, as a user searches: the fused model, then the same weights with gate 0
    with_gate = _dev_mrr(fused, dev)
    assert with_gate == pytest.approx(kept[str(info["gate"])], abs=5e-5)
    fused._model.gate.fill_(0.0)
    assert with_gate >= _dev_mrr(fused, dev) - 1e-9


def test_structure_only_and_projection_only_ablations(splits):
    train, dev = splits
    full = registry.create("retrievers", SPEC)
    full.fit(train, dev)
    structure = registry.create("retrievers", SPEC + ",gate=1")
    structure.fit(train, dev)  # the same trained weights (from the cache), searched at gate 1
    assert structure.train_info["gate"] == 1.0 and structure.train_info["dev_gate"] == full.train_info["gate"]
    kept = full.train_info["dev_mrr_at_10_by_gate"][full.train_info["best_epoch"]]
    assert _dev_mrr(structure, dev) == pytest.approx(kept["1.0"], abs=5e-5)  # the structure branch alone
    projections = registry.create("retrievers", "astgnn:graph=false,epochs=2,batch_size=16")
    projections.fit(train, dev)
    assert projections.train_info["gate"] == 0.0 and not hasattr(projections._model, "convs")


def test_training_on_a_small_corpus_is_deterministic(splits, tmp_path, monkeypatch):
    train, dev = splits
    first = registry.create("retrievers", SPEC + ",negatives=bm25")
    first.fit(train, dev)
    assert first.train_info["negatives"] == "bm25"
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "other-cache"))  # no cached model: train again
    second = registry.create("retrievers", SPEC + ",negatives=bm25")
    second.fit(train, dev)
    assert _state_bytes(first) == _state_bytes(second)
    assert first.train_info["loss"] == second.train_info["loss"]
    assert first.train_info["dev_mrr_at_10_by_gate"] == second.train_info["dev_mrr_at_10_by_gate"]


def test_an_interrupted_training_resumes_from_its_last_epoch(splits, tmp_path, monkeypatch):
    train, dev = splits
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "straight"))
    straight = registry.create("retrievers", SPEC)
    straight.fit(train, dev)

    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "interrupted"))
    saves = []
    real_save = astgnn_module.save_progress

    def interrupt_after_two(path, state):  # once: the first training stops after epoch 2
        real_save(path, state)
        saves.append(len(state["losses"]))
        if saves == [1, 2]:
            raise KeyboardInterrupt

    monkeypatch.setattr(astgnn_module, "save_progress", interrupt_after_two)
    interrupted = registry.create("retrievers", SPEC)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(train, dev)
    models = tmp_path / "interrupted" / "models" / "astgnn"
    assert [p.name.endswith(".partial.pt") for p in models.iterdir()] == [True]  # no final model
    resumed = registry.create("retrievers", SPEC)
    resumed.fit(train, dev)
    assert saves == [1, 2, 3] and resumed.train_info["resumed_from_epoch"] == 2
    assert _state_bytes(resumed) == _state_bytes(straight)
    assert resumed.train_info["loss"] == straight.train_info["loss"]
    assert [p.name.endswith(".partial.pt") for p in models.iterdir()] == [False]  # the final model alone
