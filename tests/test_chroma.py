"""``--chroma``: the published chunking evaluation's scoring rules, each on a hand-computed case."""
from __future__ import annotations

import json

import pytest

from rageval import Corpus, Dataset, Queries, Run, evaluate, load_dataset
from rageval.metrics.chunking_eval import place_by_search
from rageval.metrics import parse_measures

ALPHA = "abcdefghijklmnopqrstuvwxyz"  # every letter once: placement by search finds the chunker's offsets
OVERLAPPING = "0123456789ABCDEFGHIJ"
REPEATED = "The cat sat. The cat sat. Dogs run."


def chunk(parent: str, text: str, start: int, end: int) -> dict:
    assert text[start:end]
    return {"parent": parent, "start": start, "end": end}


PARENTS = Corpus(ids=["alpha", "over", "rep"], texts=[ALPHA, OVERLAPPING, REPEATED])
CHUNK_RANGES = {
    "alpha#0": ("alpha", 0, 5), "alpha#1": ("alpha", 5, 10), "alpha#2": ("alpha", 10, 15),
    "alpha#3": ("alpha", 15, 20), "alpha#4": ("alpha", 20, 26),
    "over#0": ("over", 0, 6), "over#1": ("over", 4, 10), "over#2": ("over", 8, 14), "over#3": ("over", 14, 20),
    "rep#0": ("rep", 0, 12), "rep#1": ("rep", 13, 25), "rep#2": ("rep", 26, 35),
}
TEXT = dict(zip(PARENTS.ids, PARENTS.texts))
CHUNKS = Corpus(ids=list(CHUNK_RANGES), texts=[TEXT[p][s:e] for p, s, e in CHUNK_RANGES.values()],
                metas=[{"parent": p, "start": s, "end": e} for p, s, e in CHUNK_RANGES.values()])
SPANS = {
    "touching": [("alpha", 5, 8)],                    # fgh: alpha#0 ends where it starts
    "union": [("over", 5, 9)],                        # 5678: inside three overlapping chunks
    "outside": [("alpha", 24, 26), ("alpha", 30, 34)],  # yz, and 4 characters past the end (kept by lenient)
    "overlapping_refs": [("alpha", 0, 4), ("alpha", 2, 6)],
    "repeated": [("rep", 13, 24)],                    # the second "The cat sat"
    "two_docs": [("alpha", 5, 8), ("over", 5, 9)],    # references in two documents
    "equal": [("alpha", 10, 14), ("alpha", 20, 25)],  # retrieved 5 characters, 5 uncovered
    "empty_ref": [("alpha", 2, 4), ("alpha", 7, 7)],  # an empty reference counts nothing
    "two_docs_uncovered": [("alpha", 5, 8), ("alpha", 22, 24), ("over", 5, 9)],
}
RUN = {
    "touching": {"alpha#0": 2.0, "alpha#1": 1.0},
    "union": {"over#1": 1.0},
    "outside": {"alpha#4": 1.0},
    "overlapping_refs": {"alpha#1": 1.0},
    "repeated": {"rep#1": 1.0},
    "two_docs": {"alpha#1": 2.0, "over#1": 1.0},
    "equal": {"alpha#2": 1.0},
    "empty_ref": {"alpha#0": 1.0},
    "two_docs_uncovered": {"alpha#1": 2.0, "over#1": 1.0},
}


def scores(chroma: bool) -> dict[str, dict[str, float]]:
    queries = Queries(list(SPANS), ["q"] * len(SPANS))
    ds = Dataset("toy", PARENTS, queries, {q: {d: 1 for d, _, _ in r} for q, r in SPANS.items()}, SPANS)
    metrics = ["span_recall@5", "span_precision@5", "IoU@5", "precision_omega"]
    return evaluate(ds, Run.from_dict(RUN, CHUNKS.ids), parse_measures(metrics, chroma=chroma, unit="chars"),
                    corpus=CHUNKS).per_query


