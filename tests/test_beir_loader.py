"""The BEIR loader on good and bad input: every error names the file, the line and the value."""
from __future__ import annotations

import logging

import pytest

from conftest import write_beir
from rageval import load_dataset
from rageval.errors import DataError


def test_loads_a_valid_folder_with_fields_and_bare_path(tmp_path):
    root = write_beir(tmp_path / "toy")
    ds = load_dataset(str(root))
    assert ds.name == "toy" and ds.split == "test"
    assert ds.corpus.ids == ["d1", "d2", "d3"]
    assert ds.corpus.contents()[0] == "apples red apples and green apples"
    assert ds.qrels == {"q1": {"d1": 2, "d2": 1}, "q2": {"d3": 1}}
    assert load_dataset(f"beir:{root},fields=text").corpus.contents()[0] == "red apples and green apples"


def test_extra_field_as_text(tmp_path):
    root = write_beir(tmp_path / "x", corpus=['{"_id": "d1", "text": "t", "rewrite": "better words"}',
                                               '{"_id": "d2", "text": "u"}'],
                      qrels="q1\td1\t1\n")
    assert load_dataset(f"beir:{root},fields=rewrite").corpus.contents() == ["better words", ""]
    with pytest.raises(DataError, match=r"corpus.jsonl: fields= names 'nope'.*fields present: title, text, rewrite"):
        load_dataset(f"beir:{root},fields=nope")


@pytest.mark.parametrize("lines, message", [
    (['{"_id": "d1", "text": "a"}', '{"_id": "d2", "text": "b"'], r"corpus.jsonl:2: invalid JSON"),
    (['{"_id": "d1", "text": "a"}', '{"text": "b"}'], r'corpus.jsonl:2: missing "_id"'),
    (['{"_id": "d1"}'], r'corpus.jsonl:1: missing "text"'),
    (['{"_id": "d1", "text": "a"}', '{"_id": "d1", "text": "b"}'], r"corpus.jsonl:2: duplicate _id 'd1' \(first on line 1\)"),
    (['{"_id": "d1", "text": ["a"]}'], r'corpus.jsonl:1: "text" must be a string, got \["a"\]'),
    (['[1, 2]'], r"corpus.jsonl:1: expected a JSON object, got an array: '\[1, 2\]'"),
    ([], r"corpus.jsonl: the corpus is empty"),
    (['{"_id": "d1", "text": "a"}', '{"_id": "d 2", "text": "b"}'],
     r"corpus.jsonl:2: \"_id\" must be a non-empty id without whitespace, got 'd 2'"),
    (['{"_id": "", "text": "a"}'], r"corpus.jsonl:1: \"_id\" must be a non-empty id without whitespace, got ''"),
    (['{"_id": "d\\ud800", "text": "a"}'], r"corpus.jsonl:1: \"_id\" is not valid Unicode \(a lone surrogate\)"),
    (['{"_id": "d1", "text": ' + "[" * 100_000 + "}"], r"corpus.jsonl:1: invalid JSON \(nested too deeply\)"),
    (['{"_id": "d1", "text": "a", "n": ' + "9" * 5000 + "}"], r"corpus.jsonl:1: invalid JSON \(Exceeds the limit"),
])
def test_bad_corpus_lines(tmp_path, lines, message):
    root = write_beir(tmp_path / "bad", corpus=lines, qrels="q1\td1\t1\n")
    with pytest.raises(DataError, match=message):
        load_dataset(str(root))


