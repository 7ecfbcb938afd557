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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rageval.data.model import Corpus, Dataset, Queries
from rageval.data.trec import Run
from rageval.errors import RagevalError, SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL
from rageval.retrieval.topk import top_k_dense
from rageval.retrievers.ast_graph import CodeGraph, corpus_graphs
from rageval.retrievers.dense import Dense, installed
from rageval.scoring.evaluation import evaluate
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_open

log = logging.getLogger("rageval")

FORMAT = 1
# The options that make the model: a checkpoint's configuration and the trained model's cache key hold them.
MODEL_OPTIONS = ("graph", "hidden", "layers", "pool_ratio", "max_nodes", "type_buckets", "token_buckets",
                 "max_subtokens", "dropout", "epochs", "batch_size", "lr", "temperature", "seed")
POSITIVE = ("hidden", "layers", "max_nodes", "type_buckets", "token_buckets", "epochs", "batch_size")
ENCODE_BATCH = 256


class AstGnn(Retriever):
    """AST-GNN code retriever: tree-sitter graphs, GraphSAGE, pooling by #children, fused with dense; InfoNCE-trained."""

    name = "astgnn"
    default_train = "code:stdlib"
    none_means = {"checkpoint": "train a model, cached", "max_train_s": "no wall-clock cap"}

    def __init__(self, checkpoint: Path | None = None, train: str = "auto", model: str = DEFAULT_MODEL,
                 graph: bool = True, hidden: int = 128, layers: int = 2, pool_ratio: float = 0.5, max_nodes: int = 256,
                 type_buckets: int = 4096, token_buckets: int = 16384, max_subtokens: int = 4, dropout: float = 0.3,
                 epochs: int = 10, batch_size: int = 128, lr: float = 1e-4, temperature: float = 0.05, seed: int = 0,
                 max_train_s: float | None = None, language: str = "python",
                 index: Literal["flat", "hnsw", "ivf"] = "flat"):
        params = {k: self.options[k] for k in MODEL_OPTIONS}
        if not 0 < pool_ratio <= 1 or max_subtokens < 0 or any(params[k] < 1 for k in POSITIVE):
            raise SpecError("astgnn: sizes must be positive (max_subtokens may be 0) and 0 < pool_ratio <= 1")
        self.dense = Dense(model=model, index=index)
        self.train_spec = None if train == "auto" else train
        self.language, self.max_train_s = language, max_train_s
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
                "train": self.options["train"], **dense, **self.params, "language": self.language}

    def needs_fit(self) -> bool:
        return self._model is None

    # -- model, checkpoints ----------------------------------------------------------------

    def _model_config(self) -> dict[str, Any]:
        return {**self.params, "text_model": self.dense.encoder.identity}

    def _build(self):
        from rageval.retrievers.astgnn_model import AstGnnEncoder

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
        self.params = {k: config[k] for k in MODEL_OPTIONS}
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
        pairs = _training_pairs(train)
        torch.manual_seed(self.params["seed"])
        start = time.perf_counter()
        data = self._training_data(train, pairs)
        model = self._model = self._build()
        model.train()
        selection = _BestEpoch(train.corpus, dev, self) if dev is not None else None
        losses = self._train_epochs(data, selection, start)
        model.eval()
        self.train_info = {"dataset": train.label, "pairs": len(pairs), "epochs": len(losses),
                           "max_train_s": self.max_train_s, "reproducible": len(losses) == self.params["epochs"],
                           "loss": losses, "seconds": round(time.perf_counter() - start, 1), "graphs": data.stats,
                           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        if selection is not None:
            model.load_state_dict(selection.state)
            self.train_info.update(dev=selection.dev.label, dev_mrr_at_10=[round(m, 4) for m in selection.mrr],
                                   best_epoch=selection.epoch)
        log.info("astgnn: trained on %d pairs of %s in %.1f s (loss %s)%s", len(pairs), train.label,
                 self.train_info["seconds"], " -> ".join(map(str, losses)), selection.summary() if selection else "")
        self.save_checkpoint(cached)

    def _encode_queries(self, dataset: Dataset, desc: str) -> np.ndarray:
        """The shared dense encoder's vectors of ``dataset``'s query texts (with the query prefix)."""
        queries = Corpus(ids=dataset.queries.ids, texts=dataset.queries.texts, fields=("text",))
        return np.array(self.dense.encoder.corpus_embeddings(queries, self.dense.query_prefix, desc=desc,
                                                             unit="query"))

    def _training_data(self, train: Dataset, pairs: list[tuple[int, int]]) -> _TrainingPairs:
        """The (query row, document position) ``pairs`` of ``train`` with what a batch needs: query and
        document text vectors, and the graphs of the documents (each distinct document once)."""
        import torch

        q_text = torch.from_numpy(self._encode_queries(train, "astgnn: encoding training queries"))
        d_text = self.dense.encode_corpus(train.corpus)
        docs = np.array([d for _, d in pairs])
        unique_docs, doc_slot = np.unique(docs, return_inverse=True)
        graphs, stats = self.graphs(train.corpus, unique_docs) if self.params["graph"] else ([], {})
        return _TrainingPairs(q_text, np.array([q for q, _ in pairs]), doc_slot,
                              torch.from_numpy(np.array(d_text[unique_docs])), graphs, stats, self.params["graph"])

    def _train_epochs(self, data: _TrainingPairs, selection: _BestEpoch | None, start: float) -> list[float]:
        """AdamW over ``params["epochs"]`` passes of ``data`` in an order drawn from the seed (each epoch
        scored by ``selection`` when given), stopped early only by ``max_train_s``; the mean loss per epoch."""
        import torch

        p, model = self.params, self._require_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"])
        order = torch.Generator().manual_seed(p["seed"])
        losses: list[float] = []
        with progress(p["epochs"] * len(data), f"astgnn: training ({p['epochs']} epochs)", unit="pair") as step:
            for _ in range(p["epochs"]):
                total = 0.0
                for batch in torch.randperm(len(data), generator=order).split(p["batch_size"]):
                    loss = data.loss(model, batch.numpy(), p["temperature"])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(batch)
                    step.update(len(batch))
                losses.append(round(total / len(data), 4))
                if selection is not None:
                    selection.observe(len(losses), model)
                if self._out_of_time(start, len(losses)):
                    break
        return losses

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

    def document_vectors_of(self, corpus: Corpus) -> tuple[np.ndarray, dict[str, int]]:
        """The model's vectors of every document of ``corpus``, and the graph counts."""
        import torch

        from rageval.retrievers.astgnn_model import collate

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


def _training_pairs(train: Dataset) -> list[tuple[int, int]]:
    """One (query row, document position) pair per relevant judgment of ``train`` whose document is in its corpus."""
    pairs = [(row, train.corpus.position(d)) for row, q in enumerate(train.queries.ids)
             for d in train.qrels.relevant(q) if d in train.corpus]
    if not pairs:
        raise RagevalError(f"astgnn: {train.label} has no (query, relevant document) pair to train on")
    return pairs


@dataclass
class _TrainingPairs:
    """Training pairs, encoded: per pair its query's row of ``q_text`` and its document's slot in
    ``d_vectors`` / ``graphs`` (the distinct documents), and the graph counts."""

    q_text: Any  # torch.Tensor [queries, dim]
    q_rows: np.ndarray
    doc_slot: np.ndarray
    d_vectors: Any  # torch.Tensor [distinct documents, dim]
    graphs: list[CodeGraph]
    stats: dict[str, int]
    use_graph: bool

    def __len__(self) -> int:
        return len(self.q_rows)

    def loss(self, model: Any, rows: np.ndarray, temperature: float) -> Any:
        """InfoNCE over the pairs ``rows``: cross-entropy over cosine similarities / ``temperature``, every
        other document of the batch a negative (the same document twice is never its own negative)."""
        import torch

        from rageval.retrievers.astgnn_model import collate

        slots = self.doc_slot[rows]
        g = collate([self.graphs[s] for s in slots]) if self.use_graph else None
        d = model.encode_documents(self.d_vectors[slots], g)
        q = model.encode_queries(self.q_text[self.q_rows[rows]])
        logits = q @ d.T / temperature
        same = torch.from_numpy(slots[:, None] == slots[None, :]) & ~torch.eye(len(rows), dtype=torch.bool)
        logits = logits.masked_fill(same, float("-inf"))
        return torch.nn.functional.cross_entropy(logits, torch.arange(len(rows)))


class _BestEpoch:
    """Model selection on a dev split: MRR@10 after each epoch (epoch 0, the untrained start, first),
    keeping the state of the first epoch with the best value."""

    def __init__(self, corpus: Corpus, dev: Dataset, retriever: AstGnn):
        self.corpus, self.dev, self.retriever = corpus, dev, retriever
        self.text = retriever._encode_queries(dev, "astgnn: encoding dev queries")
        self.mrr: list[float] = []
        self.epoch, self.state = 0, None
        self.observe(0, retriever._require_model())

    def observe(self, epoch: int, model: Any) -> None:
        """Score the model after ``epoch``; keep its state when it beats every earlier epoch."""
        self.mrr.append(self.retriever._dev_mrr(self.corpus, self.dev, self.text))
        if len(self.mrr) == 1 or self.mrr[-1] > max(self.mrr[:-1]):
            self.epoch, self.state = epoch, copy.deepcopy(model.state_dict())

    def summary(self) -> str:
        """The dev MRR@10 of every epoch and the one kept, for the training log line."""
        return f"; dev MRR@10 {' -> '.join(f'{m:.4f}' for m in self.mrr)}, kept epoch {self.epoch}"
