"""Training machinery of ``astgnn``: the encoded training pairs with their hard negatives, the loss,
the dev-split selection of the epoch and the fusion gate, and the per-epoch resume state."""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rageval.data.model import Corpus, Dataset
from rageval.data.trec import Run
from rageval.retrieval.topk import top_k_dense
from rageval.retrievers.ast_graph import CodeGraph
from rageval.scoring.evaluation import evaluate
from rageval.store.files import atomic_open

log = logging.getLogger("rageval")

GATES = tuple(round(0.1 * i, 1) for i in range(11))  # the fusion gates tried on dev (0: the text branch alone)
DEV_QUERIES = 1000  # dev queries scored per epoch at most (a seeded sample)
MINE_DEPTH = 20  # bm25 results searched for a query's hard negative


def mine_bm25_negatives(train: Dataset, pairs: list[tuple[int, int]], seed: int) -> np.ndarray:
    """Per (query row, document position) pair, a hard negative: the best-ranked of the query's first
    ``MINE_DEPTH`` bm25 results (over the training corpus) that shares a term with it and is not judged
    relevant to it; else a
    seeded random non-relevant document (the positive itself, masked in the loss, when every document is relevant)."""
    from rageval.retrievers.bm25 import BM25

    bm25 = BM25()
    bm25.index(train.corpus)
    run = bm25.search(train.queries, MINE_DEPTH)
    rng = np.random.default_rng(seed)
    negatives = np.empty(len(pairs), dtype=np.int64)
    for i, (row, doc) in enumerate(pairs):
        relevant = {train.corpus.position(d) for d in train.qrels.relevant(train.queries.ids[row])
                    if d in train.corpus} | {doc}
        found = [int(p) for p, score in zip(run.indices[row], run.scores[row])
                 if p >= 0 and score > 0 and int(p) not in relevant]
        negatives[i] = found[0] if found else _random_other(rng, len(train.corpus), relevant, doc)
    return negatives


def _random_other(rng: np.random.Generator, n: int, excluded: set[int], fallback: int) -> int:
    if len(excluded) >= n:
        return fallback
    while True:
        pick = int(rng.integers(n))
        if pick not in excluded:
            return pick


@dataclass
class TrainingPairs:
    """Training pairs, encoded: per pair its query's row of ``q_text``, its document's and its hard
    negative's slots in ``d_vectors`` / ``graphs`` (the distinct documents), and the graph counts."""

    q_text: Any  # torch.Tensor [queries, dim]
    q_tokens: list[np.ndarray] | None  # per query, its hashed sub-tokens (with a graph)
    q_rows: np.ndarray
    doc_slot: np.ndarray
    neg_slot: np.ndarray | None
    d_vectors: Any  # torch.Tensor [distinct documents, dim]
    graphs: list[CodeGraph]
    stats: dict[str, int]
    use_graph: bool

    def __len__(self) -> int:
        return len(self.q_rows)

    def loss(self, model: Any, rows: np.ndarray, temperature: float) -> Any:
        """InfoNCE of each branch (text, and structure with a graph), summed: cross-entropy over cosine
        similarities / ``temperature`` against the batch's documents and hard negatives; a document
        that is the query's own positive is never its negative."""
        import torch

        from rageval.retrievers.astgnn_model import collate, token_batch

        slots = self.doc_slot[rows]
        if self.neg_slot is not None:
            slots = np.concatenate([slots, self.neg_slot[rows]])
        own = self.doc_slot[rows]
        same = torch.from_numpy(own[:, None] == slots[None, :])
        same[torch.arange(len(rows)), torch.arange(len(rows))] = False
        target = torch.arange(len(rows))
        text = self.q_text[self.q_rows[rows]]

        def info_nce(q, d):
            logits = (q @ d.T / temperature).masked_fill(same, float("-inf"))
            return torch.nn.functional.cross_entropy(logits, target)

        loss = info_nce(model.text_queries(text), model.text_documents(self.d_vectors[slots]))
        if self.use_graph:
            g = collate([self.graphs[s] for s in slots])
            tokens = token_batch([self.q_tokens[r] for r in self.q_rows[rows]])
            loss = loss + info_nce(model.structure_queries(text, tokens), model.structure_documents(g))
        return loss


