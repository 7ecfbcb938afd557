"""What an output folder holds, read once for the report, the export and ``rageval.results``: every
pair folder (finished, failed or incomplete), its metrics.json and per-query values, and the query
texts of each dataset."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError, RagevalError
from .jsonl import read_jsonl
from .run_folder import read_json

log = logging.getLogger("rageval")


@dataclass
class PairRecord:
    """One pair folder. ``metrics`` is its metrics.json (None when the pair is incomplete)."""

    folder: Path
    dataset: str
    system: str
    metrics: dict[str, Any] | None
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # measure -> query -> value

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
        values = column.to_numpy(zero_copy_only=False).astype(float).tolist()
        if column.null_count:
            out[name] = {q: v for q, v, ok in zip(ids, values, column.is_valid().to_pylist()) if ok}
        else:
            out[name] = dict(zip(ids, values))
    return out


def _per_query(path: Path) -> dict[str, dict[str, float]]:
    """measure -> query id -> value of a per_query.jsonl; a value that is not a number is an error
    naming its line."""
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
            if measure in row and type(row[measure]) not in (int, float):
                raise DataError(path, f"{measure} of {row['query_id']!r} is not a number: {row[measure]!r}", line_no)
        values[measure] = {row["query_id"]: float(row[measure]) for _, row in rows if measure in row}
    return values


def read_output(out: str | Path, per_query: bool = True) -> OutputFolder:
    """Read ``out``; a folder without any finished pair is an error. A pair folder without its
    metrics.json (an interrupted run) is kept as incomplete, never read as finished."""
    out = Path(out)
    if not out.is_dir():
        raise RagevalError(f"{out}: no such output folder")
    pairs, queries = [], {}
    for folder in sorted(p for p in out.glob("*/*") if p.is_dir()):
        meta = read_json(folder / "metrics.json")
        if not isinstance(meta, dict) or "dataset" not in meta or "retriever" not in meta:
            settings = (read_json(folder / "run.json") or {}).get("settings", {})
            label = settings.get("retriever") or folder.name
            if settings.get("chunker"):
                label = f"{settings['chunker']} + {label}"
            pairs.append(PairRecord(folder, folder.parent.name, str(label), None))
            continue
        record = PairRecord(folder, str(meta["dataset"]), str(meta["retriever"]), meta)
        if per_query:
            record.per_query = _per_query(folder / "per_query.jsonl")
        pairs.append(record)
    labels = {p.folder.parent: p.dataset for p in pairs if p.finished}
    for p in pairs:
        if not p.finished:
            p.dataset = labels.get(p.folder.parent, p.dataset)
    for path in sorted(out.glob("*/queries.jsonl")):
        label = next((p.dataset for p in pairs if p.folder.parent == path.parent and p.finished), path.parent.name)
        queries[label] = {str(row.get("query_id")): str(row.get("text", "")) for _, row in _rows(path)}
    if not any(p.finished for p in pairs):
        raise RagevalError(f"{out}: no finished run (no <dataset>/<system>/metrics.json below it)")
    failed = (read_json(out / "results.json") or {}).get("failed", [])
    return OutputFolder(out, pairs, queries, failed if isinstance(failed, list) else [])
