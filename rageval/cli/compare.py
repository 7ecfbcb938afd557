"""``rageval compare``: paired significance tests and intervals over finished runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..compare import across, compare, read_systems, render, to_json
from ..errors import RagevalError
from ..files import write_json
from ..metrics import parse_measures
from ..report import table
from ..significance import CORRECTIONS, TESTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("compare", help="paired significance tests and intervals over finished runs")
    c.add_argument("out", help="a folder written by rageval run or rageval evaluate --out")
    c.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    c.add_argument("--metric", action="append", metavar="M", help="measures to compare (default: all in common)")
    c.add_argument("--baseline", help="the system the others are compared with (default: the first)")
    c.add_argument("--pairwise", action="store_true", help="compare every pair instead of each with the baseline")
    c.add_argument("--across", action="store_true", help="also summarise each pair over datasets")
    c.add_argument("--test", choices=TESTS, default="randomization", help="paired test (default randomization)")
    c.add_argument("--correction", choices=CORRECTIONS, default="holm", help="multiple-testing correction (default holm)")
    c.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    c.add_argument("--permutations", type=int, default=10_000, help="randomization / bootstrap draws (default 10000)")
    c.add_argument("--seed", type=int, default=0, help="seed of the draws and the intervals (default 0)")
    c.add_argument("--json", help="also write the tables to this JSON file")


def run(args: argparse.Namespace) -> int:
    """The comparison tables, the summary over datasets with ``--across``, and the JSON file."""
    systems = read_systems(Path(args.out))
    if args.dataset:
        systems = [s for s in systems if s.dataset in args.dataset]
        if not systems:
            raise RagevalError(f"no finished run of {', '.join(args.dataset)} under {args.out}")
    measures = [m.name for m in parse_measures(args.metric)] if args.metric else None
    tables = compare(systems, measures, args.baseline, args.pairwise, args.test, args.correction, args.alpha,
                     args.seed, args.permutations)
    print(render(tables, args.test, args.correction, args.alpha))
    summary = across(tables, args.correction, args.alpha, args.seed) if args.across else []
    if args.across:
        print("\nacross datasets (better / worse: significant wins on how many datasets)")
        print(table(["measure", "system", "against", "datasets", "better", "worse", "mean difference", "95% interval"],
                    [[r["measure"], r["system"], r["against"], str(r["datasets"]), str(r["better"]), str(r["worse"]),
                      f"{r['mean_difference']:+.4f}", f"[{r['low']:.4f}, {r['high']:.4f}]"] for r in summary]))
    if args.json:
        write_json(args.json, {"test": args.test, "correction": args.correction, "alpha": args.alpha,
                               "seed": args.seed, "tables": to_json(tables), "across": summary})
    return 0
