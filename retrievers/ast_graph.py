"""Code documents as graphs over their tree-sitter syntax tree, for the ``astgnn`` retriever.

Nodes are the tree's named nodes. A chain of nodes that each have exactly one named child is
collapsed into the chain's last (most specific) node, attached where the chain's first node was.
Each node carries a node-type id (``crc32(language:type)`` modulo ``type_buckets``) and, for
leaves (identifiers, literals, ...), up to ``max_subtokens`` hashed sub-tokens of its text (split
at camelCase and underscores, lower-cased). Edges join parent and child and each node to its next
sibling, both ways. The cap: nodes are taken breadth-first from the root and the graph stops at
``max_nodes`` nodes, so a long function keeps its upper structure and loses its deepest parts.

Code that does not parse keeps the nodes that did (tree-sitter marks the rest ``ERROR``, itself a
node); a document in a language without a grammar, or empty, is a single node: its embedding
then comes from its text alone. Both are counted.

``corpus_graphs`` parses a corpus once: its graphs are cached by (corpus fingerprint, graph
settings, tree-sitter and grammar versions) as one ``.npz`` of concatenated arrays.
"""
from __future__ import annotations

import logging
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from rageval.data.model import Corpus
from rageval.progress import progress
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_open
from rageval.text.lexical import Analyzer
from rageval.text.treesitter import LANGUAGES, grammar_versions, parser

log = logging.getLogger("rageval")

_SUBTOKENS = Analyzer(stopwords="none", stemmer="none")
_MAX_LEAF_CHARS = 200
GRAPH_BATCH = 512  # documents parsed between two progress updates


def _bucket(text: str, buckets: int) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % buckets


@dataclass
class CodeGraph:
    """One document's graph as arrays (node i's sub-tokens are ``tokens[token_nodes == i]``)."""

    node_types: np.ndarray   # int64 [n]
    tokens: np.ndarray       # int64 [m] hashed sub-tokens
    token_nodes: np.ndarray  # int64 [m] the node of each sub-token
    edges: np.ndarray        # int64 [2, e], both directions
    children: np.ndarray     # int64 [n] children of each node in the graph
    parse_error: bool = False
    text_only: bool = False
    capped: bool = False

    @property
    def n_nodes(self) -> int:
        return len(self.node_types)


def _collapse(node):
    while node.named_child_count == 1:
        node = node.named_children[0]
    return node


def text_tokens(text: str, token_buckets: int, limit: int = 64) -> np.ndarray:
    """The hashed sub-tokens of a text (a query), as the graphs hash their leaves' (the first ``limit``)."""
    return np.array([_bucket(t, token_buckets) for t in _SUBTOKENS.raw_tokens(text)[:limit]], dtype=np.int64)


def text_only_graph(text: str, type_buckets: int, token_buckets: int, max_subtokens: int) -> CodeGraph:
    """A single node holding the first sub-tokens of the text."""
    toks = [_bucket(t, token_buckets) for t in _SUBTOKENS.raw_tokens(text[:_MAX_LEAF_CHARS])[:max_subtokens]]
    return CodeGraph(np.array([_bucket("<text>", type_buckets)], dtype=np.int64), np.array(toks, dtype=np.int64),
                     np.zeros(len(toks), dtype=np.int64), np.zeros((2, 0), dtype=np.int64),
                     np.zeros(1, dtype=np.int64), text_only=True)


