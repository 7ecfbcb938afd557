"""FollowRAG's released test files, read as they are and written in the same layout.

A file is one JSON array of objects with ``key`` (an integer, unique within the file), ``type``
(``ifnq``, ``iftq``, ``ifhq``, ``ifwebq``), ``prompt``, ``question``, ``answer_gold`` (one
string; several alternatives are joined by ``/``), ``question_with_instrs``, and three fields
that are *strings holding Python literals*: ``instruction_id_list`` (FollowRAG's instruction
names), ``kwargs`` (one dict per instruction) and ``passages`` (dicts with ``title`` and
``content``). The literals are parsed with ``ast.literal_eval``, never evaluated.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from rageval.data.jsonl import json_kind, read_text
from rageval.errors import DataError
from rageval.ifrag.instructions import IFEVAL_TO_FOLLOWRAG
from rageval.ifrag.items import TestItem, make_instruction
from rageval.store.files import write_json

_STRINGS = ("prompt", "question", "answer_gold")


def literal(path: Path, where: str, name: str, value: Any, line: int | None = None) -> Any:
    """A field that holds a Python literal as a string, parsed (a value that is not a string is
    returned as it is); one that is not a literal is an error naming the item and the field."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise DataError(path, f"{where}: field {name!r} is not a Python literal: {value[:60]!r}", line) from None
    return value


def _passages(path: Path, where: str, value: Any) -> list[dict[str, str]]:
    value = literal(path, where, "passages", value)
    if not isinstance(value, list) or not all(isinstance(p, dict) and isinstance(p.get("content"), str)
                                              for p in value):
        raise DataError(path, f"{where}: field 'passages' must be a list of {{'title', 'content'}} dicts")
    return [{"title": str(p.get("title") or ""), "text": p["content"]} for p in value]


def _item(path: Path, obj: Any, index: int, seen: dict[str, int]) -> TestItem:
    if not isinstance(obj, dict):
        raise DataError(path, f"element {index} of the array is {json_kind(obj)}, not an object")
    key = obj.get("key")
    if key is None or isinstance(key, (bool, dict, list, float)):
        raise DataError(path, f"element {index}: missing 'key' (an integer)")
    where = f"item key={key!r}"
    if str(key) in seen:
        raise DataError(path, f"{where}: duplicate key (first at element {seen[str(key)]})")
    seen[str(key)] = index
    for name in _STRINGS:
        if not isinstance(obj.get(name), str):
            raise DataError(path, f"{where}: field {name!r} must be a string")
    ids = literal(path, where, "instruction_id_list", obj.get("instruction_id_list"))
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DataError(path, f"{where}: field 'instruction_id_list' must be a list of instruction ids")
    kwargs = literal(path, where, "kwargs", obj.get("kwargs"))
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        raise DataError(path, f"{where}: field 'kwargs' must be a list of {len(ids)} dicts, one per instruction")
    try:
        instructions = [make_instruction(i, k, where) for i, k in zip(ids, kwargs)]
    except ValueError as e:
        raise DataError(path, str(e)) from None
    known = {"key", *_STRINGS, "instruction_id_list", "kwargs", "passages"}
    return TestItem(key, obj["prompt"], obj["question"], [obj["answer_gold"]], instructions,
                    _passages(path, where, obj.get("passages", [])), {k: v for k, v in obj.items() if k not in known})


def read_followrag(path: Path) -> list[TestItem]:
    """Every item of a FollowRAG file (JSON array); problems name the file, the item's key and the field."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(path, f"not JSON: {e.msg}, column {e.colno}", e.lineno) from None
    except RecursionError:
        raise DataError(path, "not JSON: nested too deeply") from None
    if not isinstance(data, list):
        raise DataError(path, f"a FollowRAG file is one JSON array of items, found {json_kind(data)}")
    seen: dict[str, int] = {}
    items = [_item(path, obj, i, seen) for i, obj in enumerate(data)]
    if not items:
        raise DataError(path, "the test set is empty")
    return items


def to_followrag(item: TestItem, default_type: str) -> dict[str, Any]:
    """One item in FollowRAG's published layout (literal fields as Python-literal strings)."""
    ids = [IFEVAL_TO_FOLLOWRAG[i.id] for i in item.instructions]
    instructions = " ".join(i.describe() for i in item.instructions)
    return {"key": item.key, "type": item.extra.get("type", default_type), "prompt": item.prompt,
            "question": item.question, "answer_gold": "/".join(item.answer_gold),
            "question_with_instrs": f"{item.question} {instructions}".strip(),
            "instruction_id_list": repr(ids), "kwargs": repr([dict(i.kwargs) for i in item.instructions]),
            "passages": repr([{"title": p.get("title", ""), "content": p["text"]} for p in item.passages])}


def write_followrag(path: Path, items: list[TestItem], default_type: str) -> None:
    """A JSON array in the published layout, so FollowRAG's own evaluation can read it."""
    write_json(path, [to_followrag(item, default_type) for item in items])
