"""BM25: our sparse backend against rank_bm25 (the reference) on cranfield and in small batches, idf by
hand, a corpus of stop words only, and the top-k rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from conftest import write_beir
from rageval import Corpus, Queries, benchmark, get_retriever, load_dataset
from rageval.retrieval.topk import top_k, top_k_dense


@pytest.fixture(scope="module")
def cranfield(shared):
    return load_dataset(str(shared / "cranfield"))


@pytest.mark.parametrize("options", ["", "k1=0.9,b=0.4,stemmer=none,stopwords=none"])
def test_sparse_scores_equal_rank_bm25(cranfield, options):
    sparse = get_retriever(f"bm25:{options}")
    sparse.index(cranfield.corpus)
    reference = BM25Okapi([sparse.analyzer.tokenize(t) for t in cranfield.corpus.contents()],
                          k1=sparse.k1, b=sparse.b, epsilon=sparse.epsilon)
    for text in cranfield.queries.texts[:40]:
        expected = reference.get_scores(sparse.analyzer.tokenize(text))
        terms = sparse.vocab.lookup(text)
        got = np.zeros(len(cranfield.corpus))
        for t in terms:  # the index's weights summed per document
            docs, weights = sparse._index.postings.term(t)
            got[docs] += weights
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_rankings_identical_between_backends(cranfield):
    runs = []
    for spec in ("bm25", "bm25:backend=rank_bm25"):
        r = get_retriever(spec)
        r.index(cranfield.corpus)
        runs.append(r.search(cranfield.queries, 100))
    assert np.array_equal(runs[0].indices, runs[1].indices)
    np.testing.assert_allclose(runs[0].scores, runs[1].scores, rtol=0, atol=1e-6)
    assert (runs[0].indices[:, :10] >= 0).all()


def test_threads_split_the_queries_not_the_results(cranfield):
    from rageval.errors import SpecError

    one, two = get_retriever("bm25:threads=1"), get_retriever("bm25:threads=2")
    assert one.config() == two.config() and "threads" not in one.config()  # speed only: not in the identity
    one.index(cranfield.corpus)
    two.index(cranfield.corpus)
    a, b = one.search(cranfield.queries, 100), two.search(cranfield.queries, 100)
    assert a.indices.tolist() == b.indices.tolist() and a.scores.tolist() == b.scores.tolist()
    with pytest.raises(SpecError, match="threads must be 0 \\(every core\\) or more, got -1"):
        get_retriever("bm25:threads=-1")


def test_search_batches_give_each_thread_work_and_stay_bounded(monkeypatch):
    import rageval.retrievers.bm25_index as bm25_index

    assert bm25_index.search_batches([5] * 10, 2) == [(0, 10)]  # too little to start a thread for
    monkeypatch.setattr(bm25_index, "POSTINGS_PER_THREAD", 20)
    assert bm25_index.search_batches([5] * 10, 4) == [(0, 4), (4, 8), (8, 10)]  # 20 a thread, not 13
    monkeypatch.setattr(bm25_index, "POSTINGS_PER_THREAD", 1)
    assert bm25_index.search_batches([5] * 10, 1) == [(0, 10)]
    assert bm25_index.search_batches([5] * 10, 2) == [(0, 5), (5, 10)]
    assert bm25_index.search_batches([5] * 10, 3) == [(0, 4), (4, 8), (8, 10)]  # budget 17: 4 queries reach it
    assert bm25_index.search_batches([0, 0, 0], 2) == [(0, 3)]  # nothing to share
    assert bm25_index.search_batches([], 2) == []
    monkeypatch.setattr(bm25_index, "POSTINGS_PER_BATCH", 12)
    assert bm25_index.search_batches([5] * 10, 1) == [(0, 3), (3, 6), (6, 9), (9, 10)]  # the bound wins


def test_batches_run_on_the_threads_asked_for(cranfield, monkeypatch):
    import threading

    import rageval.retrievers.bm25_index as bm25_index

    bm25 = get_retriever("bm25")
    bm25.index(cranfield.corpus)
    seen: list[int] = []
    kernel = bm25_index._kernel

    def recording(pruning):
        def search(*args):
            seen.append(threading.get_ident())
            return kernel(pruning)(*args)
        return search

    monkeypatch.setattr(bm25_index, "_kernel", recording)
    terms = [bm25.vocab.lookup(t) for t in cranfield.queries.texts]
    index, main = bm25._index, threading.get_ident()
    df = index.postings.df
    postings = [int(df[t].sum()) for t in terms]
    fits = int(np.searchsorted(np.cumsum(postings), bm25_index.POSTINGS_PER_THREAD, side="right"))
    assert 0 < fits < len(terms)
    index.search(terms[:fits], 10, bm25._tie_rank, threads=2)  # one thread's share at most: not worth a second
    assert seen == [main]
    seen.clear()
    # the query that reaches a thread's share ends the first batch; one more makes a second, and the pool runs both
    index.search(terms[:fits + 2], 10, bm25._tie_rank, threads=2)
    assert len(seen) == 2 and main not in seen
    monkeypatch.setattr("rageval.retrievers.bm25_index.POSTINGS_PER_THREAD", 1)
    seen.clear()
    index.search(terms, 10, bm25._tie_rank)  # the default: this thread, even where two would get work
    assert seen == [main]
    seen.clear()
    index.search(terms, 10, bm25._tie_rank, threads=2)
    assert len(seen) == 2 and main not in seen and len(set(seen)) in (1, 2)  # two batches on the pool
    seen.clear()
    index.search(terms[:1], 10, bm25._tie_rank, threads=2)  # one batch: no pool
    assert seen == [main]
    monkeypatch.setattr("rageval.retrievers.bm25_index.POSTINGS_PER_BATCH", 1)
    seen.clear()
    index.search(terms[:3], 10, bm25._tie_rank, threads=1)  # several batches, one thread: no pool
    assert seen == [main] * 3
    # batches are cut by each query's postings (the document frequencies of its terms), not its terms
    monkeypatch.setattr("rageval.retrievers.bm25_index.POSTINGS_PER_BATCH", 100_000)
    seen.clear()
    index.search(terms, 10, bm25._tie_rank, threads=1)
    assert len(seen) == len(list(bm25_index.query_batches(postings, 100_000))) > 4  # 467k postings in all


def test_a_forked_child_searches_on_threads_of_its_own(cranfield):
    """The threads kept for later searches belong to their process: a child forked after its parent searched
    on two threads (whose threads it does not have) searches on two threads of its own, to the same result."""
    import multiprocessing

    import rageval.retrievers.bm25_index as bm25_index

    bm25 = get_retriever("bm25:threads=2")
    bm25.index(cranfield.corpus)
    want = bm25.search(cranfield.queries, 10)
    assert bm25_index._POOLS  # the parent's kept threads
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        run = bm25.search(cranfield.queries, 10)
        send.send((run.indices, run.scores))

    process = context.Process(target=child)
    process.start()
    try:
        assert receive.poll(60), "the forked child's search did not finish"
        indices, scores = receive.recv()
    finally:
        process.join(5)
        if process.is_alive():
            process.kill()
    assert indices.tolist() == want.indices.tolist() and scores.tolist() == want.scores.tolist()


def test_queries_without_a_known_term_get_empty_rows_wherever_they_stand(cranfield):
    """A query none of whose terms is in the index has no result, first, in the middle or last of
    the batch (the last ones are where a short count of postings per query would drop them)."""
    bm25 = get_retriever("bm25")
    bm25.index(cranfield.corpus)
    texts = ["zzzunknown", cranfield.queries.texts[0], "qqqnothing", cranfield.queries.texts[1], "xxxnone", "the"]
    indices, scores = bm25._index.search([bm25.vocab.lookup(t) for t in texts], 5, bm25._tie_rank)
    for row in (0, 2, 4, 5):
        assert indices[row].tolist() == [-1] * 5 and scores[row].tolist() == [0.0] * 5
    assert (indices[[1, 3]] >= 0).all() and (scores[[1, 3]] > 0).all()


def test_lucene_idf_and_only_matching_documents():
    corpus = Corpus(ids=["a", "b", "c"], texts=["cat sat", "dog ran", "cat cat dog"])
    r = get_retriever("bm25:idf=lucene")
    r.index(corpus)
    run = r.search(Queries(["q"], ["cat"]), 5)
    docs, = [d for _, d, _ in run.results()]
    assert docs == ["c", "a"]  # b has no query term and is not returned; rows are padded with -1
    assert run.indices[0].tolist() == [2, 0, -1, -1, -1]
    assert (run.scores[0, :2] > 0).all()


def test_top_k_breaks_ties_by_doc_id_descending():
    ids = ["d1", "d3", "d2", "d0"]
    tie_rank = Corpus(ids=ids, texts=[""] * 4).id_ranks()
    pos, sc = top_k(np.arange(4), np.array([1.0, 2.0, 1.0, 1.0]), 2, tie_rank)
    assert [ids[p] for p in pos] == ["d3", "d2"] and sc.tolist() == [2.0, 1.0]
    dense_pos, dense_sc = top_k_dense(np.array([[1.0, 2.0, 1.0, 1.0], [0.0, 0.0, 5.0, 0.0]]), 3, tie_rank)
    assert [[ids[p] for p in row] for row in dense_pos] == [["d3", "d2", "d1"], ["d2", "d3", "d1"]]
    pos, sc = top_k_dense(np.array([[1.0, 2.0]]), 4, tie_rank[:2])
    assert pos.tolist() == [[1, 0, -1, -1]] and sc.tolist() == [[2.0, 1.0, 0.0, 0.0]]  # padding: -1, score 0


@pytest.mark.parametrize("seed", range(3))
def test_top_k_dense_on_large_rows_equals_a_full_sort(seed):
    """Thousands of documents, so the partial selection (argpartition) really runs: with many ties and
    without any, every row's cut is the one a full sort by (score desc, doc id desc) gives."""
    rng = np.random.default_rng(seed)
    ids = [f"doc{i:05d}" for i in rng.permutation(3000)]
    tie_rank = Corpus(ids=ids, texts=[""] * len(ids)).id_ranks()
    small_tie = rng.random((6, 3000))  # distinct scores but one 4-way tie at ranks 23..26, across the cut at 25
    for row in small_tie:
        row[np.argsort(-row)[22:26]] = row[np.argsort(-row)[22]]
    for scores in (rng.integers(0, 40, size=(6, 3000)).astype(float), rng.random((6, 3000)), small_tie):
        ranked = [sorted(range(3000), key=lambda i: (-row[i], -tie_rank[i])) for row in scores]
        for k in (1, 2, 25):  # the cut's edges: the first two places, and a cut inside the tie
            pos, top = top_k_dense(scores, k, tie_rank)
            for row, want in zip(range(len(scores)), ranked):
                assert pos[row].tolist() == want[:k] and top[row].tolist() == scores[row, want[:k]].tolist()