class DevSelection:
    """Model selection on a dev split: after each epoch (epoch 0, the untrained start, first) the MRR@10
    of every fusion gate (``gates``), keeping the state and gate of the first (epoch, gate) with the
    best value; smaller gates win ties, so the text branch is kept unless structure helps."""

    def __init__(self, corpus: Corpus, dev: Dataset, retriever: Any, gates: tuple[float, ...], seed: int):
        self.corpus, self.retriever, self.gates = corpus, retriever, gates
        self.dev = dev.sample(DEV_QUERIES, seed) if len(dev.queries) > DEV_QUERIES else dev
        self.text = retriever._encode_queries(self.dev, "astgnn: encoding dev queries")
        self.mrr: list[float] = []
        self.by_gate: list[dict[float, float]] = []
        self.epoch, self.gate, self.state = 0, gates[0], None

    def observe(self, epoch: int, model: Any) -> None:
        """Score the model after ``epoch`` at every gate; keep its state and gate when it beats every earlier epoch."""
        scores = self.scores(model)
        best = max(self.gates, key=lambda g: (scores[g], -g))
        self.by_gate.append({g: round(m, 4) for g, m in scores.items()})
        self.mrr.append(scores[best])
        if len(self.mrr) == 1 or self.mrr[-1] > max(self.mrr[:-1]):
            self.epoch, self.gate, self.state = epoch, best, copy.deepcopy(model.state_dict())

    def scores(self, model: Any) -> dict[float, float]:
        """Dev MRR@10 at each gate, over the whole training corpus, with the leaderboard's scorer
        (ties broken by doc id, as trec_eval does)."""
        import torch

        from rageval.retrievers.astgnn_model import token_batch

        model.eval()
        text_docs, structure_docs, _ = self.retriever.branch_vectors(self.corpus)
        out = {}
        with torch.inference_mode():
            q = torch.from_numpy(self.text)
            q_text, d_text = model.text_queries(q), torch.from_numpy(text_docs)
            q_structure = model.structure_queries(q, token_batch(self.retriever.query_tokens(self.dev.queries.texts))) \
                if structure_docs is not None else None
            d_structure = torch.from_numpy(structure_docs) if structure_docs is not None else None
            for gate in self.gates:
                fused = (model.fuse(q_text, q_structure, gate) @ model.fuse(d_text, d_structure, gate).T).numpy()
                indices, values = top_k_dense(fused, 10, self.corpus.id_ranks())
                run = Run(self.dev.queries.ids, self.corpus.ids, indices, values)
                out[gate] = evaluate(self.dev.qrels, run, ["MRR@10"], queries=self.dev.queries.ids).means["MRR@10"]
        model.train()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"mrr": self.mrr, "by_gate": [list(d.items()) for d in self.by_gate], "epoch": self.epoch,
                "gate": self.gate, "state": self.state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.mrr, self.epoch, self.gate, self.state = list(saved["mrr"]), saved["epoch"], saved["gate"], saved["state"]
        self.by_gate = [dict(pairs) for pairs in saved["by_gate"]]

    def summary(self) -> str:
        """The dev MRR@10 of every epoch and the (epoch, gate) kept, for the training log line."""
        return f"; dev MRR@10 {' -> '.join(f'{m:.4f}' for m in self.mrr)}, kept epoch {self.epoch} gate {self.gate}"


def save_progress(path: Path, progress_state: dict[str, Any]) -> None:
    """The state after an epoch (model, optimizer, random generators, losses, selection), atomically."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(progress_state, f)


def load_progress(path: Path) -> dict[str, Any] | None:
    """A saved training state, or None when there is none or it cannot be read (training then starts over)."""
    import torch

    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged state file: start over rather than fail
        log.warning("astgnn: ignoring unreadable training state %s (%s: %s)", path, type(e).__name__, e)
        return None
