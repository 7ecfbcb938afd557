"""``rageval compare``: is A better than B? Paired tests over the per-query values of finished runs.

Reads ``per_query.jsonl`` and ``metrics.json`` of every pair folder under an output folder (made by
``rageval run`` or ``rageval evaluate``). Per dataset and measure: each system's mean and its 95%
bootstrap interval, and against a baseline (or every other system) the difference, the p-value
after correction over every comparison of the table, and a mark when it is significant.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rageval.errors import RagevalError
from rageval.scoring.significance import (CORRECTIONS, TESTS, check_alpha, check_draws, check_seed, correct, interval,
                                          p_values)
from rageval.store.run_records import OutputFolder, PairRecord, read_output

log = logging.getLogger("rageval")


@dataclass
class System:
    """One finished pair: its label (``run_store.PairKey.label``) and per-query values by measure."""

    dataset: str
    name: str
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    without_results: int = 0  # judged queries its run had no result for (scored 0)


def system(pair: PairRecord) -> System:
    """A finished pair read by ``rageval.store.run_records``, as compare takes it."""
    return System(pair.dataset, pair.system, pair.per_query, pair.result.n_queries_without_results)


def systems_of(output: OutputFolder) -> list[System]:
    """Every finished pair of an output folder read by ``rageval.store.run_records``, in folder order."""
    return [system(p) for p in output.finished()]


def read_systems(out: Path) -> list[System]:
    """Every finished pair under ``out``, in folder order (a warning names each pair left out)."""
    return systems_of(read_output(out))


def check_options(test: str, correction: str, alpha: float, permutations: int, seed: int,
                  baseline: str | None = None, pairwise: bool = False) -> None:
    """A RagevalError for an unknown test or correction, an alpha outside (0, 1), fewer than one
    permutation, a negative seed, or a baseline with pairwise comparisons: checked before any file is read."""
    if baseline is not None and pairwise:
        raise RagevalError("a baseline and pairwise comparisons exclude each other: pairwise compares every pair")
    if test not in TESTS:
        raise RagevalError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    if correction not in CORRECTIONS:
        raise RagevalError(f"unknown correction {correction!r}; known: {', '.join(CORRECTIONS)}")
    check_alpha(alpha)
    check_draws(permutations)
    check_seed(seed)


def lacking_baseline(systems: dict[str, Sequence[str]], baseline: str) -> list[str]:
    """The datasets (of ``systems``: dataset -> its system names) that lack ``baseline``, each named in
    a warning as skipped; none having it is an error listing the systems there are."""
    lacking = [d for d, names in systems.items() if baseline not in names]
    if len(lacking) == len(systems) == 1:
        [(dataset, names)] = systems.items()
        raise RagevalError(f"baseline {baseline!r} is not a system of {dataset}; there: {', '.join(names)}")
    if lacking and len(lacking) == len(systems):
        raise RagevalError(f"baseline {baseline!r} is not a system of any dataset; there are: "
                           + "; ".join(f"{d}: {', '.join(names)}" for d, names in systems.items()))
    for dataset in lacking:
        log.warning("%s skipped: baseline %r is not one of its systems (%s)", dataset, baseline,
                    ", ".join(systems[dataset]))
    return lacking


@dataclass
class Row:
    """One line of a comparison table."""

    system: str
    mean: float
    low: float
    high: float
    against: str | None = None
    difference: float | None = None
    p: float | None = None
    significant: bool = False


@dataclass
class Table:
    """A dataset's comparison on one measure."""

    dataset: str
    measure: str
    n_queries: int
    filled: dict[str, int]  # per system, judged queries its run had no result for (scored 0)
    rows: list[Row]


def _paired(systems: Sequence[System], measure: str) -> tuple[list[str], np.ndarray]:
    """The queries every system was scored on (paired by id) and a [systems, queries] matrix. Systems
    scored on different query sets are compared on the intersection, with a warning naming the counts."""
    sets = [set(s.values.get(measure, {})) for s in systems]
    queries = sorted(set.intersection(*sets))
    if any(len(found) != len(queries) for found in sets):
        log.warning("%s: the systems were scored on different queries (%s); compared on the %d they share", measure,
                    ", ".join(f"{s.name} {len(found)}" for s, found in zip(systems, sets)), len(queries))
    return queries, np.array([[s.values[measure][q] for q in queries] for s in systems])


