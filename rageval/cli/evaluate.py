"""``rageval evaluate``: score TREC run files made elsewhere against qrels, as trec_eval does."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from rageval.data.jsonl import check_input_file
from rageval.data.model import Qrels
from rageval.data.trec import Run, judgments_fingerprint, read_qrels
from rageval.errors import DataError, RagevalError
from rageval.metrics import Measure, parse_measures
from rageval.reporting.leaderboard import CONTROL_CHARACTERS, table
from rageval.running.benchmark import CURVE_DEPTH, ResultsFile, Scoring
from rageval.scoring.evaluation import DEFAULT_METRICS, Results, curves, evaluate
from rageval.store.files import output_folder
from rageval.store.run_folder import RunFolder, pair_folder
from rageval.store.run_store import (RESULTS_JSON, RUN_JSON, Outcome, PairKey, PairResult, judgments_by_dataset,
                                     per_query_rows)

log = logging.getLogger("rageval")
EXAMPLES = """examples:
  rageval evaluate --run mine.trec --qrels test.qrels
  rageval evaluate --run a.trec --run b.trec --qrels test.qrels --metric bpref --metric P_5 -q
  rageval evaluate --run mine.trec --qrels path/to/beir/qrels/test.tsv --out runs   # beside rageval run's runs"""


class _Once(argparse.Action):
    """An option that may be given only once (argparse would silently keep the last)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if getattr(namespace, self.dest) is not None:
            parser.error(f"{option_string} given twice ({getattr(namespace, self.dest)!r} and {values!r}): give it once")
        setattr(namespace, self.dest, values)


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="score TREC run files made elsewhere against qrels (no corpus needed)",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--run", required=True, action="append", metavar="FILE",
                   help="a TREC run file: qid Q0 docid rank score tag (repeatable: one row per run)")
    e.add_argument("--qrels", required=True, action=_Once, metavar="FILE",
                   help="TREC qrels (qid iter docid grade) or BEIR qrels TSV")
    e.add_argument("--metric", action="append", metavar="M",
                   help=f"nDCG@10, MAP@100, ... or any trec_eval measure by its name: bpref, recip_rank, set_F, "
                        f"ndcg_cut_10, P_5 (repeatable; default {' '.join(DEFAULT_METRICS)})")
    e.add_argument("-q", "--per-query", action="store_true",
                   help="print every judged query's values as trec_eval -q does (measure, query id, value), then "
                        "the means as query 'all'; one block per run")
    e.add_argument("--out", action=_Once,
                   help="also write <out>/<dataset>/<name>/ (run.trec, per_query.jsonl, metrics.json) and update "
                        "<out>/results.json, as rageval run does, for rageval compare and report")
    e.add_argument("--name", action="append",
                   help="the system's name, once per --run in the same order (default: each run file's stem)")
    e.add_argument("--dataset-name", action=_Once,
                   help="the dataset to file the runs under with --out (default: the dataset under --out whose "
                        "runs were scored against the same judgments, else the qrels file's stem)")


def run(args: argparse.Namespace) -> int:
    """Score run files made elsewhere against a qrels file; with --out, write their folders for compare."""
    if args.out is not None:
        output_folder(args.out, "--out")
    measures = parse_measures(args.metric or DEFAULT_METRICS)
    if any(m.uses_spans for m in measures):
        raise RagevalError("span measures need the documents and reference spans: use rageval run")
    names = _names(args.run, args.name)
    if args.dataset_name is not None:
        _check_name(args.dataset_name, f"--dataset-name {args.dataset_name!r}")
    for path in (args.qrels, *args.run):  # a missing file, a folder, a FIFO: before reading any
        check_input_file(Path(path))
    qrels = _judgments(Path(args.qrels))
    runs = [_run_file(Path(path), qrels, Path(args.qrels)) for path in args.run]
    dataset = _dataset(args, qrels) if args.out else None
    folders = [_folder(args.out, dataset, name) for name in names] if args.out else []
    scored: list[tuple[Results, float]] = []
    for trec_run in runs:
        start = time.perf_counter()
        scored.append((evaluate(qrels, trec_run, measures), time.perf_counter() - start))
    note = (lambda text: print(text, file=sys.stderr)) if args.per_query else print
    if args.per_query:
        for name, (results, _) in zip(names, scored):
            print(per_query_listing(name, results))
    else:
        means = [results.means for results, _ in scored]
        print(table(["system", *means[0]], [[name, *(f"{v:.4f}" for v in m.values())] for name, m in zip(names, means)]))
    first = scored[0][0]
    note(f"\n{first.n_queries} queries scored, {first.n_without_relevant} without a relevant judgment left out")
    for name, (results, _) in zip(names, scored):
        if results.n_without_results:
            note(f"{name}: {results.n_without_results} judged queries without results, scored 0")
    summary = ResultsFile(Path(args.out)) if args.out else None
    for folder, name, path, trec_run, (results, seconds) in zip(folders, names, args.run, runs, scored):
        outcome = _write(folder, dataset, name, Path(path), Path(args.qrels), trec_run, qrels, results, measures,
                         seconds)
        summary.update(folder.path, outcome)
        note(f"{name}: {folder.path}")
    if args.out:
        note(f"results: {Path(args.out) / RESULTS_JSON}")
    return 0


def per_query_listing(name: str, results: Results) -> str:
    """trec_eval -q's listing of one run: ``measure<TAB>query<TAB>value`` for every scored query (in
    trec_eval's order, by query id) and measure, then ``runid``, ``num_q`` and each mean as query ``all``."""
    row = "{:<22}\t{}\t{}".format
    queries = sorted({q for values in results.per_query.values() for q in values})
    lines = [row(m, q, f"{values[q]:6.4f}") for q in queries for m, values in results.per_query.items() if q in values]
    lines += [row("runid", "all", name), row("num_q", "all", results.n_queries)]
    lines += [row(m, "all", f"{v:6.4f}") for m, v in results.means.items()]
    return "\n".join(lines)


