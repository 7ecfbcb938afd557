"""An instruction-following RAG test item and its instructions, checked against their schemas.

Instruction ids may be IFEval's (``keywords:existence``) or FollowRAG's (``keywords_inclusion``);
items hold IFEval's.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from rageval.ifrag.instructions import FOLLOWRAG_TO_IFEVAL, IFEVAL_TO_FOLLOWRAG, REGISTRY, RELATIONS, Instruction


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
    iid = FOLLOWRAG_TO_IFEVAL.get(iid, iid)
    if iid not in REGISTRY:
        raise ValueError(f"{where}: unknown instruction id {iid!r}; known ids (IFEval's, or FollowRAG's in "
                         f"parentheses): {', '.join(f'{i} ({IFEVAL_TO_FOLLOWRAG[i]})' for i in sorted(REGISTRY))}")
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
    return cls(**given)
