"""BM25 throughput and memory: our sparse backend against bm25s and rank_bm25, side by side.

    python bench/bm25.py [--sizes 10000 100000 1000000] [--queries 1000] [--cranfield PATH]

For each corpus (a seeded synthetic corpus with a Zipf vocabulary at each size, plus cranfield
when found) every system indexes the same texts and answers the same queries at k=10, each in a
child forked from this one process, so that each starts from the same state and its peak memory
(VmHWM, reset at the start of the child) is its own. rank_bm25 is slow per query, so it answers
a seeded sample of the queries (its QPS is measured on that sample); it is skipped where its
index alone would take minutes (over 200k documents). Top-10 lists are compared with rank_bm25's
(same tokenizer, okapi idf: identical lists expected). bm25s also runs at its README's fastest
setting, the numba backend with one and with two query threads (compiled before timing; ours
loads its compiled search loop before timing too). Ratios > 1 mean we are faster / leaner.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from rageval import Corpus, Queries, get_retriever, load_dataset

RANK_BM25_MAX_DOCS = 200_000
RANK_BM25_QUERIES = 50


def synthetic(n_docs: int, n_queries: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Documents of 10-60 words drawn from a Zipf(1.1) law over a 20k + n/10 word vocabulary."""
    rng = np.random.default_rng(seed)
    n_vocab = 20_000 + n_docs // 10
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(n_vocab)]
    ranks = np.arange(1, n_vocab + 1)
    p = ranks ** -1.1
    p /= p.sum()
    lengths = rng.integers(10, 61, size=n_docs)
    draws = rng.choice(n_vocab, size=int(lengths.sum()), p=p)
    vocab = np.array(words, dtype=object)
    tokens = vocab[draws]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    docs = [" ".join(tokens[bounds[i]:bounds[i + 1]]) for i in range(n_docs)]
    q_draws = rng.choice(n_vocab, size=n_queries * 4, p=p ** 0.5 / (p ** 0.5).sum())
    queries = [" ".join(vocab[q_draws[i * 4:(i + 1) * 4]]) for i in range(n_queries)]
    return docs, queries


def _reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _ours(docs, queries, lexical, idf):
    """Ours at its defaults; its compiled search loop is loaded (or compiled) on a warm-up corpus
    before the clock starts, as bm25s's numba backend is."""
    warm = get_retriever("bm25")
    warm.index(Corpus(ids=["a", "b"], texts=["alpha beta", "beta gamma"]))
    warm.search(Queries(["q"], ["beta"]), 2)
    corpus = Corpus(ids=[str(i) for i in range(len(docs))], texts=docs, fields=("text",))
    r = get_retriever(f"bm25:idf={idf},{lexical}")
    t0 = time.perf_counter()
    r.index(corpus)
    t1 = time.perf_counter()
    run = r.search(Queries([str(i) for i in range(len(queries))], queries), 10)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, run.indices


def _bm25s(docs, queries, stem, stop, backend="numpy", threads=0):
    """bm25s as its README runs it; ``backend="numba"`` (its fastest: compiled scoring and top-k,
    ``threads`` query threads), JIT-compiled on a warm-up corpus before the clock starts."""
    import bm25s

    stemmer = None
    if stem:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
    options = {"backend_selection": backend, "n_threads": threads}
    if backend == "numba":  # compile outside the timed part
        warm = bm25s.BM25(method="lucene", backend="numba")
        warm.index(bm25s.tokenize(["alpha beta gamma", "beta gamma delta", "gamma delta omega"], show_progress=False),
                   show_progress=False)
        warm.retrieve(bm25s.tokenize(["beta delta"], show_progress=False), k=2, show_progress=False, **options)
    t0 = time.perf_counter()
    tokens = bm25s.tokenize(docs, stopwords=stop, stemmer=stemmer, show_progress=False)
    model = bm25s.BM25(method="lucene", backend=backend)
    model.index(tokens, show_progress=False)
    t1 = time.perf_counter()
    q = bm25s.tokenize(queries, stopwords=stop, stemmer=stemmer, show_progress=False)
    ids, _ = model.retrieve(q, k=min(10, len(docs)), show_progress=False, **options)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, ids


def _rank_bm25(docs, queries, lexical):
    from rank_bm25 import BM25Okapi

    analyzer = get_retriever(f"bm25:{lexical}").analyzer
    t0 = time.perf_counter()
    model = BM25Okapi([analyzer.tokenize(d) for d in docs])
    t1 = time.perf_counter()
    top = []
    ids = np.array([str(i) for i in range(len(docs))])
    tie_rank = Corpus(ids=list(ids), texts=[""] * len(docs)).id_ranks()
    from rageval.retrieval.topk import top_k

    for text in queries:
        s = model.get_scores(analyzer.tokenize(text))
        cand = np.flatnonzero(s)
        pos, _ = top_k(cand, s[cand], 10, tie_rank)
        top.append(np.pad(pos, (0, 10 - len(pos)), constant_values=-1))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.array(top)


