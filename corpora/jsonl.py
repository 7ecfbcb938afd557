"""Line-numbered reading of JSONL and TSV files with errors that name the file, line and value."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from rageval.errors import DataError


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line; bytes that are not UTF-8 are an error."""
    if not path.is_file():
        raise DataError(path, "file not found")
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, f"not UTF-8: byte {raw[e.start]:#04x} at column {e.start + 1}", line_no) from None
            if line_no == 1:
                line = line.lstrip("\ufeff")
            if line.strip():
                yield line_no, line.rstrip("\r\n")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line; a line that is not a JSON object is an error."""
    for line_no, line in read_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON ({e.msg} at column {e.colno}): {line[:80]!r}", line_no) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}: {line[:80]!r}", line_no)
        yield line_no, obj


def string_field(path: Path, line_no: int, obj: dict[str, Any], name: str, required: bool = True) -> str:
    """``obj[name]`` as a string (ids may be numbers); missing or of another type is an error."""
    if name not in obj or obj[name] is None:
        if required:
            raise DataError(path, f'missing "{name}"', line_no)
        return ""
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f'"{name}" must be a string, got {json.dumps(value)[:80]}', line_no)
    return str(value)


def read_records(path: Path, optional: str, empty: str) -> tuple[list[str], list[str], list[str], list[dict[str, Any]]]:
    """Columns of a corpus or queries file: ``_id``, ``text``, one optional string field, and every
    other field as meta. A missing ``_id``/``text``, a duplicate id or an empty file (``empty`` says
    so) is an error."""
    ids, texts, extras, metas = [], [], [], []
    first_line: dict[str, int] = {}
    for line_no, obj in read_jsonl(path):
        rid = string_field(path, line_no, obj, "_id")
        if rid in first_line:
            raise DataError(path, f"duplicate _id {rid!r} (first on line {first_line[rid]})", line_no)
        first_line[rid] = line_no
        ids.append(rid)
        texts.append(string_field(path, line_no, obj, "text"))
        extras.append(string_field(path, line_no, obj, optional, required=False))
        metas.append({k: v for k, v in obj.items() if k not in ("_id", "text", optional)})
    if not ids:
        raise DataError(path, empty)
    return ids, texts, extras, metas
