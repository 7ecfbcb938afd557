"""The AST-GNN encoder (torch-geometric): node embeddings -> message passing -> pooling by number
of children -> read-out, fused with the document's dense text embedding; queries go through a
learned projection of their dense embedding. Both sides end L2-normalised in one space.

Fusion starts at the dense model: both projections are initialised to the identity and the
graph's output layer to zero, so an untrained encoder ranks exactly as the dense retriever and
training moves away from it only as far as the contrastive loss asks.
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
    """Document and query encoder; ``use_graph=False`` is the projection-only ablation."""

    def __init__(self, text_dim: int, hidden: int = 128, layers: int = 2, pool_ratio: float = 0.5,
                 type_buckets: int = 4096, token_buckets: int = 16384, dropout: float = 0.1, use_graph: bool = True):
        super().__init__()
        self.use_graph, self.pool_ratio, self.dropout = use_graph, pool_ratio, dropout
        self.query_proj = nn.Linear(text_dim, text_dim)
        self.doc_proj = nn.Linear(text_dim, text_dim)
        for proj in (self.query_proj, self.doc_proj):
            nn.init.eye_(proj.weight)
            nn.init.zeros_(proj.bias)
        if use_graph:
            self.type_emb = nn.Embedding(type_buckets, hidden)
            self.token_emb = nn.Embedding(token_buckets, hidden)
            self.convs = nn.ModuleList(SAGEConv(hidden, hidden) for _ in range(layers))
            self.graph_out = nn.Linear(2 * hidden, text_dim)
            nn.init.zeros_(self.graph_out.weight)
            nn.init.zeros_(self.graph_out.bias)

    def encode_queries(self, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.query_proj(text), dim=-1)

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

    def encode_documents(self, text: torch.Tensor, graphs: GraphBatch | None) -> torch.Tensor:
        out = self.doc_proj(text)
        if self.use_graph and graphs is not None:
            out = out + self.graph_out(self.graph_vectors(graphs))
        return F.normalize(out, dim=-1)
