"""Line-numbered reading of text and JSONL files, with errors that name the file, line and value."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError


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


def is_json_array(path: Path) -> bool:
    """Whether the file's first non-blank character is ``[`` (one JSON array rather than JSONL)."""
    try:
        with open(path, "rb") as f:
            return f.read(4096).lstrip()[:1] == b"["
    except OSError as e:
        raise DataError(path, e.strerror or str(e)) from None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line; a line that is not a JSON object is an error."""
    for line_no, line in read_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON ({e.msg} at column {e.colno}): {line[:80]!r}", line_no) from None
        except ValueError as e:  # e.g. an integer of more digits than Python converts
            raise DataError(path, f"invalid JSON ({e}): {line[:80]!r}", line_no) from None
        except RecursionError:
            raise DataError(path, f"invalid JSON (nested too deeply): {line[:80]!r}", line_no) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}: {line[:80]!r}", line_no)
        yield line_no, obj
