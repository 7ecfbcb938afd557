"""Span scoring speed against a straightforward per-token-set implementation, and chunking throughput.

    python bench/spans.py [--queries 100000]

Scoring: --queries queries x 10 retrieved chunks x 3 reference spans over 1,000 synthetic
documents of 2,000 words, both scorers in this one process on the same input, with the same
token offsets (regex unit); their numbers must be identical. Chunking: MB/s of every chunker over
the standard library's modules (code and docstrings, every machine has them), and ``recursive`` /
``fixed`` against langchain-text-splitters on the same texts (ours with offsets, theirs strings
only; the chunk lists must be identical).
"""
from __future__ import annotations

import argparse
import gc
import sysconfig
import time
from pathlib import Path

import numpy as np


from rageval import Corpus, registry
from rageval.metrics.token_spans import SpanScorer


def synthetic(n_queries: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    texts = {f"d{i}": " ".join(f"w{j % 997}" for j in range(2000)) for i in range(1000)}
    chunk_len = 100 * 6  # characters of 100 words of about 5 characters and a space
    retrieved, references = [], []
    for _ in range(n_queries):
        doc = f"d{rng.integers(1000)}"
        starts = rng.integers(0, 2000 * 5, 10)
        retrieved.append([(doc if rng.random() < 0.7 else f"d{rng.integers(1000)}", int(s), int(s) + chunk_len)
                          for s in starts])
        refs = rng.integers(0, 2000 * 5, 3)
        references.append([(doc, int(s), int(s) + int(rng.integers(20, 300))) for s in refs])
    return texts, retrieved, references


def per_token_sets(scorer: SpanScorer, retrieved, references):
    """The straightforward way: each range becomes a Python set of (document, token) pairs."""
    offsets = scorer._offsets

    def tokens(ranges):
        out = set()
        for d, s, e in ranges:
            ts, te = offsets[d]
            first = int(np.searchsorted(te, s, side="right"))
            last = int(np.searchsorted(ts, e, side="left"))
            out.update((d, i) for i in range(first, last))
        return out

    recall, precision, iou = [], [], []
    for r, e in zip(retrieved, references):
        R, E = tokens(r), tokens(e)
        inter, union = len(R & E), len(R | E)
        recall.append(inter / len(E) if E else 0.0)
        precision.append(inter / len(R) if R else 0.0)
        iou.append(inter / union if union else 0.0)
    return {"recall": np.array(recall), "precision": np.array(precision), "iou": np.array(iou)}


def scoring(n_queries: int) -> None:
    texts, retrieved, references = synthetic(n_queries)
    scorer = SpanScorer(texts.__getitem__)
    for d in texts:  # token offsets are shared input of both, computed once, not timed
        scorer._offsets[d] = scorer.unit.offsets(texts[d])
    times = []
    for _ in range(3):  # the first call also lays out the documents' token offsets
        start = time.perf_counter()
        ours = scorer.score(retrieved, references)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    sets = per_token_sets(scorer, retrieved, references)
    sets_s = time.perf_counter() - start
    identical = all(np.allclose(ours[k], sets[k], rtol=0, atol=1e-12) for k in ours)
    print(f"scoring {n_queries} queries x 10 chunks x 3 spans: per-token sets {sets_s:.2f} s; ours first call "
          f"{times[0]:.2f} s (x{sets_s / times[0]:.1f} faster), best of 3 {min(times):.2f} s "
          f"(x{sets_s / min(times):.1f}); identical numbers: {identical}")


def _stdlib_files(n: int) -> list[Path]:
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:n]


def chunking() -> None:
    files = _stdlib_files(150)
    corpus = Corpus(ids=[p.name for p in files], texts=[p.read_text(encoding="utf-8") for p in files])
    megabytes = sum(len(t.encode()) for t in corpus.texts) / 1e6
    print(f"chunking {len(files)} standard-library modules ({megabytes:.1f} MB):")
    for spec in ["fixed:size=200", "fixed:size=200,overlap=50", "fixed:size=256,unit=cl100k_base",
                 "recursive:size=800", "recursive:size=200,unit=regex", "sentence:n=5", "ast:size=1500"]:
        chunker = registry.create("chunkers", spec)
        start = time.perf_counter()
        chunks = chunker.chunk(corpus)
        seconds = time.perf_counter() - start
        print(f"  {spec:<34} {megabytes / seconds:7.2f} MB/s  ({len(chunks)} chunks)")


def versus_langchain() -> None:
    """Throughput of ``recursive`` and ``fixed`` against LangChain's splitters, best of 5 each."""
    import bpe_openai
    from langchain_text_splitters import RecursiveCharacterTextSplitter, Tokenizer, split_text_on_tokens
    from tokenizers import Tokenizer as HfTokenizer

    from rageval.retrieval.encoder import default_model_path

    texts = [p.read_text(encoding="utf-8") for p in _stdlib_files(60)]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    enc = bpe_openai.get_encoding("cl100k_base")
    hf = HfTokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    hf.no_truncation()
    hf.no_padding()
    lengths = {"chars": len, "cl100k_base": lambda t: len(enc.encode(t, allowed_special=set(), disallowed_special=())),
               f"hf:{default_model_path()}+special": lambda t: len(hf.encode(t).ids)}
    separators = ["\n\n", "\n", ".", "?", "!", " ", ""]
    cases = []
    for unit, length in lengths.items():
        splitter = RecursiveCharacterTextSplitter(chunk_size=200, chunk_overlap=0, length_function=length,
                                                  separators=separators)
        cases.append((f"recursive:size=200,unit={unit}", splitter.split_text))
    tokenizer = Tokenizer(chunk_overlap=0, tokens_per_chunk=200, decode=enc.decode,
                          encode=lambda t: enc.encode(t, allowed_special=set(), disallowed_special="all"))
    cases.append(("fixed:size=200,unit=cl100k_base", lambda t: split_text_on_tokens(text=t, tokenizer=tokenizer)))
    print(f"against langchain-text-splitters on {len(texts)} standard-library modules ({megabytes:.1f} MB), best of 5:")
    for spec, theirs in cases:
        chunker = registry.create("chunkers", spec)
        corpora = [Corpus(ids=["d"], texts=[t]) for t in texts]
        ours_s, theirs_s = [], []
        for _ in range(5):  # timed as timeit does: garbage collection off, so neither pays for the other's
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            mine = [chunker.chunk(c).texts for c in corpora]
            ours_s.append(time.perf_counter() - start)
            gc.enable()
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            reference = [theirs(t) for t in texts]
            theirs_s.append(time.perf_counter() - start)
            gc.enable()
        label = spec.split(",unit=")[0] + ", " + spec.split(",unit=")[1].split("/")[-1][:24]
        print(f"  {label:<40} ours {megabytes / min(ours_s):6.2f} MB/s, langchain {megabytes / min(theirs_s):6.2f} MB/s: "
              f"x{min(theirs_s) / min(ours_s):.2f}; identical chunks: {mine == reference}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=100_000)
    args = ap.parse_args()
    scoring(args.queries)
    chunking()
    versus_langchain()


if __name__ == "__main__":
    main()
