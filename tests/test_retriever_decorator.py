"""``rageval.retriever``: a plain function registered as a retriever of this process, run through
``get_retriever`` and ``benchmark`` like an installed one, its answers checked against the corpus."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

import rageval
from rageval import registry
from rageval.data.model import Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.store.run_folder import pair_folder

from conftest import write_beir


@pytest.fixture(autouse=True)
def runtime_registry():
    """Each test's registrations are forgotten after it (other tests list every installed plugin)."""
    saved = dict(registry._RUNTIME["retrievers"])
    yield
    registry._RUNTIME["retrievers"].clear()
    registry._RUNTIME["retrievers"].update(saved)
    registry.available.cache_clear()


@pytest.fixture(scope="module")
def adi(shared):
    return rageval.load_dataset(str(shared / "adi"))


def register_bm25_function(name: str, calls: list | None = None) -> None:
    """A function that searches a bm25 index its ``index`` hook builds, answering in a shuffled order
    (rageval ranks the answers itself)."""
    bm25 = rageval.get_retriever("bm25")

    def search(query_texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        if calls is not None:
            calls.append((list(query_texts), k))
        run = bm25.search(Queries([f"t{i}" for i in range(len(query_texts))], query_texts), k)
        answers = []
        for text, (_, docs, scores) in zip(query_texts, run.results()):
            pairs = list(zip(docs, scores))
            random.Random(text).shuffle(pairs)
            answers.append(pairs)
        return answers

    rageval.retriever(name, index=bm25.index)(search)


def test_a_function_over_adi_gives_bm25s_run_through_benchmark(adi, shared, tmp_path):
    calls: list = []
    register_bm25_function("mine", calls)
    outcomes = rageval.benchmark(str(shared / "adi"), ["bm25", "mine"], k=10, out=tmp_path)
    assert [o.error for o in outcomes] == [None, None]
    assert outcomes[0].means == outcomes[1].means
    runs = [Run.read_trec(pair_folder(tmp_path, adi.label, s) / "run.trec").to_dict() for s in ("bm25", "mine")]
    assert runs[0] == runs[1] and len(runs[0]) == len(adi.queries)
    # one call with every query text, in order, and the depth asked (Recall@100 makes it 100)
    assert calls == [(list(adi.queries.texts), 82)]
    config = json.loads((pair_folder(tmp_path, adi.label, "mine") / "metrics.json").read_text())["run"]["config"]
    assert config["name"] == "mine" and config["function"].endswith("register_bm25_function.<locals>.search")
    assert len(config["source_sha256"]) == 16


def test_get_retriever_and_the_registry_know_it(adi):
    @rageval.retriever
    def first_doc(query_texts, k):
        """Always the first two documents, the second one higher."""
        return [[("1", 0.5), ("2", 1.5)] for _ in query_texts]

    assert "first_doc" in registry.available("retrievers")
    assert registry.describe(registry.plugin("retrievers", "first_doc")) == \
        "Always the first two documents, the second one higher."
    retriever = rageval.get_retriever("first_doc")
    retriever.index(adi.corpus)
    run = retriever.search(Queries(["a", "b"], ["x", "y"]), 1)
    assert [(docs, scores) for _, docs, scores in run.results()] == [(["2"], [1.5])] * 2
    assert first_doc(["q"], 3) == [[("1", 0.5), ("2", 1.5)]]  # the function itself is unchanged


def test_ties_are_ranked_by_trec_evals_rule(tmp_path):
    ds = rageval.load_dataset(str(write_beir(tmp_path / "tiny")))
    rageval.retriever("ties")(lambda texts, k: [[("d1", 1.0), ("d3", 0.5), ("d2", 1)] for _ in texts])
    retriever = rageval.get_retriever("ties")
    retriever.index(ds.corpus)
    run = retriever.search(ds.queries, 3)
    assert [docs for _, docs, _ in run.results()] == [["d2", "d1", "d3"]] * 2


def test_an_unknown_id_fails_the_pair_naming_the_query(adi, shared, tmp_path):
    rageval.retriever("broken")(lambda texts, k: [[("1", 1.0)] if i else [("1", 2.0), ("d404", 1.0)]
                                                  for i, _ in enumerate(texts)])
    [outcome] = rageval.benchmark(str(shared / "adi"), ["broken"], out=tmp_path)
    first = adi.queries.ids[0]
    assert outcome.error == (f"retriever 'broken': query {first!r}: 1 result id(s) not in the corpus "
                             "(82 documents): 'd404'")
    folder = pair_folder(tmp_path, adi.label, "broken")
    assert not (folder / "metrics.json").exists() and not (folder / "run.trec").exists()


BAD_RETURNS = {
    "too few lists": (lambda texts, k: [[("1", 1.0)]], "the function returned 1 result lists for 2 query texts"),
    "not a list": (lambda texts, k: 3, "the function returned int, not one list of (id, score) pairs"),
    "not pairs": (lambda texts, k: [["1"] for _ in texts], "query 'a': result 0 is '1', not an (id, score) pair"),
    "int id": (lambda texts, k: [[(1, 1.0)] for _ in texts], "query 'a': result 0 has id 1 (int), not a string"),
    "nan score": (lambda texts, k: [[("1", float("nan"))] for _ in texts], "has score nan, not a finite number"),
    "bool score": (lambda texts, k: [[("1", True)] for _ in texts], "has score True, not a finite number"),
    "twice": (lambda texts, k: [[("1", 2.0), ("1", 1.0)] for _ in texts], "query 'a': id '1' is listed twice"),
    "many unknown": (lambda texts, k: [[(f"x{i}", 1.0) for i in range(5)] for _ in texts],
                     "5 result id(s) not in the corpus (82 documents): 'x0', 'x1', 'x2', ..."),
}


@pytest.mark.parametrize("case", BAD_RETURNS, ids=list(BAD_RETURNS))
def test_bad_answers_are_clear_errors(case, adi):
    function, expected = BAD_RETURNS[case]
    rageval.retriever("bad")(function)
    retriever = rageval.get_retriever("bad")
    retriever.index(adi.corpus)
    with pytest.raises(RagevalError) as error:
        retriever.search(Queries(["a", "b"], ["x", "y"]), 10)
    assert str(error.value).startswith("retriever 'bad': ") and expected in str(error.value), str(error.value)


def test_numpy_scores_are_numbers(adi):
    rageval.retriever("np")(lambda texts, k: [[("3", np.float32(0.25)), ("4", np.int64(2))] for _ in texts])
    retriever = rageval.get_retriever("np")
    retriever.index(adi.corpus)
    [(_, docs, scores)] = retriever.search(Queries(["a"], ["x"]), 5).results()
    assert (docs, scores) == (["4", "3"], [2.0, 0.25])


def test_names_are_checked():
    with pytest.raises(SpecError, match="retriever 'bm25' is already installed; register this one under another "
                                        "name"):
        rageval.retriever("bm25")(lambda texts, k: [])
    with pytest.raises(SpecError, match=r"retriever name '<lambda>': use letters, digits, '_' and '-'"):
        rageval.retriever(lambda texts, k: [])
    with pytest.raises(SpecError, match=r"retriever name 'a:b'"):
        rageval.retriever("a:b")(lambda texts, k: [])
    assert "bm25" in registry.available("retrievers") and "<lambda>" not in registry.available("retrievers")


def test_registering_again_replaces_and_an_edited_function_has_another_config(adi):
    """A notebook cell run again after an edit: the same name and qualified name, another source. The
    config (what a resumed benchmark compares) changes, so the finished run is not reused."""
    @rageval.retriever("again")
    def again(texts, k):
        return [[("1", 1.0)] for _ in texts]

    before = rageval.get_retriever("again").config()

    @rageval.retriever("again")
    def again(texts, k):  # noqa: F811 - the edited cell
        return [[("2", 1.0)] for _ in texts]

    retriever = rageval.get_retriever("again")
    retriever.index(adi.corpus)
    assert [docs for _, docs, _ in retriever.search(Queries(["a"], ["x"]), 1).results()] == [["2"]]
    after = retriever.config()
    assert after["function"] == before["function"] and after["source_sha256"] != before["source_sha256"]
