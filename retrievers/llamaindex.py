"""``llamaindex:module:attribute`` — a LlamaIndex retriever or vector index, built by a factory of the
user's, searched as deployed (the factory contract of ``langchain:``, with nodes and an embed model)."""
from __future__ import annotations

import functools
from typing import Any, Sequence

from rageval.data.model import Corpus
from rageval.retrievers.langchain import FactoryRetriever, TextVectors, span_metadata


@functools.cache
def embedding_class() -> type:
    """``RagevalEmbedding``: ``TextVectors`` as a ``llama_index.core`` ``BaseEmbedding`` (defined
    on first use, so importing this module does not import LlamaIndex)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class RagevalEmbedding(BaseEmbedding):
        """rageval's encoder as a LlamaIndex embed model (documents from its embedding cache)."""

        _vectors: Any = PrivateAttr()

        def __init__(self, vectors: TextVectors):
            super().__init__(model_name=str(vectors.encoder.path), embed_batch_size=vectors.encoder.batch_size)
            self._vectors = vectors

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._vectors.query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._vectors.documents([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._vectors.documents(texts).tolist()

    return RagevalEmbedding


class LlamaIndex(FactoryRetriever):
    """A LlamaIndex retriever or vector index built by your factory (``llamaindex:module:attribute``),
    searched unchanged.

    The factory is found as ``langchain:``'s is (a dotted module importable from the current folder
    or ``sys.path``, or a ``.py`` file). A factory of two arguments, ``factory(nodes:
    list[llama_index.core.schema.TextNode], embed_model: llama_index.core.embeddings.BaseEmbedding)``,
    is called when the corpus is indexed: every node holds a corpus document's searchable text, its
    node id is the corpus id (a chunk's id for a chunked corpus) and its metadata ``id`` (with a
    chunk's ``parent``, ``start`` and ``end``, all kept out of the embedded and LLM text), and
    ``embed_model`` is the encoder set by ``model`` (document vectors from rageval's embedding
    cache). A factory of no argument returns a retriever over an existing index whose nodes carry
    corpus ids; it is called when the spec is checked (and once per dataset). Either returns a
    ``BaseRetriever`` (its ``similarity_top_k`` set to k when it has one) or a ``VectorStoreIndex``
    (searched through ``as_retriever(similarity_top_k=k)``). Results map back by node id, else
    metadata ``id``; scores as the retriever gives them (similarities kept, distances negated,
    1/rank when missing). The index lives in memory for the run: nothing is saved in the index cache.
    """

    name = "llamaindex"
    kind, extra, framework = "llamaindex", "llamaindex", "llama_index.core"
    arguments = "(nodes: list[TextNode], embed_model: BaseEmbedding)"
    id_source = "each node's id (or its metadata['id'])"

    def types(self) -> tuple[tuple[type, ...], str]:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.base.base_retriever import BaseRetriever

        return (BaseRetriever, VectorStoreIndex), "a llama_index.core BaseRetriever or VectorStoreIndex"

    def inputs(self, corpus: Corpus) -> tuple[Any, Any]:
        from llama_index.core.schema import TextNode

        contents = corpus.contents()
        nodes = []
        for i in range(len(corpus)):
            meta = span_metadata(corpus, i)
            nodes.append(TextNode(id_=corpus.ids[i], text=contents[i], metadata=meta,
                                  excluded_embed_metadata_keys=list(meta), excluded_llm_metadata_keys=list(meta)))
        return nodes, embedding_class()(self.vectors)

    def searcher(self, k: int) -> Any:
        from llama_index.core import VectorStoreIndex

        if isinstance(self.built, VectorStoreIndex):
            return self.built.as_retriever(similarity_top_k=k)
        if hasattr(self.built, "similarity_top_k"):
            self.built.similarity_top_k = k
        return self.built

    def hits(self, target: Any, text: str, k: int) -> list[tuple[Sequence[Any], float | None]]:
        return [((hit.node.node_id, hit.node.metadata.get("id")), hit.score) for hit in target.retrieve(text)]
