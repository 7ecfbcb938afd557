"""The ``rageval`` command line: ``rageval run`` (the benchmark), ``rageval list`` (the plugins) and
``rageval ifrag build|score`` (instruction-following RAG test sets)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

from . import registry
from .errors import RagevalError
from .benchmarking import benchmark
from .compare import across, compare, read_systems, render, to_json
from .evaluation import DEFAULT_METRICS, SPAN_METRICS, evaluate
from .files import write_json
from .ifrag import cli as ifrag_cli
from .metrics import parse_measures
from .report import leaderboard, table
from .run_folder import RunFolder, pair_folder
from .significance import CORRECTIONS, TESTS
from .trec import Run, read_qrels

DEFAULT_DATASET = "code:stdlib"
EXAMPLES = """examples:
  rageval run                                   the embedded default: the standard library as a code benchmark
  rageval run --dataset path/to/beir --retriever bm25 --retriever dense --metric nDCG@10
  rageval list                                  every installed loader, retriever, chunker, metric and generator
  rageval ifrag build --dataset path/to/beir --n 200 --out testset.jsonl
  rageval ifrag score --testset testset.jsonl --responses answers.jsonl"""
RUN_EXAMPLES = """examples:
  rageval run --dataset beir:path/to/cranfield --retriever bm25 --retriever bm25:k1=0.9,b=0.4 --k 100
  rageval run --dataset docs:path/to/folder --chunker recursive:size=200,unit=cl100k_base --chroma --k 5
  rageval run --dataset code:stdlib --retriever dense --sample 100 --seed 1 --out runs"""


def _version() -> str:
    try:
        return version("rageval")
    except PackageNotFoundError:
        return "unknown"


def _terminate(signum, frame) -> None:
    """SIGTERM ends a run as Ctrl-C does: finished pairs are kept, the message is the same."""
    raise KeyboardInterrupt


EXTRAS = {("retrievers", "dense"): "dense", ("retrievers", "astgnn"): "gnn", ("generators", "local"): "generate",
          ("corpora", "irds"): "irds"}


def _measure_parameters(cls) -> list[str]:
    """A measure family's parameters as ``name: type = default`` (the cutoff is written @k)."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    return [f"{name}: {registry.type_name(tp)} = {defaults[name]!r}" for name, tp in cls.parameters().items()]


def _list(verbose: bool) -> int:
    """Every installed plugin: a table, or with ``-v`` each plugin's full description and options."""
    rows, details = [], []
    for kind in registry.GROUPS:
        for name in registry.available(kind):
            extra = EXTRAS.get((kind, name))
            missing = f"not installed: pip install 'rageval[{extra}]'" if extra else "unavailable"
            try:
                cls = registry.plugin(kind, name)
                usable = getattr(cls, "usable", lambda: True)()
            except ImportError as e:
                cls, usable, missing = None, False, f"{missing} ({e})"
            desc = registry.describe(cls) if cls is not None else ""
            rows.append([kind, name, desc if usable else f"{desc} [{missing}]".strip()])
            if cls is not None:
                listed = _measure_parameters(cls) if kind == "metrics" else registry.option_help(cls)
                options = "\n".join(f"    {o}" for o in listed) or "    (no options)"
                details.append(f"{kind} {name}{'' if usable else f'  [{missing}]'}\n"
                               f"{textwrap.indent(registry.describe(cls, full=True), '  ')}\n  options:\n{options}")
    print("\n\n".join(details) if verbose else table(["kind", "name", "description"], rows))
    return 0


