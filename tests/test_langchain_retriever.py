"""``langchain:module:attribute``: LangChain retrievers and vector stores built by a user's factory,
searched with langchain-core's own classes and rageval's bundled encoder; results mapped back to
corpus ids (chunk ids for chunked corpora) and every bad factory named in one line."""
from __future__ import annotations

import re
import sys
from typing import Any

import numpy as np
import pytest

from conftest import SHARED
from rageval import RagevalError, get_retriever, load_dataset
from rageval.cli import main
from rageval.data.model import Corpus, Queries
from rageval.store.run_store import read_metrics

pytest.importorskip("langchain_core")
pytest.importorskip("faiss")

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

HERE = __name__  # this module, as the factories' import path names it
AGREEMENT = 0.99  # share of queries whose top 10 must equal dense flat's where the search is exact
WORD = re.compile(r"\w+")


# Example factories (what a user writes)

def in_memory_store(documents: list[Document], embeddings) -> InMemoryVectorStore:
    """langchain-core's own brute-force cosine store over rageval's documents and encoder."""
    store = InMemoryVectorStore(embeddings)
    store.add_documents(documents)
    return store


class KeywordRetriever(BaseRetriever):
    """Documents ranked by how many distinct query words they hold (ties: corpus order); no BM25."""

    documents: list[Document]
    k: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [self.documents[i] for i in keyword_ranking(query, [d.page_content for d in self.documents], self.k)]


def keyword_ranking(query: str, texts: list[str], k: int) -> list[int]:
    """Positions of the texts sharing words with ``query``: most shared distinct words first, then text order."""
    words = set(WORD.findall(query.lower()))
    shared = [(len(words & set(WORD.findall(t.lower()))), i) for i, t in enumerate(texts)]
    return [i for n, i in sorted(shared, key=lambda s: (-s[0], s[1])) if n > 0][:k]


def keyword_retriever(documents: list[Document], embeddings) -> KeywordRetriever:
    return KeywordRetriever(documents=documents)


FAKE_DIM = 16


def existing_store():
    """No argument: a retriever over a store built elsewhere (adi, a fake embedding of langchain-core),
    its documents' own ids random, the corpus id in metadata["id"]; 2 results unless asked for more."""
    corpus = load_dataset(str(SHARED / "adi")).corpus
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=FAKE_DIM))
    store.add_documents([Document(page_content=text, metadata={"id": doc_id}) for doc_id, text
                         in zip(corpus.ids, corpus.contents())])
    return store.as_retriever(search_kwargs={"k": 2})


captured: dict[str, Any] = {}


def capturing_store(documents: list[Document], embeddings) -> InMemoryVectorStore:
    captured["documents"], captured["embeddings"] = documents, embeddings
    return in_memory_store(documents, embeddings)


def stranger_ids(documents: list[Document], embeddings) -> InMemoryVectorStore:
    """A store whose documents lost their corpus ids."""
    return in_memory_store([Document(id=f"x{i}", page_content=d.page_content) for i, d in enumerate(documents)],
                           embeddings)


def returns_a_dict(documents, embeddings):
    return {"not": "a retriever"}


def raises(documents, embeddings):
    raise ValueError("the vector database is down")


def no_argument_returns_a_list():
    return []


def no_argument_raises():
    raise ConnectionError("cannot reach the store")


def one_argument(documents):
    return None


NOT_A_FACTORY = "a string"


@pytest.fixture(scope="module")
def adi(shared):
    return load_dataset(str(shared / "adi"))


@pytest.fixture(scope="module")
def dense_adi(adi):
    dense = get_retriever("dense")
    dense.index(adi.corpus)
    return dense.search(adi.queries, 10)


def agreement(run, reference) -> float:
    """Share of queries whose top-10 lists (ids in rank order) are equal."""
    return float(np.mean([a.tolist() == b.tolist() for a, b in zip(run.indices, reference.indices)]))