def compare(systems: Sequence[System], measures: Sequence[str] | None = None, baseline: str | None = None,
            pairwise: bool = False, test: str = "randomization", correction: str = "holm", alpha: float = 0.05,
            seed: int = 0, permutations: int = 10_000, intervals: bool = True) -> list[Table]:
    """One table per dataset and measure; the correction runs over every comparison of all of them
    for one dataset. Queries are paired by id. ``baseline`` (default: each dataset's first system)
    leaves out, with a warning, the datasets that lack it. ``intervals=False`` leaves out the
    bootstrap intervals (low = high = the mean)."""
    check_options(test, correction, alpha, permutations, seed, baseline, pairwise)
    if baseline is not None:
        names = {d: [s.name for s in systems if s.dataset == d] for d in dict.fromkeys(s.dataset for s in systems)}
        lacking = lacking_baseline(names, baseline)
        systems = [s for s in systems if s.dataset not in lacking]
    tables = []
    for dataset in dict.fromkeys(s.dataset for s in systems):
        group = [s for s in systems if s.dataset == dataset]
        names = [s.name for s in group]
        base = names.index(baseline) if baseline is not None else 0
        pairs = [(i, j) for i in range(len(group)) for j in range(i + 1, len(group))] if pairwise \
            else [(i, base) for i in range(len(group)) if i != base]
        found = [_measure_table(dataset, group, measure, seed, intervals)
                 for measure in _measures_of(dataset, group, measures)]
        adjusted = iter(correct(_raw_p_values(found, pairs, test, permutations, seed), correction))
        for table, matrix, _ in found:
            if pairwise:
                table.rows = [_pair_row(table, matrix, names, i, j, next(adjusted), alpha) for i, j in pairs]
            else:
                for i, _ in pairs:
                    _mark_against(table.rows[i], table.rows[base], next(adjusted), alpha)
            tables.append(table)
    return tables


def _measures_of(dataset: str, group: Sequence[System], measures: Sequence[str] | None) -> list[str]:
    """The measures compared on one dataset: ``measures``, or every one that all its systems were
    scored on; a measure asked that some system lacks is an error naming the common ones."""
    common = [m for m in group[0].values if all(m in s.values for s in group)]
    wanted = list(measures) if measures else common
    missing = [m for m in wanted if m not in common]
    if missing:
        raise RagevalError(f"{dataset}: {', '.join(missing)} not scored for every system; common: "
                           f"{', '.join(common) or 'none'}")
    return wanted


def _measure_table(dataset: str, group: Sequence[System], measure: str, seed: int,
                   intervals: bool) -> tuple[Table, np.ndarray, tuple[str, ...]]:
    """The table of one measure with each system's mean (and bootstrap interval), its [systems,
    queries] matrix and the queries paired; fewer than 2 scored queries is an error."""
    queries, matrix = _paired(group, measure)
    if len(queries) < 2:
        raise RagevalError(f"{dataset} {measure}: {len(queries)} scored queries; a comparison needs at least 2")
    rows = [Row(s.name, float(matrix[i].mean()),
                *(interval(matrix[i], seed) if intervals else (float(matrix[i].mean()),) * 2))
            for i, s in enumerate(group)]
    filled = {s.name: s.without_results for s in group}
    return Table(dataset, measure, len(queries), filled, rows), matrix, tuple(queries)