def code_graph(source: str, language: str, max_nodes: int = 256, type_buckets: int = 4096,
               token_buckets: int = 16384, max_subtokens: int = 4) -> CodeGraph:
    """The graph of one code document (see the module docstring for the rules)."""
    if language not in LANGUAGES or not source.strip():
        return text_only_graph(source, type_buckets, token_buckets, max_subtokens)
    data = source.encode("utf-8", "surrogatepass")
    root = parser(language).parse(data).root_node
    start = _collapse(root)
    nodes = [start]
    types, parents = [], []
    edges: list[tuple[int, int]] = []
    capped = False
    queue = deque([0])
    while queue:
        i = queue.popleft()
        previous = None
        for child in nodes[i].named_children:
            if len(nodes) >= max_nodes:
                capped = True
                break
            j = len(nodes)
            nodes.append(_collapse(child))
            parents.append(i)
            edges.append((i, j))
            if previous is not None:
                edges.append((previous, j))
            previous = j
            queue.append(j)
    children = np.zeros(len(nodes), dtype=np.int64)
    np.add.at(children, np.array(parents, dtype=np.int64), 1)
    tokens, token_nodes = [], []
    for i, node in enumerate(nodes):
        types.append(_bucket(f"{language}:{node.type}", type_buckets))
        if node.named_child_count == 0 and node.end_byte - node.start_byte <= _MAX_LEAF_CHARS:
            text = data[node.start_byte:node.end_byte].decode("utf-8", "replace")
            for tok in _SUBTOKENS.raw_tokens(text)[:max_subtokens]:
                tokens.append(_bucket(tok, token_buckets))
                token_nodes.append(i)
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2).T
    return CodeGraph(np.array(types, dtype=np.int64), np.array(tokens, dtype=np.int64),
                     np.array(token_nodes, dtype=np.int64), np.concatenate([pairs, pairs[::-1]], axis=1),
                     children, parse_error=root.has_error, text_only=len(nodes) == 1, capped=capped)


def corpus_graphs(corpus: Corpus, default_language: str, max_nodes: int, type_buckets: int, token_buckets: int,
                  max_subtokens: int) -> list[CodeGraph]:
    """The graph of every document of ``corpus`` (its ``language`` meta, else ``default_language``),
    from the cache when this corpus was parsed with these settings and grammars before."""
    settings = (default_language, max_nodes, type_buckets, token_buckets, max_subtokens)
    path = cache_dir("graphs") / f"{key('graphs', corpus.fingerprint, settings, grammar_versions())}.npz"
    try:
        with np.load(path) as stored:
            graphs = _unpack(stored)
        if len(graphs) == len(corpus):
            log.info("graphs of %d documents from the cache (%s)", len(corpus), path.name)
            return graphs
    except (OSError, ValueError, KeyError):
        pass
    texts, metas = corpus.texts, corpus.metas
    graphs: list[CodeGraph] = []
    with progress(len(corpus), "building code graphs") as step:
        for start in range(0, len(corpus), GRAPH_BATCH):
            graphs += [code_graph(text, meta.get("language") or default_language, max_nodes, type_buckets,
                                  token_buckets, max_subtokens)
                       for text, meta in zip(texts[start:start + GRAPH_BATCH], metas[start:start + GRAPH_BATCH])]
            step.update(min(GRAPH_BATCH, len(corpus) - start))
    with atomic_open(path, "wb") as f:
        np.savez(f, **_pack(graphs))
    return graphs


def _pack(graphs: list[CodeGraph]) -> dict[str, np.ndarray]:
    def concat(arrays: list[np.ndarray], axis: int = 0) -> np.ndarray:
        return np.concatenate(arrays, axis=axis) if arrays else np.zeros((2, 0) if axis else 0, dtype=np.int64)

    return {"node_types": concat([g.node_types for g in graphs]), "tokens": concat([g.tokens for g in graphs]),
            "token_nodes": concat([g.token_nodes for g in graphs]), "edges": concat([g.edges for g in graphs], 1),
            "children": concat([g.children for g in graphs]),
            "sizes": np.array([[g.n_nodes, len(g.tokens), g.edges.shape[1]] for g in graphs], dtype=np.int64
                              ).reshape(-1, 3),
            "flags": np.array([[g.parse_error, g.text_only, g.capped] for g in graphs], dtype=bool).reshape(-1, 3)}


def _unpack(stored: Any) -> list[CodeGraph]:
    sizes, flags = stored["sizes"], stored["flags"]
    cuts = np.cumsum(sizes, axis=0)[:-1]
    nodes, children = np.split(stored["node_types"], cuts[:, 0]), np.split(stored["children"], cuts[:, 0])
    tokens, token_nodes = np.split(stored["tokens"], cuts[:, 1]), np.split(stored["token_nodes"], cuts[:, 1])
    edges = np.split(stored["edges"], cuts[:, 2], axis=1)
    return [CodeGraph(nodes[i], tokens[i], token_nodes[i], edges[i], children[i], *map(bool, flags[i]))
            for i in range(len(sizes))]
