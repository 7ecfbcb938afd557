"""``rageval compare``: paired significance tests and intervals over finished runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from rageval.errors import RagevalError
from rageval.metrics import parse_measures
from rageval.registry import number_option
from rageval.reporting.leaderboard import table
from rageval.scoring.compare import across, check_options, compare, plain, render, systems_of, to_json
from rageval.scoring.significance import CORRECTIONS, MAX_DRAWS, TESTS
from rageval.store.files import output_file, write_json
from rageval.store.run_records import read_output


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
    c.add_argument("--alpha", type=number_option(float), default=0.05, help="significance level (default 0.05)")
    c.add_argument("--permutations", type=number_option(int), default=10_000,
                   help=f"randomization / bootstrap draws (default 10000, at most {MAX_DRAWS:,})")
    c.add_argument("--seed", type=number_option(int), default=0,
                   help="seed of the draws and the intervals (default 0)")
    c.add_argument("--json", help="also write the tables to this JSON file")


def run(args: argparse.Namespace) -> int:
    """The comparison tables, the summary over datasets with ``--across``, and the JSON file."""
    output_file(args.json, "--json")
    check_options(args.test, args.correction, args.alpha, args.permutations, args.seed, args.baseline, args.pairwise)
    measures = [m.name for m in parse_measures(args.metric)] if args.metric else None
    output = read_output(args.out)  # a str: '' is refused, where Path('') would be the current folder
    systems = systems_of(output)
    datasets = list(dict.fromkeys(s.dataset for s in systems))
    if args.dataset:
        unknown = [d for d in args.dataset if d not in datasets]
        if unknown:
            raise RagevalError(f"no finished run of {', '.join(unknown)} under {args.out}; there: {', '.join(datasets)}")
        systems = [s for s in systems if s.dataset in args.dataset]
    if not args.baseline and not args.pairwise:
        for dataset in dict.fromkeys(s.dataset for s in systems):
            output.default_baseline(dataset)  # warns when a left-out pair would have been the baseline
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
                               "seed": args.seed, "tables": to_json(tables), "across": plain(summary)})
    return 0
