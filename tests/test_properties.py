"""Invariants checked on many generated inputs (hypothesis): span measures, the top-k cut, chunkers
and the TREC round trip."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rageval import Corpus, Dataset, Queries, Run, evaluate, registry
from rageval.metrics import parse_measures
from rageval.metrics.token_spans import SpanScorer
from rageval.retrieval.topk import top_k, top_k_dense, top_k_rows, top_k_sparse

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]),
                 min_size=20, max_size=80)


@st.composite
def retrieval(draw):
    """A document, non-overlapping chunks of whole words, some retrieved, and reference spans."""
    words = draw(WORDS)
    text = " ".join(f"{w}{i}" for i, w in enumerate(words))  # numbered words: a chunk's first occurrence is itself
    starts = [0]
    for word in text.split(" ")[:-1]:
        starts.append(starts[-1] + len(word) + 1)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(starts) - 1), min_size=1, max_size=8))))
    bounds = [0, *cuts, len(starts)]
    chunks = [(starts[a], starts[b] - 1 if b < len(starts) else len(text)) for a, b in zip(bounds, bounds[1:])]
    retrieved = draw(st.lists(st.sampled_from(chunks), min_size=1, max_size=len(chunks), unique=True)) if chunks else []
    refs = []
    for _ in range(draw(st.integers(1, 3))):
        s = draw(st.integers(0, len(text) - 1))
        refs.append((s, draw(st.integers(s + 1, min(len(text), s + 40)))))
    return text, chunks, retrieved, refs


@SETTINGS
@given(retrieval(), st.randoms())
def test_span_measures_are_bounded_and_order_free(case, rng):
    text, _, retrieved, refs = case
    scorer = SpanScorer({"d": text}.__getitem__)
    chunks = [("d", a, b) for a, b in retrieved]
    references = [("d", a, b) for a, b in refs]
    got = scorer.score([chunks], [references])
    assert got["iou"][0] <= got["precision"][0] + 1e-12 and got["iou"][0] <= got["recall"][0] + 1e-12
    shuffled = chunks[:]
    rng.shuffle(shuffled)
    again = scorer.score([shuffled], [references])
    assert {k: v[0] for k, v in again.items()} == pytest.approx({k: v[0] for k, v in got.items()})
    # a reference cut in two adjacent spans covers the same tokens
    s, e = refs[0]
    if e - s > 1:
        m = (s + e) // 2
        split = [("d", s, m), ("d", m, e), *references[1:]]
        cut = scorer.score([chunks], [split])
        assert {k: v[0] for k, v in cut.items()} == pytest.approx({k: v[0] for k, v in got.items()})


@SETTINGS
@given(retrieval())
def test_chroma_and_default_agree_on_characters_without_touching_chunks(case):
    text, chunks, retrieved, refs = case
    ref = refs[0]
    if any(a == ref[1] or b == ref[0] for a, b in chunks):  # a chunk that only touches: the rules differ
        return
    parents = Corpus(ids=["d"], texts=[text])
    corpus = Corpus(ids=[f"d#{i}" for i in range(len(chunks))], texts=[text[a:b] for a, b in chunks],
                    metas=[{"parent": "d", "start": a, "end": b} for a, b in chunks])
    if any(t.endswith(".") for t in corpus.texts):
        return
    ds = Dataset("p", parents, Queries(["q"], ["x"]), {"q": {"d": 1}}, {"q": [("d", *ref)]})
    run = Run.from_dict({"q": {f"d#{chunks.index(c)}": float(len(retrieved) - i) for i, c in enumerate(retrieved)}},
                        corpus.ids)
    metrics = ["span_recall@10", "span_precision@10", "IoU@10"]
    default = evaluate(ds, run, parse_measures(metrics, unit="chars"), corpus=corpus).means
    chroma = evaluate(ds, run, parse_measures(metrics, chroma=True), corpus=corpus).means
    assert chroma == pytest.approx(default)


@SETTINGS
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(1, 12), st.randoms())
def test_the_cut_keeps_what_trec_eval_keeps(scores, k, rng):
    """Scores with many ties; trec_eval orders by score descending, then doc id descending."""
    ids = [f"d{i:03d}" for i in range(len(scores))]
    rng.shuffle(ids)
    tie_rank = Corpus(ids=ids, texts=[""] * len(ids)).id_ranks()
    values = np.array(scores, dtype=float)
    expected = sorted(range(len(ids)), key=lambda i: (-values[i], tuple(-ord(c) for c in ids[i])))[:k]
    pos, top = top_k(np.arange(len(ids)), values, k, tie_rank)
    assert pos.tolist() == expected and top.tolist() == values[expected].tolist()
    # several rows at once: each row cut by the same rule, short rows padded with -1 and score 0
    distinct = np.array(rng.sample(range(1000), len(ids)), dtype=float)  # no tie: the cut alone decides
    rows = np.stack([values, values[::-1], np.roll(values, 1), distinct])
    dense, dense_scores = top_k_dense(rows, k, tie_rank)
    sparse, sparse_scores = top_k_rows(((np.arange(len(ids)), row) for row in rows), len(rows), k, tie_rank)
    for r, row in enumerate(rows):
        want = sorted(range(len(ids)), key=lambda i: (-row[i], tuple(-ord(c) for c in ids[i])))[:k]
        padded = want + [-1] * (k - len(want))
        padded_scores = row[want].tolist() + [0.0] * (k - len(want))
        for got, got_scores in ((dense, dense_scores), (sparse, sparse_scores)):
            assert got.shape == got_scores.shape == (4, k)
            assert got[r].tolist() == padded and got_scores[r].tolist() == padded_scores


@SETTINGS
@given(st.lists(st.lists(st.integers(-2, 3), max_size=30), min_size=1, max_size=8), st.integers(1, 10), st.randoms())
def test_the_whole_matrix_cut_equals_the_row_by_row_cut(rows, k, rng):
    """Each row a random subset of 40 documents with heavily tied scores (negative ones too), some
    rows empty or shorter than k: the one-pass cut of a CSR matrix gives top_k_rows's result."""
    ids = [f"d{i:02d}" for i in range(40)]
    rng.shuffle(ids)
    tie_rank = Corpus(ids=ids, texts=[""] * len(ids)).id_ranks()
    columns = [np.array(rng.sample(range(40), len(row)), dtype=np.int64) for row in rows]
    values = [np.array(row, dtype=float) for row in rows]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    flat_columns = np.concatenate(columns) if indptr[-1] else np.zeros(0, dtype=np.int64)
    flat_values = np.concatenate(values) if indptr[-1] else np.zeros(0)
    got, got_scores = top_k_sparse(indptr, flat_columns, flat_values, k, tie_rank)
    want, want_scores = top_k_rows(zip(columns, values), len(rows), k, tie_rank)
    assert got.tolist() == want.tolist() and got_scores.tolist() == want_scores.tolist()


