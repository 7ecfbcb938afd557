"""The AST-GNN encoder (torch-geometric), two branches fused late:

- text branch: learned projections of the query's and the document's dense embeddings (both
  initialised to the identity, so the untrained branch ranks exactly as ``dense``);
- structure branch: the document's syntax-tree graph (node embeddings -> GraphSAGE message passing
  -> pooling by number of children -> mean/max read-out -> projection) plus the mean embedding of
  its leaves' sub-tokens, matched against a projection of the query's dense embedding plus the mean
  embedding of the query's own sub-tokens (one table for both sides). Both projections start at
  zero, so the untrained branch is a bag-of-sub-tokens matcher (shared tokens score high) that
  training extends with structure and the query's meaning.

Each branch is L2-normalised; the fused vectors are ``[sqrt(1 - gate) * text, sqrt(gate) * structure]``
on both sides, so their inner product is ``(1 - gate) * text score + gate * structure score`` (late
score fusion) and still unit length, searchable with one FAISS index. ``gate`` is a buffer: chosen
on the dev split after training (0 included, so on dev the fusion never ranks below its text branch).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv, global_max_pool, global_mean_pool
from torch_geometric.nn.pool.select.topk import topk
from torch_geometric.utils import scatter

from rageval.retrievers.ast_graph import CodeGraph


@dataclass
class GraphBatch:
    """Several graphs as one disjoint graph (node ids offset), with the graph of every node."""

    node_types: torch.Tensor
    tokens: torch.Tensor
    token_nodes: torch.Tensor
    edges: torch.Tensor
    children: torch.Tensor
    batch: torch.Tensor
    n_graphs: int


@dataclass
class TokenBatch:
    """The hashed sub-tokens of several texts, flat, with the text of each."""

    tokens: torch.Tensor
    owners: torch.Tensor
    n_texts: int


def token_batch(token_lists: list[np.ndarray]) -> TokenBatch:
    sizes = np.array([len(t) for t in token_lists], dtype=np.int64)
    tokens = np.concatenate(token_lists) if token_lists else np.zeros(0, dtype=np.int64)
    return TokenBatch(torch.from_numpy(tokens.astype(np.int64)),
                      torch.from_numpy(np.repeat(np.arange(len(token_lists)), sizes)), len(token_lists))


def collate(graphs: list[CodeGraph]) -> GraphBatch:
    sizes = np.array([g.n_nodes for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return GraphBatch(
        node_types=torch.from_numpy(np.concatenate([g.node_types for g in graphs])),
        tokens=torch.from_numpy(np.concatenate([g.tokens for g in graphs])),
        token_nodes=torch.from_numpy(np.concatenate([g.token_nodes + o for g, o in zip(graphs, offsets)])),
        edges=torch.from_numpy(np.concatenate([g.edges + o for g, o in zip(graphs, offsets)], axis=1)),
        children=torch.from_numpy(np.concatenate([g.children for g in graphs])),
        batch=torch.from_numpy(np.repeat(np.arange(len(graphs)), sizes)),
        n_graphs=len(graphs))


class AstGnnEncoder(nn.Module):
    """Document and query encoder; ``use_graph=False`` is the projection-only ablation (text branch alone)."""

    def __init__(self, text_dim: int, hidden: int = 128, layers: int = 2, pool_ratio: float = 0.5,
                 type_buckets: int = 4096, token_buckets: int = 16384, dropout: float = 0.1, use_graph: bool = True,
                 gate: float = 0.0):
        super().__init__()
        self.use_graph, self.pool_ratio, self.dropout = use_graph, pool_ratio, dropout
        self.query_proj = nn.Linear(text_dim, text_dim)
        self.doc_proj = nn.Linear(text_dim, text_dim)
        for proj in (self.query_proj, self.doc_proj):
            nn.init.eye_(proj.weight)
            nn.init.zeros_(proj.bias)
        self.register_buffer("gate", torch.tensor(gate if use_graph else 0.0))
        if use_graph:
            self.type_emb = nn.Embedding(type_buckets, hidden)
            self.token_emb = nn.Embedding(token_buckets, hidden)
            self.convs = nn.ModuleList(SAGEConv(hidden, hidden) for _ in range(layers))
            self.graph_out = nn.Linear(2 * hidden, hidden)
            self.struct_query = nn.Linear(text_dim, hidden)
            for proj in (self.graph_out, self.struct_query):
                nn.init.zeros_(proj.weight)
                nn.init.zeros_(proj.bias)

    def text_queries(self, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.query_proj(text), dim=-1)

    def text_documents(self, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.doc_proj(text), dim=-1)

    def bag(self, tokens: torch.Tensor, owners: torch.Tensor, n: int) -> torch.Tensor:
        """The mean sub-token embedding of each of ``n`` texts (zero for one without tokens)."""
        return scatter(self.token_emb(tokens), owners, dim=0, dim_size=n, reduce="mean")

    def structure_queries(self, text: torch.Tensor, tokens: TokenBatch) -> torch.Tensor:
        return F.normalize(self.struct_query(text) + self.bag(tokens.tokens, tokens.owners, tokens.n_texts), dim=-1)

    def structure_documents(self, graphs: GraphBatch) -> torch.Tensor:
        leaves = self.bag(graphs.tokens, graphs.batch[graphs.token_nodes], graphs.n_graphs)
        return F.normalize(self.graph_out(self.graph_vectors(graphs)) + leaves, dim=-1)

    def graph_vectors(self, g: GraphBatch) -> torch.Tensor:
        """Read-out of each graph: mean and max over the nodes kept by the children-count pooling."""
        h = self.type_emb(g.node_types)
        if len(g.tokens):
            h = h + scatter(self.token_emb(g.tokens), g.token_nodes, dim=0, dim_size=len(h), reduce="mean")
        for conv in self.convs:
            h = h + F.dropout(F.relu(conv(h, g.edges)), self.dropout, self.training)
        # rank nodes by number of children (earlier nodes first among equals), keep the top fraction
        score = g.children.to(h.dtype) - torch.arange(len(h), dtype=h.dtype) / (len(h) + 1)
        keep = topk(score, self.pool_ratio, g.batch)
        kept, batch = h[keep], g.batch[keep]
        return torch.cat([global_mean_pool(kept, batch, g.n_graphs), global_max_pool(kept, batch, g.n_graphs)], dim=-1)

    def fuse(self, text: torch.Tensor, structure: torch.Tensor | None, gate: float | None = None) -> torch.Tensor:
        """``[sqrt(1 - gate) * text, sqrt(gate) * structure]`` (the text branch alone without a graph);
        ``gate`` defaults to the model's."""
        if not self.use_graph or structure is None:
            return text
        g = self.gate if gate is None else torch.tensor(gate, dtype=self.gate.dtype)
        return torch.cat([torch.sqrt(1 - g) * text, torch.sqrt(g) * structure], dim=-1)

    def encode_queries(self, text: torch.Tensor, tokens: list[np.ndarray] | None) -> torch.Tensor:
        """Fused query vectors from their dense embeddings and hashed sub-tokens (None with ``use_graph=False``)."""
        structure = self.structure_queries(text, token_batch(tokens)) if self.use_graph and tokens is not None \
            else None
        return self.fuse(self.text_queries(text), structure)

    def encode_documents(self, text: torch.Tensor, graphs: GraphBatch | None) -> torch.Tensor:
        structure = self.structure_documents(graphs) if self.use_graph and graphs is not None else None
        return self.fuse(self.text_documents(text), structure)