def _child(conn, fn, args):
    try:
        base = _reset_peak()
        index_s, query_s, top = fn(*args)
        conn.send({"index_s": index_s, "query_s": query_s, "peak_mb": (_status("VmHWM") - base) / 2**20,
                   "top": np.asarray(top)})
    except BaseException as e:
        conn.send({"error": f"{type(e).__name__}: {e}"})
    conn.close()


def measure(fn, *args) -> dict:
    """Run one system in a forked child; its times, peak extra memory and top-10 lists."""
    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_child, args=(child, fn, args))
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{fn.__name__} failed: {result['error']}")
    return result


def bench(label: str, docs: list[str], queries: list[str], lexical: str, stem: bool, stop) -> dict:
    n = len(docs)
    row = {"corpus": label, "docs": n, "queries": len(queries)}
    ours = measure(_ours, docs, queries, lexical, "lucene")
    peer = measure(_bm25s, docs, queries, stem, stop)
    row["ours"] = {k: v for k, v in ours.items() if k != "top"}
    row["bm25s"] = {k: v for k, v in peer.items() if k != "top"}
    row["index_ratio_vs_bm25s"] = peer["index_s"] / ours["index_s"]
    row["qps_ratio_vs_bm25s"] = peer["query_s"] / ours["query_s"]
    row["mem_ratio_vs_bm25s"] = ours["peak_mb"] / peer["peak_mb"]
    for threads in (1, 2):  # bm25s's fastest setting: the numba backend, one and two query threads
        fast = measure(_bm25s, docs, queries, stem, stop, "numba", threads)
        row[f"bm25s_numba_{threads}t"] = {k: v for k, v in fast.items() if k != "top"}
        row[f"qps_ratio_vs_bm25s_numba_{threads}t"] = fast["query_s"] / ours["query_s"]
    if n <= RANK_BM25_MAX_DOCS:
        rng = np.random.default_rng(1)
        sample = sorted(rng.choice(len(queries), size=min(RANK_BM25_QUERIES, len(queries)), replace=False))
        sub = [queries[i] for i in sample]
        okapi = measure(_ours, docs, queries, lexical, "okapi")
        ref = measure(_rank_bm25, docs, sub, lexical)
        row["rank_bm25"] = {k: v for k, v in ref.items() if k != "top"}
        ours_qps = len(queries) / okapi["query_s"]
        ref_qps = len(sub) / ref["query_s"]
        row["qps_ratio_vs_rank_bm25"] = ours_qps / ref_qps
        row["top10_identical_to_rank_bm25"] = bool(np.array_equal(okapi["top"][sample], ref["top"]))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--cranfield", default=str(ROOT.parent / "shared" / "datasets" / "cranfield"))
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    rows = []
    if Path(args.cranfield).is_dir():
        ds = load_dataset(args.cranfield)
        rows.append(bench("cranfield", ds.corpus.contents(), ds.queries.texts, "", True, "en"))
        print_row(rows[-1])
    for size in args.sizes:
        docs, queries = synthetic(size, args.queries)
        rows.append(bench(f"zipf-{size}", docs, queries, "stemmer=none,stopwords=none", False, None))
        print_row(rows[-1])
        del docs
    print_growth(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def print_row(r: dict) -> None:
    o, p = r["ours"], r["bm25s"]
    line = (f"{r['corpus']:>16} docs={r['docs']:>8}  index s ours {o['index_s']:7.2f} bm25s {p['index_s']:7.2f} "
            f"(x{r['index_ratio_vs_bm25s']:.2f})  QPS ours {r['queries'] / o['query_s']:9.0f} bm25s "
            f"{r['queries'] / p['query_s']:8.0f} (x{r['qps_ratio_vs_bm25s']:.2f})  peak MB ours {o['peak_mb']:7.1f} "
            f"bm25s {p['peak_mb']:7.1f} (ours/bm25s {r['mem_ratio_vs_bm25s']:.2f})")
    line += "  QPS vs bm25s numba: " + ", ".join(
        f"{t} thread{'s' * (t > 1)} {r['queries'] / r[f'bm25s_numba_{t}t']['query_s']:.0f} "
        f"(x{r[f'qps_ratio_vs_bm25s_numba_{t}t']:.2f})" for t in (1, 2))
    if "rank_bm25" in r:
        line += (f"  vs rank_bm25: QPS x{r['qps_ratio_vs_rank_bm25']:.0f}, "
                 f"top-10 identical: {r['top10_identical_to_rank_bm25']}")
    print(line, flush=True)


def print_growth(rows: list[dict]) -> None:
    synth = [r for r in rows if r["corpus"].startswith("zipf")]
    if len(synth) < 2:
        return
    print("\ngrowth with corpus size (time relative to the smallest synthetic corpus):")
    first = synth[0]
    for r in synth:
        f = r["docs"] / first["docs"]
        print(f"  docs x{f:>6.0f}: index ours x{r['ours']['index_s'] / first['ours']['index_s']:6.1f} "
              f"bm25s x{r['bm25s']['index_s'] / first['bm25s']['index_s']:6.1f} | "
              f"query ours x{r['ours']['query_s'] / first['ours']['query_s']:6.1f} "
              f"bm25s x{r['bm25s']['query_s'] / first['bm25s']['query_s']:6.1f}")


if __name__ == "__main__":
    main()
