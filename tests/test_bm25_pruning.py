"""The pruned BM25 search (block-max MaxScore) gives the exhaustive search's result exactly, and both
give scipy's product of the decoded weights cut by trec_eval's rule; the compact postings decode to
BM25 by hand; the index cache rebuilds what it cannot trust."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rageval import Corpus, Queries, benchmark, get_retriever, load_dataset
from rageval.retrieval.topk import top_k_sparse
from rageval.retrievers.bm25_index import BM25Index
from rageval.retrievers.bm25_kernel import BLOCK

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_index(rng: np.random.Generator, n_docs: int, n_terms: int, lengths: int, dtype: str, idf: str):
    """An index whose documents come in runs of one length range each (so a term's blocks have
    different bounds, and ties abound within a run), terms drawn from a skewed law (several span
    many blocks, some have no posting at all), built in two batches."""
    runs = []
    while sum(map(len, runs)) < n_docs:
        low = int(rng.integers(1, 4 * lengths + 1))
        runs.append(rng.integers(low, low + lengths, int(rng.integers(20, 300))))
    doc_len = np.concatenate(runs)[:n_docs]
    p = 1.0 / np.arange(1, n_terms + 1)
    ids = rng.choice(n_terms, size=int(doc_len.sum()), p=p / p.sum())
    cut = int(doc_len[: n_docs // 2].sum())
    index = BM25Index(1.2, 0.75, -0.5, idf, np.dtype(dtype))
    index.build(iter([(ids[:cut], doc_len[: n_docs // 2]), (ids[cut:], doc_len[n_docs // 2:])]), lambda: n_terms)
    return index


def reference(index: BM25Index, queries: list[list[int]], weights: list[list[float]], k: int, tie_rank):
    """scipy's Q @ W over the decoded weights (sums in term-id order), cut by ``top_k_sparse``."""
    n_terms, n_docs = index.postings.shape
    rows, cols, vals = [], [], []
    for t in range(n_terms):
        docs, w = index.postings.term(t)
        rows += [t] * len(docs)
        cols += docs.tolist()
        vals += w.tolist()
    W = sp.csr_matrix((vals, (rows, cols)), shape=(n_terms, n_docs))
    lengths = [len(q) for q in queries]
    Q = sp.csr_matrix(([w for ws in weights for w in ws], [t for q in queries for t in q],
                       np.concatenate([[0], np.cumsum(lengths)])), shape=(len(queries), n_terms))
    Q.sum_duplicates()
    S = (Q @ W).tocsr()
    S.sort_indices()
    return top_k_sparse(S.indptr, S.indices, S.data, k, tie_rank)


@SETTINGS
@given(st.integers(1, 700), st.integers(1, 40), st.integers(1, 6), st.integers(1, 30),
       st.sampled_from(["float64", "float32"]), st.sampled_from(["lucene", "okapi"]),
       st.sampled_from(["ones", "positive", "signed"]), st.integers(0, 2**32 - 1))
def test_pruned_search_equals_the_exhaustive_search_and_scipys_product(n_docs, n_terms, lengths, k, dtype, idf,
                                                                       query_weights, seed):
    """Random indexes (tied weights, terms over many blocks, okapi's negative idf floored at a negative
    epsilon), random queries (repeated terms, terms absent from every document, zero and negative
    weights, k beyond the matches): positions and scores identical, bit for bit."""
    rng = np.random.default_rng(seed)
    index = random_index(rng, n_docs, n_terms, lengths, dtype, idf)
    ids = [f"d{i:04d}" for i in range(n_docs)]
    rng.shuffle(ids)
    tie_rank = Corpus(ids=ids, texts=[""] * n_docs).id_ranks()
    queries = [rng.integers(0, n_terms, rng.integers(0, 9)).tolist() for _ in range(30)]
    levels = {"ones": [1.0], "positive": [0.25, 0.5, 1.0, 3.0], "signed": [-1.0, 0.0, 0.5, 1.0, 2.0]}[query_weights]
    weights = [rng.choice(levels, len(q)).tolist() for q in queries]
    want = reference(index, queries, weights, k, tie_rank)
    # the exhaustive loop offering sums from a second pass over the postings (dense 0) and from a scan of the
    # accumulator (dense 2**40); the pruned search as it chooses, on every query past the first phase
    # (small 0), and pruning every query (pays 0)
    for pruning, pays, small, dense in ((False, 6, 4096, 0), (False, 6, 4096, 2**40), (True, 3, 4096, 1),
                                        (True, 3, 0, 0), (True, 0, 4096, 1)):
        index.pays, index.small, index.dense = pays, small, dense
        got = index.search(queries, k, tie_rank, weights, pruning=pruning)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist(), (pruning, pays, dense)


