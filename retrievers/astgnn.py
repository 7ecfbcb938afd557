"""``astgnn`` — a code retriever in the spirit of GNN-Coder: a GNN over each document's syntax tree
(``ast_graph``), pooled by number of children, as a structure branch fused late with a text branch
(learned projections of the shared dense encoder's embeddings, which stays frozen); trained with
InfoNCE on a train split (``astgnn_training``), searched with FAISS.

Training (``fit``): one (query, relevant document) pair per relevant judgment of the train split;
batches of ``batch_size`` pairs, every other document of the batch and, with ``negatives=bm25``,
every pair's hard negative (the best bm25 result of its query that is not relevant to it) a negative
(a query's own positive never is); the InfoNCE loss of each branch (cross-entropy over cosine
similarities divided by ``temperature``), summed; AdamW; ``epochs`` passes in an order drawn from
``seed`` (the budget is a number of epochs, so a busy machine trains the same model as an idle one;
``max_train_s`` is an opt-in wall-clock cap, recorded, that marks a model it cut short as not
reproducible). The (epoch, fusion gate) with the best MRR@10 on the dev split (without one, on a
seeded 10% of the training queries held out) is kept: epoch 0, the untrained start whose text branch
ranks as ``dense``, and gate 0, the text branch alone, included. ``gate=G`` replaces the chosen gate
at search time (same trained weights: ``gate=1`` is the structure branch alone). The state after
every epoch is saved beside the cache entry, so an interrupted training resumes from its last
epoch; only a finished training is saved (and cached) as the model, under (configuration, training
data); ``checkpoint=PATH`` loads a saved one (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import dataclasses
import logging
import random
import resource
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rageval.data.model import Corpus, Dataset, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL
from rageval.retrievers.ast_graph import CodeGraph, corpus_graphs, text_tokens
from rageval.retrievers.astgnn_training import (GATES, DevSelection, TrainingPairs, load_progress,
                                                mine_bm25_negatives, save_progress)
from rageval.retrievers.dense import Dense, installed
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_open

log = logging.getLogger("rageval")

FORMAT = 2
# The options that make the model: a checkpoint's configuration and the trained model's cache key hold them.
MODEL_OPTIONS = ("graph", "hidden", "layers", "pool_ratio", "max_nodes", "type_buckets", "token_buckets",
                 "max_subtokens", "dropout", "epochs", "batch_size", "lr", "graph_lr", "temperature", "negatives",
                 "seed")
POSITIVE = ("hidden", "layers", "max_nodes", "type_buckets", "token_buckets", "epochs", "batch_size")
ENCODE_BATCH = 256
HOLDOUT = 0.1  # share of the training queries held out to select on when the training data has no dev split


class AstGnn(Retriever):
    """AST-GNN code retriever: tree-sitter graphs, GraphSAGE, pooling by #children, fused late with a
    text branch over the frozen dense encoder; InfoNCE-trained with in-batch and bm25 hard negatives."""

    name = "astgnn"
    default_train = "code:stdlib"
    none_means = {"checkpoint": "train a model, cached", "max_train_s": "no wall-clock cap",
                  "gate": "chosen on the dev split"}

    def __init__(self, checkpoint: Path | None = None, train: str = "auto", model: str = DEFAULT_MODEL,
                 graph: bool = True, hidden: int = 128, layers: int = 2, pool_ratio: float = 0.5, max_nodes: int = 256,
                 type_buckets: int = 4096, token_buckets: int = 16384, max_subtokens: int = 4, dropout: float = 0.3,
                 epochs: int = 10, batch_size: int = 128, lr: float = 1e-4, graph_lr: float = 1e-3,
                 temperature: float = 0.05,
                 negatives: Literal["bm25", "none"] = "none", gate: float | None = None, seed: int = 0,
                 max_train_s: float | None = None, language: str = "python",
                 index: Literal["flat", "hnsw", "ivf"] = "flat"):
        params = {k: self.options[k] for k in MODEL_OPTIONS}
        if not 0 < pool_ratio <= 1 or max_subtokens < 0 or any(params[k] < 1 for k in POSITIVE):
            raise SpecError("astgnn: sizes must be positive (max_subtokens may be 0) and 0 < pool_ratio <= 1")
        if gate is not None and not (0 <= gate <= 1 and (graph or gate == 0)):
            raise SpecError(f"astgnn: gate={gate}: the structure branch's weight is in [0, 1] (and 0 with graph=false)")
        self.dense = Dense(model=model, index=index)
        self.train_spec = None if train == "auto" else train
        self.language, self.max_train_s, self.gate = language, max_train_s, gate
        self.checkpoint = checkpoint
        self.params = params
        self._given = {k: v for k, v in self.given.items() if k in MODEL_OPTIONS}  # what a checkpoint must match
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
                "train": self.options["train"], **dense, **self.params, "gate": self.gate, "language": self.language}

    def needs_fit(self) -> bool:
        return self._model is None

    # -- model, checkpoints ----------------------------------------------------------------

    def _model_config(self) -> dict[str, Any]:
        return {**self.params, "text_model": self.dense.encoder.identity}

    def _build(self):
        from rageval.retrievers.astgnn_model import AstGnnEncoder

        p = self.params
        return AstGnnEncoder(self.dense.encoder.dim, p["hidden"], p["layers"], p["pool_ratio"], p["type_buckets"],
                             p["token_buckets"], p["dropout"], p["graph"])

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
        self.params = {k: config[k] for k in MODEL_OPTIONS}
        self._model = self._build()
        self._model.load_state_dict(saved["state"])
        self._model.eval()
        self.train_info = dict(saved.get("train", {}))
        self._apply_gate()

    def _apply_gate(self) -> None:
        """A given ``gate`` replaces the one chosen on dev (the trained weights are the same)."""
        if self.gate is not None and self.params["graph"]:
            self._model.gate.fill_(self.gate)
            self.train_info["gate"] = self.gate

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

    def _cache_path(self, train: Dataset, dev: Dataset | None) -> Path:
        """Where a model trained on ``train`` (selected on ``dev``) is cached: keyed by the model
        configuration, the data, and the wall-clock cap when one is set (what it trains depends on it)."""
        data_key = [train.corpus.fingerprint, train.qrels_fingerprint(), dev.qrels_fingerprint() if dev else None]
        cap = [] if self.max_train_s is None else [{"max_train_s": self.max_train_s}]
        return cache_dir("models", "astgnn") / f"{key(self._model_config(), *data_key, *cap)}.pt"

    def fit(self, train: Dataset, dev: Dataset | None = None) -> None:
        """Train on ``train`` (a train split), keeping the (epoch, gate) with the best MRR@10 on ``dev``
        (without one, on a seeded 10% of the training queries held out); or load the model a previous
        run trained on the same data. An interrupted training resumes from its last finished epoch."""
        import torch

        if train.split != "train":
            raise RagevalError(f"astgnn trains on a train split; {train.label} is the {train.split!r} split")
        cached = self._cache_path(train, dev)
        if cached.is_file():
            log.info("astgnn: trained model from the cache (%s)", cached.name)
            self._given = {}
            self._load_checkpoint(cached)
            return
        if dev is None:
            train, dev = _hold_out(train, self.params["seed"])
        pairs = _training_pairs(train)
        torch.manual_seed(self.params["seed"])
        start = time.perf_counter()
        data = self._training_data(train, pairs)
        model = self._model = self._build()
        model.train()
        gates = GATES if self.params["graph"] else (0.0,)
        selection = DevSelection(train.corpus, dev, self, gates, self.params["seed"])
        partial = cached.with_name(cached.stem + ".partial.pt")
        losses, resumed = self._train_epochs(data, selection, start, partial)
        model.load_state_dict(selection.state)
        model.gate.fill_(selection.gate)
        model.eval()
        self.train_info = {
            "dataset": train.label, "pairs": len(pairs), "epochs": len(losses), "negatives": self.params["negatives"],
            "max_train_s": self.max_train_s, "reproducible": len(losses) == self.params["epochs"], "loss": losses,
            "seconds": round(time.perf_counter() - start, 1), "resumed_from_epoch": resumed, "graphs": data.stats,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "dev": selection.dev.label, "dev_mrr_at_10": [round(m, 4) for m in selection.mrr],
            "dev_mrr_at_10_by_gate": [{str(g): m for g, m in d.items()} for d in selection.by_gate],
            "best_epoch": selection.epoch, "dev_gate": selection.gate, "gate": selection.gate}
        log.info("astgnn: trained on %d pairs of %s in %.1f s (loss %s)%s", len(pairs), train.label,
                 self.train_info["seconds"], " -> ".join(map(str, losses)), selection.summary())
        self.save_checkpoint(cached)
        partial.unlink(missing_ok=True)
        self._apply_gate()

    def _encode_queries(self, dataset: Dataset, desc: str) -> np.ndarray:
        """The shared dense encoder's vectors of ``dataset``'s query texts (with the query prefix)."""
        queries = Corpus(ids=dataset.queries.ids, texts=dataset.queries.texts, fields=("text",))
        return np.array(self.dense.encoder.corpus_embeddings(queries, self.dense.query_prefix, desc=desc,
                                                             unit="query"))

    def query_tokens(self, texts: list[str]) -> list[np.ndarray] | None:
        """The hashed sub-tokens of each query text (None with ``graph=false``)."""
        if not self.params["graph"]:
            return None
        return [text_tokens(t, self.params["token_buckets"]) for t in texts]

    def _training_data(self, train: Dataset, pairs: list[tuple[int, int]]) -> TrainingPairs:
        """The (query row, document position) ``pairs`` of ``train`` with what a batch needs: query and
        document text vectors, hard negatives, and the graphs of the documents (each distinct document once)."""
        import torch

        q_text = torch.from_numpy(self._encode_queries(train, "astgnn: encoding training queries"))
        d_text = self.dense.encode_corpus(train.corpus)
        docs = np.array([d for _, d in pairs])
        negatives = mine_bm25_negatives(train, pairs, self.params["seed"]) if self.params["negatives"] == "bm25" \
            else np.zeros(0, dtype=np.int64)
        unique_docs, slot = np.unique(np.concatenate([docs, negatives]), return_inverse=True)
        graphs, stats = self.graphs(train.corpus, unique_docs) if self.params["graph"] else ([], {})
        return TrainingPairs(q_text, self.query_tokens(train.queries.texts), np.array([q for q, _ in pairs]),
                             slot[:len(docs)],
                             slot[len(docs):] if len(negatives) else None,
                             torch.from_numpy(np.array(d_text[unique_docs])), graphs, stats, self.params["graph"])

    def _train_epochs(self, data: TrainingPairs, selection: DevSelection, start: float,
                      partial: Path) -> tuple[list[float], int | None]:
        """AdamW over ``params["epochs"]`` passes of ``data`` in an order drawn from the seed, each epoch
        scored by ``selection`` and its state saved to ``partial`` (from which an interrupted training
        resumes), stopped early only by ``max_train_s``; the mean loss per epoch and the epoch resumed from."""
        import torch

        p, model = self.params, self._require_model()
        text = [*model.query_proj.parameters(), *model.doc_proj.parameters()]
        structure = [w for name, w in model.named_parameters() if not name.startswith(("query_proj.", "doc_proj."))]
        optimizer = torch.optim.AdamW([{"params": text, "lr": p["lr"]}, {"params": structure, "lr": p["graph_lr"]}])
        order = torch.Generator().manual_seed(p["seed"])
        losses: list[float] = []
        saved = load_progress(partial)
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            order.set_state(saved["order"])
            torch.set_rng_state(saved["rng"])
            losses = list(saved["losses"])
            selection.load_state_dict(saved["selection"])
            log.info("astgnn: resuming an interrupted training after epoch %d of %d", len(losses), p["epochs"])
        else:
            selection.observe(0, model)
        resumed = len(losses) if saved is not None else None
        with progress(p["epochs"] * len(data), f"astgnn: training ({p['epochs']} epochs)", unit="pair") as step:
            step.update(len(losses) * len(data))
            while len(losses) < p["epochs"]:
                losses.append(self._epoch(data, optimizer, order, step))
                selection.observe(len(losses), model)
                save_progress(partial, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                        "order": order.get_state(), "rng": torch.get_rng_state(), "losses": losses,
                                        "selection": selection.state_dict()})
                if self._out_of_time(start, len(losses)):
                    break
        return losses, resumed

    def _epoch(self, data: TrainingPairs, optimizer: Any, order: Any, step: Any) -> float:
        """One pass over ``data`` in an order drawn from ``order``; the mean loss."""
        import torch

        p, model = self.params, self._require_model()
        total = 0.0
        for batch in torch.randperm(len(data), generator=order).split(p["batch_size"]):
            loss = data.loss(model, batch.numpy(), p["temperature"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            step.update(len(batch))
        return round(total / len(data), 4)

    def _out_of_time(self, start: float, epochs_done: int) -> bool:
        """Whether ``max_train_s`` stops training after ``epochs_done`` epochs (with a warning)."""
        if self.max_train_s is None or time.perf_counter() - start <= self.max_train_s \
                or epochs_done >= self.params["epochs"]:
            return False
        log.warning("astgnn: training stopped after %d of %d epochs by max_train_s=%s: this model is "
                    "not reproducible", epochs_done, self.params["epochs"], self.max_train_s)
        return True

    # -- index and search ----------------------------------------------------------------------

    def _require_model(self):
        if self._model is None:
            raise RagevalError("astgnn has no model: give checkpoint=PATH, run it through rageval run "
                               "(which trains it on a train split), or call fit()")
        return self._model

    def branch_vectors(self, corpus: Corpus) -> tuple[np.ndarray, np.ndarray | None, dict[str, int]]:
        """The text-branch and structure-branch vectors (None with ``graph=false``) of every document
        of ``corpus``, and the graph counts."""
        import torch

        from rageval.retrievers.astgnn_model import collate

        model = self._require_model()
        text = self.dense.encoder.corpus_embeddings(corpus, self.dense.doc_prefix, self.dense.block_size)
        text_out = np.empty(text.shape, dtype=np.float32)
        structure_out = np.empty((len(corpus), self.params["hidden"]), dtype=np.float32) if model.use_graph else None
        stats = {"documents": 0, "parse_errors": 0, "text_only": 0, "capped": 0}
        with progress(len(corpus), "astgnn: encoding documents") as step, torch.inference_mode():
            for start in range(0, len(corpus), ENCODE_BATCH):
                positions = np.arange(start, min(start + ENCODE_BATCH, len(corpus)))
                text_out[positions] = model.text_documents(torch.from_numpy(np.array(text[positions]))).numpy()
                if structure_out is not None:
                    graphs, part = self.graphs(corpus, positions)
                    stats = {k: stats[k] + part[k] for k in stats}
                    structure_out[positions] = model.structure_documents(collate(graphs)).numpy()
                step.update(len(positions))
        return text_out, structure_out, stats

    def document_vectors_of(self, corpus: Corpus) -> tuple[np.ndarray, dict[str, int]]:
        """The model's (fused) vectors of every document of ``corpus``, and the graph counts."""
        import torch

        text, structure, stats = self.branch_vectors(corpus)
        with torch.inference_mode():
            fused = self._require_model().fuse(torch.from_numpy(text),
                                               None if structure is None else torch.from_numpy(structure))
        return np.ascontiguousarray(fused.numpy()), stats

    def index(self, corpus: Corpus) -> None:
        vectors, self.graph_stats = self.document_vectors_of(corpus)
        if self.graph_stats["parse_errors"] or self.graph_stats["text_only"]:
            log.info("astgnn: %d documents with parse errors (graph of what parsed), %d from text alone",
                     self.graph_stats["parse_errors"], self.graph_stats["text_only"])
        self.dense.index_vectors(corpus, vectors)

    def query_vectors(self, queries: Queries) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._require_model().encode_queries(torch.from_numpy(self.dense.encode_texts(queries.texts)),
                                                        self.query_tokens(queries.texts)).numpy()

    def document_vectors(self) -> np.ndarray:
        return self.dense.vectors

    def search(self, queries: Queries, k: int) -> Run:
        run = self.dense.search_vectors(queries.ids, self.query_vectors(queries), k)
        run.meta["astgnn"] = {"graphs": self.graph_stats, "train": self.train_info}
        return run


def _training_pairs(train: Dataset) -> list[tuple[int, int]]:
    """One (query row, document position) pair per relevant judgment of ``train`` whose document is in its corpus."""
    pairs = [(row, train.corpus.position(d)) for row, q in enumerate(train.queries.ids)
             for d in train.qrels.relevant(q) if d in train.corpus]
    if not pairs:
        raise RagevalError(f"astgnn: {train.label} has no (query, relevant document) pair to train on")
    return pairs


def _hold_out(train: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    """A train split without dev: a seeded ``HOLDOUT`` share of its judged queries (at least one) as the
    dev split to select on, the rest to train on."""
    judged = [q for q in train.queries.ids if train.qrels.has_relevant(q)]
    if len(judged) < 2:
        raise RagevalError(f"astgnn: {train.label} has {len(judged)} judged queries: too few to hold some out "
                           "for model selection (give a dataset with a dev split)")
    held = set(random.Random(seed).sample(judged, max(1, round(HOLDOUT * len(judged)))))
    log.info("astgnn: %s has no dev split: selecting on %d held-out training queries", train.label, len(held))
    rest = train.subset([q for q in train.queries.ids if q not in held])
    dev = dataclasses.replace(train.subset([q for q in judged if q in held]), split="dev")
    return rest, dev
