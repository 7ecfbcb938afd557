"""The dense retriever with the real bundled model: exact flat search, the embedding cache, bad input."""
from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from rageval import Corpus, Queries, RagevalError, get_retriever, load_dataset
from rageval.retrieval.encoder import Encoder, default_model_path

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def adi(shared):
    return load_dataset(str(shared / "adi"))


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_flat_index_is_the_exact_top_k_of_a_dot_product(adi, fresh_cache):
    dense = get_retriever("dense:block_size=16")  # several blocks through the memmap
    dense.index(adi.corpus)
    run = dense.search(adi.queries, 10)
    q = dense.encoder.encode(adi.queries.texts)
    scores = q @ np.asarray(dense.vectors).T
    tie_rank = adi.corpus.id_ranks()
    for row in range(len(adi.queries)):
        expected = np.lexsort((-tie_rank, -scores[row]))[:10]  # score descending, then doc id descending
        assert run.indices[row].tolist() == expected.tolist()
        np.testing.assert_allclose(run.scores[row], scores[row, expected], atol=1e-5)
    one_block = Encoder().encode(adi.corpus.contents())
    np.testing.assert_allclose(np.asarray(dense.vectors), one_block, atol=1e-5)


def test_second_run_encodes_nothing_and_changes_invalidate(adi, fresh_cache, tmp_path):
    first = get_retriever("dense")
    first.index(adi.corpus)
    assert first.encoder.calls == len(adi.corpus)
    second = get_retriever("dense")
    second.index(adi.corpus)
    assert second.encoder.calls == 0
    np.testing.assert_array_equal(np.asarray(first.vectors), np.asarray(second.vectors))
    # a changed corpus, prefix or model never reuses stale vectors
    changed = Corpus(ids=adi.corpus.ids, texts=[t + " x" for t in adi.corpus.texts], titles=adi.corpus.titles)
    third = get_retriever("dense")
    third.index(changed)
    assert third.encoder.calls == len(adi.corpus)
    prefixed = get_retriever("dense:doc_prefix=passage: ")
    prefixed.index(adi.corpus)
    assert prefixed.encoder.calls == len(adi.corpus)
    model = tmp_path / "model"
    shutil.copytree(default_model_path(), model)
    copy = get_retriever(f"dense:model={model}")
    copy.index(adi.corpus)
    assert copy.encoder.calls == 0  # same bytes, same identity
    with open(model / "config_sentence_transformers.json", "a") as f:
        f.write("\n")
    edited = get_retriever(f"dense:model={model}")
    edited.index(adi.corpus)
    assert edited.encoder.calls == len(adi.corpus)


def test_a_cached_file_of_the_wrong_shape_is_recomputed(adi, fresh_cache):
    get_retriever("dense").index(adi.corpus)
    (cached,) = (fresh_cache / "embeddings").glob("*.f32")
    with open(cached, "r+b") as f:
        f.truncate(100)
    again = get_retriever("dense")
    again.index(adi.corpus)
    assert again.encoder.calls == len(adi.corpus) and cached.stat().st_size == len(adi.corpus) * 384 * 4


def test_bad_models_fail_fast_with_one_line(tmp_path):
    start = time.perf_counter()
    with pytest.raises(RagevalError, match=r"model .*nowhere: no such folder, and not a hub model in the local cache"):
        get_retriever(f"dense:model={tmp_path / 'nowhere'}")
    with pytest.raises(RagevalError, match=r"model someone/not-a-model: no such folder"):
        get_retriever("dense:model=someone/not-a-model")
    assert time.perf_counter() - start < 5
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(RagevalError, match=r"junk: not a sentence-transformers model folder"):
        get_retriever(f"dense:model={tmp_path / 'junk'}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(RagevalError, match=r"broken: could not be loaded as a sentence-transformers model"):
        get_retriever(f"dense:model={tmp_path / 'broken'}").encoder.encode(["x"])


def test_empty_texts_and_tiny_corpora(fresh_cache):
    corpus = Corpus(ids=["a", "b"], texts=["", "some text"])
    dense = get_retriever("dense:index=hnsw")
    dense.index(corpus)
    run = dense.search(Queries(["q", "e"], ["text", ""]), 5)
    assert run.indices.shape == (2, 5) and run.indices[0, :2].tolist() == [1, 0] and run.indices[0, 2] == -1


@pytest.mark.slow
def test_hnsw_recall_against_flat_on_cosqa(shared):
    ds = load_dataset(str(shared / "cosqa"), "test")
    flat = get_retriever("dense")
    flat.index(ds.corpus)
    hnsw = get_retriever("dense:index=hnsw")
    hnsw.index(ds.corpus)
    assert hnsw.encoder.calls == 0
    q = flat.encode_texts(ds.queries.texts)
    exact = flat.search_vectors(ds.queries.ids, q, 10).indices
    approx = hnsw.search_vectors(ds.queries.ids, q, 10).indices
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.99
    ivf = get_retriever("dense:index=ivf,nprobe=32")
    ivf.index(ds.corpus)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ivf.search_vectors(ds.queries.ids, q, 10).indices,
                                                            exact)]) >= 0.9


@pytest.mark.parametrize("index", ["flat", "hnsw", "ivf"])
def test_the_faiss_index_is_reused_from_the_cache(adi, fresh_cache, index):
    from rageval.store.index_cache import cached_index

    spec = f"dense:index={index}" + (",nlist=4" if index == "ivf" else "")
    first = get_retriever(spec)
    assert cached_index(first, adi.corpus)[0] is False and first.encoder.calls == len(adi.corpus)  # built
    second = get_retriever(spec)
    from_cache, size = cached_index(second, adi.corpus)
    assert from_cache and size > 0 and second.encoder.calls == 0  # no encoding, no index build
    run_first, run_second = first.search(adi.queries, 10), second.search(adi.queries, 10)
    np.testing.assert_array_equal(run_first.indices, run_second.indices)
    np.testing.assert_array_equal(run_first.scores, run_second.scores)
    np.testing.assert_allclose(second.document_vectors(), first.document_vectors(), rtol=0, atol=1e-6)


def test_normalize_is_part_of_the_embedding_cache_key(fresh_cache, bundled_model, tmp_path):
    # the bundled model ends in a Normalize module: without it, normalize=False gives raw mean-pooled vectors
    model = tmp_path / "unnormalised"
    model.mkdir()
    for item in bundled_model.iterdir():
        if item.is_dir():
            shutil.copytree(item, model / item.name)
        elif item.name != "modules.json":
            (model / item.name).symlink_to(item)
    modules = json.loads((bundled_model / "modules.json").read_text())
    (model / "modules.json").write_text(json.dumps([m for m in modules if not m["type"].endswith(".Normalize")]))
    corpus = Corpus(ids=["a", "b", "c"], texts=["red apples", "a pear is not an apple", "fast cars"])
    unit = np.asarray(Encoder(str(model), normalize=True).corpus_embeddings(corpus))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    raw_encoder = Encoder(str(model), normalize=False)
    raw = np.asarray(raw_encoder.corpus_embeddings(corpus))
    assert raw_encoder.calls == len(corpus)  # encoded again, not the normalised file from the cache
    norms = np.linalg.norm(raw, axis=1)
    assert np.all(np.abs(norms - 1.0) > 1e-3)
    np.testing.assert_allclose(raw / norms[:, None], unit, atol=1e-5)  # the same directions, unscaled
    assert len(list((fresh_cache / "embeddings").glob("*.f32"))) == 2
