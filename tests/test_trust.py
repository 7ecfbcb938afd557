"""Tests written against the bugs a mutation audit planted (issue 18): each pins behaviour the README
promises, derived by hand."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rageval import Corpus, Dataset, Queries, Run, evaluate, get_retriever
from rageval.run_folder import pair_folder

ROOT = Path(__file__).resolve().parent.parent


def test_a_chunked_document_stands_at_the_rank_of_its_best_chunk():
    parents = Corpus(ids=["d1", "d2", "d3"], texts=["aaaa bbbb", "cccc", "dddd"])
    chunks = Corpus(ids=["d1#0", "d1#1", "d2#0", "d3#0"], texts=["aaaa", "bbbb", "cccc", "dddd"],
                    metas=[{"parent": "d1", "start": 0, "end": 4}, {"parent": "d1", "start": 5, "end": 9},
                           {"parent": "d2", "start": 0, "end": 4}, {"parent": "d3", "start": 0, "end": 4}])
    ds = Dataset("toy", parents, Queries(["q"], ["x"]), {"q": {"d1": 1}})
    run = Run.from_dict({"q": {"d2#0": 4.0, "d1#1": 3.0, "d3#0": 2.0, "d1#0": 1.0}}, chunks.ids)
    values = evaluate(ds, run, ["MRR@10", "P@2", "Recall@2"], corpus=chunks).means
    # documents: d2, d1 (its best chunk is second), d3 -- d1 is not counted twice
    assert values == {"MRR@10": 0.5, "P@2": 0.5, "Recall@2": 1.0}


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


def test_the_code_corpus_cache_follows_file_content(tmp_path, monkeypatch):
    from rageval.corpora.code import CodeLoader

    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "tree"
    tree.mkdir()
    source = tree / "m.py"
    functions = "".join(f'def f{i}():\n    """Return the number {i} for tests here."""\n    return {i}\n\n'
                        for i in range(40))
    source.write_text(functions)
    stat = source.stat()
    before = CodeLoader(str(tree)).records()[0]
    source.write_text(functions.replace("number 7 for", "amount 7 for"))  # same length, same name
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same modification time
    after = CodeLoader(str(tree)).records()[0]
    assert any("amount 7" in r["summary"] for r in after) and not any("amount 7" in r["summary"] for r in before)


@pytest.mark.slow
@pytest.mark.parametrize("retrievers", [["bm25"], ["dense"]])
def test_two_fresh_processes_write_identical_run_files(shared, tmp_path, retrievers):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "RAGEVAL_CACHE": str(tmp_path / f"cache{seed}")}
        code = ("import sys; from rageval import benchmark as run; "
                "run(sys.argv[1], sys.argv[3:], ['nDCG@10'], out=sys.argv[2])")
        subprocess.run([sys.executable, "-c", code, str(shared / "adi"), str(out), *retrievers], env=env,
                       check=True, capture_output=True)
        outs.append(out)
    for spec in retrievers:
        a, b = (pair_folder(o, "adi.test", spec) / "run.trec" for o in outs)
        assert a.read_bytes() == b.read_bytes()


def test_bm25_built_and_searched_in_small_batches_equals_the_reference(shared, monkeypatch):
    """The streaming build (many corpus batches) and the batched search give rank_bm25's scores; a
    term in exactly half the documents has idf 0, which is not floored (only negative idf is)."""
    import rageval.retrievers.bm25 as bm25_module
    import rageval.retrievers.bm25_index as index_module
    from rageval import load_dataset

    ds = load_dataset(str(shared / "adi"))
    half = Corpus(ids=["a", "b", "c", "d"], texts=["cat sat", "cat ran", "dog sat", "eel ran"])
    reference = get_retriever("bm25:backend=rank_bm25")
    reference.index(ds.corpus)
    expected = reference.search(ds.queries, 20)
    monkeypatch.setattr(bm25_module, "INDEX_BATCH", 7)
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
