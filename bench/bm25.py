"""BM25 throughput and memory: our sparse backend against PISA, tantivy, bm25s and rank_bm25, side by side.

    python bench/bm25.py [--sizes 100000 1000000] [--huge] [--queries 1000] [--cranfield PATH] [--cosqa PATH]
                         [--json FILE]

Corpora: a seeded synthetic corpus with a Zipf vocabulary at each size (``--huge`` adds 10M documents),
whitespace tokens only, the same token streams for every engine; plus cranfield and cosqa when found,
with our default analyzer. Every system indexes the same texts (document ids ``str(i)``) and answers
the same queries at k=10, each in a child forked from this one process, so that each starts from the
same state and its peak memory (VmHWM, reset in the child after its imports and JIT warm-ups) is
what its index and search add. Query time is the best of at least 3 passes over all the queries, and of
as many as fit in one second (rank_bm25: one pass over a sample); index time is from the texts to a searchable index.

- ours: ``bm25:k1=0.9,b=0.4,idf=lucene,stopwords=none,stemmer=none,tokenizer=whitespace`` on the
  synthetic corpora, ``bm25:idf=lucene,k1=0.9,b=0.4`` (the default analyzer) on real text. One index,
  searched with its runtime options ``threads=1``, ``threads=2`` and ``pruning=false,threads=1`` (the
  exhaustive reference); the pruned top-10 lists (ids and scores) are checked identical to the
  exhaustive ones. Its compiled loops are loaded (or compiled) on a tiny corpus before the clock.
- PISA (``pyterrier-pisa``): ``PisaIndex(tmp, stemmer="none", stops="none", threads=1)`` on the
  synthetic corpora, ``stemmer="porter2"`` and its default stop words on real text;
  ``bm25(k1=0.9, b=0.4, num_results=10, threads=T)`` (its default block-max WAND) on one DataFrame of
  all the queries, T = 1 and 2. PISA compresses its index when the first retriever is made: its index
  time is ``index()`` plus making the threads=1 retriever plus a warm-up search of two queries. Its
  logs and progress bars (written by its C++ code) go to a temporary file.
- tantivy (synthetic corpora only: its query parser reads punctuation as syntax): a text field with
  the ``whitespace`` tokenizer and the lowercase filter, term frequencies without positions, ``docno``
  stored; a writer with one indexing thread (128 MB heap, its default), commit, merges waited for,
  reload. One ``searcher.search(index.parse_query(q, ["text"]), 10)`` per query (OR of the terms),
  which is single-threaded, so tantivy has no 2-thread row; hits are mapped to docnos after the clock.
  Its BM25 is fixed at k1=1.2, b=0.75 (and quantises document lengths to a byte), so its top-10
  agreement with ours is lower by construction. Its whitespace tokenizer splits on ASCII whitespace
  but U+000B and lowercases with Rust's ``to_lowercase``; ours splits on ``str.split``'s whitespace and
  lowercases with ``str.lower``: the streams are identical on the synthetic corpora (ASCII letters
  and spaces; checked on a sample here), not on arbitrary text (NBSP, U+000B, final sigma differ).
- bm25s (k1=0.9, b=0.4, lucene idf; corpora up to 1M documents: at 10M its numpy backend would answer
  1,000 queries three times in hours, and both hold about 13 GB): its numpy backend, and its README's
  fastest setting, the numba backend with one and two query threads (JIT-compiled on a tiny corpus
  before the clock).
- rank_bm25 (corpora up to 200k documents): ours with okapi idf and the same analyzer must give
  identical top-10 lists; it answers a seeded sample of 50 queries.

Top-10 agreement with ours (threads=1) for each peer: the fractions of queries whose top-10 id lists
(in order) and whose top-10 sets are identical, and the mean overlap of the top-10 sets
(|A & B| / max(|A|, |B|)). Ratios are ours / peer: a QPS ratio > 1 means we answer faster, an
index time or peak memory ratio < 1 that we index faster or use less memory.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from rageval import Corpus, Queries, get_retriever, load_dataset

K = 10
PASSES = 3
MIN_SECONDS = 1.0  # query passes go on until they add up to this
K1, B = 0.9, 0.4
RANK_BM25_MAX_DOCS = 200_000
BM25S_MAX_DOCS = 1_000_000
RANK_BM25_QUERIES = 50
HUGE = 10_000_000
GEN_CHUNK = 250_000  # documents generated at a time: same random stream, bounded temporaries
SYNTH_LEXICAL = "stopwords=none,stemmer=none,tokenizer=whitespace"
TANTIVY_HEAP = 128_000_000
TOKEN_CHECK_DOCS = 2_000


def synthetic(n_docs: int, n_queries: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Documents of 10-60 words drawn from a Zipf(1.1) law over a 20k + n/10 word vocabulary; queries of
    four words from the flattened law p**0.5. Generated in chunks of documents (the same random stream
    as in one piece), so that 10M documents need no more than the texts themselves."""
    rng = np.random.default_rng(seed)
    n_vocab = 20_000 + n_docs // 10
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(n_vocab)]
    ranks = np.arange(1, n_vocab + 1)
    p = ranks ** -1.1
    p /= p.sum()
    lengths = rng.integers(10, 61, size=n_docs)
    vocab = np.array(words, dtype=object)
    docs: list[str] = []
    for start in range(0, n_docs, GEN_CHUNK):
        chunk = lengths[start:start + GEN_CHUNK]
        tokens = vocab[rng.choice(n_vocab, size=int(chunk.sum()), p=p)]
        bounds = np.concatenate([[0], np.cumsum(chunk)])
        docs += [" ".join(tokens[bounds[i]:bounds[i + 1]]) for i in range(len(chunk))]
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