def test_non_utf8_names_line_and_byte(tmp_path):
    root = write_beir(tmp_path / "bad")
    with open(root / "queries.jsonl", "ab") as f:
        f.write(b'{"_id": "q3", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"queries.jsonl:3: not UTF-8: byte 0xe9 at column 27"):
        load_dataset(str(root))


def test_queries_errors(tmp_path):
    with pytest.raises(DataError, match=r"queries.jsonl:2: duplicate _id 'q1'"):
        load_dataset(str(write_beir(tmp_path / "a", queries=['{"_id": "q1", "text": "x"}', '{"_id": "q1", "text": "y"}'])))
    with pytest.raises(DataError, match=r"queries.jsonl: there are no queries"):
        load_dataset(str(write_beir(tmp_path / "b", queries=[])))


def test_splits(tmp_path):
    root = write_beir(tmp_path / "s", split="dev")
    (root / "qrels" / "train.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(DataError, match=r"qrels: no split 'test'; available: dev, train"):
        load_dataset(str(root), split="test")
    with pytest.raises(DataError, match=r"several splits \(dev, train\): choose one with --split"):
        load_dataset(str(root))
    assert load_dataset(str(root), split="train").qrels == {"q1": {"d1": 1}}


def test_qrels_with_unknown_ids_warn_with_counts_and_fail_when_nothing_matches(tmp_path, caplog):
    root = write_beir(tmp_path / "u", qrels="q1\td1\t1\nq1\tzz\t1\nq9\td1\t1\n")
    with caplog.at_level(logging.WARNING, logger="rageval"):
        ds = load_dataset(str(root))
    assert ds.qrels == {"q1": {"d1": 1}}
    assert "skipped 1 queries not in queries.jsonl (e.g. 'q9') and 1 judgments of documents" in caplog.text
    assert ds.queries.ids == ["q1"]
    with pytest.raises(DataError, match=r"test.tsv: no judgment matches the corpus and queries \(1 unknown query ids, 1 judgments"):
        load_dataset(str(write_beir(tmp_path / "n", qrels="q9\td1\t1\nq1\tzz\t1\n")))


def test_bad_qrels_lines(tmp_path):
    with pytest.raises(DataError, match=r"test.tsv:3: score 'high' is not an integer"):
        load_dataset(str(write_beir(tmp_path / "a", qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\thigh\n")))
    with pytest.raises(DataError, match=r"test.tsv:2: duplicate judgment for query 'q1', document 'd1'"):
        load_dataset(str(write_beir(tmp_path / "b", qrels="q1\td1\t1\nq1\td1\t2\n")))
    with pytest.raises(DataError, match=r"test.tsv:1: expected 3 columns"):
        load_dataset(str(write_beir(tmp_path / "c", qrels="q1\td1\n")))


def test_spans_are_checked(tmp_path):
    root = write_beir(tmp_path / "sp")
    (root / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 4, "end": 10, "text": "apples"}\n')
    assert load_dataset(str(root)).spans == {"q1": [("d1", 4, 10)]}
    (root / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 0, "end": 3, "text": "xyz"}\n')
    with pytest.raises(DataError, match=r"spans.jsonl:1: query 'q1': span text 'xyz' does not match document 'd1' at \[0:3\] \('red'\)"):
        load_dataset(str(root))
    (root / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 0, "end": 300}\n')
    with pytest.raises(DataError, match=r"spans.jsonl:1: query 'q1': offsets start=0, end=300 are not within document 'd1' \(length 27\)"):
        load_dataset(str(root))


def test_missing_paths(tmp_path):
    with pytest.raises(Exception, match="no such path, and not a loader spec"):
        load_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(f"beir:{tmp_path / 'nowhere'}")


@pytest.mark.parametrize("qrels, message", [
    ("q1\td1\tx\nq2\td3\t1\n", r"test.tsv:1: score 'x' is not an integer"),  # no header: line 1 is data
    ("query-id\tcorpus-id\tscore\nq1\td1\tx\n", r"test.tsv:2: score 'x' is not an integer"),
    ("q1\td 1\t1\n", r"test.tsv:1: \"corpus-id\" must be a non-empty id without whitespace, got 'd 1'"),
    ("q1\td1\t0\nq2\td3\t0\n", r"test.tsv: no relevant judgment: all 2 grades are 0 or less"),
])
def test_bad_qrels(tmp_path, qrels, message):
    with pytest.raises(DataError, match=message):
        load_dataset(str(write_beir(tmp_path / "b", qrels=qrels)))


def test_negative_grades_warn_and_count_as_not_relevant(tmp_path, caplog):
    ds = load_dataset(str(write_beir(tmp_path / "b", qrels="q1\td1\t1\nq1\td2\t-1\nq2\td3\t1\n")))
    assert ds.qrels["q1"] == {"d1": 1, "d2": -1}
    assert "test.tsv: 1 negative grades (lines 2), counted as not relevant" in caplog.text


def test_the_trec_writer_refuses_ids_it_cannot_write(tmp_path):
    from rageval import RagevalError, Run

    run = Run.from_dict({"q 1": {"d1": 1.0}})
    with pytest.raises(RagevalError, match=r"query id 'q 1' is empty or holds whitespace"):
        run.write_trec(tmp_path / "run.trec")
    assert not list(tmp_path.iterdir())  # no partial file
    with pytest.raises(RagevalError, match=r"document id '' is empty"):
        Run.from_dict({"q1": {"": 1.0}}).write_trec(tmp_path / "run.trec")


def test_a_corpus_of_empty_texts_is_an_error_before_work(tmp_path):
    root = write_beir(tmp_path / "b", corpus=['{"_id": "d1", "text": ""}', '{"_id": "d2", "text": "  "}'],
                      qrels="q1\td1\t1\n")
    with pytest.raises(DataError, match=r"corpus.jsonl: every one of the 2 documents is empty"):
        load_dataset(str(root))
