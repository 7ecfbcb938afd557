"""rageval's paired randomization test against ranx's, on the same per-query arrays, in one process.

    python bench/compare.py [--systems 10] [--queries 10000] [--permutations 10000]

Every pair of ``--systems`` random systems (45 for 10) over ``--queries`` queries: ranx's
``fisher_randomization_test`` (numba; its first call compiles, timed apart) pair by pair, and
``rageval.scoring.significance.p_values`` on all pairs at once (one set of sign flips shared by every pair,
matrix products). Prints the times, the ratio (ranx warm / rageval) and the largest p-value gap.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from rageval.scoring.significance import p_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--permutations", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    base = rng.random(args.queries)
    systems = np.clip(base + rng.normal(0, 0.2, (args.systems, args.queries)) + rng.normal(0, 0.01, (args.systems, 1)),
                      0, 1)
    pairs = list(itertools.combinations(range(args.systems), 2))

    start = time.perf_counter()
    from ranx.statistical_tests import fisher_randomization_test

    fisher_randomization_test(systems[0][:10], systems[1][:10], 10, 0.05, 42)
    ranx_first = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [fisher_randomization_test(systems[i], systems[j], args.permutations, 0.05, 42)[0] for i, j in pairs]
    ranx_warm = time.perf_counter() - start

    start = time.perf_counter()
    p_values(systems[:2, :10], systems[2:4, :10], "randomization", n=10)
    ours_first = time.perf_counter() - start
    start = time.perf_counter()
    ours = p_values(systems[[i for i, _ in pairs]], systems[[j for _, j in pairs]], "randomization",
                    n=args.permutations)
    ours_warm = time.perf_counter() - start

    gap = float(np.max(np.abs(np.array(theirs) - ours)))
    print(f"{len(pairs)} pairs x {args.queries} queries x {args.permutations} permutations")
    print(f"first call: ranx {ranx_first:.2f} s (compile), rageval {ours_first:.3f} s")
    print(f"warm:       ranx {ranx_warm:.2f} s, rageval {ours_warm:.2f} s, ratio ranx / rageval {ranx_warm / ours_warm:.2f}x")
    print(f"largest p-value difference: {gap:.4f}")


if __name__ == "__main__":
    main()
