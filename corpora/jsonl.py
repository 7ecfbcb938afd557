"""Fields and records of line-numbered JSONL files (reading itself is ``rageval.jsonl``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rageval.errors import DataError
from rageval.jsonl import read_jsonl


def string_field(path: Path, line_no: int, obj: dict[str, Any], name: str, required: bool = True) -> str:
    """``obj[name]`` as a string (ids may be numbers); missing or of another type is an error."""
    if name not in obj or obj[name] is None:
        if required:
            raise DataError(path, f'missing "{name}"', line_no)
        return ""
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f'"{name}" must be a string, got {json.dumps(value)[:80]}', line_no)
    value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(path, f'"{name}" is not valid Unicode (a lone surrogate): {value[:80]!r}', line_no) from None
    return value


def id_field(path: Path, line_no: int, obj: dict[str, Any], name: str) -> str:
    """An id: a non-empty string without whitespace (run files separate columns by whitespace)."""
    value = string_field(path, line_no, obj, name)
    check_id(path, line_no, name, value)
    return value


def check_id(path: Path, line_no: int, name: str, value: str) -> None:
    if not value or any(ch.isspace() for ch in value):
        raise DataError(path, f'"{name}" must be a non-empty id without whitespace, got {value!r}', line_no)


def read_records(path: Path, optional: str, empty: str) -> tuple[list[str], list[str], list[str], list[dict[str, Any]]]:
    """Columns of a corpus or queries file: ``_id``, ``text``, one optional string field, and every
    other field as meta. A missing ``_id``/``text``, a duplicate id or an empty file (``empty`` says
    so) is an error."""
    ids, texts, extras, metas = [], [], [], []
    first_line: dict[str, int] = {}
    for line_no, obj in read_jsonl(path):
        rid = id_field(path, line_no, obj, "_id")
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