@SETTINGS
@given(st.text(alphabet=st.sampled_from("ab .\n!?"), min_size=1, max_size=300), st.integers(1, 30),
       st.sampled_from(["recursive:unit=chars", "fixed:unit=chars", "fixed:unit=regex", "sentence"]))
def test_chunks_keep_order_and_lose_only_whitespace(text, size, family):
    name = family.split(":")[0]
    options = f"n={max(1, size // 5)}" if name == "sentence" else f"size={size},{family.split(':')[1]}"
    chunker = registry.create("chunkers", f"{name}:{options}")
    if not text.strip():
        return
    chunks = chunker.chunk(Corpus(ids=["d"], texts=[text]))
    starts = [m["start"] for m in chunks.metas]
    assert starts == sorted(starts)
    covered = np.zeros(len(text), dtype=bool)
    for m in chunks.metas:
        covered[m["start"]:m["end"]] = True
    assert all(text[i].isspace() for i in np.flatnonzero(~covered))


@SETTINGS
@given(st.dictionaries(st.from_regex(r"[A-Za-z0-9_#:.-]{1,12}", fullmatch=True),
                       st.dictionaries(st.from_regex(r"[A-Za-z0-9_#:./-]{1,12}", fullmatch=True),
                                       st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=5),
                       min_size=1, max_size=5))
def test_trec_round_trip(tmp_path_factory, run_dict):
    path = tmp_path_factory.mktemp("trec") / "run.trec"
    run = Run.from_dict(run_dict)
    run.write_trec(path)
    back = Run.read_trec(path)
    assert back.to_dict() == run.to_dict()