def test_an_in_memory_store_ranks_as_dense_flat(adi, dense_adi):
    lc = get_retriever(f"langchain:{HERE}:in_memory_store")
    lc.index(adi.corpus)
    assert lc.vectors.encoder.calls == 0  # the documents' vectors came from the embedding cache dense filled
    run = lc.search(adi.queries, 10)
    share = agreement(run, dense_adi)
    assert share >= AGREEMENT, f"top-10 equal to dense flat on {share:.2%} of {len(adi.queries)} adi queries"
    returned = run.indices >= 0
    np.testing.assert_allclose(run.scores[returned], dense_adi.scores[returned], atol=1e-5)  # cosine = inner product
    assert run.doc_ids == adi.corpus.ids


def test_the_factory_gets_the_corpus_with_ids_spans_and_the_bundled_encoder(adi, dense_adi):
    chunks = get_chunker("fixed:size=40,overlap=10").chunk(adi.corpus)
    lc = get_retriever(f"langchain:{HERE}:capturing_store")
    lc.index(chunks)
    documents, embeddings = captured["documents"], captured["embeddings"]
    assert [d.id for d in documents] == [d.metadata["id"] for d in documents] == chunks.ids
    assert [d.page_content for d in documents] == list(chunks.contents())
    for doc in documents:
        parent = adi.corpus.get(doc.metadata["parent"])
        assert doc.page_content.endswith(parent.text[doc.metadata["start"]:doc.metadata["end"]])
        assert set(doc.metadata) == {"id", "parent", "start", "end"}
    # the embeddings are the bundled encoder's: the same vectors as dense's for queries and documents
    dense = get_retriever("dense")
    np.testing.assert_allclose(embeddings.embed_documents([documents[3].page_content]),
                               dense.encoder.encode([documents[3].page_content]), atol=1e-5)
    np.testing.assert_allclose(embeddings.embed_query("computer"), dense.encoder.encode(["computer"])[0], atol=1e-5)
    run = lc.search(adi.queries, 5)
    assert {run.doc_ids[i] for i in run.indices.ravel() if i >= 0} <= set(chunks.ids)


def test_a_base_retriever_is_searched_with_k_and_keeps_its_order(adi):
    lc = get_retriever(f"langchain:{HERE}:keyword_retriever")
    lc.index(adi.corpus)
    run = lc.search(adi.queries, 10)
    contents = list(adi.corpus.contents())
    for row, text in enumerate(adi.queries.texts):
        expected = keyword_ranking(text, contents, 10)
        got = run.indices[row][run.indices[row] >= 0].tolist()
        assert got == expected  # 10 results (the retriever's own k is 4): a copy with k set was searched
        np.testing.assert_allclose(run.scores[row, :len(got)], 1 / np.arange(1, len(got) + 1))  # rank-based
    assert (run.indices >= 0).sum(axis=1).max() == 10


def test_a_no_argument_factory_maps_results_back_by_metadata_id(adi):
    lc = get_retriever(f"langchain:{HERE}:existing_store")
    assert lc.vectors is None and lc.config()["factory"] == f"{HERE}:existing_store"
    lc.index(adi.corpus)
    run = lc.search(adi.queries, 10)
    fake = DeterministicFakeEmbedding(size=FAKE_DIM)
    docs = np.array(fake.embed_documents(list(adi.corpus.contents())))
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    for row, text in enumerate(adi.queries.texts):
        query = np.array(fake.embed_query(text))
        cosine = docs @ (query / np.linalg.norm(query))
        expected = np.argsort(-cosine, kind="stable")[:10]
        assert run.indices[row].tolist() == expected.tolist()  # k=10 passed to invoke overrides search_kwargs' 2


def test_a_py_file_or_a_module_in_the_current_folder_is_a_factory(adi, dense_adi, tmp_path, monkeypatch):
    source = ("from langchain_core.vectorstores import InMemoryVectorStore\n\n"
              "def make(documents, embeddings):\n"
              "    return InMemoryVectorStore.from_documents(documents, embeddings)\n")
    (tmp_path / "lc_factory_in_cwd.py").write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.chdir(tmp_path)
    for spec in (f"langchain:{tmp_path / 'lc_factory_in_cwd.py'}:make", "langchain:lc_factory_in_cwd:make"):
        lc = get_retriever(spec)
        lc.index(adi.corpus)
        share = agreement(lc.search(adi.queries, 10), dense_adi)
        assert share >= AGREEMENT, f"{spec}: top-10 equal to dense flat on {share:.2%} of adi queries"
    monkeypatch.delitem(sys.modules, "lc_factory_in_cwd")