def test_pruning_skips_blocks_and_keeps_the_reference_result_on_a_real_collection(shared):
    """cranfield at several k, every query pruned (pays=0) or where it pays, weighted queries (RM3),
    float32 and float64: identical runs."""
    ds = load_dataset(str(shared / "cranfield"))
    for spec in ("bm25", "bm25:dtype=float32,idf=lucene,k1=0.9,b=0.4"):
        exhaustive, pruned = get_retriever(f"{spec}{',' if ':' in spec else ':'}pruning=false"), get_retriever(spec)
        assert exhaustive.config() == pruned.config()  # the same index: pruning changes the work only
        exhaustive.index(ds.corpus)
        pruned.index(ds.corpus)
        for k, pays, small in ((1, 3, 0), (10, 3, 0), (10, 3, 4096), (1, 0, 0), (10, 0, 0), (1000, 0, 0),
                               (5000, 0, 0)):
            pruned._index.pays, pruned._index.small = pays, small
            a, b = exhaustive.search(ds.queries, k), pruned.search(ds.queries, k)
            assert np.array_equal(a.indices, b.indices) and np.array_equal(a.scores, b.scores)
    rm3 = [get_retriever(f"rewrite:base=bm25:pruning={p},method=rm3") for p in ("false", "true")]
    runs = []
    for r in rm3:
        r.index(ds.corpus)
        runs.append(r.search(ds.queries, 100))
    assert np.array_equal(runs[0].indices, runs[1].indices) and np.array_equal(runs[0].scores, runs[1].scores)


def test_postings_are_compact_blocks_that_decode_to_bm25_by_hand():
    """Three documents (lengths 2, 1, 300): term 0 in documents 0 (twice) and 1, term 1 in document 2 once,
    term 2 in document 2 299 times; k1 = 1.2, b = 0.75, lucene idf, against the formula; widths: gaps of
    one byte, a frequency of 299 - 1 in two."""
    index = BM25Index(1.2, 0.75, 0.25, "lucene", np.float64)
    index.build(iter([(np.array([0, 0, 0] + [1] + [2] * 299), np.array([2, 1, 300]))]), lambda: 3)
    p = index.postings
    avgdl = 303 / 3

    def w(tf, dl, df):
        return math.log(1 + (3 - df + 0.5) / (df + 0.5)) * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    docs, weights = p.term(0)
    assert docs.tolist() == [0, 1] and weights.tolist() == pytest.approx([w(2, 2, 2), w(1, 1, 2)], rel=1e-13)
    assert p.term(2)[1].tolist() == pytest.approx([w(299, 300, 1)], rel=1e-13)
    assert p.df.tolist() == [2, 1, 1] and p.term_blocks.tolist() == [0, 1, 2, 3]
    assert p.blocks[3].tolist() == [1 | 1 << 4, 1 | 1 << 4, 1 | 2 << 4]  # widths: document, frequency << 4
    assert p.data.tolist() == [0, 1, 1, 0, 0, 0, 0, 42, 1]  # documents less the first, then frequencies less 1
    assert p.block_bounds[0].tolist() == [max(weights), p.term(1)[1][0], p.term(2)[1][0]]


def test_document_norms_are_one_per_distinct_length_each_document_in_the_narrowest_integer():
    """``doc_k`` holds k1 x (1 - b + b |d| / avgdl) once per distinct length, ascending (by hand), and
    ``doc_class`` each document's entry: uint8 up to 256 distinct lengths, uint16 up to 65,536, then uint32."""
    from rageval.retrievers.bm25_postings import doc_weights

    doc_k, doc_class = doc_weights(np.array([7, 3, 7, 12, 3]), 1.2, 0.75)
    assert doc_k.tolist() == [1.2 * (1 - 0.75 + 0.75 * length / (32 / 5)) for length in (3, 7, 12)]
    assert doc_class.tolist() == [1, 0, 1, 2, 0] and doc_class.dtype == np.uint8
    for distinct, dtype in ((256, np.uint8), (257, np.uint16), (65_536, np.uint16), (65_537, np.uint32)):
        doc_k, doc_class = doc_weights(np.arange(distinct, 0, -1), 0.9, 0.4)
        assert doc_class.dtype == dtype and len(doc_k) == distinct
        assert doc_class[0] == distinct - 1 and doc_class[-1] == 0


