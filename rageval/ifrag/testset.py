"""Test items in the FollowRAG schema: reading (with checks that name the item and field) and writing.

One JSON object per line: ``key``, ``prompt``, ``question``, ``answer_gold`` (a string or a list of
alternatives), ``instruction_id_list``, ``kwargs`` (one object per instruction, in the same order)
and ``passages`` (strings, or objects with ``text`` and optionally ``title`` and ``doc_id``). Other
fields are kept as they are. kwargs entries whose value is null are ignored, as in published files.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..files import write_jsonl
from ..jsonl import read_jsonl
from .instructions import REGISTRY, RELATIONS, Instruction


@dataclass
class TestItem:
    """One instruction-following RAG item."""

    key: Any
    prompt: str
    question: str
    answer_gold: list[str]
    instructions: list[Instruction]
    passages: list[dict[str, str]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "prompt": self.prompt, "question": self.question, "answer_gold": self.answer_gold,
                "instruction_id_list": [i.id for i in self.instructions],
                "kwargs": [i.kwargs for i in self.instructions], "passages": self.passages, **self.extra}


def _check_value(value: Any, kind: Any) -> str | None:
    """Why ``value`` is not of the schema type ``kind`` (None when it is)."""
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "a non-negative integer"
    if kind is str or kind == "language":
        return None if isinstance(value, str) and value.strip() else "a non-empty string"
    if kind == "relation":
        return None if value in RELATIONS else f"one of {', '.join(map(repr, RELATIONS))}"
    if typing.get_origin(kind) is list:
        ok = isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
        return None if ok else "a non-empty list of non-empty strings"
    raise TypeError(kind)


def make_instruction(iid: str, kwargs: dict[str, Any], where: str) -> Instruction:
    """An instruction from its id and kwargs; an unknown id or a missing / mistyped field is a
    ValueError whose message starts with ``where``."""
    if iid not in REGISTRY:
        raise ValueError(f"{where}: unknown instruction id {iid!r}; known ids: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[iid]
    given = {k: v for k, v in kwargs.items() if v is not None}
    for name in given:
        if name not in cls.fields:
            raise ValueError(f"{where}: instruction {iid}: unknown field {name!r}; its fields: "
                             f"{', '.join(cls.fields) or 'none'}")
    for name, kind in cls.fields.items():
        if name not in given:
            raise ValueError(f"{where}: instruction {iid}: missing field {name!r}")
        problem = _check_value(given[name], kind)
        if problem:
            raise ValueError(f"{where}: instruction {iid}: field {name!r} must be {problem}, got {given[name]!r}")
    if iid == "length_constraints:nth_paragraph_first_word" and not 1 <= given["nth_paragraph"] <= given["num_paragraphs"]:
        raise ValueError(f"{where}: instruction {iid}: nth_paragraph must be between 1 and num_paragraphs")
    return cls(**given)


def _passages(value: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for p in value:
        if isinstance(p, str):
            out.append({"text": p})
        elif isinstance(p, dict) and isinstance(p.get("text"), str):
            out.append({k: str(v) for k, v in p.items() if v is not None})
        else:
            return None
    return out


def read_testset(path: Path) -> list[TestItem]:
    """Every item of a FollowRAG-schema JSONL file, checked; problems name the line, item and field."""
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
        ids, kwargs = obj.get("instruction_id_list"), obj.get("kwargs")
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
        passages = _passages(obj.get("passages", []))
        if passages is None:
            raise DataError(path, f'{where}: field "passages" must be a list of strings or of objects with "text"',
                            line_no)
        known = {"key", "prompt", "question", "answer_gold", "instruction_id_list", "kwargs", "passages"}
        items.append(TestItem(key, obj["prompt"], obj["question"], gold, instructions, passages,
                              {k: v for k, v in obj.items() if k not in known}))
    if not items:
        raise DataError(path, "the test set is empty")
    return items


def write_testset(path: Path, items: list[TestItem]) -> None:
    write_jsonl(path, (item.to_json() for item in items))