def _run(args: argparse.Namespace) -> int:
    defaults = [*DEFAULT_METRICS, *SPAN_METRICS] if args.chunker else DEFAULT_METRICS
    measures = parse_measures(args.metric or defaults, unit=args.span_unit, chroma=args.chroma)
    if args.baseline and args.baseline not in (args.retriever or []):
        raise RagevalError(f"--baseline {args.baseline!r} is not one of the --retriever specs: "
                           f"{', '.join(args.retriever or ['(the defaults)'])}")
    outcomes = benchmark(args.dataset or [DEFAULT_DATASET], args.retriever, measures, k=args.k, out=args.out,
                         split=args.split, ignore_identical_ids=args.ignore_identical_ids,
                         resume=not args.no_resume, chunkers=args.chunker or (), sample=args.sample, seed=args.seed,
                         executor=args.executor)
    print(leaderboard(outcomes, [m.name for m in measures], _baseline_marks(args, outcomes, measures)))
    if args.report and any(not o.error for o in outcomes):
        from .report_page import write_report

        print(f"\nreport: {write_report(args.out, baseline=args.baseline, seed=args.seed)}")
    print(f"\nresults: {args.out}/results.json")
    return 1 if any(o.error for o in outcomes) else 0


def _baseline_marks(args: argparse.Namespace, outcomes, measures) -> dict[tuple[str, str, str], str]:
    """▲ / ▼ for every finished pair that differs significantly from the baseline (randomization
    test, Holm over the dataset's comparisons), per chunker when chunkers were run."""
    if not args.baseline:
        return {}
    finished = {(o.dataset, o.retriever) for o in outcomes if not o.error}
    systems = [s for s in read_systems(Path(args.out)) if (s.dataset, s.name) in finished]
    marks = {}
    for chunker in args.chunker or [None]:
        prefix = f"{chunker} + " if chunker else ""
        group = [s for s in systems if s.name.startswith(prefix) and (chunker or " + " not in s.name)]
        if not any(s.name == prefix + args.baseline for s in group):
            continue
        for t in compare(group, [m.name for m in measures], prefix + args.baseline, seed=args.seed):
            marks.update({(t.dataset, r.system, t.measure): "▲" if r.difference > 0 else "▼"
                          for r in t.rows if r.significant})
    return marks