def test_more_document_lengths_than_a_byte_counts_search_exactly():
    """Documents of 600 distinct lengths (``doc_class`` in uint16): the pruned search, every query pruned or
    as it chooses, and the exhaustive search give scipy's product of the decoded weights, bit for bit."""
    rng = np.random.default_rng(7)
    doc_len = rng.permutation(np.arange(1, 601))
    ids = rng.choice(12, size=int(doc_len.sum()), p=np.arange(12, 0, -1) / 78)
    index = BM25Index(0.9, 0.4, 0.25, "lucene", np.float64)
    index.build(iter([(ids, doc_len)]), lambda: 12)
    assert index.postings.doc_class.dtype == np.uint16 and len(index.postings.doc_k) == 600
    tie_rank = rng.permutation(600)
    queries = [rng.integers(0, 12, rng.integers(1, 6)).tolist() for _ in range(40)]
    weights = [[1.0] * len(q) for q in queries]
    want = reference(index, queries, weights, 10, tie_rank)
    for pruning, pays in ((False, 6), (True, 0), (True, 6)):
        index.pays = pays
        got = index.search(queries, 10, tie_rank, weights, pruning=pruning)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist(), (pruning, pays)


def test_a_long_posting_list_spans_blocks_with_their_own_bounds():
    n = 3 * BLOCK + 5
    lengths = np.where(np.arange(n) % 7 == 0, 40, 3)  # every 7th document is long: a smaller weight
    index = BM25Index(1.2, 0.75, 0.25, "lucene", np.float64)
    index.build(iter([(np.zeros(int(lengths.sum()), dtype=np.int64), lengths)]), lambda: 1)
    p = index.postings
    docs, weights = p.term(0)
    assert docs.tolist() == list(range(n)) and p.term_blocks.tolist() == [0, 4]
    for b in range(4):
        part = weights[b * BLOCK:(b + 1) * BLOCK]
        assert (p.block_bounds[0, b], p.block_bounds[1, b]) == (part.max(), part.min())
        assert (p.blocks[0, b], p.blocks[1, b]) == (b * BLOCK, min(n, (b + 1) * BLOCK) - 1)


def test_a_run_of_documents_is_skipped_by_the_bound_of_the_block_that_holds_it():
    """One term over three blocks: block 0 of short documents (weight 1.585), block 1 of long ones
    (1.01) and one document with the term 5 times in 5 words (1.917, the best), block 2 of longer
    ones (0.72). After the first phase (block 0), the k-th score is block 0's: block 1 must be read
    because its own bound is higher, whatever the blocks after it hold."""
    tf = np.ones(3 * BLOCK, dtype=np.int64)
    lengths = np.concatenate([np.full(BLOCK, 1), np.full(BLOCK, 10), np.full(BLOCK, 20)])
    tf[BLOCK + 60], lengths[BLOCK + 60] = 5, 5
    ids = np.concatenate([np.concatenate([np.zeros(n, dtype=np.int64), np.ones(dl - n, dtype=np.int64)])
                          for n, dl in zip(tf, lengths)])
    index = BM25Index(1.2, 0.75, 0.25, "lucene")
    index.build(iter([(ids, lengths)]), lambda: 2)
    index.pays = 0
    bounds = index.postings.block_bounds[0, :3]
    assert bounds[1] > bounds[0] > bounds[2]  # the layout the docstring describes
    tie_rank = np.arange(3 * BLOCK)
    for k in (1, 2):
        want = index.search([[0]], k, tie_rank, pruning=False)
        got = index.search([[0]], k, tie_rank, pruning=True)
        assert got[0][0, 0] == BLOCK + 60
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_queries_with_nothing_to_find_and_k_at_the_edges(shared):
    ds = load_dataset(str(shared / "adi"))
    bm25 = get_retriever("bm25")
    bm25.index(ds.corpus)
    queries = Queries(["empty", "unknown", "stop", "real"], ["", "zzzunknownword", "the of and", ds.queries.texts[0]])
    for k in (0, 1, len(ds.corpus) + 10):
        run = bm25.search(queries, k)
        assert run.indices.shape == (4, k) and run.scores.shape == (4, k)
        if k:
            assert (run.indices[:3] == -1).all() and (run.scores[:3] == 0).all() and run.indices[3, 0] >= 0
    everything = bm25.search(queries, len(ds.corpus) + 10)
    matched = (everything.indices[3] >= 0).sum()
    assert 0 < matched < len(ds.corpus) and (everything.indices[3, matched:] == -1).all()


