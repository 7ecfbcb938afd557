"""The ``rageval`` command line: one module per command (``run``, ``list``, ``evaluate``, ``compare``,
``report`` / ``export``; ``ifrag build|score`` lives with the ifrag package). This module builds the
parser, sets up logging and turns a ``RagevalError`` into ``rageval: error: ...`` and exit 2."""
from __future__ import annotations

import argparse
import ast
import difflib
import logging
import os
import re
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Iterator, NoReturn, Sequence

from rageval.cli import compare, evaluate, listing, report, run, synth
from rageval.errors import RagevalError
from rageval.ifrag import cli as ifrag_cli
from rageval.progress import interval_from_environment, log_to_stderr
from rageval.store.cache import check_cache

EXAMPLES = """examples:
  rageval run                                   the embedded default: the standard library as a code benchmark
  rageval run --dataset path/to/beir --retriever bm25 --retriever dense --metric nDCG@10
  rageval list                                  every installed loader, retriever, chunker, metric and generator
  rageval synth --dataset docs:path/to/folder --generator local --n 50 --out my-bench
  rageval ifrag build --dataset path/to/beir --n 200 --out testset.jsonl
  rageval ifrag score --testset testset.jsonl --responses answers.jsonl"""


def _version() -> str:
    try:
        return version("rageval")
    except PackageNotFoundError:
        return "unknown"


def _terminate(signum, frame) -> None:
    """SIGTERM ends a command as Ctrl-C does, with the same message."""
    raise KeyboardInterrupt


def _interrupted(args: argparse.Namespace) -> str:
    """What an interrupted command leaves behind (every file rageval writes is written whole or not at all)."""
    if args.command == "run":
        return "finished results are kept, rerun to resume"
    if args.command == "evaluate" and args.out is not None:
        return (f"the systems filed under {args.out} before the interruption are complete and listed in its "
                "results.json; rerun to file the others")
    if args.command == "synth":
        return f"nothing was written to {args.out}; the answers received so far are cached: a rerun resumes from them"
    if args.command == "ifrag" and args.ifrag_command == "score" and (args.generator or args.judge):
        return "nothing was written but the texts generated so far, which are cached: a rerun reuses them"
    return "nothing was written"


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors suggest the closest option or command to a misspelt one
    (argparse's own ``suggest_on_error`` needs Python 3.14). Its commands are parsers of this class
    too, and each reports its own unknown options, with its own usage."""

    _given: Sequence[str] = ()

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(self._given, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        hints = [*self._choice_hint(message), *self._option_hints(message)]
        super().error(message + "".join(f" ({hint})" for hint in hints))

    def _choice_hint(self, message: str) -> list[str]:
        """``did you mean 'run'?`` for an invalid choice close to a valid one."""
        found = re.search(r"argument (\S+): invalid choice: ('.*?'|\".*?\")", message)
        if not found:
            return []
        action = next((a for a in self._actions if a.choices and found.group(1) in
                       ("/".join(a.option_strings), a.metavar, a.dest)), None)
        close = difflib.get_close_matches(ast.literal_eval(found.group(2)),
                                          [str(c) for c in action.choices] if action else [], n=1)
        return [f"did you mean {close[0]!r}?"] if close else []

    def _option_hints(self, message: str) -> list[str]:
        """A suggestion for each unknown option given to this parser: the closest of its own options,
        or one of its commands' options, which go after the command."""
        given = self._given
        if self._commands():  # what follows the command is the command's
            given = given[:next((i for i, a in enumerate(given) if not a.startswith("-")), len(given))]
        if message.startswith("unrecognized arguments: "):
            given = [*given, *message.removeprefix("unrecognized arguments: ").split()]
        hints: list[str] = []
        for token in dict.fromkeys(t.split("=", 1)[0] for t in given):
            if not _is_option(token) or self._knows(token):
                continue
            own = difflib.get_close_matches(token, self._option_strings(), n=1)
            if own:
                hints.append(f"did you mean {own[0]}?")
                continue
            owners: dict[str, list[str]] = {}
            for command in self._all_commands():
                for option in command._option_strings():
                    owners.setdefault(option, []).append(command.prog)
            close = difflib.get_close_matches(token, list(owners), n=1)
            if close:
                guess = f"{token} is" if close[0] == token else f"did you mean {close[0]}? it is"
                hints.append(f"{guess} an option of {', '.join(owners[close[0]])}: give it after the command")
        return hints

    def _option_strings(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings]

    def _knows(self, token: str) -> bool:
        """Whether argparse takes ``token`` as one of this parser's options (abbreviations included)."""
        if token.startswith("--"):
            return any(s.startswith(token) if self.allow_abbrev else s == token for s in self._option_strings())
        return token[:2] in self._option_strings()

    def _commands(self) -> list[Parser]:
        found = [p for a in self._actions if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()]
        return [p for p in dict.fromkeys(found) if isinstance(p, Parser)]  # once each, aliases included

    def _all_commands(self) -> Iterator[Parser]:
        for command in self._commands():
            yield command
            yield from command._all_commands()


def _is_option(token: str) -> bool:
    """Whether a command-line word is meant as an option (``-x``, ``--name``; not ``-`` nor ``-1.5``)."""
    return len(token) > 1 and token.startswith("-") and not re.fullmatch(r"-\d+|-\d*\.\d+", token)


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rageval", description="Benchmark retrieval and RAG systems.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rageval {_version()}")
    sub = parser.add_subparsers(dest="command")
    run.add_parser(sub)
    listing.add_parser(sub)
    ifrag_cli.add_commands(sub)
    evaluate.add_parser(sub)
    compare.add_parser(sub)
    report.add_parsers(sub)
    synth.add_parser(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "ifrag":
        return ifrag_cli.run_build(args) if args.ifrag_command == "build" else ifrag_cli.run_score(args)
    commands = {"list": listing.run, "evaluate": evaluate.run, "compare": compare.run, "report": report.run_report,
                "export": report.run_export, "run": run.run, "synth": synth.run}
    return commands[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit status (2 for a user's error, 130 when interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"])
    log_to_stderr(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        interval_from_environment()  # a bad $RAGEVAL_PROGRESS_INTERVAL, before any work
        if args.command in ("report", "ifrag", "synth"):  # they write in the cache (run's benchmark checks it too)
            check_cache()
        return _dispatch(args)
    except RagevalError as e:
        print(f"rageval: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`rageval list | head`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"rageval: interrupted; {_interrupted(args)}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