def _best(search, passes: int = PASSES):
    """(best seconds of the calls of ``search``, the last call's result): ``passes`` calls, and more until
    they add up to ``MIN_SECONDS`` (a pass over a small collection takes milliseconds, where a moment's
    load on this 2-core machine moves the best of three by a tenth)."""
    best, out, spent, calls = float("inf"), None, 0.0, 0
    while calls < passes or spent < MIN_SECONDS:
        t0 = time.perf_counter()
        out = search()
        took = time.perf_counter() - t0
        best, spent, calls = min(best, took), spent + took, calls + 1
    return best, out


def _padded(rows) -> np.ndarray:
    """Top-k position lists (rank order) as a [n, K] array padded with -1."""
    out = np.full((len(rows), K), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row[:K]
    return out


def _set_options(r, **options) -> None:
    """Set runtime options of a built retriever (they change speed, not results)."""
    for name, value in options.items():
        assert name in r.runtime_options, name
        setattr(r, name, value)


def _warm_ours(spec: str) -> None:
    """Load (or compile) our compiled loops for ``spec`` on a tiny corpus, with and without pruning, 1 and 2
    threads, as bm25s's numba backend is compiled before its clock starts."""
    warm = get_retriever(spec)
    warm.index(Corpus(ids=["a", "b", "c"], texts=["alpha beta", "beta gamma", "gamma delta alpha"]))
    for threads in (1, 2):
        for pruning in (True, False):
            _set_options(warm, threads=threads, pruning=pruning)
            warm.search(Queries(["q", "r"], ["beta alpha", "delta"]), 2)


def _ours(docs, queries, spec):
    """Ours: one index, searched at threads=1, threads=2 and pruning=false (runtime options). Returns the
    pruned-vs-exhaustive check too."""
    corpus = Corpus(ids=[str(i) for i in range(len(docs))], texts=docs, fields=("text",))
    qs = Queries([str(i) for i in range(len(queries))], queries)
    r = get_retriever(f"{spec},threads=1")
    t0 = time.perf_counter()
    r.index(corpus)
    index_s = time.perf_counter() - t0
    query_s, runs = {}, {}
    for setting, options in (("1t", {"threads": 1, "pruning": True}), ("2t", {"threads": 2, "pruning": True}),
                             ("exhaustive_1t", {"threads": 1, "pruning": False})):
        _set_options(r, **options)
        query_s[setting], runs[setting] = _best(lambda: r.search(qs, K))
    ref = runs["exhaustive_1t"]
    identical = {s: bool(np.array_equal(runs[s].indices, ref.indices)
                         and np.array_equal(runs[s].scores, ref.scores, equal_nan=True)) for s in ("1t", "2t")}
    return {"index_s": index_s, "query_s": query_s, "top": runs["1t"].indices,
            "pruned_identical_to_exhaustive": identical}


def _okapi_spec(lexical: str) -> str:
    return f"bm25:idf=okapi,k1={K1},b={B},{lexical}".rstrip(",")


def _ours_okapi(docs, queries, lexical):
    """Ours with okapi idf (rank_bm25's), one pass at its default threads, for the identity check."""
    corpus = Corpus(ids=[str(i) for i in range(len(docs))], texts=docs, fields=("text",))
    r = get_retriever(_okapi_spec(lexical))
    t0 = time.perf_counter()
    r.index(corpus)
    t1 = time.perf_counter()
    run = r.search(Queries([str(i) for i in range(len(queries))], queries), K)
    return {"index_s": t1 - t0, "query_s": {"default": time.perf_counter() - t1}, "top": run.indices}


@contextlib.contextmanager
def _quiet():
    """Send this process's stdout and stderr (file descriptors: PISA's C++ logs and progress bars) to a
    temporary file; on an error, its last lines are added to the message."""
    with tempfile.TemporaryFile("w+") as log:
        sys.stdout.flush(), sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        except Exception as e:
            log.flush()
            log.seek(0)
            raise RuntimeError(f"{type(e).__name__}: {e}; its log ends: {log.read()[-2000:]}") from e
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def _import_pisa() -> None:
    import pandas  # noqa: F401
    import pyterrier_pisa  # noqa: F401


def _import_tantivy() -> None:
    import tantivy  # noqa: F401


def _warm_bm25s(backend: str) -> None:
    """Import bm25s; for the numba backend, JIT-compile its scoring and top-k on a warm-up corpus."""
    import bm25s

    if backend == "numba":
        warm = bm25s.BM25(method="lucene", backend="numba")
        warm.index(bm25s.tokenize(["alpha beta gamma", "beta gamma delta", "gamma delta omega"], show_progress=False),
                   show_progress=False)
        for threads in (1, 2):
            warm.retrieve(bm25s.tokenize(["beta delta"], show_progress=False), k=2, show_progress=False,
                          n_threads=threads)


def _import_rank_bm25() -> None:
    import rank_bm25  # noqa: F401


def _pisa(docs, queries, real_text):
    """PISA: index into a temporary folder (compression and a two-query warm-up counted in the index
    time), then the best of the passes (``_best``) over one DataFrame of all the queries with 1 and 2 threads."""
    import pandas as pd
    from pyterrier_pisa import PisaIndex

    frame = pd.DataFrame({"qid": [str(i) for i in range(len(queries))], "query": queries})
    with tempfile.TemporaryDirectory(prefix="bench-pisa-") as folder, _quiet():
        options = {} if real_text else {"stemmer": "none", "stops": "none"}
        t0 = time.perf_counter()
        idx = PisaIndex(str(Path(folder) / "index"), text_field="text", threads=1, **options)
        idx.index({"docno": str(i), "text": t} for i, t in enumerate(docs))
        retrievers = {1: idx.bm25(k1=K1, b=B, num_results=K, threads=1)}
        retrievers[1].transform(frame.iloc[:2])
        index_s = time.perf_counter() - t0
        retrievers[2] = idx.bm25(k1=K1, b=B, num_results=K, threads=2)
        query_s, result = {}, None
        for threads, retriever in retrievers.items():
            query_s[f"{threads}t"], out = _best(lambda: retriever.transform(frame))
            if threads == 1:
                result = out
    rows = [[] for _ in queries]
    ranked = result.sort_values("rank", kind="stable")
    for qid, docno in zip(ranked["qid"], ranked["docno"]):
        rows[int(qid)].append(int(docno))
    return {"index_s": index_s, "query_s": query_s, "top": _padded(rows)}


def tantivy_analyzer():
    """tantivy's whitespace tokenizer with its lowercase filter (our whitespace analyzer's counterpart)."""
    import tantivy

    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.lowercase()).build()