def test_touching_chunks_meet_a_reference():
    chroma, default = scores(True), scores(False)
    # Precision-Ω: alpha#0 [0,5) touches fgh [5,8) and enters the union: 3 / |[0,10)|
    assert chroma["precision_omega"]["touching"] == pytest.approx(3 / 10)
    assert default["precision_omega"]["touching"] == pytest.approx(3 / 5)  # only alpha#1 overlaps it
    # top 2: both chunks' lengths in the precision denominator, nothing uncovered
    assert chroma["span_precision@5"]["touching"] == pytest.approx(3 / 10)
    assert chroma["IoU@5"]["touching"] == pytest.approx(3 / 10)
    assert chroma["span_recall@5"]["touching"] == 1.0


def test_precision_omega_divides_by_the_union_of_chunks_and_references():
    # [0,6), [4,10), [8,14) all meet 5678: union [0,14) = 14 characters, not 6 + 6 + 6 = 18
    assert scores(True)["precision_omega"]["union"] == pytest.approx(4 / 14)
    # top-k precision sums the retrieved chunks' lengths: over#1 alone, 4 of its 6 characters
    assert scores(True)["span_precision@5"]["union"] == pytest.approx(4 / 6)


def test_a_reference_outside_its_document_is_uncovered_reference():
    chroma, default = scores(True), scores(False)
    # yz is found (2), the 4 characters past the end are not: recall 2 / 6, IoU 2 / (6 + 4)
    assert chroma["span_recall@5"]["outside"] == pytest.approx(2 / 6)
    assert chroma["span_precision@5"]["outside"] == pytest.approx(2 / 6)
    assert chroma["IoU@5"]["outside"] == pytest.approx(2 / 10)
    assert chroma["precision_omega"]["outside"] == pytest.approx(2 / 10)  # [20,26) ∪ [30,34)
    assert default["span_recall@5"]["outside"] == 1.0  # dropped by the token-level measures


def test_overlapping_references_are_summed_per_reference():
    chroma = scores(True)
    # alpha#1 [5,10) covers 5 of [2,6): found 1; references sum 4 + 4 = 8 (merged they would be 6)
    assert chroma["span_recall@5"]["overlapping_refs"] == pytest.approx(1 / 8)
    # uncovered: [0,4) whole (4) + [2,5) of [2,6) (3) = 7, per reference (merged it would be 5)
    assert chroma["IoU@5"]["overlapping_refs"] == pytest.approx(1 / (5 + 7))
    assert chroma["span_precision@5"]["overlapping_refs"] == pytest.approx(1 / 5)


def test_chunks_are_placed_by_search():
    chroma, default = scores(True), scores(False)
    # rep#1 is the second "The cat sat." [13,25); by search it lands on the first, less its period: [0,11)
    assert chroma["span_recall@5"]["repeated"] == 0.0
    assert default["span_recall@5"]["repeated"] == 1.0


@pytest.mark.parametrize("document, text, where", [
    ("The cat sat. The cat sat.", "The cat sat.", (0, 11)),          # first occurrence, trailing period dropped
    ("One two.\nThree  four. Five", "Three four. Five", (9, 26)),     # whitespace differs
    ("One two.\nTHREE four.", "three\nfour.", (9, 19)),              # case and whitespace differ
    ("abc", "xyz", None),
])
def test_place_by_search(document, text, where):
    assert place_by_search(document, text) == where


def write_published_layout(root, rows):
    (root / "corpora").mkdir(parents=True)
    (root / "corpora" / "essay.md").write_text("Alpha beta gamma. Delta epsilon.\n\nZeta eta theta.\n")
    (root / "corpora" / "notes.md").write_text("Nothing to see.\n")
    lines = ["question,references,corpus_id"]
    for question, refs, corpus_id in rows:
        lines.append(f'{question},"{json.dumps(refs).replace(chr(34), chr(34) * 2)}",{corpus_id}')
    (root / "questions_df.csv").write_text("\n".join(lines) + "\n")


def test_docs_reads_the_published_layout(tmp_path):
    write_published_layout(tmp_path / "p", [
        ("What follows delta?", [{"content": "epsilon", "start_index": 24, "end_index": 31}], "essay"),
        ("Anything?", [{"content": "Nothing", "start_index": 0, "end_index": 7}], "notes"),
    ])
    ds = load_dataset(f"docs:{tmp_path / 'p'}")
    assert ds.spans == {"q0": [("corpora/essay", 24, 31)], "q1": [("corpora/notes", 0, 7)]}
    write_published_layout(tmp_path / "q", [("Where?", [{"content": "x", "start_index": 0, "end_index": 1}], "pubmed")])
    with pytest.raises(Exception, match=r"questions_df.csv:2: question 'Where\?': corpus_id 'pubmed' is not a document"):
        load_dataset(f"docs:{tmp_path / 'q'}")


