"""Building ``code:stdlib``: cold (parse everything) and warm (from the cache), files parsed per
second, and peak memory, each build in a child forked from this process.

    python bench/code_corpus.py [--path PATH]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

from bm25 import _reset_peak, _status  # bench/bm25.py: VmHWM helpers


def _build(conn, spec: str) -> None:
    from rageval import load_dataset

    base = _reset_peak()
    start = time.perf_counter()
    ds = load_dataset(spec, "test")
    seconds = time.perf_counter() - start
    conn.send({"s": seconds, "peak_mb": (_status("VmHWM") - base) / 2**20, "stats": ds.meta["stats"],
               "docs": len(ds.corpus), "test_queries": len(ds.queries)})


def measure(spec: str) -> dict:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_build, args=(child, spec))
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default="stdlib")
    args = ap.parse_args()
    import os

    os.environ["RAGEVAL_CACHE"] = tempfile.mkdtemp(prefix="rageval-bench-")
    cold = measure(f"code:{args.path}")
    warm = measure(f"code:{args.path}")
    files = cold["stats"]["files"].get("parsed", 0)
    print(f"code:{args.path}: {files} files parsed, {cold['stats']['functions']} functions, "
          f"{cold['docs']} documents, queries per split {cold['stats']['queries']}")
    print(f"cold build {cold['s']:.2f} s ({files / cold['s']:.0f} files/s), peak {cold['peak_mb']:.0f} MB")
    print(f"warm (cache) {warm['s']:.2f} s, peak {warm['peak_mb']:.0f} MB; cold/warm x{cold['s'] / warm['s']:.1f}")


if __name__ == "__main__":
    main()
