"""``rageval list``: every installed plugin, as a table or with each one's options."""
from __future__ import annotations

import argparse
import dataclasses
import textwrap

from rageval import registry
from rageval.reporting.leaderboard import table

EXTRAS = {("retrievers", "dense"): "dense", ("retrievers", "astgnn"): "gnn", ("generators", "local"): "generate",
          ("corpora", "irds"): "irds", ("retrievers", "chroma"): "chroma", ("retrievers", "qdrant"): "qdrant",
          ("retrievers", "langchain"): "langchain", ("retrievers", "llamaindex"): "llamaindex"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    listing = sub.add_parser("list", help="list every registered dataset loader, retriever, chunker, metric and generator")
    listing.add_argument("-v", "--verbose", action="store_true", help="each plugin's full description and options")


def _measure_parameters(cls) -> list[str]:
    """A measure family's parameters as ``name: type = default`` (the cutoff is written @k)."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    return [f"{name}: {registry.type_name(tp)} = {defaults[name]!r}" for name, tp in cls.parameters().items()]


def run(args: argparse.Namespace) -> int:
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
                               f"{textwrap.indent(registry.describe(cls, full=True), '  ', lambda line: True)}\n  options:\n{options}")
    print("\n\n".join(details) if args.verbose else table(["kind", "name", "description"], rows))
    return 0