def _names(paths: Sequence[str], given: Sequence[str] | None) -> list[str]:
    """One distinct, non-empty system name per run file: --name once per --run, else the file stems."""
    if given is not None and len(given) != len(paths):
        raise RagevalError(f"--name given {len(given)} times for {len(paths)} --run files: give it once per --run, "
                           "in the same order, or not at all (each run is then named by its file's stem)")
    names = list(given) if given is not None else [Path(p).stem for p in paths]
    for path, name in zip(paths, names):
        if not name.strip():
            raise RagevalError(f"--name {name!r} is empty: give each system a name")
        _check_name(name, f"--name {name!r}" if given is not None else f"run file {path!r}: its stem {name!r}",
                    "" if given is not None else " with --name")
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise RagevalError(f"two runs are named {twice!r}: give each its own name with --name, once per --run")
    return names


def _check_name(name: str, where: str, how: str = "") -> None:
    """A name shown in tables and written to files (a system's, a dataset's) holds no control character;
    ``where`` says where it came from, ``how`` how to give another."""
    if found := CONTROL_CHARACTERS.search(name):
        raise RagevalError(f"{where} holds the control character {found.group()!r}: a name is shown in tables "
                           f"and written to files; give one without control characters{how}")


def _judgments(path: Path) -> Qrels:
    """The qrels file, with at least one relevant judgment (else nothing can be scored)."""
    qrels = read_qrels(path)
    if not qrels:
        raise DataError(path, "no judgments: the file is empty")
    if not qrels.scored():
        raise DataError(path, f"no relevant judgment: all {sum(map(len, qrels.values()))} grades are 0 or less, "
                              "so no query can be scored")
    return qrels


def _run_file(path: Path, qrels: Qrels, qrels_path: Path) -> Run:
    """A run file that lists something for at least one judged query (else it would score 0 unseen)."""
    trec_run = Run.read_trec(path)
    if not len(trec_run):
        raise DataError(path, "no results: the run file is empty")
    judged = set(qrels.scored())
    shared = judged.intersection(trec_run.query_ids)
    if not shared:
        raise DataError(path, f"shares no query with {qrels_path}: the run has queries such as "
                              f"{trec_run.query_ids[0]!r}, the judged queries are such as {min(judged)!r}")
    if unjudged := len(trec_run) - len(set(trec_run.query_ids) & set(qrels)):
        log.warning("%s: %d of its %d queries have no judgment in %s: not scored", path, unjudged, len(trec_run),
                    qrels_path)
    return trec_run


def _dataset(args: argparse.Namespace, qrels: Qrels) -> str:
    """The dataset the runs are filed under: --dataset-name, else the one under --out whose runs were
    scored against these very judgments, else the qrels file's stem. A name under --out that was
    scored against other judgments is refused (compare would pair queries of different judgments)."""
    fingerprint = judgments_fingerprint(qrels)
    known = judgments_by_dataset(args.out)
    matching = [d for d, prints in known.items() if fingerprint in prints]
    if args.dataset_name is None and len(matching) > 1:
        raise RagevalError(f"these judgments are those of several datasets under {args.out}: {', '.join(matching)}; "
                           "choose one with --dataset-name")
    dataset = args.dataset_name or (matching[0] if matching else Path(args.qrels).stem)
    if not args.dataset_name and not matching:
        _check_name(dataset, f"qrels file {args.qrels!r}: its stem {dataset!r}", " with --dataset-name")
    if dataset in known and fingerprint not in known[dataset] and known[dataset] - {None}:
        raise RagevalError(f"dataset {dataset!r} under {args.out} was scored against other judgments than "
                           f"{args.qrels}: name this one with --dataset-name")
    return dataset


def _folder(out: str, dataset: str, name: str) -> RunFolder:
    """The pair folder of a run scored here, refused when ``rageval run`` made its own run there."""
    folder = RunFolder(pair_folder(out, dataset, name), resume=False)
    if (folder.path / RUN_JSON).exists():
        raise RagevalError(f"{folder.path} holds a run that rageval run made (retriever {name!r} on {dataset}): "
                           "choose another --name")
    return folder


def _write(folder: RunFolder, dataset: str, name: str, path: Path, qrels_path: Path, trec_run: Run, qrels: Qrels,
           results: Results, measures: Sequence[Measure], seconds: float) -> Outcome:
    """The pair folder, in the format rageval run writes; returns its line of results.json."""
    start = time.perf_counter()
    at_k = curves(qrels, trec_run, min(trec_run.k, CURVE_DEPTH))
    timings = {"eval_s": round(seconds + time.perf_counter() - start, 4)}
    folder.write_foreign_run(trec_run, tag=name)
    settings = {"dataset": dataset, "split": None, "chunker": None, "retriever": name, "run_file": str(path),
                "qrels_file": str(qrels_path), "k": trec_run.k}
    record = PairResult.of(PairKey(dataset, name), results, settings=settings,
                           request=Scoring(tuple(measures)).request(), judgments=judgments_fingerprint(qrels),
                           run_sha256=folder.run_sha256, curves=at_k, timings=timings)
    folder.write_scores(per_query_rows(results, qrels), record)
    return Outcome.of(record)
