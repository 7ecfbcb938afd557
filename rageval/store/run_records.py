"""What an output folder holds, read once for compare, the report, the export and ``rageval.read_results``:
every pair folder, classified as finished or incomplete (with the reason), its metrics.json
(``run_store.PairResult``) and per-query values, and the query texts of each dataset. Every command
that reads an output folder reads it here, so each leaves out the same pairs and warns about them the
same way; a file in a newer format than this rageval reads is an error naming its folder and version."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rageval.data.jsonl import read_jsonl
from rageval.errors import DataError, RagevalError
from rageval.reporting.leaderboard import printable
from rageval.store.files import what_is
from rageval.store.run_store import (METRICS_JSON, PER_QUERY, QUERIES, QUERY_ID, RUN_JSON, RUN_TREC, BadRecord, Outcome,
                                     PairKey, PairResult, finite, query_texts, read_failures, read_manifest,
                                     read_metrics)

log = logging.getLogger("rageval")


@dataclass
class PairRecord:
    """One pair folder. ``result`` is its metrics.json; it is None when the pair is incomplete, and
    ``problem`` then says why (no metrics.json, a corrupt one, no per-query values, ...)."""

    folder: Path
    key: PairKey
    result: PairResult | None
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # measure -> query -> value
    problem: str | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def dataset(self) -> str:
        return self.key.dataset

    @property
    def system(self) -> str:
        """The pair's display label (``PairKey.label``)."""
        return self.key.label


@dataclass
class OutputFolder:
    """Every pair under an output folder, the query texts by dataset, and the failures results.json lists."""

    path: Path
    pairs: list[PairRecord]
    queries: dict[str, dict[str, str]]
    failed: list[Outcome]

    def finished(self) -> list[PairRecord]:
        return [p for p in self.pairs if p.finished]

    def incomplete(self) -> list[PairRecord]:
        return [p for p in self.pairs if not p.finished]

    def systems(self, dataset: str) -> list[str]:
        """The finished systems of ``dataset``, in folder order."""
        return [p.system for p in self.finished() if p.dataset == dataset]

    def default_baseline(self, dataset: str) -> str | None:
        """The system compare and the report measure against when none is named: the first finished
        pair of ``dataset`` in folder order (None when it has none). When pairs before it were left
        out, a warning says that the baseline is not the first system of the folder."""
        pairs = [p for p in self.pairs if p.dataset == dataset]
        first = next((p for p in pairs if p.finished), None)
        skipped = pairs[:pairs.index(first)] if first is not None else []
        if skipped:
            log.warning("%s: the baseline is %s, not %s, which is left out (see above); name one with --baseline",
                        dataset, first.system, ", ".join(p.system for p in skipped))
        return None if first is None else first.system

    def versions(self) -> set[str]:
        """The rageval versions that wrote the finished pairs."""
        return {str(p.result.versions.get("rageval", "unknown")) for p in self.finished()}


def _rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) of a JSONL file: parsed as one JSON array when it is well formed (fast),
    else line by line so the error names its line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = json.loads("[" + ",".join(line for line in lines if line.strip()) + "]")
        if all(isinstance(row, dict) for row in rows):
            numbers = [n for n, line in enumerate(lines, start=1) if line.strip()]
            return list(zip(numbers, rows))
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    return list(read_jsonl(path))


def _columns_by_arrow(path: Path) -> dict[str, dict[str, float]] | None:
    """The per-query values read by pyarrow's JSON reader (C++, the report extra), or None when
    pyarrow is missing or the file is not plain numbers by query (then the checked reader runs)."""
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:
        return None
    try:
        table = pj.read_json(path)
    except (pa.ArrowInvalid, OSError):
        return None
    if QUERY_ID not in table.column_names or not pa.types.is_string(table.schema.field(QUERY_ID).type) \
            or table.column(QUERY_ID).null_count:
        return None
    ids = table.column(QUERY_ID).to_pylist()
    out = {}
    for name in table.column_names:
        if name == QUERY_ID:
            continue
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            return None
        column = table.column(name)
        array = column.to_numpy(zero_copy_only=False).astype(float)
        if not np.isfinite(array[column.is_valid().to_numpy(zero_copy_only=False)]).all():
            return None  # the checked reader names the line
        values = array.tolist()
        if column.null_count:
            out[name] = {q: v for q, v, ok in zip(ids, values, column.is_valid().to_pylist()) if ok}
        else:
            out[name] = dict(zip(ids, values))
    return out


