"""``astgnn`` — a code retriever in the spirit of GNN-Coder: a GNN over each document's syntax tree
(``ast_graph``), pooled by number of children, fused with the shared dense encoder's embedding,
trained with InfoNCE on a train split (``astgnn_model``), searched with FAISS.

Training (``fit``): one (query, relevant document) pair per relevant judgment of the train split;
batches of ``batch_size`` pairs, every other document of the batch a negative (the same document
twice in a batch is never its own negative); cross-entropy over cosine similarities divided by
``temperature``; AdamW; ``epochs`` passes in an order drawn from ``seed`` (the budget is a number
of epochs, so a busy machine trains the same model as an idle one; ``max_train_s`` is an opt-in
wall-clock cap, recorded, that marks a model it cut short as not reproducible). With a dev split, the epoch with the best dev MRR@10 is kept (epoch 0,
the untrained start that ranks as ``dense``, included). The trained model is cached under (configuration, training data)
and reused; ``checkpoint=PATH`` loads a saved one (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import copy
import logging
import resource
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rageval.cache import cache_dir, key
from rageval.data import Corpus, Dataset, Queries
from rageval.embedding import DEFAULT_MODEL
from rageval.errors import RagevalError, SpecError
from rageval.files import atomic_open
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.evaluation import evaluate
from rageval.topk import top_k_dense
from rageval.trec import Run

from .ast_graph import CodeGraph, corpus_graphs
from .dense import Dense, installed

log = logging.getLogger("rageval")

FORMAT = 1
DEFAULTS: dict[str, Any] = {
    "graph": True, "hidden": 128, "layers": 2, "pool_ratio": 0.5, "max_nodes": 256, "type_buckets": 4096,
    "token_buckets": 16384, "max_subtokens": 4, "dropout": 0.3, "epochs": 10, "batch_size": 128, "lr": 1e-4,
    "temperature": 0.05, "seed": 0,
}
ENCODE_BATCH = 256


class AstGnn(Retriever):
    """AST-GNN code retriever: tree-sitter graphs, GraphSAGE, pooling by #children, fused with dense; InfoNCE-trained."""

    name = "astgnn"
    default_train = "code:stdlib"

    def __init__(self, checkpoint: Path | None = None, train: str = "auto", model: str = DEFAULT_MODEL,
                 graph: bool | None = None, hidden: int | None = None, layers: int | None = None,
                 pool_ratio: float | None = None, max_nodes: int | None = None, type_buckets: int | None = None,
                 token_buckets: int | None = None, max_subtokens: int | None = None, dropout: float | None = None,
                 epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
                 temperature: float | None = None, seed: int | None = None, max_train_s: float | None = None,
                 language: str = "python", index: Literal["flat", "hnsw", "ivf"] = "flat"):
        given = {k: v for k, v in self.given.items() if k in DEFAULTS and v is not None}
        if not 0 < given.get("pool_ratio", 0.5) <= 1 or given.get("max_subtokens", 0) < 0 or any(
                given.get(k, 1) < 1 for k in ("hidden", "layers", "max_nodes", "type_buckets", "token_buckets",
                                              "epochs", "batch_size")):
            raise SpecError("astgnn: sizes must be positive (max_subtokens may be 0) and 0 < pool_ratio <= 1")
        self.dense = Dense(model=model, index=index)
        self.train_spec = None if train == "auto" else train
        self.language, self.max_train_s = language, max_train_s
        self.checkpoint = checkpoint
        self.params = {**DEFAULTS, **given}
        self._given = given
        self._model = None
        self.train_info: dict[str, Any] = {}
        self._graphs_of: tuple[str | None, list[CodeGraph]] = (None, [])  # (corpus fingerprint, its graphs)
        if checkpoint is not None:
            self._load_checkpoint(checkpoint)

    @classmethod
    def usable(cls) -> bool:
        return installed("torch_geometric") and Dense.usable()

    def config(self) -> dict:
        """The checkpoint and training source, the dense encoder and index, the model's parameters
        (from the checkpoint when one is loaded), the default language."""
        dense = {k: v for k, v in self.dense.config().items() if k != "name"}
        return {"name": self.name, "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "train": self.options["train"], **dense, **self.params, "language": self.language}

    def needs_fit(self) -> bool:
        return self._model is None

    # -- model, checkpoints ----------------------------------------------------------------

    def _model_config(self) -> dict[str, Any]:
        return {**self.params, "text_model": self.dense.encoder.identity}

    def _build(self):
        from .astgnn_model import AstGnnEncoder

        p = self.params
        return AstGnnEncoder(self.dense.encoder.dim, p["hidden"], p["layers"], p["pool_ratio"], p["type_buckets"], p["token_buckets"],
                             p["dropout"], p["graph"])

    def _load_checkpoint(self, path: Path) -> None:
        import torch

        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise RagevalError(f"astgnn: checkpoint {path}: no such file") from None
        except Exception as e:  # noqa: BLE001 - anything unreadable is a user's bad file
            raise RagevalError(f"astgnn: checkpoint {path} cannot be read ({type(e).__name__}: {e})") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT or "config" not in saved:
            raise RagevalError(f"astgnn: {path} is not an astgnn checkpoint (format {FORMAT})")
        config = saved["config"]
        wanted = {**self._given, "text_model": self.dense.encoder.identity}
        differ = {k: (config.get(k), v) for k, v in wanted.items() if config.get(k) != v}
        if differ:
            raise RagevalError(f"astgnn: checkpoint {path} does not match the requested options: " + ", ".join(
                f"{k}={theirs!r} in the checkpoint, {k}={ours!r} asked" for k, (theirs, ours) in differ.items()))
        self.params = {k: config[k] for k in DEFAULTS}
        self._model = self._build()
        self._model.load_state_dict(saved["state"])
        self._model.eval()
        self.train_info = dict(saved.get("train", {}))

    def save_checkpoint(self, path: Path) -> None:
        """The trained model with its configuration (atomically written)."""
        import torch

        with atomic_open(path, "wb") as f:
            torch.save({"format": FORMAT, "config": self._model_config(), "state": self._model.state_dict(),
                        "train": self.train_info}, f)

    # -- graphs ------------------------------------------------------------------------------

    def graphs(self, corpus: Corpus, positions: np.ndarray) -> tuple[list[CodeGraph], dict[str, int]]:
        """The graphs of the documents at ``positions`` (the corpus is parsed once and cached), and their counts."""
        if self._graphs_of[0] != corpus.fingerprint:
            p = self.params
            self._graphs_of = (corpus.fingerprint, corpus_graphs(corpus, self.language, p["max_nodes"],
                                                                 p["type_buckets"], p["token_buckets"],
                                                                 p["max_subtokens"]))
        graphs, stats = [], {"documents": 0, "parse_errors": 0, "text_only": 0, "capped": 0}
        for pos in positions:
            g = self._graphs_of[1][pos]
            graphs.append(g)
            stats["documents"] += 1
            stats["parse_errors"] += g.parse_error
            stats["text_only"] += g.text_only
            stats["capped"] += g.capped
        return graphs, stats

    # -- training ------------------------------------------------------------------------------

    def _dev_mrr(self, corpus: Corpus, dev: Dataset, q_text: np.ndarray) -> float:
        """MRR@10 of the current model on the dev queries, over the whole training corpus: the
        leaderboard's scorer (ties broken by doc id, as trec_eval does)."""
        import torch

        model = self._require_model()
        model.eval()
        docs, _ = self.document_vectors_of(corpus)
        with torch.inference_mode():
            queries = model.encode_queries(torch.from_numpy(q_text)).numpy()
        model.train()
        indices, scores = top_k_dense(queries @ docs.T, 10, corpus.id_ranks())
        run = Run(dev.queries.ids, corpus.ids, indices, scores)
        return evaluate(dev.qrels, run, ["MRR@10"], queries=dev.queries.ids).means["MRR@10"]

    def _cache_path(self, train: Dataset, dev: Dataset | None) -> Path:
        """Where a model trained on ``train`` (selected on ``dev``) is cached: keyed by the model
        configuration, the data, and the wall-clock cap when one is set (what it trains depends on it)."""
        data_key = [train.corpus.fingerprint, train.qrels_fingerprint(), dev.qrels_fingerprint() if dev else None]
        cap = [] if self.max_train_s is None else [{"max_train_s": self.max_train_s}]
        return cache_dir("models", "astgnn") / f"{key(self._model_config(), *data_key, *cap)}.pt"

    def fit(self, train: Dataset, dev: Dataset | None = None) -> None:
        """Train on ``train`` (a train split), keeping the epoch (0 = the untrained start, which ranks as
        ``dense``) with the best MRR@10 on ``dev`` when given; or load the model a previous run trained
        on the same data."""
        import torch

        if train.split != "train":
            raise RagevalError(f"astgnn trains on a train split; {train.label} is the {train.split!r} split")
        cached = self._cache_path(train, dev)
        if cached.is_file():
            log.info("astgnn: trained model from the cache (%s)", cached.name)
            self._given = {}
            self._load_checkpoint(cached)
            return
        pairs = [(row, train.corpus.position(d)) for row, q in enumerate(train.queries.ids)
                 for d in train.qrels.relevant(q) if d in train.corpus]
        if not pairs:
            raise RagevalError(f"astgnn: {train.label} has no (query, relevant document) pair to train on")
        p = self.params
        torch.manual_seed(p["seed"])
        start = time.perf_counter()
        queries = Corpus(ids=train.queries.ids, texts=train.queries.texts, fields=("text",))
        q_text = torch.from_numpy(np.array(self.dense.encoder.corpus_embeddings(
            queries, self.dense.query_prefix, desc="astgnn: encoding training queries", unit="query")))
        d_text = self.dense.encode_corpus(train.corpus)
        q_rows = np.array([q for q, _ in pairs])
        docs = np.array([d for _, d in pairs])
        unique_docs, doc_slot = np.unique(docs, return_inverse=True)
        graphs, stats = self.graphs(train.corpus, unique_docs) if p["graph"] else ([], {})
        d_vectors = torch.from_numpy(np.array(d_text[unique_docs]))
        model = self._model = self._build()
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"])
        order = torch.Generator().manual_seed(p["seed"])
        losses, epochs_done = [], 0
        from .astgnn_model import collate

        if dev is not None:
            dev_queries = Corpus(ids=dev.queries.ids, texts=dev.queries.texts, fields=("text",))
            dev_text = np.array(self.dense.encoder.corpus_embeddings(
                dev_queries, self.dense.query_prefix, desc="astgnn: encoding dev queries", unit="query"))
            dev_mrr = [self._dev_mrr(train.corpus, dev, dev_text)]
            best = (dev_mrr[0], 0, copy.deepcopy(model.state_dict()))

        with progress(p["epochs"] * len(pairs), f"astgnn: training ({p['epochs']} epochs)", unit="pair") as step:
            for _ in range(p["epochs"]):
                total = 0.0
                for batch in torch.randperm(len(pairs), generator=order).split(p["batch_size"]):
                    rows = batch.numpy()
                    slots = doc_slot[rows]
                    g = collate([graphs[s] for s in slots]) if p["graph"] else None
                    d = model.encode_documents(d_vectors[slots], g)
                    q = model.encode_queries(q_text[q_rows[rows]])
                    logits = q @ d.T / p["temperature"]
                    same = torch.from_numpy(slots[:, None] == slots[None, :]) & ~torch.eye(len(rows), dtype=torch.bool)
                    logits = logits.masked_fill(same, float("-inf"))
                    loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(rows)))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(rows)
                    step.update(len(rows))
                losses.append(round(total / len(pairs), 4))
                epochs_done += 1
                if dev is not None:
                    dev_mrr.append(self._dev_mrr(train.corpus, dev, dev_text))
                    if dev_mrr[-1] > best[0]:
                        best = (dev_mrr[-1], epochs_done, copy.deepcopy(model.state_dict()))
                if self.max_train_s is not None and time.perf_counter() - start > self.max_train_s \
                        and epochs_done < p["epochs"]:
                    log.warning("astgnn: training stopped after %d of %d epochs by max_train_s=%s: this model is "
                                "not reproducible", epochs_done, p["epochs"], self.max_train_s)
                    break
        model.eval()
        self.train_info = {"dataset": train.label, "pairs": len(pairs), "epochs": epochs_done,
                           "max_train_s": self.max_train_s, "reproducible": epochs_done == p["epochs"], "loss": losses,
                           "seconds": round(time.perf_counter() - start, 1), "graphs": stats,
                           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        if dev is not None:
            model.load_state_dict(best[2])
            self.train_info.update(dev=dev.label, dev_mrr_at_10=[round(m, 4) for m in dev_mrr], best_epoch=best[1])
        log.info("astgnn: trained on %d pairs of %s in %.1f s (loss %s)%s", len(pairs), train.label,
                 self.train_info["seconds"], " -> ".join(map(str, losses)),
                 f"; dev MRR@10 {' -> '.join(f'{m:.4f}' for m in dev_mrr)}, kept epoch {best[1]}" if dev else "")
        self.save_checkpoint(cached)

    # -- index and search ----------------------------------------------------------------------

    def _require_model(self):
        if self._model is None:
            raise RagevalError("astgnn has no model: give checkpoint=PATH, run it through rageval run "
                               "(which trains it on a train split), or call fit()")
        return self._model

    def document_vectors_of(self, corpus: Corpus) -> tuple[np.ndarray, dict[str, int]]:
        """The model's vectors of every document of ``corpus``, and the graph counts."""
        import torch

        from .astgnn_model import collate

        model = self._require_model()
        text = self.dense.encoder.corpus_embeddings(corpus, self.dense.doc_prefix, self.dense.block_size)
        out = np.empty(text.shape, dtype=np.float32)
        stats = {"documents": 0, "parse_errors": 0, "text_only": 0, "capped": 0}
        with progress(len(corpus), "astgnn: encoding documents") as step, torch.inference_mode():
            for start in range(0, len(corpus), ENCODE_BATCH):
                positions = np.arange(start, min(start + ENCODE_BATCH, len(corpus)))
                g = None
                if self.params["graph"]:
                    graphs, part = self.graphs(corpus, positions)
                    stats = {k: stats[k] + part[k] for k in stats}
                    g = collate(graphs)
                out[positions] = model.encode_documents(torch.from_numpy(np.array(text[positions])), g).numpy()
                step.update(len(positions))
        return out, stats

    def index(self, corpus: Corpus) -> None:
        vectors, self.graph_stats = self.document_vectors_of(corpus)
        if self.graph_stats["parse_errors"] or self.graph_stats["text_only"]:
            log.info("astgnn: %d documents with parse errors (graph of what parsed), %d from text alone",
                     self.graph_stats["parse_errors"], self.graph_stats["text_only"])
        self.dense.index_vectors(corpus, vectors)

    def query_vectors(self, queries: Queries) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._require_model().encode_queries(torch.from_numpy(self.dense.encode_texts(queries.texts))).numpy()

    def document_vectors(self) -> np.ndarray:
        return self.dense.vectors

    def search(self, queries: Queries, k: int) -> Run:
        run = self.dense.search_vectors(queries.ids, self.query_vectors(queries), k)
        run.meta["astgnn"] = {"graphs": self.graph_stats, "train": self.train_info}
        return run