def _raw_p_values(found: Sequence[tuple[Table, np.ndarray, tuple[str, ...]]], pairs: Sequence[tuple[int, int]],
                  test: str, permutations: int, seed: int) -> list[float]:
    """The uncorrected p-value of every comparison ``pairs`` (system indices) of every table of
    ``found``, table by table; the measures scored on the same queries share one set of flips."""
    if not pairs:
        return []
    by_queries: dict[tuple[str, ...], list[int]] = {}
    for index, (_, _, queries) in enumerate(found):
        by_queries.setdefault(queries, []).append(index)
    p_of: dict[int, np.ndarray] = {}
    for indices in by_queries.values():
        a = np.vstack([found[i][1][[x for x, _ in pairs]] for i in indices])
        b = np.vstack([found[i][1][[y for _, y in pairs]] for i in indices])
        p = p_values(a, b, test, permutations, seed)
        for n, i in enumerate(indices):
            p_of[i] = p[n * len(pairs):(n + 1) * len(pairs)]
    return [p for i in range(len(found)) for p in p_of[i]]


def _pair_row(table: Table, matrix: np.ndarray, names: Sequence[str], i: int, j: int, p: float,
              alpha: float) -> Row:
    """The row of a pairwise comparison of system ``i`` against ``j`` (p corrected)."""
    row = table.rows[i]
    return Row(f"{names[i]} vs {names[j]}", row.mean, row.low, row.high, names[j],
               float(matrix[i].mean() - matrix[j].mean()), float(p), bool(p < alpha))


def _mark_against(row: Row, base: Row, p: float, alpha: float) -> None:
    """Fill in ``row``'s comparison with the baseline row (p corrected)."""
    row.against, row.difference = base.system, row.mean - base.mean
    row.p, row.significant = float(p), bool(p < alpha)


def across(tables: Sequence[Table], correction: str = "holm", alpha: float = 0.05, seed: int = 0) -> list[dict[str, Any]]:
    """Per measure and system pair (against the baseline rows), over datasets: on how many datasets
    each is significantly better (correction applied over datasets), and the mean of the per-dataset
    differences with its bootstrap interval."""
    check_alpha(alpha)
    out = []
    by_measure: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for t in tables:
        for r in t.rows:
            if r.against is not None and r.p is not None:
                by_measure.setdefault((t.measure, r.system, r.against), []).append((r.difference, r.p))
    for (measure, system, against), found in by_measure.items():
        diffs = np.array([d for d, _ in found])
        p = correct([p for _, p in found], correction)
        low, high = interval(diffs, seed) if len(diffs) >= 2 else (float(diffs[0]), float(diffs[0]))
        out.append({"measure": measure, "system": system, "against": against, "datasets": len(found),
                    "better": int(np.sum((p < alpha) & (diffs > 0))), "worse": int(np.sum((p < alpha) & (diffs < 0))),
                    "mean_difference": float(diffs.mean()), "low": low, "high": high})
    return out


def render(tables: Sequence[Table], test: str, correction: str, alpha: float) -> str:
    """Plain-text tables: ▲ / ▼ mark a significant difference (better / worse) after correction."""
    from rageval.reporting.leaderboard import table as text_table

    parts = []
    for t in tables:
        body = []
        for r in t.rows:
            mark = "" if not r.significant else ("▲" if (r.difference or 0) > 0 else "▼")
            body.append([r.system, f"{r.mean:.4f}", f"[{r.low:.4f}, {r.high:.4f}]",
                         "-" if r.difference is None else f"{r.difference:+.4f}",
                         "-" if r.p is None else f"{r.p:.4f}", mark])
        head = ["system", t.measure, "95% interval", "difference", "p", ""]
        filled = sum(t.filled.values())
        note = f"{t.n_queries} queries" + (f", {filled} without results scored 0 (as trec_eval does)" if filled else "")
        parts.append(f"{t.dataset}: {t.measure} ({note}; {test}, {correction} correction, alpha {alpha})\n"
                     + text_table(head, body))
    return "\n\n".join(parts)


def plain(value: Any) -> Any:
    """``value`` in JSON's own types: numpy scalars as Python bools and numbers, tuples as lists,
    NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def to_json(tables: Sequence[Table]) -> list[dict[str, Any]]:
    """The tables as plain JSON data (every value a JSON type)."""
    return [plain({"dataset": t.dataset, "measure": t.measure, "n_queries": t.n_queries, "filled": t.filled,
                   "rows": [asdict(r) for r in t.rows]}) for t in tables]