def test_sparse_index_by_hand_weights_zero_scores_and_a_one_term_vocabulary():
    """The sparse index's own search, against BM25 computed by hand (k1 = 1.2, b = 0.75, lucene idf)."""
    from rageval.retrievers.bm25_index import BM25Index

    # document 0 holds term 0 twice, document 1 term 0 once, document 2 term 1: lengths 2, 1, 1, average 4/3
    index = BM25Index(1.2, 0.75, 0.25, "lucene", np.float64)
    index.build(iter([(np.array([0, 0, 0, 1]), np.array([2, 1, 1]))]), lambda: 2)

    def score(tf, dl, df):
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / (4 / 3)))

    def results(pos, top):
        return {int(p): float(v) for p, v in zip(pos, top) if p >= 0}

    tie_rank = np.arange(3)
    pos, top = index.search([[0], [1, 1]], 3, tie_rank)
    assert results(pos[0], top[0]) == pytest.approx({0: score(2, 2, 2), 1: score(1, 1, 2)})
    assert list(top[0][:2]) == sorted(top[0][:2], reverse=True) and pos[0][2] == -1 and top[0][2] == 0.0
    assert results(pos[1], top[1]) == pytest.approx({2: 2 * score(1, 1, 1)})  # a repeated term counts twice
    pos, top = index.search([[0, 1]], 3, tie_rank, [[0.5, 2.0]])  # given weights multiply each term's score
    assert results(pos[0], top[0]) == pytest.approx({0: 0.5 * score(2, 2, 2), 1: 0.5 * score(1, 1, 2),
                                                     2: 2 * score(1, 1, 1)})
    # weights that cancel leave a score of exactly 0: such a document is not a result
    pos, _ = index.search([[0, 0]], 3, tie_rank, [[1.0, -1.0]])
    assert pos[0].tolist() == [-1, -1, -1]
    single = BM25Index(1.2, 0.75, 0.25, "lucene", np.float64)  # a vocabulary of one term is a vocabulary
    single.build(iter([(np.array([0, 0]), np.array([1, 1]))]), lambda: 1)
    assert single.search([[0]], 2, np.arange(2))[0][0].tolist() == [1, 0]


