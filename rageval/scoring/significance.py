"""Paired tests, multiple-testing corrections and bootstrap intervals over per-query values.

scipy.stats computes the paired t-test (``ttest_rel``), Wilcoxon's signed-rank test (``wilcoxon``),
the bootstrap interval of a mean (``bootstrap``, percentile) and Benjamini–Hochberg
(``false_discovery_control``); the randomization and bootstrap tests are vectorised here (numpy),
so every pair of a table shares one set of sign flips or resamples.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from rageval.errors import RagevalError

TESTS = ("randomization", "ttest", "wilcoxon", "bootstrap")
CORRECTIONS = ("holm", "bonferroni", "bh", "none")
_BLOCK = 1_000  # sign flips or resamples per matrix product
# The most random draws a test or interval may take: 10^7 sign flips of 3 pairs over 200 queries take
# about 6 s (bootstrap resamples about 5 times as long), and the time grows with queries x pairs; far
# more never ends in practice, and beyond 10^6 the p-value's third decimal no longer moves.
MAX_DRAWS = 10_000_000


def _check(differences: np.ndarray) -> None:
    if differences.shape[-1] < 2:
        raise RagevalError(f"a paired test needs at least 2 queries, got {differences.shape[-1]}")


def check_alpha(alpha: float, what: str = "alpha") -> float:
    """``alpha`` if it is a level (a number strictly between 0 and 1), else a RagevalError naming ``what``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)) or not 0 < alpha < 1:
        raise RagevalError(f"{what} must be a number between 0 and 1 (exclusive), got {alpha!r}")
    return float(alpha)


def check_draws(n: int, what: str = "permutations") -> int:
    """``n`` if it is a whole number of random draws from 1 to ``MAX_DRAWS``, else a RagevalError naming ``what``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise RagevalError(f"{what} must be a whole number of at least 1, got {n!r}")
    if n > MAX_DRAWS:
        raise RagevalError(f"{what} must be at most {MAX_DRAWS:,} (10^7 draws take seconds per table; "
                           f"more would run for hours), got {n!r}")
    return int(n)


def check_seed(seed: int) -> int:
    """``seed`` if numpy can seed with it (a whole number, at least 0), else a RagevalError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise RagevalError(f"seed must be a whole number of at least 0, got {seed!r}")
    return int(seed)


def randomization(differences: np.ndarray, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """Two-sided paired randomization test (Fisher) of each row of ``differences`` ([pairs, queries]):
    the share of sign flips whose |mean| reaches the observed |mean|. When 2^queries <= ``n`` every
    flip is enumerated and the p-value is exact; otherwise ``n`` random flips (seeded) are used, the
    same for every row. A flip of the set F of queries turns the sum S into S - 2 sum_F d: one 0/1
    matrix product per block of flips serves every row."""
    n, seed = check_draws(n), check_seed(seed)
    d = np.atleast_2d(np.asarray(differences, dtype=np.float64))
    _check(d)
    q = d.shape[1]
    total_sum = d.sum(axis=1)
    observed = np.abs(total_sum)
    tolerance = 1e-9 * np.abs(d).sum(axis=1) + 1e-12  # the same sum in another order is the same value
    exact = q < 63 and 2 ** q <= n
    total = 2 ** q if exact else n
    hits = np.zeros(len(d), dtype=np.int64)
    rng = np.random.default_rng(seed)
    columns = np.ascontiguousarray(d.T)
    for start in range(0, total, _BLOCK):
        size = min(_BLOCK, total - start)
        if exact:
            flips = (np.arange(start, start + size, dtype=np.int64)[:, None] >> np.arange(q, dtype=np.int64)) & 1
        else:
            packed = rng.integers(0, 256, size=(size, (q + 7) // 8), dtype=np.uint8)
            flips = np.unpackbits(packed, axis=1, count=q)
        flipped = flips.astype(np.float64) @ columns
        hits += (np.abs(total_sum - 2.0 * flipped) >= observed - tolerance).sum(axis=0)
    return hits / total


def bootstrap_test(differences: np.ndarray, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """Two-sided paired bootstrap test of each row: the share of resamples (with replacement, of
    queries, seeded, shared by every row) of the centred differences whose |mean| reaches the
    observed |mean|."""
    n, seed = check_draws(n), check_seed(seed)
    d = np.atleast_2d(np.asarray(differences, dtype=np.float64))
    _check(d)
    q = d.shape[1]
    centred = d - d.mean(axis=1, keepdims=True)
    observed = np.abs(d.mean(axis=1))
    hits = np.zeros(len(d), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for start in range(0, n, _BLOCK):
        size = min(_BLOCK, n - start)
        counts = np.zeros((size, q))
        rows = np.repeat(np.arange(size), q)
        np.add.at(counts, (rows, rng.integers(0, q, size=size * q)), 1.0)
        hits += (np.abs(counts @ centred.T / q) >= observed - 1e-12).sum(axis=0)
    return hits / n


def p_values(a: np.ndarray, b: np.ndarray, test: str = "randomization", n: int = 10_000,
             seed: int = 0) -> np.ndarray:
    """Two-sided p-value of each pair (row) of per-query values ``a`` and ``b`` ([pairs, queries])."""
    if test not in TESTS:
        raise RagevalError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    n, seed = check_draws(n), check_seed(seed)
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    d = a - b
    _check(d)
    if test == "randomization":
        return randomization(d, n, seed)
    if test == "bootstrap":
        return bootstrap_test(d, n, seed)
    if test == "ttest":
        out = []
        for x, y in zip(a, b):
            p = stats.ttest_rel(x, y).pvalue
            out.append(1.0 if np.isnan(p) else p)  # identical values: no evidence of a difference
        return np.array(out)
    return np.array([stats.wilcoxon(x, y).pvalue if np.any(x != y) else 1.0 for x, y in zip(a, b)])


def correct(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values (Holm's step-down, Bonferroni, Benjamini–Hochberg, or none), capped at 1."""
    if method not in CORRECTIONS:
        raise RagevalError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
    p = np.asarray(p, dtype=np.float64)
    if method == "none" or len(p) == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, p * len(p))
    if method == "bh":
        return stats.false_discovery_control(p, method="bh")
    order = np.argsort(p, kind="stable")  # Holm
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def interval(values: Sequence[float], seed: int = 0, n: int = 10_000, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap percentile interval of the mean over queries (scipy.stats.bootstrap, seeded; resamples
    drawn in blocks, so 10,000 queries never need a 10,000 x 10,000 matrix at once)."""
    n, seed, level = check_draws(n, "resamples"), check_seed(seed), check_alpha(level, "the interval's level")
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        raise RagevalError(f"an interval needs at least 2 queries, got {len(x)}")
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap((x,), np.mean, n_resamples=n, confidence_level=level, method="percentile",
                          random_state=np.random.default_rng(seed), vectorized=True, batch=_BLOCK)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