def _tantivy(docs, queries):
    """tantivy: one indexing thread, commit, merges waited for, reload; one search per query (single-threaded),
    best of the passes (``_best``); hits mapped to docnos after the clock."""
    import tantivy

    with tempfile.TemporaryDirectory(prefix="bench-tantivy-") as folder:
        t0 = time.perf_counter()
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("docno", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("text", tokenizer_name="lowercase_whitespace", index_option="freq")
        index = tantivy.Index(builder.build(), path=folder)
        index.register_tokenizer("lowercase_whitespace", tantivy_analyzer())
        writer = index.writer(TANTIVY_HEAP, num_threads=1)
        for i, text in enumerate(docs):
            writer.add_document(tantivy.Document(docno=str(i), text=text))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        index_s = time.perf_counter() - t0

        def search():
            return [searcher.search(index.parse_query(q, ["text"]), K).hits for q in queries]

        query_s, hits = _best(search)
        rows = [[int(searcher.doc(address)["docno"][0]) for _, address in row] for row in hits]
        segments = searcher.num_segments
    return {"index_s": index_s, "query_s": {"1t": query_s}, "top": _padded(rows), "segments": segments}


def _bm25s(docs, queries, stem, stop, backend):
    """bm25s as its README runs it (k1, b and lucene idf as ours); ``backend="numba"`` (its fastest: compiled
    scoring and top-k) with one and two query threads."""
    import bm25s

    stemmer = None
    if stem:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
    settings = {"1t": 1, "2t": 2} if backend == "numba" else {"1t": 0}  # n_threads=0: no thread pool
    t0 = time.perf_counter()
    tokens = bm25s.tokenize(docs, stopwords=stop, stemmer=stemmer, show_progress=False)
    model = bm25s.BM25(method="lucene", k1=K1, b=B, backend=backend)
    model.index(tokens, show_progress=False)
    index_s = time.perf_counter() - t0
    k = min(K, len(docs))

    def search(threads):
        q = bm25s.tokenize(queries, stopwords=stop, stemmer=stemmer, show_progress=False)
        return model.retrieve(q, k=k, show_progress=False, n_threads=threads, backend_selection=backend)

    query_s, out = {}, None
    for setting, threads in settings.items():
        query_s[setting], result = _best(lambda: search(threads))
        if out is None:
            out = result
    ids, scores = out
    top = np.where(scores > 0, ids, -1)  # bm25s fills short lists with non-matching documents, score 0
    return {"index_s": index_s, "query_s": query_s, "top": _padded([row[row >= 0] for row in top])}


def _rank_bm25(docs, queries, lexical):
    from rank_bm25 import BM25Okapi

    analyzer = get_retriever(f"bm25:{lexical}".rstrip(":")).analyzer
    t0 = time.perf_counter()
    model = BM25Okapi([analyzer.tokenize(d) for d in docs], k1=K1, b=B)
    t1 = time.perf_counter()
    top = []
    ids = np.array([str(i) for i in range(len(docs))])
    tie_rank = Corpus(ids=list(ids), texts=[""] * len(docs)).id_ranks()
    from rageval.retrieval.topk import top_k

    for text in queries:
        s = model.get_scores(analyzer.tokenize(text))
        cand = np.flatnonzero(s)
        pos, _ = top_k(cand, s[cand], K, tie_rank)
        top.append(pos)
    return {"index_s": t1 - t0, "query_s": {"default": time.perf_counter() - t1}, "top": _padded(top)}


def _child(conn, fn, args, warm):
    try:
        warm()
        base = _reset_peak()
        result = fn(*args)
        result["peak_mb"] = (_status("VmHWM") - base) / 2**20
        conn.send(result)
    except BaseException as e:
        conn.send({"error": f"{type(e).__name__}: {e}"})
    conn.close()


def measure(warm, fn, *args) -> dict:
    """Run one system in a forked child: ``warm()`` (imports, JIT), then, from a reset peak, ``fn(*args)``;
    its index time, query times, peak memory added by index and search, and top-10 lists."""
    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_child, args=(child, fn, args, warm))
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{fn.__name__} failed: {result['error']}")
    return result


