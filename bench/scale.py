"""Scale: the Ray executor's overhead, the encoder backends' throughput and quality, and a
million-document BM25 benchmark's time and memory.

    python bench/scale.py [--part ray encoding quality million shards] [--docs 1000000]

ray       the default benchmark (``rageval run``: code:stdlib, bm25 and dense), cold caches, with
          the local executor and with ``--executor ray`` (a local Ray cluster started by the run):
          wall times and the overhead ratio.
encoding  texts/s of ``dense:backend=torch|onnx|onnx-int8`` on the same texts, batch 64, in this
          one process (each backend warmed up first; the median of 3 interleaved rounds): code (the first 1,024 code:stdlib functions)
          and short sentences (1,024 cosqa queries, or code:stdlib summaries without ../shared).
quality   nDCG@10 of each backend on cosqa (test) and code:stdlib, and int8's top-10 agreement.
million   --docs synthetic documents (bench/bm25.py's Zipf corpus) written as a BEIR folder and as
          an ir_datasets collection (TSV files registered with ir_datasets, read through
          ``irds:``), then for each, in a fresh process: load + bm25 index + 1,000 queries +
          scoring (each query's relevant document is the one its words were drawn from), with
          peak memory (VmHWM) and times.
shards    the BM25 index of --docs synthetic documents built in this process, then with its
          analysis in 2 shards on Ray tasks (a local Ray instance of 2 CPUs, as ``--executor
          ray:indexers=2`` does inside a pair): times, the ratio, and whether the indexes are equal.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = ROOT.parent / "shared" / "datasets"


def ray_overhead() -> None:
    times = {}
    for label, extra in (("local", []), ("ray", ["--executor", "ray"])):
        with tempfile.TemporaryDirectory(prefix="rageval-scale-") as tmp:
            env = {**os.environ, "RAGEVAL_CACHE": str(Path(tmp) / "cache")}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rageval.cli", "run", "--out", str(Path(tmp) / "runs"), *extra],
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[label] = time.perf_counter() - start
    print(f"default benchmark (code:stdlib, bm25 + dense, cold caches): local {times['local']:.1f} s, "
          f"ray {times['ray']:.1f} s; overhead {times['ray'] / times['local'] - 1:+.1%} of the local wall time")


def _texts(n: int) -> dict[str, list[str]]:
    from rageval import load_dataset

    code = load_dataset("code:stdlib")
    cosqa = SHARED / "cosqa"
    short = load_dataset(str(cosqa), "test").queries.texts if cosqa.is_dir() else code.queries.texts
    return {"code": code.corpus.contents()[:n], "short sentences": (short * (n // len(short) + 1))[:n]}


def encoding(n: int = 1024, rounds: int = 3) -> None:
    from rageval.retrieval.encoder import Encoder

    encoders = {b: Encoder(batch_size=64, backend=b) for b in ("torch", "onnx", "onnx-int8")}
    for kind, texts in _texts(n).items():
        for encoder in encoders.values():
            encoder.encode(texts[:128])  # warm-up (and the export, the first time)
        rates: dict[str, list[float]] = {b: [] for b in encoders}
        for _ in range(rounds):  # interleaved, so a slow spell of the machine hits every backend alike
            for backend, encoder in encoders.items():
                start = time.perf_counter()
                encoder.encode(texts)
                rates[backend].append(len(texts) / (time.perf_counter() - start))
        median = {b: float(np.median(r)) for b, r in rates.items()}
        print(f"encoding {len(texts)} {kind} (median of {rounds} interleaved rounds): " + ", ".join(
            f"{b} {r:.1f} texts/s (x{r / median['torch']:.2f})" for b, r in median.items()))


def quality() -> None:
    from rageval import evaluate, get_retriever, load_dataset
    from rageval.metrics import parse_measure

    measure = parse_measure("nDCG@10")
    datasets = [("code:stdlib", load_dataset("code:stdlib"))]
    if (SHARED / "cosqa").is_dir():
        datasets.insert(0, ("cosqa", load_dataset(str(SHARED / "cosqa"), "test")))
    for name, ds in datasets:
        runs, scores = {}, {}
        for backend in ("torch", "onnx", "onnx-int8"):
            dense = get_retriever(f"dense:backend={backend}")
            dense.index(ds.corpus)
            runs[backend] = dense.search(ds.queries, 10)
            scores[backend] = evaluate(ds, runs[backend], [measure]).means["nDCG@10"]

        def agreement(backend: str) -> tuple[float, float]:
            pairs = list(zip(runs[backend].indices, runs["torch"].indices))
            return (float(np.mean([a.tolist() == b.tolist() for a, b in pairs])),
                    float(np.mean([len(set(a) & set(b)) / 10 for a, b in pairs])))

        print(f"{name} ({len(ds.queries)} queries) nDCG@10: " + ", ".join(
            f"{b} {s:.4f} ({s - scores['torch']:+.4f})" for b, s in scores.items())
              + "; identical top-10 / overlap vs torch: " + ", ".join(
                  f"{b} {agreement(b)[0]:.1%} / {agreement(b)[1]:.1%}" for b in ("onnx", "onnx-int8")))


def _write_collection(folder: Path, n_docs: int, n_queries: int) -> None:
    """The corpus, queries and judgments in BEIR layout, and the same as TSV files (docs.tsv,
    queries.tsv, qrels.txt in TREC format) for an ir_datasets collection."""
    from bm25 import synthetic

    docs, _ = synthetic(n_docs, 0)
    rng = np.random.default_rng(7)
    targets = rng.choice(n_docs, size=n_queries, replace=False)
    folder.mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f, \
            open(folder / "docs.tsv", "w", encoding="utf-8") as tsv:
        for i, text in enumerate(docs):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
            tsv.write(f"d{i}\t{text}\n")
    (folder / "qrels").mkdir()
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as q, \
            open(folder / "queries.tsv", "w", encoding="utf-8") as q_tsv, \
            open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as r, \
            open(folder / "qrels.txt", "w", encoding="utf-8") as r_trec:
        r.write("query-id\tcorpus-id\tscore\n")
        for j, target in enumerate(targets):
            words = docs[target].split()
            picked = rng.choice(len(words), size=min(4, len(words)), replace=False)
            text = " ".join(words[p] for p in sorted(picked))
            q.write(json.dumps({"_id": f"q{j}", "text": text}) + "\n")
            q_tsv.write(f"q{j}\t{text}\n")
            r.write(f"q{j}\td{target}\t1\n")
            r_trec.write(f"q{j} 0 d{target} 1\n")


def _register_irds(folder: Path) -> str:
    """Register the TSV files as an ir_datasets collection; its id."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    name = "rageval-synthetic"
    ir_datasets.registry.register(name, Dataset(TsvDocs(LocalDownload(folder / "docs.tsv")),
                                                TsvQueries(LocalDownload(folder / "queries.tsv")),
                                                TrecQrels(LocalDownload(folder / "qrels.txt"), {1: "relevant"})))
    return name


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _million_child(folder: str, source: str) -> None:
    """Run in a fresh process: load, index, search, score; print times and peak memory."""
    from rageval import evaluate, get_retriever, load_dataset

    spec = f"irds:{_register_irds(Path(folder))}" if source == "irds" else folder
    times = {}
    start = time.perf_counter()
    ds = load_dataset(spec, "test" if source == "beir" else None)
    times["load"] = time.perf_counter() - start
    bm25 = get_retriever("bm25:stemmer=none,stopwords=none")
    start = time.perf_counter()
    bm25.index(ds.corpus)
    times["index"] = time.perf_counter() - start
    start = time.perf_counter()
    run = bm25.search(ds.queries, 100)
    times["search"] = time.perf_counter() - start
    start = time.perf_counter()
    res = evaluate(ds, run, ["nDCG@10", "MRR@10", "Recall@100"])
    times["score"] = time.perf_counter() - start
    peak = _vm_hwm_kb() / 2**20  # this process image's own peak (ru_maxrss can carry the parent's over exec)
    print(f"{source}: {len(ds.corpus)} documents, {len(ds.queries)} queries: " + ", ".join(
        f"{k} {v:.1f} s" for k, v in times.items()) + f"; peak memory {peak:.2f} GB; "
          + ", ".join(f"{k} {v:.4f}" for k, v in res.means.items()), flush=True)


