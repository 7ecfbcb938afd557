"""What an output folder holds, read once for compare, the report, the export and ``rageval.results``:
every pair folder, classified as finished or incomplete (with the reason), its metrics.json and
per-query values, and the query texts of each dataset. Every command that reads an output folder
reads it here, so each leaves out the same pairs and warns about them the same way."""
from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, RagevalError
from .files import what_is
from .jsonl import json_kind, read_jsonl
from .report import printable
from .run_folder import read_json

log = logging.getLogger("rageval")


@dataclass
class PairRecord:
    """One pair folder. ``metrics`` is its metrics.json; it is None when the pair is incomplete, and
    ``problem`` then says why (no metrics.json, a corrupt one, no per-query values, ...)."""

    folder: Path
    dataset: str
    system: str
    metrics: dict[str, Any] | None
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # measure -> query -> value
    problem: str | None = None

    @property
    def finished(self) -> bool:
        return self.metrics is not None


@dataclass
class OutputFolder:
    """Every pair under an output folder, the query texts by dataset, and the failures results.json lists."""

    path: Path
    pairs: list[PairRecord]
    queries: dict[str, dict[str, str]]
    failed: list[dict[str, str]]

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
        return {str((p.metrics.get("versions") or {}).get("rageval", "unknown")) for p in self.finished()}


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
    if "query_id" not in table.column_names or not pa.types.is_string(table.schema.field("query_id").type) \
            or table.column("query_id").null_count:
        return None
    ids = table.column("query_id").to_pylist()
    out = {}
    for name in table.column_names:
        if name == "query_id":
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
        if type(row.get("query_id")) is not str:
            raise DataError(path, f'"query_id" must be a string, got {row.get("query_id")!r}', line_no)
    values: dict[str, dict[str, float]] = {}
    for measure in dict.fromkeys(k for _, row in rows for k in row if k != "query_id"):
        for line_no, row in rows:
            if measure in row and not _finite(row[measure]):
                number = type(row[measure]) in (int, float)  # NaN, Infinity or an integer too large for a float
                raise DataError(path, f"{measure} of {row['query_id']!r} is not {'a finite' if number else 'a'} "
                                      f"number: {str(row[measure])[:80] if number else repr(row[measure])}", line_no)
        values[measure] = {row["query_id"]: float(row[measure]) for _, row in rows if measure in row}
    return values


def _metrics(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A pair's metrics.json when it is a rageval metrics object, else None and why not."""
    if not path.is_file():
        return None, "no metrics.json (interrupted, or its retriever failed)"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, f"metrics.json cannot be read ({type(e).__name__}: {e})"
    if not text.strip():
        return None, "metrics.json is empty"
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as e:
        return None, f"metrics.json is not valid JSON ({e})"
    if not isinstance(meta, dict):
        return None, f"metrics.json holds {json_kind(meta)}, not a rageval metrics object"
    missing = [f'"{name}"' for name in ("dataset", "retriever", "metrics") if name not in meta]
    if missing:
        return None, f"metrics.json lacks {', '.join(missing)}"
    means = meta["metrics"]
    if not isinstance(means, dict):
        return None, f'"metrics" of metrics.json is not an object of numbers: {str(means)[:80]}'
    bad = next(((m, v) for m, v in means.items() if not _finite(v)), None)
    if bad is not None:
        return None, f'"metrics" of metrics.json: {bad[0]} is not a finite number: {str(bad[1])[:80]}'
    return meta, None


def _finite(value: object) -> bool:
    """Whether ``value`` (read from JSON) is a finite number: an int or float, not NaN, Infinity or
    an integer too large for a float."""
    if type(value) is int:
        return abs(value) <= sys.float_info.max
    return type(value) is float and math.isfinite(value)


def _label(folder: Path) -> str:
    """What an incomplete pair is called: its retriever (and chunker) from run.json, else its folder name."""
    settings = (read_json(folder / "run.json") or {}).get("settings", {})
    settings = settings if isinstance(settings, dict) else {}
    label = settings.get("retriever") or folder.name
    return f"{settings['chunker']} + {label}" if settings.get("chunker") else str(label)


def _record(folder: Path, per_query: bool) -> PairRecord:
    """One pair folder, classified: finished only with a rageval metrics.json and its per_query.jsonl
    (read and checked when ``per_query``)."""
    meta, problem = _metrics(folder / "metrics.json")
    if meta is None:
        return PairRecord(folder, folder.parent.name, _label(folder), None, problem=problem)
    record = PairRecord(folder, str(meta["dataset"]), str(meta["retriever"]), meta)
    path = folder / "per_query.jsonl"
    if not path.is_file():
        record.problem = "no per_query.jsonl"
    elif per_query:
        try:
            record.per_query = _per_query(path)
            if not any(record.per_query.values()):
                record.problem = "per_query.jsonl holds no values"
        except DataError as e:
            record.problem = str(e)
    if record.problem is not None:
        record.metrics, record.per_query = None, {}
    return record


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
    pairs = [_record(folder, per_query) for folder in sorted(p for p in out.glob("*/*") if p.is_dir())]
    labels = {p.folder.parent: p.dataset for p in pairs if p.finished}
    for p in pairs:
        if not p.finished:
            p.dataset = labels.get(p.folder.parent, p.dataset)
    queries = {}
    for path in sorted(out.glob("*/queries.jsonl")):
        label = next((p.dataset for p in pairs if p.folder.parent == path.parent and p.finished), path.parent.name)
        queries[label] = {str(row.get("query_id")): str(row.get("text", "")) for _, row in _rows(path)}
    if not any(p.finished for p in pairs):
        if not pairs:
            raise RagevalError(f"{out}: no finished run (no <dataset>/<system>/metrics.json below it)")
        more = f"; and {len(pairs) - 3} more" if len(pairs) > 3 else ""
        raise RagevalError(f"{out}: no finished run among {len(pairs)} pair folders: "
                           + "; ".join(f"{p.folder}: {p.problem}" for p in pairs[:3]) + more)
    for p in pairs:
        if not p.finished:
            log.warning("%s: %s left out: %s", printable(p.folder), printable(p.system), printable(p.problem))
    results = read_json(out / "results.json")
    failed = results.get("failed", []) if isinstance(results, dict) else []
    return OutputFolder(out, pairs, queries, failed if isinstance(failed, list) else [])
