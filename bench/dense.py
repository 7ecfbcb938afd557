"""Dense retrieval: our corpus encoding against a bare ``SentenceTransformer.encode``, the warm
(cached) rerun, FAISS flat against HNSW at 100k vectors, and peak memory for a 100k-document corpus.

    python bench/dense.py [--sample 1000] [--docs 100000]

Encoding: the same texts (the first --sample documents of cosqa, or of code:stdlib without
../shared), the same model (the bundled all-MiniLM-L6-v2) and batch size, in this one process.
Encoding 100k documents with the model takes over half an hour on 2 cores, so the 100k corpus
is made of vectors around the real embeddings of the sample (each a real one plus Gaussian
noise), fed through the real pipeline (length-sorted blocks, the memory-mapped cache, FAISS) in
a child process whose peak memory (VmHWM) is measured; flat and HNSW then
answer the real embeddings of cosqa's test queries.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["RAGEVAL_CACHE"] = tempfile.mkdtemp(prefix="rageval-bench-")

from bm25 import _reset_peak, _status  # bench/bm25.py's helpers

from rageval import Corpus, load_dataset
from rageval.retrieval.encoder import Encoder

ROOT = Path(__file__).resolve().parent.parent


def sample_texts(n: int) -> list[str]:
    cosqa = ROOT.parent / "shared" / "datasets" / "cosqa"
    ds = load_dataset(str(cosqa), "test") if cosqa.is_dir() else load_dataset("code:stdlib")
    return ds.corpus.contents()[:n]


def encoding(n: int) -> None:
    texts = sample_texts(n)
    corpus = Corpus(ids=[str(i) for i in range(len(texts))], texts=texts, fields=("text",))
    encoder = Encoder()
    model = encoder.model
    model.encode(texts[:64], batch_size=64)  # warm-up: first-call costs are no one's
    start = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    encoder.corpus_embeddings(corpus)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    warm_encoder = Encoder()
    warm_encoder.corpus_embeddings(corpus)
    warm = time.perf_counter() - start
    print(f"encoding {len(texts)} texts: bare SentenceTransformer.encode {len(texts) / bare:.1f} texts/s, "
          f"ours (sorted blocks -> memmap cache) {len(texts) / cold:.1f} texts/s, ratio {bare / cold:.3f}")
    print(f"warm rerun (cache hit, new Encoder, no model call: {warm_encoder.calls == 0}) {warm * 1000:.1f} ms: "
          f"x{cold / warm:.0f} faster than cold")


class StandIn(Encoder):
    """The model's stand-in: the prepared vector of each text (a row number)."""

    def __init__(self, vectors: np.ndarray):
        super().__init__()
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def encode(self, texts, prefix: str = "") -> np.ndarray:
        return self.vectors[np.array([int(t) for t in texts])]


def _index_child(conn, vectors: np.ndarray, queries: np.ndarray) -> None:
    from rageval.retrievers.dense import build_index

    base = _reset_peak()
    n = len(vectors)
    corpus = Corpus(ids=[str(i) for i in range(n)], texts=[str(i) for i in range(n)], fields=("text",))
    encoder = StandIn(vectors)
    start = time.perf_counter()
    stored = encoder.corpus_embeddings(corpus)  # the real pipeline: sorted blocks into the memmap cache
    flat = build_index(stored, "flat", 32, 200, 128, 0, 16)
    index_s = time.perf_counter() - start
    peak = (_status("VmHWM") - base) / 2**20
    start = time.perf_counter()
    hnsw = build_index(stored, "hnsw", 32, 200, 128, 0, 16)
    hnsw_build = time.perf_counter() - start
    start = time.perf_counter()
    _, exact = flat.search(queries, 10)
    flat_s = time.perf_counter() - start
    start = time.perf_counter()
    _, approx = hnsw.search(queries, 10)
    hnsw_s = time.perf_counter() - start
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)]))
    conn.send({"index_s": index_s, "peak_mb": peak, "hnsw_build_s": hnsw_build, "flat_qps": len(queries) / flat_s,
               "hnsw_qps": len(queries) / hnsw_s, "recall": recall})


def large(n_docs: int, sample: int) -> None:
    """100k vectors around real document embeddings (each a real one plus noise), real query embeddings."""
    texts = sample_texts(sample)
    encoder = Encoder()
    real = np.asarray(encoder.corpus_embeddings(Corpus(ids=[str(i) for i in range(len(texts))], texts=texts,
                                                       fields=("text",))))
    cosqa = ROOT.parent / "shared" / "datasets" / "cosqa"
    query_texts = load_dataset(str(cosqa), "test").queries.texts if cosqa.is_dir() else texts[:500]
    queries = encoder.encode(query_texts)
    rng = np.random.default_rng(0)
    vectors = real[rng.integers(0, len(real), n_docs)] + rng.normal(0, 0.04, (n_docs, real.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ctx = mp.get_context("spawn")  # torch's threads in this process make a fork unsafe
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_index_child, args=(child, vectors, queries))
    proc.start()
    child.close()
    r = parent.recv()
    proc.join()
    vectors_mb = vectors.nbytes / 2**20
    print(f"{n_docs} vectors (dim {real.shape[1]}): sorted blocks -> memmap cache -> flat index {r['index_s']:.1f} s, "
          f"peak extra memory {r['peak_mb']:.0f} MB (vectors alone: {vectors_mb:.0f} MB; the model's own memory "
          f"is per batch, not per corpus)")
    print(f"{len(queries)} real queries at k=10: flat {r['flat_qps']:.0f} QPS, hnsw {r['hnsw_qps']:.0f} QPS "
          f"(x{r['hnsw_qps'] / r['flat_qps']:.1f}), hnsw recall@10 vs flat {r['recall']:.4f}, "
          f"hnsw build {r['hnsw_build_s']:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--docs", type=int, default=100_000)
    args = ap.parse_args()
    encoding(args.sample)
    if args.docs:
        large(args.docs, args.sample)


if __name__ == "__main__":
    main()
