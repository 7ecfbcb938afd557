"""``rageval run``: every retriever on every dataset, the leaderboard printed, the folders written."""
from __future__ import annotations

import argparse
from pathlib import Path

from rageval.errors import RagevalError
from rageval.metrics import MAX_CUTOFF, parse_measures
from rageval.registry import number_option
from rageval.reporting.leaderboard import leaderboard
from rageval.running.benchmark import benchmark
from rageval.scoring.compare import compare, system
from rageval.scoring.evaluation import DEFAULT_METRICS, SPAN_METRICS
from rageval.store.files import output_folder
from rageval.store.run_records import read_output
from rageval.store.run_store import RESULTS_JSON

DEFAULT_DATASET = "code:stdlib"
RUN_EXAMPLES = """examples:
  rageval run --dataset beir:path/to/cranfield --retriever bm25 --retriever bm25:k1=0.9,b=0.4 --k 100
  rageval run --dataset docs:path/to/folder --chunker recursive:size=200,unit=cl100k_base --chroma --k 5
  rageval run --dataset code:stdlib --retriever dense --sample 100 --seed 1 --out runs"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run retrievers on datasets and print the leaderboard", epilog=RUN_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", action="append", metavar="SPEC",
                   help=f"beir:PATH, irds:ID, code:PATH, a BEIR folder... (repeatable; default {DEFAULT_DATASET})")
    p.add_argument("--split", help="qrels split (default: test, or the only one)")
    p.add_argument("--retriever", action="append", metavar="SPEC",
                   help="e.g. bm25, bm25:k1=0.9,b=0.4 (repeatable; default: every built-in that needs no training)")
    p.add_argument("--chunker", action="append", metavar="SPEC",
                   help="chunk the corpus first, e.g. fixed:size=200,overlap=50 (repeatable: every chunker x retriever)")
    p.add_argument("--metric", action="append", metavar="M",
                   help=f"e.g. nDCG@10, IoU@5 (repeatable; default: {' '.join(DEFAULT_METRICS)}, "
                        f"plus {' '.join(SPAN_METRICS)} with --chunker)")
    p.add_argument("--span-unit", default="regex", metavar="UNIT",
                   help="token unit of span measures that set none: regex (default), chars, cl100k_base, hf:/path/to/tokenizer")
    p.add_argument("--chroma", action="store_true",
                   help="span measures that set no chroma= as the public chunking evaluation computes them (characters, "
                        "summed chunk lengths), and retrievers that declare its settings use them for the options "
                        "their spec leaves unset (chroma: and dense:index=chroma: HNSW search_ef 50, L2, 500 per add)")
    p.add_argument("--sample", type=number_option(int), metavar="N",
                   help="score a seeded random sample of N judged queries per dataset (for slow retrievers; a dataset "
                        "with fewer is scored whole, with a warning)")
    p.add_argument("--seed", type=number_option(int), default=0, help="seed of --sample (default 0)")
    p.add_argument("--executor", default="local", metavar="SPEC",
                   help="where the pairs run: local (default) or ray[:address=HOST:PORT,num_cpus=N,num_gpus=N,encoders=N,indexers=N] "
                        "(pip install 'rageval[ray]')")
    p.add_argument("--report", action="store_true", help="also write OUT/report.html (pip install 'rageval[report]')")
    p.add_argument("--baseline", metavar="SPEC",
                   help="mark retrievers significantly better / worse than this one (one of the --retriever specs)")
    p.add_argument("--k", type=number_option(int), default=100, help="results per query to retrieve and write (default 100, at most "
                        f"{MAX_CUTOFF}; never deeper than the documents searched)")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument("--ignore-identical-ids", action="store_true",
                   help="drop results whose doc id equals the query id before scoring")
    p.add_argument("--no-resume", action="store_true", help="redo every pair even if it finished before")
    p.add_argument("-v", "--verbose", action="store_true", help="show debugging detail, tracebacks included")


def run(args: argparse.Namespace) -> int:
    """The benchmark, its leaderboard, and with ``--report`` the page."""
    out = output_folder(args.out, "--out")
    defaults = [*DEFAULT_METRICS, *SPAN_METRICS] if args.chunker else DEFAULT_METRICS
    measures = parse_measures(args.metric or defaults, unit=args.span_unit, chroma=args.chroma)
    if args.baseline and args.baseline not in (args.retriever or []):
        raise RagevalError(f"--baseline {args.baseline!r} is not one of the --retriever specs: "
                           f"{', '.join(args.retriever or ['(the defaults)'])}")
    outcomes = benchmark(args.dataset or [DEFAULT_DATASET], args.retriever, measures, k=args.k, out=out,
                         split=args.split, ignore_identical_ids=args.ignore_identical_ids,
                         resume=not args.no_resume, chunkers=args.chunker or (), sample=args.sample, seed=args.seed,
                         executor=args.executor, span_unit=args.span_unit, chroma=args.chroma)
    print(leaderboard(outcomes, [m.name for m in measures], _baseline_marks(args, outcomes, measures)))
    if args.report and any(not o.error for o in outcomes):
        from rageval.reporting.page import write_report

        print(f"\nreport: {write_report(out, baseline=args.baseline, seed=args.seed)}")
    print(f"\nresults: {out / RESULTS_JSON}")
    return 1 if any(o.error for o in outcomes) else 0


def _baseline_marks(args: argparse.Namespace, outcomes, measures) -> dict[tuple[str, str, str], str]:
    """▲ / ▼ for every finished pair that differs significantly from the baseline (randomization
    test, Holm over the dataset's comparisons), per chunker when chunkers were run."""
    if not args.baseline:
        return {}
    finished = {(o.dataset, o.system) for o in outcomes if not o.error}
    pairs = [p for p in read_output(Path(args.out)).finished() if (p.dataset, p.system) in finished]
    marks = {}
    for chunker in args.chunker or [None]:
        group = [p for p in pairs if p.key.chunker == chunker]
        baseline = next((p.system for p in group if p.key.retriever == args.baseline), None)
        if baseline is None:
            continue
        for t in compare([system(p) for p in group], [m.name for m in measures], baseline, seed=args.seed):
            marks.update({(t.dataset, r.system, t.measure): "▲" if r.difference > 0 else "▼"
                          for r in t.rows if r.significant})
    return marks