def _per_query(path: Path) -> dict[str, dict[str, float]]:
    """measure -> query id -> value of a per_query.jsonl; a value that is not a finite number is an
    error naming its line."""
    fast = _columns_by_arrow(path)
    if fast is not None:
        return fast
    rows = _rows(path)
    for line_no, row in rows:
        if type(row.get(QUERY_ID)) is not str:
            raise DataError(path, f'"{QUERY_ID}" must be a string, got {row.get(QUERY_ID)!r}', line_no)
    values: dict[str, dict[str, float]] = {}
    for measure in dict.fromkeys(k for _, row in rows for k in row if k != QUERY_ID):
        for line_no, row in rows:
            if measure in row and not finite(row[measure]):
                number = type(row[measure]) in (int, float)  # NaN, Infinity or an integer too large for a float
                raise DataError(path, f"{measure} of {row[QUERY_ID]!r} is not {'a finite' if number else 'a'} "
                                      f"number: {str(row[measure])[:80] if number else repr(row[measure])}", line_no)
        values[measure] = {row[QUERY_ID]: float(row[measure]) for _, row in rows if measure in row}
    return values


def _key(folder: Path) -> PairKey:
    """What an incomplete pair is: its chunker and retriever from run.json, else its folder name."""
    manifest = read_manifest(folder / RUN_JSON)
    settings = manifest.settings if manifest else {}
    retriever, chunker = settings.get("retriever"), settings.get("chunker")
    return PairKey(folder.parent.name, str(retriever or folder.name), str(chunker) if chunker else None)


def _record(folder: Path, per_query: bool) -> PairRecord:
    """One pair folder, classified: finished only with a rageval metrics.json and its per_query.jsonl
    (read and checked when ``per_query``)."""
    try:
        result = read_metrics(folder / METRICS_JSON)
    except BadRecord as e:
        return PairRecord(folder, _key(folder), None, problem=str(e))
    record = PairRecord(folder, result.key, result)
    path = folder / PER_QUERY
    if not path.is_file():
        record.problem = f"no {PER_QUERY}"
    elif per_query:
        try:
            record.per_query = _per_query(path)
            if not any(record.per_query.values()):
                record.problem = f"{PER_QUERY} holds no values"
        except DataError as e:
            record.problem = str(e)
    if record.problem is not None:
        record.result, record.per_query = None, {}
    return record


def _pair_folders(out: Path) -> list[Path]:
    """The folders two levels below ``out`` that hold any file of a pair (run.trec, run.json,
    per_query.jsonl or metrics.json): a user's own folder beside them is not a pair, finished or not."""
    return sorted(folder for folder in out.glob("*/*") if folder.is_dir()
                  and any((folder / name).exists() for name in (RUN_TREC, RUN_JSON, PER_QUERY, METRICS_JSON)))


def read_output(out: str | Path, per_query: bool = True) -> OutputFolder:
    """Read ``out``; a folder without any finished pair is an error. A pair folder that is not
    finished (interrupted, failed, or with a corrupt metrics.json or per_query.jsonl) is kept as
    incomplete with its reason, never read as finished, and a warning names its folder."""
    if str(out) == "":
        raise RagevalError("the output folder is empty: give the folder rageval run or evaluate --out wrote")
    out = Path(out)
    if not out.is_dir():
        if out.exists() or out.is_symlink():
            raise RagevalError(f"{out} is {what_is(out)}, not an output folder")
        raise RagevalError(f"{out}: no such output folder")
    failed = read_failures(out)
    pairs = [_record(folder, per_query) for folder in _pair_folders(out)]
    labels = {p.folder.parent: p.dataset for p in pairs if p.finished}
    for p in pairs:
        if not p.finished:
            p.key = replace(p.key, dataset=labels.get(p.folder.parent, p.dataset))
    queries = {}
    for path in sorted(out.glob(f"*/{QUERIES}")):
        label = next((p.dataset for p in pairs if p.folder.parent == path.parent and p.finished), path.parent.name)
        queries[label] = query_texts(row for _, row in _rows(path))
    if not any(p.finished for p in pairs):
        if not pairs:
            raise RagevalError(f"{out}: no finished run (no <dataset>/<system>/{METRICS_JSON} below it)")
        more = f"; and {len(pairs) - 3} more" if len(pairs) > 3 else ""
        raise RagevalError(f"{out}: no finished run among {len(pairs)} pair folders: "
                           + "; ".join(f"{p.folder}: {p.problem}" for p in pairs[:3]) + more)
    for p in pairs:
        if not p.finished:
            log.warning("%s: %s left out: %s", printable(p.folder), printable(p.system), printable(p.problem))
    return OutputFolder(out, pairs, queries, failed)
