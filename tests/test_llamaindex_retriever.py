"""``llamaindex:module:attribute``: LlamaIndex retrievers and vector indexes built by a user's factory,
searched with llama-index-core's own classes and rageval's bundled encoder; nodes mapped back to
corpus ids by node id, and every bad factory named in one line."""
from __future__ import annotations

import re

import numpy as np
import pytest

from rageval import RagevalError, get_retriever, load_dataset
from rageval.cli import main
from rageval.data.model import Corpus, Queries
from rageval.store.run_store import read_metrics

pytest.importorskip("llama_index.core")
pytest.importorskip("faiss")

from llama_index.core import VectorStoreIndex  # noqa: E402
from llama_index.core.base.base_retriever import BaseRetriever  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode  # noqa: E402

HERE = __name__  # this module, as the factories' import path names it
AGREEMENT = 0.99  # share of queries whose top 10 must equal dense flat's where the search is exact
WORD = re.compile(r"\w+")


# Example factories (what a user writes)

def vector_index(nodes: list[TextNode], embed_model) -> VectorStoreIndex:
    """llama-index-core's own VectorStoreIndex (SimpleVectorStore: brute-force cosine) over rageval's nodes."""
    return VectorStoreIndex(nodes, embed_model=embed_model)


def narrow_retriever(nodes: list[TextNode], embed_model):
    """A retriever of the same index that returns 2 results unless told otherwise."""
    return vector_index(nodes, embed_model).as_retriever(similarity_top_k=2)


class KeywordRetriever(BaseRetriever):
    """Nodes ranked by how many distinct query words they hold (ties: node order), without scores; no BM25."""

    def __init__(self, nodes: list[TextNode]):
        super().__init__()
        self.nodes = nodes

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        ranking = keyword_ranking(query_bundle.query_str, [n.get_content() for n in self.nodes], 10)
        return [NodeWithScore(node=self.nodes[i], score=None) for i in ranking]


def keyword_ranking(query: str, texts: list[str], k: int) -> list[int]:
    """Positions of the texts sharing words with ``query``: most shared distinct words first, then text order."""
    words = set(WORD.findall(query.lower()))
    shared = [(len(words & set(WORD.findall(t.lower()))), i) for i, t in enumerate(texts)]
    return [i for n, i in sorted(shared, key=lambda s: (-s[0], s[1])) if n > 0][:k]


def keyword_retriever(nodes: list[TextNode], embed_model) -> KeywordRetriever:
    return KeywordRetriever(nodes)


def renamed_nodes(nodes: list[TextNode], embed_model) -> KeywordRetriever:
    """Nodes given fresh ids, the corpus id kept in their metadata."""
    return KeywordRetriever([TextNode(id_=f"fresh-{n.node_id}", text=n.text, metadata=n.metadata) for n in nodes])


def lost_ids(nodes: list[TextNode], embed_model) -> KeywordRetriever:
    """Nodes that lost their corpus ids."""
    return KeywordRetriever([TextNode(id_=f"x{i}", text=n.text) for i, n in enumerate(nodes)])


def returns_a_string(nodes, embed_model):
    return "an index"


def raises(nodes, embed_model):
    raise RuntimeError("out of memory")


def no_argument_returns_none():
    return None


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


@pytest.mark.parametrize("factory", ["vector_index", "narrow_retriever"])
def test_a_vector_store_index_ranks_as_dense_flat(adi, dense_adi, factory):
    li = get_retriever(f"llamaindex:{HERE}:{factory}")
    li.index(adi.corpus)
    assert li.vectors.encoder.calls == 0  # the nodes' vectors came from the embedding cache dense filled
    run = li.search(adi.queries, 10)  # narrow_retriever: similarity_top_k set to 10
    share = agreement(run, dense_adi)
    assert share >= AGREEMENT, f"{factory}: top-10 equal to dense flat on {share:.2%} of {len(adi.queries)} adi queries"
    returned = run.indices >= 0
    np.testing.assert_allclose(run.scores[returned], dense_adi.scores[returned], atol=1e-5)


def test_nodes_carry_corpus_ids_and_spans_outside_the_embedded_text(adi):
    from rageval import registry

    chunks = registry.create("chunkers", "fixed:size=40,overlap=10").chunk(adi.corpus)
    li = get_retriever(f"llamaindex:{HERE}:keyword_retriever")
    li.index(chunks)
    nodes = li.built.nodes
    assert [n.node_id for n in nodes] == [n.metadata["id"] for n in nodes] == chunks.ids
    for node, text in zip(nodes, chunks.contents()):
        assert node.get_content(metadata_mode=MetadataMode.EMBED) == node.get_content(MetadataMode.LLM) == text
        parent = adi.corpus.get(node.metadata["parent"])
        assert text.endswith(parent.text[node.metadata["start"]:node.metadata["end"]])
    run = li.search(adi.queries, 5)
    assert {run.doc_ids[i] for i in run.indices.ravel() if i >= 0} <= set(chunks.ids)


