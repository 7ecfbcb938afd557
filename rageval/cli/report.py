"""``rageval report`` (one HTML page of an output folder) and ``rageval export`` (its tables as files)."""
from __future__ import annotations

import argparse
from pathlib import Path

from rageval.registry import number_option
from rageval.store.files import output_file
from rageval.synthesis.output import is_synth_folder
from rageval.synthesis.summary import summary


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="write one self-contained HTML page of an output folder")
    r.add_argument("out", help="a folder written by rageval run (or rageval evaluate --out); for a folder written by "
                               "rageval synth, its kept / dropped counts and reference lengths are printed")
    r.add_argument("--html", help="the page to write (default: OUT/report.html)")
    r.add_argument("--baseline", help="the system differences and marks are taken against (default: the first)")
    r.add_argument("--ifrag", action="append", metavar="FILE", help="also show a rageval ifrag score file (repeatable)")
    r.add_argument("--seed", type=number_option(int), default=0, help="seed of the tests and intervals (default 0)")
    x = sub.add_parser("export", help="the results of an output folder as csv, parquet or jsonl")
    x.add_argument("out", help="a folder written by rageval run (or rageval evaluate --out)")
    x.add_argument("--format", choices=("csv", "parquet", "jsonl"), default="csv")
    x.add_argument("--per-query", action="store_true", help="one row per query and measure")
    x.add_argument("--file", help="where to write (default: OUT/results[.per_query].FORMAT)")


def run_report(args: argparse.Namespace) -> int:
    """Write the page and say where; for a synth folder, print its summary."""
    if is_synth_folder(Path(args.out)):
        print(summary(Path(args.out)))
        return 0
    output_file(args.html, "--html")
    from rageval.reporting.page import write_report

    path = write_report(args.out, args.html, args.baseline, args.ifrag or (), args.seed)
    print(f"report: {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the table and say where."""
    output_file(args.file, "--file")
    from rageval.reporting.frame import export

    target = args.file or str(Path(args.out) / f"results{'.per_query' if args.per_query else ''}.{args.format}")
    print(f"exported: {export(args.out, target, args.format, args.per_query)}")
    return 0
