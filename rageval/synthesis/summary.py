"""What ``rageval report`` shows for a synth folder: questions kept and dropped by reason, how the
references were found, and the distribution of reference lengths (characters and words) and of
references per question. The folder is read as ``rageval run`` reads it (the ``docs:`` loader, every
span checked against its document) and its manifest's fields are checked: a folder changed after
``rageval synth`` wrote it is a clear error, never a wrong count."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rageval.errors import DataError
from rageval.synthesis.output import MANIFEST, QUESTIONS, read_manifest

_QUANTILES = (0, 25, 50, 75, 100)
_KINDS = {int: "a whole number", str: "text", dict: "an object"}


def summary(folder: Path) -> str:
    """The summary of a synth folder as text."""
    from rageval.corpora.docs import DocsLoader

    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(folder / MANIFEST, "not a rageval synth manifest (no JSON object with kind rageval-synth)")
    where = folder / MANIFEST
    kept, requests = _field(manifest, where, "counts.kept", int), _field(manifest, where, "counts.requests", int)
    dropped = _counts(manifest, where, "counts.dropped")
    found = _counts(manifest, where, "counts.references_found")
    documents, seed = _field(manifest, where, "documents", int), _field(manifest, where, "settings.seed", int)
    spec = _field(manifest, where, "generator.spec", str)
    dataset = DocsLoader(folder, questions=QUESTIONS).load()
    if len(dataset.queries) != kept:
        raise DataError(folder / QUESTIONS, f"holds {len(dataset.queries)} questions but {MANIFEST} says {kept} were "
                                            "kept: the folder was changed after rageval synth wrote it")
    if len(dataset.corpus) != documents:
        raise DataError(folder, f"holds {len(dataset.corpus)} documents but {MANIFEST} says {documents}: the folder "
                                "was changed after rageval synth wrote it")
    texts = {doc: dataset.corpus.texts[dataset.corpus.position(doc)] for doc in dataset.corpus.ids}
    contents = [[texts[doc][start:end] for doc, start, end in dataset.spans[q]] for q in dataset.queries.ids]
    per_question = Counter(len(refs) for refs in contents)
    lengths = [len(c) for refs in contents for c in refs]
    words = [len(c.split()) for refs in contents for c in refs]
    lines = [f"synth folder {folder}: {kept} questions kept over {documents} documents, "
             f"{requests} requests ({spec}, seed {seed})",
             f"dropped: {sum(dropped.values())}" + "".join(f"\n  {reason:<28}{n:>7}" for reason, n in dropped.items()),
             "references found: " + ", ".join(f"{how} {n}" for how, n in found.items()),
             "references per question: " + ", ".join(f"{k}: {per_question[k]}" for k in sorted(per_question)),
             _distribution("reference length, characters", lengths),
             _distribution("reference length, words", words)]
    return "\n".join(lines)


def _field(manifest: dict[str, Any], where: Path, name: str, kind: type) -> Any:
    """The manifest's field ``name`` (dotted: ``counts.kept``), which must be a ``kind``."""
    value: Any = manifest
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(where, f"field {name} is {_json(value)}, expected {_KINDS[kind]} (the manifest was changed "
                               "after rageval synth wrote it)")
    return value


def _counts(manifest: dict[str, Any], where: Path, name: str) -> dict[str, int]:
    """A manifest field that maps names to counts (whole numbers, none negative)."""
    value = _field(manifest, where, name, dict)
    bad = [k for k, n in value.items() if not isinstance(n, int) or isinstance(n, bool) or n < 0]
    if bad:
        raise DataError(where, f"field {name}: {bad[0]!r} is {_json(value[bad[0]])}, expected a count "
                               "(the manifest was changed after rageval synth wrote it)")
    return value


def _json(value: Any) -> str:
    return "missing" if value is None else json.dumps(value)[:60]


def _distribution(what: str, values: list[int]) -> str:
    if not values:
        return f"{what}: none"
    q = np.percentile(values, _QUANTILES)
    return (f"{what}: min {q[0]:.0f}, 25% {q[1]:.0f}, median {q[2]:.0f}, 75% {q[3]:.0f}, max {q[4]:.0f} "
            f"(mean {np.mean(values):.1f}, {len(values)} references)")