def million(n_docs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rageval-scale-") as tmp:
        folder = Path(tmp) / "zipf"
        start = time.perf_counter()
        _write_collection(folder, n_docs, 1000)
        size = (folder / "corpus.jsonl").stat().st_size / 2**20
        print(f"wrote {n_docs} synthetic documents ({size:.0f} MB of jsonl) in {time.perf_counter() - start:.0f} s")
        for source in ("beir", "irds"):
            env = {**os.environ, "RAGEVAL_CACHE": str(Path(tmp) / "cache"), "IR_DATASETS_HOME": str(Path(tmp) / "irds")}
            subprocess.run([sys.executable, __file__, "--child", str(folder), source], env=env, check=True)


def shards(n_docs: int) -> None:
    import ray

    import rageval.running.index_shards as index_shards
    from bm25 import synthetic
    from rageval import Corpus, get_retriever

    docs, _ = synthetic(n_docs, 0)
    corpus = Corpus(ids=[f"d{i}" for i in range(n_docs)], texts=docs, fields=("text",))
    times, indexes = {}, {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for label, count in (("local", "0"), ("2 shards", "2")):
            os.environ[index_shards.SHARDS_VARIABLE] = count
            bm25 = get_retriever("bm25:stemmer=none,stopwords=none")
            start = time.perf_counter()
            bm25.index(corpus)
            times[label] = time.perf_counter() - start
            indexes[label] = bm25._index.weights
            print(f"{label}: {n_docs} documents indexed in {times[label]:.1f} s (shards: {bm25.shards})", flush=True)
    finally:
        ray.shutdown()
    a, b = indexes.values()
    same = all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("data", "indices", "indptr"))
    print(f"analysis on 2 Ray tasks: x{times['local'] / times['2 shards']:.2f} the local build's speed; "
          f"identical index: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="+", default=["ray", "encoding", "quality", "million", "shards"],
                    choices=["ray", "encoding", "quality", "million", "shards"])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _million_child(*args.child)
        return
    sys.path.insert(0, str(ROOT / "bench"))
    for part in args.part:
        {"ray": ray_overhead, "encoding": encoding, "quality": quality,
         "million": lambda: million(args.docs), "shards": lambda: shards(args.docs)}[part]()


if __name__ == "__main__":
    main()