def agreement(ours: np.ndarray, peer: np.ndarray) -> dict:
    """Fractions of queries with identical top-10 id lists and with identical top-10 sets, and the mean top-10
    set overlap |A & B| / max(|A|, |B|)."""
    same, same_set, overlap = 0, 0, 0.0
    for a, b in zip(ours, peer):
        a, b = a[a >= 0], b[b >= 0]
        same += bool(np.array_equal(a, b))
        common = len(np.intersect1d(a, b))
        same_set += common == len(a) == len(b)
        overlap += common / max(len(a), len(b)) if len(a) or len(b) else 1.0
    n = len(ours)
    return {"identical_lists": same / n, "identical_sets": same_set / n, "mean_overlap": overlap / n}


def bench(label: str, docs: list[str], queries: list[str], real_text: bool) -> dict:
    """Every system on one corpus: a row of index times, QPS per setting, peak MB, agreement and ratios."""
    n, nq = len(docs), len(queries)
    lexical = "" if real_text else SYNTH_LEXICAL
    spec = f"bm25:k1={K1},b={B},idf=lucene" + (f",{lexical}" if lexical else "")
    row: dict = {"corpus": label, "docs": n, "queries": nq, "ours_spec": spec, "systems": {}}
    results = {"ours": measure(partial(_warm_ours, spec), _ours, docs, queries, spec),
               "pisa": measure(_import_pisa, _pisa, docs, queries, real_text)}
    if not real_text:
        results["tantivy"] = measure(_import_tantivy, _tantivy, docs, queries)
    stem, stop = (True, "en") if real_text else (False, None)
    for name, backend in (("bm25s", "numpy"), ("bm25s_numba", "numba")) if n <= BM25S_MAX_DOCS else ():
        results[name] = measure(partial(_warm_bm25s, backend), _bm25s, docs, queries, stem, stop, backend)
    ours = results["ours"]
    for name, res in results.items():
        entry = {"index_s": res["index_s"], "peak_mb": res["peak_mb"],
                 "qps": {s: nq / t for s, t in res["query_s"].items()}}
        if name == "ours":
            entry["pruned_identical_to_exhaustive"] = res["pruned_identical_to_exhaustive"]
        else:
            entry["agreement"] = agreement(ours["top"], res["top"])
            entry["ratios"] = {f"qps_{s}": (nq / ours["query_s"][s]) / q for s, q in entry["qps"].items()}
            entry["ratios"]["index_time"] = ours["index_s"] / res["index_s"]
            entry["ratios"]["peak_memory"] = ours["peak_mb"] / res["peak_mb"]
        if "segments" in res:
            entry["segments"] = res["segments"]
        row["systems"][name] = entry
    if n <= RANK_BM25_MAX_DOCS:
        rng = np.random.default_rng(1)
        sample = sorted(rng.choice(nq, size=min(RANK_BM25_QUERIES, nq), replace=False))
        okapi = measure(partial(_warm_ours, _okapi_spec(lexical)), _ours_okapi, docs, queries, lexical)
        ref = measure(_import_rank_bm25, _rank_bm25, docs, [queries[i] for i in sample], lexical)
        ours_qps = nq / okapi["query_s"]["default"]
        ref_qps = len(sample) / ref["query_s"]["default"]
        row["systems"]["rank_bm25"] = {"index_s": ref["index_s"], "peak_mb": ref["peak_mb"],
                                       "qps": {"1t": ref_qps}, "sample": len(sample),
                                       "ours_okapi_qps_default_threads": ours_qps,
                                       "top10_identical_to_ours_okapi": bool(np.array_equal(okapi["top"][sample],
                                                                                            ref["top"]))}
    return row