def _evaluate(args: argparse.Namespace) -> int:
    """Score a run file made elsewhere against a qrels file; with --out, write its folder for compare."""
    qrels = read_qrels(args.qrels)
    run = Run.read_trec(args.run)
    measures = parse_measures(args.metric or DEFAULT_METRICS)
    if any(m.uses_spans for m in measures):
        raise RagevalError("span measures need the documents and reference spans: use rageval run")
    results = evaluate(qrels, run, measures)
    name = args.name or Path(args.run).stem
    dataset = args.dataset_name or Path(args.qrels).stem
    print(table(["system", *results.means], [[name, *(f"{v:.4f}" for v in results.means.values())]]))
    print(f"\n{results.n_queries} queries scored, {results.n_without_relevant} without a relevant judgment left out")
    if args.out:
        folder = RunFolder(pair_folder(args.out, dataset, name), resume=False)
        folder.write_scores(({"query_id": q, **{m: v[q] for m, v in results.per_query.items()}}
                             for q in qrels if q in results.per_query[measures[0].name]),
                            {"dataset": dataset, "retriever": name, "metrics": results.means,
                             "n_queries": results.n_queries, "n_queries_without_relevant": results.n_without_relevant, "n_queries_without_results": results.n_without_results,
                             "run_file": str(args.run), "qrels_file": str(args.qrels), "evaluation": results.settings})
        print(f"per-query values: {folder.path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
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


def _report(args: argparse.Namespace) -> int:
    from .report_page import write_report

    path = write_report(args.out, args.html, args.baseline, args.ifrag or (), args.seed)
    print(f"report: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .results_frame import export

    target = args.file or str(Path(args.out) / f"results{'.per_query' if args.per_query else ''}.{args.format}")
    print(f"exported: {export(args.out, target, args.format, args.per_query)}")
    return 0


def _add_report_and_export(sub) -> None:
    r = sub.add_parser("report", help="write one self-contained HTML page of an output folder")
    r.add_argument("out", help="a folder written by rageval run (or rageval evaluate --out)")
    r.add_argument("--html", help="the page to write (default: OUT/report.html)")
    r.add_argument("--baseline", help="the system differences and marks are taken against (default: the first)")
    r.add_argument("--ifrag", action="append", metavar="FILE", help="also show a rageval ifrag score file (repeatable)")
    r.add_argument("--seed", type=int, default=0, help="seed of the tests and intervals (default 0)")
    x = sub.add_parser("export", help="the results of an output folder as csv, parquet or jsonl")
    x.add_argument("out", help="a folder written by rageval run (or rageval evaluate --out)")
    x.add_argument("--format", choices=("csv", "parquet", "jsonl"), default="csv")
    x.add_argument("--per-query", action="store_true", help="one row per query and measure")
    x.add_argument("--file", help="where to write (default: OUT/results[.per_query].FORMAT)")


def _add_evaluate_and_compare(sub) -> None:
    e = sub.add_parser("evaluate", help="score a TREC run file made elsewhere against qrels (no corpus needed)")
    e.add_argument("--run", required=True, help="a TREC run file: qid Q0 docid rank score tag")
    e.add_argument("--qrels", required=True, help="TREC qrels (qid iter docid grade) or BEIR qrels TSV")
    e.add_argument("--metric", action="append", metavar="M", help=f"(repeatable; default {' '.join(DEFAULT_METRICS)})")
    e.add_argument("--out", help="also write <out>/<dataset>/<name>/per_query.jsonl and metrics.json, for rageval compare")
    e.add_argument("--name", help="the system's name (default: the run file's stem)")
    e.add_argument("--dataset-name", help="the dataset's name (default: the qrels file's stem)")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rageval", description="Benchmark retrieval and RAG systems.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rageval {_version()}")
    sub = parser.add_subparsers(dest="command")
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
                        "summed chunk lengths)")
    p.add_argument("--sample", type=int, metavar="N",
                   help="score a seeded random sample of N judged queries per dataset (for slow retrievers)")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument("--executor", default="local", metavar="SPEC",
                   help="where the pairs run: local (default) or ray[:address=HOST:PORT,num_cpus=N,num_gpus=N,encoders=N,indexers=N] "
                        "(pip install 'rageval[ray]')")
    p.add_argument("--report", action="store_true", help="also write OUT/report.html (pip install 'rageval[report]')")
    p.add_argument("--baseline", metavar="SPEC",
                   help="mark retrievers significantly better / worse than this one (one of the --retriever specs)")
    p.add_argument("--k", type=int, default=100, help="results per query to retrieve and write (default 100)")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument("--ignore-identical-ids", action="store_true",
                   help="drop results whose doc id equals the query id before scoring")
    p.add_argument("--no-resume", action="store_true", help="redo every pair even if it finished before")
    p.add_argument("-v", "--verbose", action="store_true", help="show debugging detail, tracebacks included")
    listing = sub.add_parser("list", help="list every registered dataset loader, retriever, chunker, metric and generator")
    listing.add_argument("-v", "--verbose", action="store_true", help="each plugin's full description and options")
    ifrag_cli.add_commands(sub)
    _add_evaluate_and_compare(sub)
    _add_report_and_export(sub)
    args = parser.parse_args(argv)
    log = logging.getLogger("rageval")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "list":
            return _list(args.verbose)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "report":
            return _report(args)
        if args.command == "export":
            return _export(args)
        if args.command == "ifrag":
            return ifrag_cli.run_build(args) if args.ifrag_command == "build" else ifrag_cli.run_score(args)
        if args.command is None:
            args = parser.parse_args(["run"])
        if args.k < 1:
            raise RagevalError(f"--k must be at least 1, got {args.k}")
        return _run(args)
    except RagevalError as e:
        print(f"rageval: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rageval: interrupted; finished results are kept, rerun to resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
