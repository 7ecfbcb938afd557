"""Span measures against hand-computed values, and the interval arithmetic against per-token sets."""
from __future__ import annotations

import numpy as np
import pytest

from rageval import Corpus, Dataset, Queries, Run, evaluate
from rageval.metrics import parse_measures
from rageval.metrics.token_spans import SpanScorer, covered

# Two documents of one-letter words: token i of "a b c ..." spans characters [2i, 2i + 1).
D1 = "a b c d e f g h i j"
D2 = "k l m n o p"
PARENTS = Corpus(ids=["d1", "d2"], texts=[D1, D2])
# Chunks of d1: [a b c d], [c d e f] (overlapping), [g h i j]; of d2: [k l m], [n o p].
CHUNKS = Corpus(ids=["d1#0", "d1#1", "d1#2", "d2#0", "d2#1"],
                texts=[D1[0:8], D1[4:12], D1[12:19], D2[0:6], D2[6:11]],
                metas=[{"parent": "d1", "start": 0, "end": 8}, {"parent": "d1", "start": 4, "end": 12},
                       {"parent": "d1", "start": 12, "end": 19}, {"parent": "d2", "start": 0, "end": 6},
                       {"parent": "d2", "start": 6, "end": 11}])
SPANS = {
    "overlap": [("d1", 6, 9)],                    # d e, inside two overlapping retrieved chunks
    "several": [("d1", 0, 1), ("d1", 14, 17)],    # a ; h i
    "two_docs": [("d1", 18, 19), ("d2", 2, 3)],   # j ; l
    "split": [("d1", 10, 15)],                    # f g h: across chunks d1#1 and d1#2
    "empty": [("d1", 0, 3)],                      # nothing retrieved
    "wrong_doc": [("d2", 8, 11)],                 # o p, but only d1 chunks retrieved
}
RUN = {
    "overlap": {"d1#0": 2.0, "d1#1": 1.0},
    "several": {"d1#0": 2.0, "d1#2": 1.0},
    "two_docs": {"d1#2": 2.0, "d2#0": 1.0},
    "split": {"d1#1": 2.0},
    "empty": {},
    "wrong_doc": {"d1#0": 2.0, "d1#1": 1.0},
}


def scores(**options):
    queries = Queries(list(SPANS), ["q"] * len(SPANS))
    qrels = {q: {d: 1 for d, _, _ in refs} for q, refs in SPANS.items()}
    ds = Dataset("toy", PARENTS, queries, qrels, SPANS)
    measures = parse_measures(["span_recall@2", "span_precision@2", "IoU@2", "precision_omega", "span_recall@1"],
                              **options)
    res = evaluate(ds, Run.from_dict(RUN, CHUNKS.ids), measures, corpus=CHUNKS)
    return res.per_query


def test_token_level_values():
    v = scores()
    recall, precision, iou = v["span_recall@2"], v["span_precision@2"], v["IoU@2"]
    # overlap: R = a..f (6 tokens, c d counted once), E = d e
    assert (recall["overlap"], precision["overlap"], iou["overlap"]) == (1.0, pytest.approx(2 / 6), pytest.approx(2 / 6))
    # several: R = a b c d + g h i j (8), E = a + h i (3), all inside
    assert (recall["several"], precision["several"], iou["several"]) == (1.0, pytest.approx(3 / 8), pytest.approx(3 / 8))
    # two_docs: R = g h i j (d1) + k l m (d2) = 7, E = j + l = 2
    assert (recall["two_docs"], precision["two_docs"]) == (1.0, pytest.approx(2 / 7))
    # split: R = c d e f, E = f g h: one of three tokens found
    assert (recall["split"], precision["split"], iou["split"]) == (pytest.approx(1 / 3), pytest.approx(1 / 4),
                                                                    pytest.approx(1 / 6))
    assert recall["empty"] == precision["empty"] == iou["empty"] == 0.0
    assert recall["wrong_doc"] == precision["wrong_doc"] == iou["wrong_doc"] == 0.0
    assert v["span_recall@1"]["several"] == pytest.approx(1 / 3)  # only d1#0 at k=1: a of a, h, i


def test_precision_omega():
    omega = scores()["precision_omega"]
    # overlap: chunks touching d e are d1#0 and d1#1 -> R = a..f (6), E = 2
    assert omega["overlap"] == pytest.approx(2 / 6)
    # split: f g h touches d1#1 and d1#2 -> R = c..j (8 tokens), E = 3
    assert omega["split"] == pytest.approx(3 / 8)
    # two_docs: j -> d1#2 (4 tokens), l -> d2#0 (3 tokens)
    assert omega["two_docs"] == pytest.approx(2 / 7)


