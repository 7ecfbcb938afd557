"""Local generation and rewrite caching: our batched ``local`` generator against a bare
transformers ``generate`` loop, the one-time GGUF conversion, and warm reruns.

    python bench/generation.py [--prompts 32] [--max-new-tokens 64] [--batch-size 8]

Prompts: the ``gar_code`` prompt over a seeded sample of code:stdlib test queries (the embedded
default, always there). Peer: the same converted SmolLM2-135M-Instruct, the same chat template,
greedy decoding, one prompt per ``model.generate`` call (what a plain loop does). Both run in
this process after one warm-up call; outputs are compared. Then the generation cache (a new
generator instance, same prompts) and a whole ``rewrite:method=gar`` run on the same sample,
cold (empty generation cache) and warm (``resume=False``: the run is redone, generations read
from the cache).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["RAGEVAL_CACHE"] = tempfile.mkdtemp(prefix="rageval-bench-")

from rageval import load_dataset
from rageval.store.cache import cache_dir
from rageval.generators.local import Local
from rageval.running.benchmark import benchmark as run
from rageval.retrievers.rewrite_prompts import PROMPTS


def bare_generate(gen: Local, prompts: list[str], max_new_tokens: int) -> list[str]:
    import torch

    out = []
    for prompt in prompts:
        enc = gen._tokenizer(gen._render(prompt), return_tensors="pt")
        with torch.inference_mode():
            ids = gen._model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                      top_p=None, top_k=None, pad_token_id=gen._tokenizer.pad_token_id)
        out.append(gen._tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    ds = load_dataset("code:stdlib", "test")
    queries = random.Random(0).sample(ds.queries.texts, args.prompts)
    prompts = [PROMPTS["gar_code"].format(query=q) for q in queries]
    spec = f"max_new_tokens={args.max_new_tokens},batch_size={args.batch_size}"

    gen = Local(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    start = time.perf_counter()
    gen._load()
    convert_s = time.perf_counter() - start
    again = Local(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    start = time.perf_counter()
    again._load()
    load_s = time.perf_counter() - start
    print(f"first use (GGUF -> transformers folder, then load) {convert_s:.1f} s; later loads {load_s:.2f} s")

    bare_generate(gen, prompts[:1], 8)  # warm-up of both paths
    list(gen.complete(prompts[:1], {**gen.defaults, "max_new_tokens": 8}))
    start = time.perf_counter()
    peer = bare_generate(gen, prompts, args.max_new_tokens)
    peer_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = gen.generate(prompts)
    ours_s = time.perf_counter() - start
    same = sum(a == b for a, b in zip(peer, ours))
    print(f"{len(prompts)} prompts, {args.max_new_tokens} new tokens, {os.cpu_count()} cores: bare generate loop "
          f"{len(prompts) / peer_s:.2f} gen/s, ours (batch {args.batch_size}) {len(prompts) / ours_s:.2f} gen/s, "
          f"x{peer_s / ours_s:.2f}; identical outputs {same}/{len(prompts)}")

    start = time.perf_counter()
    warm = Local(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    cached = warm.generate(prompts)
    warm_s = time.perf_counter() - start
    print(f"cached rerun (new instance) {warm_s * 1000:.1f} ms, model calls {warm.calls}, model loaded "
          f"{warm._model is not None}, same texts {cached == ours}: {warm_s / ours_s * 100:.2f}% of cold")

    (cache_dir("generations") / "generations.sqlite").unlink()
    out = Path(tempfile.mkdtemp(prefix="rageval-bench-runs-"))
    retriever = f"rewrite:method=gar,generator=[local:{spec}]"
    timings = []
    for resume in (True, False):
        start = time.perf_counter()
        [outcome] = run("code:stdlib", [retriever], metrics=["MRR@10"], out=out, resume=resume,
                        sample=args.prompts)
        timings.append(time.perf_counter() - start)
        assert outcome.error is None, outcome.error
    print(f"rageval run {retriever} on code:stdlib test (sample {args.prompts}): cold {timings[0]:.1f} s, "
          f"warm rerun (--no-resume) {timings[1]:.2f} s = {timings[1] / timings[0] * 100:.1f}% of cold; "
          f"MRR@10 {outcome.means['MRR@10']:.4f}")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(os.environ["RAGEVAL_CACHE"], ignore_errors=True)


if __name__ == "__main__":
    main()