def test_cli_chroma_with_an_out_of_range_reference(tmp_path, capsys, caplog):
    from rageval.cli import main

    write_published_layout(tmp_path / "p", [
        ("What follows delta?", [{"content": "epsilon", "start_index": 24, "end_index": 31},
                                 {"content": "", "start_index": 60, "end_index": 64}], "essay"),
    ])
    args = ["run", "--dataset", f"docs:{tmp_path / 'p'},lenient=true", "--chunker", "sentence:n=1",
            "--retriever", "bm25", "--k", "5", "--metric", "span_recall@1", "--metric", "precision_omega"]
    assert main([*args, "--chroma", "--out", str(tmp_path / "o")]) == 0
    assert "reference 1: offsets 60..64 lie outside 'corpora/essay'" in caplog.text
    metrics = json.loads(next((tmp_path / "o").rglob("metrics.json")).read_text())["metrics"]
    # the sentence "Delta epsilon." [18, 32) meets epsilon; placed without its period: [18, 31); the
    # reference past the end adds its 4 characters: 7 / (13 + 4); the top 1 finds 7 of 7 + 4
    assert metrics["precision_omega"] == pytest.approx(7 / (13 + 4))
    assert metrics["span_recall@1"] == pytest.approx(7 / 11)
    assert main([*args, "--out", str(tmp_path / "d")]) == 0  # token-level: the outside reference is dropped
    metrics = json.loads(next((tmp_path / "d").rglob("metrics.json")).read_text())["metrics"]
    assert metrics["precision_omega"] == pytest.approx(1 / 3)  # regex tokens: epsilon of "Delta epsilon ."
    assert main(["run", "--dataset", f"docs:{tmp_path / 'p'}", "--chunker", "sentence:n=1", "--retriever", "bm25",
                 "--chroma", "--out", str(tmp_path / "e")]) == 2
    assert "reference 1: offsets start=60, end=64 are not within document 'corpora/essay'" in capsys.readouterr().err


def test_references_in_two_documents_add_up():
    chroma = scores(True)
    # alpha#1 finds fgh (3), over#1 finds 5678 (4); retrieved 5 + 6 characters
    assert chroma["span_recall@5"]["two_docs"] == 1.0
    assert chroma["span_precision@5"]["two_docs"] == pytest.approx(7 / 11)
    assert chroma["IoU@5"]["two_docs"] == pytest.approx(7 / 11)
    # Precision-Ω: alpha [0,10) (alpha#0 touches), over [0,14): 7 / (10 + 14)
    assert chroma["precision_omega"]["two_docs"] == pytest.approx(7 / 24)
    # uncovered characters add up over documents: [22,24) of alpha (2) + none of over
    assert chroma["IoU@5"]["two_docs_uncovered"] == pytest.approx(7 / (11 + 2))
    assert chroma["span_recall@5"]["two_docs_uncovered"] == pytest.approx(7 / 9)


def test_iou_counts_uncovered_reference_even_when_it_equals_the_retrieved_length():
    # alpha#2 [10,15) finds 4 of [10,14); [20,25) is uncovered (5): IoU 4 / (5 + 5)
    assert scores(True)["IoU@5"]["equal"] == pytest.approx(4 / 10)
    assert scores(True)["span_recall@5"]["equal"] == pytest.approx(4 / 9)


def test_an_empty_reference_adds_nothing():
    chroma = scores(True)
    assert chroma["span_recall@5"]["empty_ref"] == 1.0
    assert chroma["IoU@5"]["empty_ref"] == pytest.approx(2 / 5)


def test_precision_omega_of_a_document_without_chunks():
    from rageval.metrics.chunking_eval import chroma_precision_omega

    assert chroma_precision_omega({}, [[("missing", 0, 4)]]).tolist() == [0.0]
    assert chroma_precision_omega({"d": [(0, 4)]}, [[("d", 6, 8)]]).tolist() == [0.0]  # no chunk meets it