def cached_run(spec: str, tmp_path, name: str):
    [outcome] = benchmark(spec, ["bm25"], ["nDCG@10"], out=tmp_path / name)
    return outcome


def test_a_damaged_or_old_cached_index_is_rebuilt_with_a_warning(shared, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    spec = str(shared / "adi")
    first = cached_run(spec, tmp_path, "a")
    [folder] = (tmp_path / "cache" / "indexes").iterdir()
    want = next((tmp_path / "a").rglob("run.trec")).read_text()

    def again(name: str) -> None:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rageval"):
            outcome = cached_run(spec, tmp_path, name)
        assert outcome.timings["index_from_cache"] is False
        assert "cached index not used, rebuilding it" in caplog.text
        assert next((tmp_path / name).rglob("run.trec")).read_text() == want

    assert first.timings["index_from_cache"] is False
    data = folder / "data.npy"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF  # one flipped bit pattern in the postings: a checksum mismatch
    data.write_bytes(bytes(raw))
    again("b")
    assert "data.npy: checksum" in caplog.text
    (folder / "blocks.npy").write_bytes((folder / "blocks.npy").read_bytes()[:-8])  # truncated
    again("c")
    for f in folder.iterdir():  # a folder of the previous layout: weights.npz beside terms and ids
        if f.name not in ("terms.json", "ids.json", "complete"):
            f.unlink()
    np.savez(folder / "weights.npz", data=np.ones(1))
    again("d")
    assert "no readable manifest" in caplog.text
    assert cached_run(spec, tmp_path, "e").timings["index_from_cache"] is True  # the rebuilt one is trusted


def test_a_loaded_index_is_memory_mapped(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    ds = load_dataset(str(shared / "adi"))
    built = get_retriever("bm25")
    built.index(ds.corpus)
    built.save(tmp_path)
    loaded = get_retriever("bm25")
    loaded.load(tmp_path)
    assert isinstance(loaded._index.postings.data, np.memmap)
    a, b = built.search(ds.queries, 50), loaded.search(ds.queries, 50)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.scores, b.scores)


EXACT_SUMS = '''
import sys
import numpy as np
import rageval.retrievers.bm25_postings as postings
import rageval.retrievers.bm25_pruning as pruning
from rageval.retrievers.bm25_index import BM25Index

pruning.ULP = 0.0  # no slack: every sum below is exact
postings.idf_weights = lambda df, n, kind, epsilon: np.ones(len(df))
rng = np.random.default_rng(int(sys.argv[1]))
tfs = rng.choice([1, 3, 7], size=(400, 6), p=[0.6, 0.3, 0.1]) * (rng.random((400, 6)) < 0.4)
ids = np.concatenate([np.repeat(np.arange(6), row) for row in tfs])
index = BM25Index(1.0, 0.0, 0.25, "lucene")  # weight 2 tf / (1 + tf): 1, 1.5 or 1.75
index.build(iter([(ids, tfs.sum(axis=1))]), lambda: 6)
tie_rank = rng.permutation(400)
queries = [rng.integers(0, 6, rng.integers(1, 7)).tolist() for _ in range(40)]
weights = [rng.choice([0.5, 1.0, 2.0], len(q)).tolist() for q in queries]
index.pays = 0  # every query pruned
for k in (1, 3, 10):
    want = index.search(queries, k, tie_rank, weights, pruning=False)
    got = index.search(queries, k, tie_rank, weights, pruning=True)
    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1]), k
print("identical")
'''


@pytest.mark.parametrize("seed", [0, 1])
def test_a_bound_equal_to_the_kth_score_does_not_prune_when_sums_are_exact(tmp_path, seed):
    """With dyadic weights every sum is exact, so the search runs with no slack (interpreted, numba
    off, ``ULP = 0``): a document whose bound equals the k-th score may tie it and enter by the tie
    rule, so every pruning test must be strict."""
    import os
    import subprocess
    import sys

    script = tmp_path / "exact.py"
    script.write_text(EXACT_SUMS)
    done = subprocess.run([sys.executable, str(script), str(seed)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "identical", done.stderr[-2000:]
