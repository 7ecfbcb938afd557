"""Score responses to an instruction-following RAG test set.

- Instruction following (IFEval's measures): instruction-level accuracy = followed instructions /
  all instructions; prompt-level accuracy = items whose every instruction is followed / items;
  both strict and loose, overall and per instruction type; verdicts under ``semantics``
  (``ifeval``, the reference checkers' verdicts, by default; or ``rageval``'s stricter ones).
- Answer correctness against the gold alternatives (best over them; a gold answer holding ``/``
  also counts each ``/``-separated part, as FollowRAG joins alternatives with ``/``), on
  SQuAD-normalised tokens: exact match, token F1 and token recall (share of gold tokens in the
  response).
- Faithfulness, K-precision: share of the response's tokens that occur in the item's passages
  (0 for an empty response).
- Optionally an LLM judge (any generator) answering yes/no to "does the response give the gold
  answer"; answers that start with neither are counted as unparsed and left out of its mean.
- ``protocol="followrag"``: FollowRAG's own table (``rageval.ifrag.followrag_table``).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from rageval.data.jsonl import is_json_array, json_kind, read_jsonl, read_text
from rageval.errors import DataError, RagevalError
from rageval.ifrag import text as tx
from rageval.ifrag.instructions import SEMANTICS
from rageval.ifrag.items import TestItem
from rageval.plugins import Generator

JUDGE_PROMPT = ("You grade answers to questions.\n\nQuestion: {question}\nCorrect answer(s): {gold}\n"
                "Response: {response}\n\nDoes the response give a correct answer to the question? "
                "Reply with one word: yes or no.")


def _response_records(path: Path) -> list[tuple[int, dict]]:
    """(line or element number, object) of a JSONL file or of a JSON array."""
    if not is_json_array(path):
        return list(read_jsonl(path))
    try:
        data = json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError) as e:
        raise DataError(path, f"not a JSON array of responses ({e})") from None
    for number, obj in enumerate(data, start=1):  # a list: the file starts with "["
        if not isinstance(obj, dict):
            raise DataError(path, f"a JSON file of responses must be an array of objects; element {number} "
                                  f"is {json_kind(obj)}")
    return list(enumerate(data, start=1))


def read_responses(path: Path, items: list[TestItem]) -> dict[str, str]:
    """Responses by item key: JSONL lines or a JSON array of ``{"key", "response"}`` (or ``"id"``
    for the key; or IFEval's ``{"prompt", "response"}``, matched to items by prompt)."""
    by_prompt = {item.prompt: str(item.key) for item in items}
    found: dict[str, str] = {}
    for line_no, obj in _response_records(path):
        if not isinstance(obj.get("response"), str):
            raise DataError(path, 'field "response" must be a string', line_no)
        name = "key" if obj.get("key") is not None else "id"
        if obj.get(name) is not None:
            key = str(obj[name])
        elif isinstance(obj.get("prompt"), str):
            key = by_prompt.get(obj["prompt"], f"<prompt on line {line_no}>")
        else:
            raise DataError(path, 'each line needs "key" or "id" (or the item\'s "prompt") and "response"', line_no)
        if key in found:
            raise DataError(path, f"a second response for key {key!r}", line_no)
        found[key] = obj["response"]
    return found


def match(items: list[TestItem], responses: dict[str, str], partial: bool, source: str) -> list[TestItem]:
    """The items that have a response; missing or extra keys are an error naming them, unless ``partial``."""
    keys = [str(item.key) for item in items]
    missing = [k for k in keys if k not in responses]
    extra = sorted(set(responses) - set(keys))
    matched = [item for item in items if str(item.key) in responses]
    if missing or extra:
        report = (f"{source}: {len(missing)} test-set keys have no response ({', '.join(missing[:10])}"
                  f"{', ...' if len(missing) > 10 else ''}); {len(extra)} responses match no item "
                  f"({', '.join(extra[:10])}{', ...' if len(extra) > 10 else ''})")
        if not partial:
            raise RagevalError(report + f"; give --partial to score the {len(matched)} matched items")
        if not matched:
            raise RagevalError(report + "; nothing to score")
    return matched


def k_precision(response: str, passages: list[dict[str, str]]) -> float:
    tokens = tx.answer_tokens(response)
    if not tokens:
        return 0.0
    known = set(tx.answer_tokens(" ".join(p["text"] for p in passages)))
    return sum(t in known for t in tokens) / len(tokens)


def judge(generator: Generator, items: list[TestItem], responses: dict[str, str]) -> list[bool | None]:
    prompts = [JUDGE_PROMPT.format(question=i.question, gold=" | ".join(i.answer_gold),
                                   response=responses[str(i.key)]) for i in items]
    verdicts = []
    for text in generator.generate(prompts):
        found = re.match(r"\W*(yes|no)\b", text, re.IGNORECASE)
        verdicts.append(found.group(1).lower() == "yes" if found else None)
    return verdicts


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def gold_alternatives(answers: list[str]) -> list[str]:
    """The gold answers, plus each ``/``-separated part of one that holds ``/``."""
    parts = [p.strip() for a in answers if "/" in a for p in a.split("/") if p.strip()]
    return [*answers, *parts] or [""]


def score(items: list[TestItem], responses: dict[str, str], judge_with: Generator | None = None,
          semantics: str = "ifeval") -> dict[str, Any]:
    """Every measure, overall, per instruction type and per item (``items`` all have a response),
    with the instruction verdicts of ``semantics`` (``ifeval`` or ``rageval``)."""
    if semantics not in SEMANTICS:
        raise RagevalError(f"unknown semantics {semantics!r}; use one of: {', '.join(SEMANTICS)}")
    per_item, per_type = [], {}
    verdicts = judge(judge_with, items, responses) if judge_with else [None] * len(items)
    for item, verdict in zip(items, verdicts):
        response = responses[str(item.key)]
        strict = [i.follows(response, semantics=semantics) for i in item.instructions]
        loose = [i.follows(response, loose=True, semantics=semantics) for i in item.instructions]
        for inst, s, lo in zip(item.instructions, strict, loose):
            counts = per_type.setdefault(inst.id, Counter())
            counts.update(n=1, strict=s, loose=lo)
        gold = gold_alternatives(item.answer_gold)
        per_item.append({
            "key": item.key, "type": item.extra.get("type"), "instructions": [i.id for i in item.instructions], "strict": strict, "loose": loose,
            "exact_match": float(any(tx.normalize_answer(response) == tx.normalize_answer(g) for g in gold)),
            "f1": max(tx.token_f1(response, g) for g in gold),
            "recall": max(tx.token_recall(response, g) for g in gold),
            "k_precision": k_precision(response, item.passages), "judge": verdict})
    instructions = [x for row in per_item for x in zip(row["strict"], row["loose"])]
    judged = [r["judge"] for r in per_item if r["judge"] is not None]
    return {
        "semantics": semantics, "n_items": len(per_item), "n_instructions": len(instructions),
        "prompt_level": {"strict": _mean([all(r["strict"]) for r in per_item]),
                         "loose": _mean([all(r["loose"]) for r in per_item])},
        "instruction_level": {"strict": _mean([s for s, _ in instructions]),
                              "loose": _mean([lo for _, lo in instructions])},
        "per_instruction": {iid: {"n": c["n"], "strict": c["strict"] / c["n"], "loose": c["loose"] / c["n"]}
                            for iid, c in sorted(per_type.items())},
        "answer": {m: _mean([r[m] for r in per_item]) for m in ("exact_match", "f1", "recall")},
        "faithfulness": {"k_precision": _mean([r["k_precision"] for r in per_item])},
        **({"judge": {"correct": _mean(judged), "judged": len(judged),
                      "unparsed": len(per_item) - len(judged)}} if judge_with else {}),
        "per_item": per_item,
    }