def test_an_edited_factory_module_is_a_new_configuration(tmp_path):
    file = tmp_path / "edited.py"
    file.write_text("def make(documents, embeddings):\n    return None\n", encoding="utf-8")
    first = get_retriever(f"langchain:{file}:make").config()
    assert first["factory_module_sha256"] and first["model_identity"]
    file.write_text("def make(documents, embeddings):\n    return 1\n", encoding="utf-8")
    assert get_retriever(f"langchain:{file}:make").config()["factory_module_sha256"] != first["factory_module_sha256"]


def test_scores_fall_along_the_ranking_similarity_distance_or_rank():
    from rageval.retrievers.langchain import ranked

    corpus = Corpus(ids=["a", "b", "c"], texts=["x", "y", "z"])
    positions, scores = ranked("t", corpus, "q", [(("b",), 0.9), (("a",), 0.5), (("b",), 0.4)], "id")
    assert positions.tolist() == [1, 0] and scores.tolist() == [0.9, 0.5]  # similarities; b once, at its best
    assert ranked("t", corpus, "q", [(("c",), 0.1), ((None, "a"), 0.7)], "id")[1].tolist() == [-0.1, -0.7]  # distances
    unordered = [(("c",), 0.1), (("a",), 0.7), (("b",), 0.2)]
    assert ranked("t", corpus, "q", unordered, "id")[1].tolist() == [1, 1 / 2, 1 / 3]  # neither: 1/rank
    assert ranked("t", corpus, "q", [(("c",), None), (("a",), 0.7)], "id")[1].tolist() == [1, 1 / 2]
    float32 = [(("c",), np.float32(0.5)), (("a",), np.float32(0.25))]  # what a FAISS-backed store gives
    assert ranked("t", corpus, "q", float32, "id")[1].tolist() == [0.5, 0.25]


def test_cli_run_scores_the_store_as_dense(shared, tmp_path, capsys):
    spec = f"langchain:{HERE}:in_memory_store"
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--retriever", "dense",
                 "--k", "10", "--metric", "nDCG@10", "--out", str(tmp_path)]) == 0
    pairs = {record.key.retriever: record for record in map(read_metrics, tmp_path.rglob("metrics.json"))}
    assert pairs[spec].means["nDCG@10"] == pytest.approx(pairs["dense"].means["nDCG@10"], abs=1e-9)
    assert pairs[spec].settings["config"]["factory"] == f"{HERE}:in_memory_store"
    assert {"index_s", "search_s"} <= set(pairs[spec].timings)


def test_list_shows_the_adapter_and_its_options(capsys):
    assert main(["list", "-v"]) == 0
    out = capsys.readouterr().out
    entry = out.split("\nretrievers langchain")[1].split("\n\nretrievers ")[0]
    assert "factory: str" in entry and "model: str = 'default'" in entry and "doc_prefix: str = ''" in entry
    assert "[" not in entry.splitlines()[0]  # usable: no "[not installed]"


# Bad input: one line naming the import path and what was expected

