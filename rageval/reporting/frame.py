"""``rageval.read_results`` and ``rageval export``: the finished runs of an output folder as a table
(pandas), one row per dataset x system x measure, or per query."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from rageval.errors import RagevalError
from rageval.store.run_records import read_output

if TYPE_CHECKING:
    import pandas

FORMATS = ("csv", "parquet", "jsonl")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads such a cell as a formula (OWASP)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(cell: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a leading ``'`` (OWASP's rule
    against CSV injection); other cells as they are: numbers, and text that is a plain number."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def read_results(out: str | Path, per_query: bool = False) -> "pandas.DataFrame":
    """The finished runs of the output folder ``out`` as a DataFrame: columns dataset, system,
    measure, value, plus low / high (the 95% interval) and n_queries; with ``per_query``, dataset,
    system, query_id, measure, value."""
    import pandas as pd

    output = read_output(out)  # per-query values read and checked always: a pair compare leaves out is left out here
    rows = []
    for p in output.finished():
        if per_query:
            rows += [{"dataset": p.dataset, "system": p.system, "query_id": q, "measure": m, "value": v}
                     for m, values in p.per_query.items() for q, v in values.items()]
            continue
        intervals = p.result.intervals or {}
        rows += [{"dataset": p.dataset, "system": p.system, "measure": m, "value": v,
                  "low": intervals.get(m, [None, None])[0], "high": intervals.get(m, [None, None])[1],
                  "n_queries": p.result.n_queries} for m, v in p.result.means.items()]
    columns = ["dataset", "system", "query_id", "measure", "value"] if per_query else \
        ["dataset", "system", "measure", "value", "low", "high", "n_queries"]
    return pd.DataFrame(rows, columns=columns)


def export(out: str | Path, target: str | Path, fmt: str = "csv", per_query: bool = False) -> Path:
    """Write ``read_results(out, per_query)`` to ``target`` as csv, parquet or jsonl (atomically). In a
    csv (RFC 4180: CRLF line ends, so a cell holding a CR or LF is quoted), text cells that begin like
    a formula are neutralised (``spreadsheet_safe``)."""
    from rageval.store.files import atomic_open

    if fmt not in FORMATS:
        raise RagevalError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    target = Path(target)
    named = target.suffix.lstrip(".").lower()
    if named in FORMATS and named != fmt:
        raise RagevalError(f"{target} is named as a {named} file, but the format asked for is {fmt}: "
                           f"ask for {named}, or name the file .{fmt}")
    frame = read_results(out, per_query)
    if fmt == "parquet":
        with atomic_open(target, "wb") as f:
            frame.to_parquet(f, index=False)
    else:
        with atomic_open(target) as f:
            if fmt == "csv":
                from pandas.api.types import is_numeric_dtype

                frame.assign(**{c: frame[c].map(spreadsheet_safe) for c in frame.columns
                                if not is_numeric_dtype(frame[c])}).to_csv(f, index=False, lineterminator="\r\n")
            else:
                frame.to_json(f, orient="records", lines=True, force_ascii=False)
    return target
