"""Line-numbered reading of text and JSONL files, with errors that name the file, line and value."""
from __future__ import annotations

import codecs
import errno
import json
import stat
from pathlib import Path
from typing import Any, Iterator

from rageval.errors import DataError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_input_file(path: Path) -> None:
    """An error that says what ``path`` is when it is not a regular file to read: missing, a broken
    symbolic link or a loop of them, a folder, a FIFO or a device."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(path, "broken symbolic link" if path.is_symlink() else "file not found") from None
    except OSError as e:
        reason = "symbolic link loop" if e.errno == errno.ELOOP else (e.strerror or str(e)).lower()
        raise DataError(path, f"cannot be read: {reason}") from None
    for test, kind in _KINDS:
        if test(mode):
            raise DataError(path, f"is {kind}, not a regular file")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line; bytes that are not UTF-8 are an error."""
    check_input_file(path)
    try:
        f = open(path, "rb")
    except OSError as e:  # no permission
        raise DataError(path, f"cannot be read: {(e.strerror or str(e)).lower()}") from None
    with f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, f"not UTF-8: byte {raw[e.start]:#04x} at column {e.start + 1}", line_no) from None
            if line_no == 1:
                line = line.lstrip("\ufeff")
            if line.strip():
                yield line_no, line.rstrip("\r\n")


def read_text(path: Path) -> str:
    """A whole UTF-8 file as text, without the byte order mark some editors write first; bytes that
    are not UTF-8 are an error naming the line and column."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, e.strerror or str(e)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = e.start + (len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0)
        column = start - raw.rfind(b"\n", 0, start)
        raise DataError(path, f"not UTF-8: byte {raw[start]:#04x} at column {column}",
                        raw.count(b"\n", 0, start) + 1) from None


def is_json_array(path: Path) -> bool:
    """Whether the file's first non-blank character, after a UTF-8 byte order mark if there is one,
    is ``[`` (one JSON array rather than JSONL)."""
    try:
        with open(path, "rb") as f:
            return f.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()[:1] == b"["
    except OSError as e:
        raise DataError(path, e.strerror or str(e)) from None


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words: ``an array``, ``a string``, ``a number``, ..."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)  # null, true, false
    kinds = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


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
            raise DataError(path, f"expected a JSON object, got {json_kind(obj)}: {line[:80]!r}", line_no)
        yield line_no, obj