def run_cli(capsys, shared, tmp_path, spec: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--k", "10",
                 "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("target, message", [
    ("no_such_module_for_rageval:make", "no module named 'no_such_module_for_rageval'"),
    (f"{HERE}:no_such_factory", f"module '{HERE}' has no attribute 'no_such_factory'"),
    (f"{HERE}:NOT_A_FACTORY", "is a str, not a callable; expected a function (or class) that builds the retriever"),
    (f"{HERE}:one_argument", "takes (documents); expected (documents: list[Document], embeddings: Embeddings) "
                             "or no argument"),
    (f"{HERE}:no_argument_returns_a_list", "returned builtins.list; expected a langchain_core BaseRetriever or "
                                           "VectorStore"),
    (f"{HERE}:no_argument_raises", "raised ConnectionError: cannot reach the store"),
    ("just_a_module", "expected langchain:MODULE:ATTRIBUTE"),
    ("missing_file.py:make", "no such file 'missing_file.py'"),
])
def test_a_bad_factory_is_refused_before_any_work(shared, tmp_path, capsys, target, message):
    code, _, err = run_cli(capsys, shared, tmp_path, f"langchain:{target}")
    errors = [line for line in err.splitlines() if line.startswith("rageval: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert repr(target) in errors[0] and message in errors[0]
    assert not (tmp_path / "o").exists()  # refused before any dataset was loaded


def test_a_spec_without_its_factory_is_refused(shared, tmp_path, capsys):
    code, _, err = run_cli(capsys, shared, tmp_path, "langchain")
    assert code == 2 and "retriever 'langchain' needs its factory after the colon" in err


def test_a_module_that_fails_to_import_is_named(shared, tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_dependency_for_rageval\n", encoding="utf-8")
    code, _, err = run_cli(capsys, shared, tmp_path, f"langchain:{broken}:make")
    assert code == 2 and f"'{broken}:make': importing '{broken}' failed: ModuleNotFoundError: " \
        "No module named 'no_such_dependency_for_rageval'" in err


@pytest.mark.parametrize("factory, message", [
    ("returns_a_dict", "returned builtins.dict; expected a langchain_core BaseRetriever or VectorStore"),
    ("raises", "raised ValueError: the vector database is down"),
])
def test_a_factory_that_fails_on_the_corpus_fails_its_pair_and_scores_nothing(shared, tmp_path, capsys, caplog,
                                                                            factory, message):
    # called when the corpus is indexed, so its pair fails (exit 1) and the benchmark's other pairs go on
    code, out, _ = run_cli(capsys, shared, tmp_path, f"langchain:{HERE}:{factory}")
    assert code == 1 and "failed:" in out and not list((tmp_path / "o").rglob("run.trec"))
    assert f"failed: langchain factory '{HERE}:{factory}' {message}" in caplog.text


def test_results_without_corpus_ids_are_refused_naming_the_query(shared, tmp_path, capsys, caplog):
    code, out, _ = run_cli(capsys, shared, tmp_path, f"langchain:{HERE}:stranger_ids")
    assert code == 1 and "failed:" in out and not list((tmp_path / "o").rglob("run.trec"))
    assert re.search(r"query '1': 82 of 82 results carry no corpus id \('x\d+', 'x\d+', 'x\d+', 'x\d+', 'x\d+'\); "
                     r"expected each Document's metadata\['id'\] \(or its id\) to be a corpus id "
                     r"\(such as '1', '2', '3'\)", caplog.text)


def test_a_search_that_raises_names_the_query(adi):
    lc = get_retriever(f"langchain:{HERE}:in_memory_store")
    lc.index(Corpus(ids=["a"], texts=["alpha"]))
    lc.built = KeywordRetriever.model_construct(documents=None)  # breaks in _get_relevant_documents
    with pytest.raises(RagevalError, match=r"langchain '.*in_memory_store': query 'q1': the search raised TypeError"):
        lc.search(Queries(["q1"], ["alpha"]), 1)


@pytest.mark.slow
def test_cosqa_in_memory_store_ranks_as_dense_flat(shared):
    cosqa = load_dataset(str(shared / "cosqa"))
    dense = get_retriever("dense")
    dense.index(cosqa.corpus)
    reference = dense.search(cosqa.queries, 10)
    lc = get_retriever(f"langchain:{HERE}:in_memory_store")
    lc.index(cosqa.corpus)
    share = agreement(lc.search(cosqa.queries, 10), reference)
    assert share >= AGREEMENT, f"top-10 equal to dense flat on {share:.2%} of {len(cosqa.queries)} cosqa queries"


def get_chunker(spec: str):
    from rageval import registry

    return registry.create("chunkers", spec)