def test_query_batches_bound_each_sparse_product():
    from rageval.retrievers.bm25_index import query_batches

    rng = np.random.default_rng(4)
    for postings in ([], [5], [0, 0, 0], [10, 1, 1, 1, 9, 30, 2], rng.integers(0, 20, 200).tolist()):
        batches = list(query_batches(postings, 12))
        if not postings:
            assert batches == []
            continue
        assert [a for a, _ in batches] == [0, *[b for _, b in batches[:-1]]]  # consecutive
        assert batches[-1][1] == len(postings)  # every query, once
        for a, b in batches:
            before_last = sum(postings[a:b - 1])
            assert b > a and (b - a == 1 or before_last < 12)  # it grew only while under the budget
            assert sum(postings[a:b]) >= 12 or b == len(postings)  # and stopped once it reached it
    assert list(query_batches([10, 1, 1, 1, 9, 30, 2], 12)) == [(0, 3), (3, 6), (6, 7)]


def test_the_compact_index_layout(shared):
    """Less memory than the 12 bytes a posting of a float64 weight and an int32 document: offsets and
    frequencies of 1 or 2 bytes (under 3 a posting on cranfield, whose many rare terms have blocks that
    span much of the corpus), 48 bytes of metadata a block; documents in corpus order within each term;
    term bounds that are each term's largest and smallest weight."""
    ds = load_dataset(str(shared / "cranfield"))
    bm25 = get_retriever("bm25")
    bm25.index(ds.corpus)
    p = bm25._index.postings
    postings = int(p.df.sum())
    assert p.shape == (len(bm25.vocab), len(ds.corpus)) and postings > 90_000
    assert p.data.nbytes < 3 * postings and p.nbytes < 8 * postings
    assert set(p.blocks[3] & 15) == {1, 2} and set(p.blocks[3] >> 4) == {1}
    for t in range(0, len(p.df), 97):
        docs, weights = p.term(t)
        assert (np.diff(docs) > 0).all() and len(docs) == p.df[t]
        assert p.term_bounds[0, t] == weights.max() and p.term_bounds[1, t] == weights.min()


