"""The data model: corpus fingerprints and tie ranks, runs and the TREC format."""
from __future__ import annotations

import numpy as np
import pytest

from rageval import Corpus, Document, Run
from rageval.errors import DataError


def test_corpus_fingerprint_contents_and_lookup():
    docs = [Document("b", "beta text", "B"), Document("a", "alpha", "", {"x": 1})]
    corpus = Corpus(docs)
    assert corpus.fingerprint == Corpus(docs).fingerprint
    assert corpus.fingerprint != Corpus([Document("b", "beta text!", "B"), docs[1]]).fingerprint
    assert corpus.fingerprint != Corpus(docs, fields=("text",)).fingerprint
    assert corpus.contents() == ["B beta text", "alpha"]
    assert corpus.get("a") == docs[1] and "a" in corpus and "z" not in corpus
    assert corpus.id_ranks().tolist() == [1, 0]
    assert [list(b) for b in corpus.batches(1)] == [["B beta text"], ["alpha"]]


def test_a_text_column_reads_back_every_string():
    """Strings of every width (ASCII, Latin-1, CJK, emoji, a lone surrogate as the BEIR loader can
    meet it, empty ones) come back as they went in, by index, negative index, slice and iteration;
    the buffer is their UTF-8 encoding; a column pickles (Ray sends corpora to workers)."""
    import pickle

    from rageval.data.text_column import TextColumn

    texts = ["plain", "", "café résumé", "数据检索", "emoji 🙂 end", "\ud800 lone", "", "last"]
    column = TextColumn.of(iter(texts))
    assert len(column) == 8 and list(column) == texts and [column[i] for i in range(8)] == texts
    assert column[-1] == "last" and column[-8] == "plain" and column[2:5] == texts[2:5] and column[::3] == texts[::3]
    for bad in (8, -9):
        with pytest.raises(IndexError, match=f"index {bad} out of range for 8 strings"):
            column[bad]
    assert column.nbytes == sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) + 9 * 8
    assert column == texts and column == TextColumn.of(texts) and column != texts[:-1]
    assert TextColumn.of(["ab"]) != TextColumn.of(["cd"]) and TextColumn.of(["ab", ""]) != TextColumn.of(["a", "b"])
    assert pickle.loads(pickle.dumps(column)) == column
    assert len(TextColumn.of([])) == 0 and list(TextColumn.of([])) == []


def test_a_corpus_of_text_columns_is_the_corpus_of_lists():
    """Texts and titles held as TextColumns: the same fingerprint, contents, batches and documents
    as with lists; contents are the texts themselves when no title is set."""
    from rageval.data.text_column import TextColumn

    ids, texts, titles = ["b", "a", "c"], ["beta text", "alpha", "ü gamma"], ["B", "", "C"]
    lists = Corpus(ids=ids, texts=texts, titles=titles)
    columns = Corpus(ids=ids, texts=TextColumn.of(texts), titles=TextColumn.of(titles))
    assert isinstance(columns.texts, TextColumn) and isinstance(columns.contents(), TextColumn)
    assert columns.fingerprint == lists.fingerprint
    assert list(columns.contents()) == lists.contents() == ["B beta text", "alpha", "C ü gamma"]
    assert [list(b) for b in columns.batches(2)] == [list(b) for b in lists.batches(2)]
    assert columns.get("c") == lists.get("c") == Document("c", "ü gamma", "C")
    untitled = Corpus(ids=ids, texts=TextColumn.of(texts), titles=TextColumn.of(["", "", ""]))
    assert untitled.contents() is untitled.texts
    assert Corpus(ids=ids, texts=texts, titles=["", "", ""], fields=("title",)).contents() == ["", "", ""]


def test_run_trec_round_trip_keeps_scores_exactly(tmp_path):
    scores = np.array([[1 / 3, 0.1 + 0.2, 0.0], [2.0, -1.0, 0.0]])
    run = Run(["q1", "q2"], ["d0", "d1", "d2"], np.array([[2, 0, -1], [1, 0, -1]]), scores)
    run.write_trec(tmp_path / "run.trec", tag="my run")
    back = Run.read_trec(tmp_path / "run.trec")
    assert back.to_dict() == run.to_dict() == {"q1": {"d2": 1 / 3, "d0": 0.1 + 0.2}, "q2": {"d1": 2.0, "d0": -1.0}}
    assert (tmp_path / "run.trec").read_text().splitlines()[0] == "q1 Q0 d2 1 0.3333333333333333 my_run"


def test_read_trec_errors(tmp_path):
    path = tmp_path / "bad.trec"
    path.write_text("q1 Q0 d1 1 2.0 x\nq1 Q0 d1 2 1.0 x\n")
    with pytest.raises(DataError, match=r"bad.trec:2: document 'd1' appears twice for query 'q1'"):
        Run.read_trec(path)
    path.write_text("q1 Q0 d1 1 high x\n")
    with pytest.raises(DataError, match=r"bad.trec:1: score 'high' is not a number"):
        Run.read_trec(path)


def test_dataset_sample_is_seeded_and_keeps_judged_queries(tmp_path):
    from conftest import write_beir

    from rageval import load_dataset

    queries = [f'{{"_id": "q{i}", "text": "apple {i}"}}' for i in range(20)]
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td1\t{1 if i < 15 else 0}\n" for i in range(20))
    ds = load_dataset(str(write_beir(tmp_path / "s", queries=queries, qrels=qrels)))
    a, b, c = ds.sample(5, seed=1), ds.sample(5, seed=1), ds.sample(5, seed=2)
    assert a.queries.ids == b.queries.ids and len(a.queries) == 5 and a.queries.ids != c.queries.ids
    assert set(a.queries.ids) <= {f"q{i}" for i in range(15)} and set(a.qrels) == set(a.queries.ids)
    assert a.label == "s.test.sample5-seed1" and ds.sample(5).label == "s.test.sample5"
    assert ds.sample(100) is ds
