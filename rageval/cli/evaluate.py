"""``rageval evaluate``: score a TREC run file made elsewhere against qrels."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RagevalError
from ..evaluation import DEFAULT_METRICS, evaluate
from ..metrics import parse_measures
from ..report import table
from ..run_folder import RunFolder, pair_folder
from ..trec import Run, read_qrels


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="score a TREC run file made elsewhere against qrels (no corpus needed)")
    e.add_argument("--run", required=True, help="a TREC run file: qid Q0 docid rank score tag")
    e.add_argument("--qrels", required=True, help="TREC qrels (qid iter docid grade) or BEIR qrels TSV")
    e.add_argument("--metric", action="append", metavar="M", help=f"(repeatable; default {' '.join(DEFAULT_METRICS)})")
    e.add_argument("--out", help="also write <out>/<dataset>/<name>/per_query.jsonl and metrics.json, for rageval compare")
    e.add_argument("--name", help="the system's name (default: the run file's stem)")
    e.add_argument("--dataset-name", help="the dataset's name (default: the qrels file's stem)")


def run(args: argparse.Namespace) -> int:
    """Score a run file made elsewhere against a qrels file; with --out, write its folder for compare."""
    qrels = read_qrels(args.qrels)
    trec_run = Run.read_trec(args.run)
    measures = parse_measures(args.metric or DEFAULT_METRICS)
    if any(m.uses_spans for m in measures):
        raise RagevalError("span measures need the documents and reference spans: use rageval run")
    results = evaluate(qrels, trec_run, measures)
    name = args.name or Path(args.run).stem
    dataset = args.dataset_name or Path(args.qrels).stem
    print(table(["system", *results.means], [[name, *(f"{v:.4f}" for v in results.means.values())]]))
    print(f"\n{results.n_queries} queries scored, {results.n_without_relevant} without a relevant judgment left out")
    if args.out:
        folder = RunFolder(pair_folder(args.out, dataset, name), resume=False)
        folder.write_scores(({"query_id": q, **{m: v[q] for m, v in results.per_query.items()}}
                             for q in qrels if q in results.per_query[measures[0].name]),
                            {"dataset": dataset, "retriever": name, "metrics": results.means,
                             "n_queries": results.n_queries, "n_queries_without_relevant": results.n_without_relevant,
                             "n_queries_without_results": results.n_without_results,
                             "run_file": str(args.run), "qrels_file": str(args.qrels), "evaluation": results.settings})
        print(f"per-query values: {folder.path}")
    return 0