@pytest.mark.parametrize("factory", ["keyword_retriever", "renamed_nodes"])
def test_a_retriever_without_scores_keeps_its_order(adi, factory):
    li = get_retriever(f"llamaindex:{HERE}:{factory}")
    li.index(adi.corpus)
    run = li.search(adi.queries, 10)
    contents = list(adi.corpus.contents())
    for row, text in enumerate(adi.queries.texts):
        expected = keyword_ranking(text, contents, 10)
        got = run.indices[row][run.indices[row] >= 0].tolist()
        assert got == expected  # renamed_nodes: mapped back by metadata["id"]
        np.testing.assert_allclose(run.scores[row, :len(got)], 1 / np.arange(1, len(got) + 1))


def test_the_embed_model_is_the_bundled_encoder(adi):
    li = get_retriever(f"llamaindex:{HERE}:vector_index")
    li.index(adi.corpus)
    embed = li.built._embed_model
    dense = get_retriever("dense")
    np.testing.assert_allclose(embed.get_text_embedding_batch(["an unseen text", adi.corpus.contents()[0]]),
                               dense.encoder.encode(["an unseen text", adi.corpus.contents()[0]]), atol=1e-5)
    np.testing.assert_allclose(embed.get_query_embedding("retrieval"), dense.encoder.encode(["retrieval"])[0],
                               atol=1e-5)


def test_cli_run_scores_the_index_as_dense(shared, tmp_path):
    spec = f"llamaindex:{HERE}:vector_index"
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--retriever", "dense",
                 "--k", "10", "--metric", "nDCG@10", "--out", str(tmp_path)]) == 0
    pairs = {record.key.retriever: record for record in map(read_metrics, tmp_path.rglob("metrics.json"))}
    assert pairs[spec].means["nDCG@10"] == pytest.approx(pairs["dense"].means["nDCG@10"], abs=1e-9)
    assert pairs[spec].settings["config"]["factory"] == f"{HERE}:vector_index"


# Bad input

def run_cli(capsys, shared, tmp_path, spec: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--k", "10",
                 "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("target, message", [
    ("no_such_module_for_rageval.sub:make", "no module named 'no_such_module_for_rageval'"),
    (f"{HERE}:no_such_factory", f"module '{HERE}' has no attribute 'no_such_factory'"),
    (f"{HERE}:no_argument_returns_none", "returned builtins.NoneType; expected a llama_index.core BaseRetriever "
                                         "or VectorStoreIndex"),
    (f"{HERE}:keyword_ranking", "takes (query, texts, k); expected (nodes: list[TextNode], "
                                "embed_model: BaseEmbedding) or no argument"),
])
def test_a_bad_factory_is_refused_before_any_work(shared, tmp_path, capsys, target, message):
    code, _, err = run_cli(capsys, shared, tmp_path, f"llamaindex:{target}")
    errors = [line for line in err.splitlines() if line.startswith("rageval: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert f"llamaindex factory {target!r}" in errors[0] and message in errors[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("factory, message", [
    ("returns_a_string", "returned builtins.str; expected a llama_index.core BaseRetriever or VectorStoreIndex"),
    ("raises", "raised RuntimeError: out of memory"),
])
def test_a_factory_that_fails_on_the_corpus_fails_its_pair_and_scores_nothing(shared, tmp_path, capsys, caplog,
                                                                            factory, message):
    # called when the corpus is indexed, so its pair fails (exit 1) and the benchmark's other pairs go on
    code, out, _ = run_cli(capsys, shared, tmp_path, f"llamaindex:{HERE}:{factory}")
    assert code == 1 and "failed:" in out and not list((tmp_path / "o").rglob("run.trec"))
    assert f"failed: llamaindex factory '{HERE}:{factory}' {message}" in caplog.text


def test_nodes_without_corpus_ids_are_refused_naming_the_query(adi):
    li = get_retriever(f"llamaindex:{HERE}:lost_ids")
    li.index(adi.corpus)
    with pytest.raises(RagevalError, match=r"query '1': \d+ of \d+ results carry no corpus id \('x\d+'.*expected each "
                                           r"node's id \(or its metadata\['id'\]\) to be a corpus id"):
        li.search(adi.queries, 10)


def test_a_search_that_raises_names_the_query():
    li = get_retriever(f"llamaindex:{HERE}:keyword_retriever")
    li.index(Corpus(ids=["a"], texts=["alpha"]))
    li.built.nodes = None
    with pytest.raises(RagevalError, match=r"llamaindex '.*keyword_retriever': query 'q1': the search raised "
                                           r"TypeError"):
        li.search(Queries(["q1"], ["alpha"]), 1)


@pytest.mark.slow
def test_cosqa_vector_store_index_ranks_as_dense_flat(shared):
    cosqa = load_dataset(str(shared / "cosqa"))
    dense = get_retriever("dense")
    dense.index(cosqa.corpus)
    reference = dense.search(cosqa.queries, 10)
    li = get_retriever(f"llamaindex:{HERE}:vector_index")
    li.index(cosqa.corpus)
    share = agreement(li.search(cosqa.queries, 10), reference)
    assert share >= AGREEMENT, f"top-10 equal to dense flat on {share:.2%} of {len(cosqa.queries)} cosqa queries"
