"""The BM25 build in bounded memory (rageval.retrievers.bm25_build): segments spilled to a temporary
folder and ranges of terms give the index a one-segment build gives, and leave nothing behind."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest

from rageval import Corpus, get_retriever, load_dataset

ARRAYS = ("term_blocks", "df", "blocks", "data", "block_bounds", "term_bounds", "idf", "doc_k", "doc_class")


def test_ranges_of_terms_by_hand():
    from rageval.retrievers.bm25_build import _ranges

    # cumulative postings 5, 6, 7, 12, 14: ranges end at the first term reaching 4, 8 and 12; none is split
    assert _ranges(np.array([5, 1, 1, 5, 2]), 4) == [(0, 1), (1, 4), (4, 5)]
    assert _ranges(np.array([3, 3]), 100) == [(0, 2)]
    assert _ranges(np.array([1, 1, 1]), 1) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("spec", ["bm25", "bm25:dtype=float32,k1=0.9,b=0.4"])
def test_spilled_segments_give_the_one_segment_index_and_leave_no_file(shared, monkeypatch, tmp_path, spec):
    """Cranfield (about 110k postings) analysed 50 documents at a time, in segments of 3,000 postings:
    more than 20 segments written to the build's temporary folder and as many ranges encoded; every
    array equals the one-segment build's, bit for bit, and the folder is gone afterwards; a corpus of
    one segment makes no folder at all."""
    import rageval.retrievers.bm25 as bm25_module
    import rageval.retrievers.bm25_build as build_module

    ds = load_dataset(str(shared / "cranfield"))
    whole = get_retriever(spec)
    whole.index(ds.corpus)
    seen = []
    encoded_bytes = build_module._Segments.encoded_bytes

    def record(segments, size):
        seen.append(sorted(p.name for p in segments.folder.iterdir()) if segments.folder else [])
        return encoded_bytes(segments, size)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(build_module, "SEGMENT", 3_000)
    monkeypatch.setattr(bm25_module, "INDEX_BATCH", 50)
    monkeypatch.setattr(build_module._Segments, "encoded_bytes", record)
    parts = get_retriever(spec)
    parts.index(ds.corpus)
    [names] = seen
    assert sum(n.startswith("segment-") for n in names) > 20 and sum(n.startswith("encoded-") for n in names) > 20
    assert list(tmp_path.iterdir()) == []
    seen.clear()
    few = Corpus(ids=ds.corpus.ids[:20], texts=list(ds.corpus.texts[:20]))
    get_retriever(spec).index(few)  # one batch, one segment: no folder is made
    assert seen == [[]] and list(tmp_path.iterdir()) == []
    for name in ARRAYS:
        assert np.array_equal(getattr(parts._index.postings, name), getattr(whole._index.postings, name)), name
    a, b = whole.search(ds.queries, 100), parts.search(ds.queries, 100)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.scores, b.scores)


def test_a_build_that_fails_removes_its_folder(monkeypatch, tmp_path):
    """Batches that fail after segments were spilled: the error reaches the caller, the folder is removed."""
    import rageval.retrievers.bm25_build as build_module

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(build_module, "SEGMENT", 2)

    def batches():
        for _ in range(5):
            yield np.array([0, 1, 1, 2], dtype=np.int64), np.array([2, 2])
        assert len(list(tmp_path.glob("rageval-bm25-build-*/segment-*"))) >= 4
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        build_module.build(batches(), lambda: 3, {"k1": 1.5, "b": 0.75, "epsilon": 0.25, "idf": "lucene",
                                                  "single": False})
    assert list(tmp_path.iterdir()) == []