def test_chroma_mode_counts_characters_and_sums_chunk_lengths():
    v = scores(chroma=True)
    # overlap: chunks of 8 and 8 characters (summed 16); reference 'd e' = 3 characters, all found
    assert v["span_recall@2"]["overlap"] == 1.0
    assert v["span_precision@2"]["overlap"] == pytest.approx(3 / 16)
    assert v["IoU@2"]["overlap"] == pytest.approx(3 / (16 + 0))
    # split: chunk 'c d e f ' (8 chars) retrieved; reference 'f g h' (5 chars) covers 'f ' (2 chars)
    assert v["span_recall@2"]["split"] == pytest.approx(2 / 5)
    assert v["span_precision@2"]["split"] == pytest.approx(2 / 8)
    assert v["IoU@2"]["split"] == pytest.approx(2 / (8 + 3))


def test_covered_matches_per_token_sets():
    rng = np.random.default_rng(0)
    n = 2000
    group = rng.integers(0, 50, n)
    start = rng.integers(0, 500, n)
    end = start + rng.integers(0, 40, n)
    got = covered(group, start, end, 50)
    for g in range(50):
        tokens = set()
        for s, e in zip(start[group == g], end[group == g]):
            tokens.update(range(s, e))
        assert got[g] == len(tokens)


def test_scorer_agrees_with_a_set_implementation_on_random_spans():
    rng = np.random.default_rng(1)
    texts = {f"d{i}": " ".join(f"w{j}" for j in range(200)) for i in range(5)}
    scorer = SpanScorer(texts.__getitem__)
    retrieved, references = [], []
    for _ in range(300):
        retrieved.append([(f"d{rng.integers(5)}", int(s), int(s) + int(rng.integers(1, 60)))
                          for s in rng.integers(0, 900, rng.integers(0, 6))])
        references.append([(f"d{rng.integers(5)}", int(s), int(s) + int(rng.integers(1, 30)))
                           for s in rng.integers(0, 900, rng.integers(1, 4))])
    got = scorer.score(retrieved, references)
    offsets = {d: scorer.unit.offsets(t) for d, t in texts.items()}

    def tokens(ranges):
        out = set()
        for d, s, e in ranges:
            ts, te = offsets[d]
            out.update((d, i) for i in np.flatnonzero((ts < e) & (te > s)))
        return out

    for i, (r, e) in enumerate(zip(retrieved, references)):
        R, E = tokens(r), tokens(e)
        assert got["recall"][i] == pytest.approx(len(R & E) / len(E) if E else 0)
        assert got["precision"][i] == pytest.approx(len(R & E) / len(R) if R else 0)
        assert got["iou"][i] == pytest.approx(len(R & E) / len(R | E) if R | E else 0)


def test_edges_of_the_interval_arithmetic():
    from rageval.metrics.token_spans import full_recall_ranges

    # a query that retrieved nothing scores 0, wherever it stands among the queries
    scorer = SpanScorer(lambda d: {"d1": D1, "d2": D2}[d], "regex")
    values = scorer.score([[("d1", 0, 3)], []], [[("d1", 0, 3)], [("d2", 0, 1)]])
    assert {k: v.tolist() for k, v in values.items()} == {"recall": [1.0, 0.0], "precision": [1.0, 0.0],
                                                            "iou": [1.0, 0.0]}
    empty = np.array([], dtype=np.int64)
    assert covered(empty, empty, empty, 2).tolist() == [0, 0]
    # the chunk that ends where the reference starts does not overlap it: not part of the full-recall set
    chunks = {"d1": (np.array([0, 4, 8]), np.array([4, 8, 12]), np.array([4, 8, 12]))}
    assert full_recall_ranges([[("d1", 4, 6)], [("d1", 3, 9)]], chunks) == [
        [("d1", 4, 8)], [("d1", 0, 4), ("d1", 4, 8), ("d1", 8, 12)]]


def test_covered_with_narrow_integer_types_and_large_offsets():
    # int32 groups and offsets past 2^31 characters: the combined sort key must not overflow
    group = np.array([1, 0, 1, 0], dtype=np.int32)
    start = np.array([3_000_000_000, 0, 3_000_000_005, 10], dtype=np.int64)
    end = start + np.array([10, 5, 10, 5])
    assert covered(group, start, end, 2).tolist() == [10, 15]
