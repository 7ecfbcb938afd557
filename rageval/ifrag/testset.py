"""Test sets on disk: rageval's JSONL schema and FollowRAG's published JSON array, read and written.

JSONL: one JSON object per line: ``key``, ``prompt``, ``question``, ``answer_gold`` (a string or a
list of alternatives), ``instruction_id_list``, ``kwargs`` (one object per instruction, in the same
order) and ``passages`` (strings, or objects with ``text`` or ``content`` and optionally ``title``
and ``doc_id``); the three list fields may also be strings holding Python literals, as FollowRAG
writes them. Other fields are kept as they are. kwargs entries whose value is null are ignored, as
in published files. A file whose first character is ``[`` is read as FollowRAG's layout
(``rageval.ifrag.followrag``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rageval.data.jsonl import is_json_array, read_jsonl
from rageval.errors import DataError
from rageval.ifrag.followrag import literal, read_followrag, write_followrag
from rageval.ifrag.items import TestItem, make_instruction
from rageval.store.files import write_jsonl


def _passages(value: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for p in value:
        if isinstance(p, str):
            out.append({"text": p})
        elif isinstance(p, dict) and isinstance(p.get("content"), str) and "text" not in p:
            out.append({"title": str(p.get("title") or ""), "text": p["content"]})
        elif isinstance(p, dict) and isinstance(p.get("text"), str):
            out.append({k: str(v) for k, v in p.items() if v is not None})
        else:
            return None
    return out


def read_testset(path: Path) -> list[TestItem]:
    """Every item of a test set (JSONL, or FollowRAG's JSON array), checked; problems name the
    file, the line or the item's key, and the field."""
    return read_followrag(path) if is_json_array(path) else _read_jsonl(path)


def _read_jsonl(path: Path) -> list[TestItem]:
    items: list[TestItem] = []
    first_line: dict[str, int] = {}
    for line_no, obj in read_jsonl(path):
        key = obj.get("key")
        if key is None or isinstance(key, (bool, dict, list)):
            raise DataError(path, 'missing "key" (a string or a number)', line_no)
        where = f"item {key!r}"
        if str(key) in first_line:
            raise DataError(path, f"{where}: duplicate key (first on line {first_line[str(key)]})", line_no)
        first_line[str(key)] = line_no
        for name in ("prompt", "question"):
            if not isinstance(obj.get(name), str):
                raise DataError(path, f'{where}: field "{name}" must be a string', line_no)
        gold = obj.get("answer_gold", [])
        gold = [gold] if isinstance(gold, str) else gold
        if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
            raise DataError(path, f'{where}: field "answer_gold" must be a string or a list of strings', line_no)
        ids = literal(path, where, "instruction_id_list", obj.get("instruction_id_list"), line_no)
        kwargs = literal(path, where, "kwargs", obj.get("kwargs"), line_no)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(path, f'{where}: field "instruction_id_list" must be a list of instruction ids', line_no)
        if kwargs is None:
            kwargs = [{} for _ in ids]
        if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
            raise DataError(path, f'{where}: field "kwargs" must be a list of {len(ids)} objects, one per instruction',
                            line_no)
        try:
            instructions = [make_instruction(i, k, where) for i, k in zip(ids, kwargs)]
        except ValueError as e:
            raise DataError(path, str(e), line_no) from None
        passages = _passages(literal(path, where, "passages", obj.get("passages", []), line_no))
        if passages is None:
            raise DataError(path, f'{where}: field "passages" must be a list of strings or of objects with "text"',
                            line_no)
        known = {"key", "prompt", "question", "answer_gold", "instruction_id_list", "kwargs", "passages"}
        items.append(TestItem(key, obj["prompt"], obj["question"], gold, instructions, passages,
                              {k: v for k, v in obj.items() if k not in known}))
    if not items:
        raise DataError(path, "the test set is empty")
    return items


def write_testset(path: Path, items: list[TestItem], layout: str = "jsonl", default_type: str = "") -> None:
    """Write ``items`` as rageval's JSONL, or as FollowRAG's JSON array (``layout="followrag"``, whose
    ``type`` field is ``default_type`` where an item has none)."""
    if layout == "followrag":
        write_followrag(path, items, default_type)
    else:
        write_jsonl(path, (item.to_json() for item in items))