def test_documents_keep_their_positions_across_batches_with_empty_documents():
    from rageval.retrievers.bm25_index import BM25Index

    # batch 1: documents 0 (term 0) and 1 (empty); batch 2: document 2 (term 1)
    index = BM25Index(1.2, 0.75, 0.25, "lucene", np.float64)
    index.build(iter([(np.array([0]), np.array([1, 0])), (np.array([1]), np.array([1]))]), lambda: 2)
    assert index.postings.shape == (2, 3)
    assert index.search([[1], [0]], 3, np.arange(3))[0][:, 0].tolist() == [2, 0]
    # a whole batch of documents without a term (documents 1 and 2) between two others
    index.build(iter([(np.array([0]), np.array([1])), (np.array([], dtype=np.int64), np.array([0, 0])),
                      (np.array([1]), np.array([1]))]), lambda: 2)
    assert index.postings.shape == (2, 4)
    assert index.search([[1], [0]], 4, np.arange(4))[0][:, :2].tolist() == [[3, -1], [0, -1]]
    # a term whose idf is 0 (okapi: in exactly half the documents) matches with score 0: no result
    okapi = BM25Index(1.5, 0.75, 0.25, "okapi", np.float64)
    okapi.build(iter([(np.array([0, 0, 1, 2]), np.array([1, 1, 1, 1]))]), lambda: 3)
    assert okapi.search([[0], [1]], 4, np.arange(4))[0].tolist() == [[-1, -1, -1, -1], [2, -1, -1, -1]]


