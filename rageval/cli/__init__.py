"""The ``rageval`` command line: one module per command (``run``, ``list``, ``evaluate``, ``compare``,
``report`` / ``export``; ``ifrag build|score`` lives with the ifrag package). This module builds the
parser, sets up logging and turns a ``RagevalError`` into ``rageval: error: ...`` and exit 2."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Sequence

from ..errors import RagevalError
from ..ifrag import cli as ifrag_cli
from . import compare, evaluate, listing, report, run

EXAMPLES = """examples:
  rageval run                                   the embedded default: the standard library as a code benchmark
  rageval run --dataset path/to/beir --retriever bm25 --retriever dense --metric nDCG@10
  rageval list                                  every installed loader, retriever, chunker, metric and generator
  rageval ifrag build --dataset path/to/beir --n 200 --out testset.jsonl
  rageval ifrag score --testset testset.jsonl --responses answers.jsonl"""


def _version() -> str:
    try:
        return version("rageval")
    except PackageNotFoundError:
        return "unknown"


def _terminate(signum, frame) -> None:
    """SIGTERM ends a run as Ctrl-C does: finished pairs are kept, the message is the same."""
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rageval", description="Benchmark retrieval and RAG systems.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rageval {_version()}")
    sub = parser.add_subparsers(dest="command")
    run.add_parser(sub)
    listing.add_parser(sub)
    ifrag_cli.add_commands(sub)
    evaluate.add_parser(sub)
    compare.add_parser(sub)
    report.add_parsers(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "ifrag":
        return ifrag_cli.run_build(args) if args.ifrag_command == "build" else ifrag_cli.run_score(args)
    commands = {"list": listing.run, "evaluate": evaluate.run, "compare": compare.run, "report": report.run_report,
                "export": report.run_export, "run": run.run}
    return commands[args.command](args)


def _log_to_stderr(verbose: bool) -> None:
    log = logging.getLogger("rageval")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit status (2 for a user's error, 130 when interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"])
    _log_to_stderr(getattr(args, "verbose", False))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _dispatch(args)
    except RagevalError as e:
        print(f"rageval: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rageval: interrupted; finished results are kept, rerun to resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