def check_tantivy_tokens(docs: list[str], queries: list[str]) -> bool:
    """Whether tantivy's analyzer gives our whitespace analyzer's tokens on the queries and a sample of documents."""
    ours = get_retriever(f"bm25:{SYNTH_LEXICAL}").analyzer
    theirs = tantivy_analyzer()
    step = max(1, len(docs) // TOKEN_CHECK_DOCS)
    return all(ours.tokenize(t) == theirs.analyze(t) for t in [*docs[::step], *queries])


def print_row(r: dict) -> None:
    """One line per system."""
    print(f"\n{r['corpus']}: {r['docs']} documents, {r['queries']} queries; ours = {r['ours_spec']}", flush=True)
    for name, s in r["systems"].items():
        qps = "  ".join(f"{k} {v:9.0f}" for k, v in s["qps"].items())
        line = f"  {name:>12}  index s {s['index_s']:8.2f}  peak MB {s['peak_mb']:8.1f}  QPS {qps}"
        if "pruned_identical_to_exhaustive" in s:
            line += "  pruned top-10 (ids, scores) == exhaustive: " + ", ".join(
                f"{k} {v}" for k, v in s["pruned_identical_to_exhaustive"].items())
        if "agreement" in s:
            a = s["agreement"]
            line += (f"  top-10 vs ours: identical lists {a['identical_lists']:.1%}, sets {a['identical_sets']:.1%}, "
                     f"overlap {a['mean_overlap']:.1%}")
        if "segments" in s:
            line += f"  ({s['segments']} segment{'s' * (s['segments'] != 1)})"
        if "top10_identical_to_ours_okapi" in s:
            line += (f"  ({s['sample']} queries; ours okapi QPS {s['ours_okapi_qps_default_threads']:.0f} at its default"
                     f" threads: x{s['ours_okapi_qps_default_threads'] / s['qps']['1t']:.0f}; top-10 identical to "
                     f"ours okapi: {s['top10_identical_to_ours_okapi']})")
        print(line, flush=True)


def print_summary(rows: list[dict]) -> None:
    """Ratios ours / peer: QPS at 1 and 2 threads (> 1: we are faster), index time and peak memory (< 1: we win)."""
    print("\nsummary: ours / peer (QPS ratio > 1: ours faster; index time, peak memory ratio < 1: ours faster, leaner)")
    print(f"  {'corpus':>14} {'peer':>12} {'QPS 1t':>8} {'QPS 2t':>8} {'index t':>8} {'peak mem':>8}"
          f" {'same lists':>10} {'same sets':>9} {'overlap':>8}")
    for r in rows:
        for name, s in r["systems"].items():
            if "ratios" not in s:
                continue
            q = s["ratios"]
            two = f"{q['qps_2t']:8.2f}" if "qps_2t" in q else f"{'-':>8}"
            print(f"  {r['corpus']:>14} {name:>12} {q['qps_1t']:8.2f} {two} {q['index_time']:8.2f} "
                  f"{q['peak_memory']:8.2f} {s['agreement']['identical_lists']:10.1%} "
                  f"{s['agreement']['identical_sets']:9.1%} {s['agreement']['mean_overlap']:8.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--huge", action="store_true",
                    help=f"add {HUGE:,} documents (about half an hour and 10 GB of memory; no bm25s)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--cranfield", default=str(ROOT.parent / "shared" / "datasets" / "cranfield"))
    ap.add_argument("--cosqa", default=str(ROOT.parent / "shared" / "datasets" / "cosqa"))
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    rows = []
    for label, path in (("cranfield", args.cranfield), ("cosqa", args.cosqa)):
        if Path(path).is_dir():
            ds = load_dataset(path)
            rows.append(bench(label, list(ds.corpus.contents()), list(ds.queries.texts), real_text=True))
            print_row(rows[-1])
        else:
            print(f"{label}: {path} not found, skipped", flush=True)
    for size in args.sizes + [HUGE] * args.huge:
        docs, queries = synthetic(size, args.queries)
        print(f"\nzipf-{size}: tantivy's analyzer gives our tokens (queries and {TOKEN_CHECK_DOCS} documents): "
              f"{check_tantivy_tokens(docs, queries)}", flush=True)
        rows.append(bench(f"zipf-{size}", docs, queries, real_text=False))
        print_row(rows[-1])
        del docs
    print_summary(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