def test_lucene_idf_by_hand():
    # three documents of two terms each (equal lengths: the length norm is 1); "cat" occurs in one
    corpus = Corpus(ids=["a", "b", "c"], texts=["cat sat", "dog ran", "eel swam"])
    r = get_retriever("bm25:idf=lucene,k1=1.5,b=0.75")
    r.index(corpus)
    run = r.search(Queries(["q"], ["cat"]), 3)
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # log(1 + (N - n + .5) / (n + .5))
    tf_part = 1 * (1.5 + 1) / (1 + 1.5 * (1 - 0.75 + 0.75 * 1))
    assert run.scores[0, 0] == pytest.approx(idf * tf_part, rel=1e-12)
    okapi = get_retriever("bm25")
    okapi.index(corpus)
    # okapi: log((N - n + .5) / (n + .5)) = log(2.5 / 1.5)
    assert okapi.search(Queries(["q"], ["cat"]), 3).scores[0, 0] == pytest.approx(math.log(2.5 / 1.5), rel=1e-12)


def test_bm25_built_and_searched_in_small_batches_equals_the_reference(shared, monkeypatch):
    """The streaming build (many corpus batches) and the batched search give rank_bm25's scores; a
    term in exactly half the documents has idf 0, which is not floored (only negative idf is)."""
    import rageval.retrievers.bm25 as bm25_module
    import rageval.retrievers.bm25_build as build_module
    import rageval.retrievers.bm25_index as index_module

    ds = load_dataset(str(shared / "adi"))
    half = Corpus(ids=["a", "b", "c", "d"], texts=["cat sat", "cat ran", "dog sat", "eel ran"])
    reference = get_retriever("bm25:backend=rank_bm25")
    reference.index(ds.corpus)
    expected = reference.search(ds.queries, 20)
    monkeypatch.setattr(bm25_module, "INDEX_BATCH", 7)
    monkeypatch.setattr(build_module, "SEGMENT", 60)  # batches of 7 documents made into segments of 60 postings
    monkeypatch.setattr(index_module, "POSTINGS_PER_BATCH", 50)
    sparse = get_retriever("bm25")
    sparse.index(ds.corpus)
    got = sparse.search(ds.queries, 20)
    assert (got.indices == expected.indices).all()
    np.testing.assert_allclose(got.scores, expected.scores, rtol=0, atol=1e-9)
    both = []
    for spec in ("bm25", "bm25:backend=rank_bm25"):
        r = get_retriever(spec)
        r.index(half)
        both.append(r.search(Queries(["q"], ["cat dog"]), 4))
    np.testing.assert_allclose(both[0].scores, both[1].scores, rtol=0, atol=1e-12)
    # "dog sat": dog in 1 of 4 documents, length = average: log(3.5 / 1.5); cat (2 of 4) adds idf 0
    assert both[0].scores[0, 0] == pytest.approx(math.log(3.5 / 1.5), rel=1e-9)


@pytest.mark.parametrize("spec", ["bm25", "bm25:backend=rank_bm25"])
def test_bm25_on_stop_words_only_fails_cleanly(tmp_path, spec):
    root = write_beir(tmp_path / "b", corpus=['{"_id": "d1", "text": "the a"}', '{"_id": "d2", "text": "of"}'],
                      qrels="q1\td1\t1\n")
    [outcome] = benchmark(str(root), [spec], ["nDCG@10"], out=tmp_path / "out")
    assert outcome.error == ("bm25: no document has a term once analysed (every text empty, or stop words only): "
                             "nothing to index")


def test_an_index_analysed_by_forked_processes_equals_one_analysed_here(shared, monkeypatch):
    """threads > 1 on a corpus of at least DOCUMENTS_PER_SHARD documents a process: the corpus is analysed
    in contiguous shards by forked processes, and the vocabulary, postings and runs are a one-process build's."""
    from rageval.running import index_shards

    ds = load_dataset(str(shared / "cranfield"))
    monkeypatch.setattr(index_shards, "DOCUMENTS_PER_SHARD", 400)  # cranfield's 1,400 documents: 3 processes
    here, forked = get_retriever("bm25:threads=1"), get_retriever("bm25:threads=4")
    here.index(ds.corpus)
    forked.index(ds.corpus)
    assert (here.processes, forked.processes) == (0, 3)
    assert list(forked.vocab.terms) == list(here.vocab.terms)
    for part in ("term_blocks", "blocks", "data", "block_bounds", "term_bounds", "doc_k", "doc_class", "idf"):
        assert np.array_equal(getattr(forked._index.postings, part), getattr(here._index.postings, part))
    a, b = here.search(ds.queries, 100), forked.search(ds.queries, 100)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.scores, b.scores)
