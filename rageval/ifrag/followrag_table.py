"""FollowRAG's score table (``rageval ifrag score --protocol followrag``).

Per subset (the items' ``type``: ifnq, iftq, ifhq, ifwebq) and over all items:

- **IF** = loose instruction-level accuracy × 100;
- **RAG** = mean × 100 of a judge's rating of each response against ``answer_gold`` on a
  0 / 0.5 / 1 scale, read from a line ``Rating: [x]``; while no rating can be read the request is
  made again (a new seed each time), up to 10 times, and then counted 0;
- **Avg** = (IF + RAG) / 2, each value rounded to 2 decimals.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rageval.errors import RagevalError
from rageval.ifrag.items import TestItem
from rageval.plugins import Generator

SUBSETS = ("ifnq", "iftq", "ifhq", "ifwebq")
MAX_TRIES = 10
RATING_PROMPT = """You are grading a response to a question against a reference answer.

Question: {question}

Reference answer: {answer_gold}

Response: {response}

Rate the response:
- 1 if it gives the reference answer completely and correctly;
- 0.5 if it gives the reference answer only in part;
- 0 if it does not give the reference answer, or contradicts it.
Judge only whether the answer is correct. Do not take points off for the response's format, language, \
letter case or length, nor for information beyond the reference. Take the reference as the correct answer, \
not your own knowledge.

Reply with exactly two lines and nothing else:
Rating: [score]
Reason: [one sentence]"""
_RATING = re.compile(r"Rating: \[(0|0\.5|1)\]")
_PLACEHOLDERS = ("{question}", "{answer_gold}", "{response}")


def read_prompt(path: Path) -> str:
    """A judge prompt from a file; it must hold the placeholders {question}, {answer_gold} and {response}."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise RagevalError(f"{path}: cannot read the judge prompt ({e})") from None
    missing = [p for p in _PLACEHOLDERS if p not in text]
    if missing:
        raise RagevalError(f"{path}: the judge prompt lacks {', '.join(missing)}")
    return text


def rate(judge: Generator, items: list[TestItem], responses: dict[str, str],
         prompt: str = RATING_PROMPT) -> list[dict[str, Any]]:
    """Each item's rating (0, 0.5 or 1), the judge's reply and the number of requests it took."""
    prompts = [prompt.replace("{question}", item.question).replace("{answer_gold}", "/".join(item.answer_gold))
               .replace("{response}", responses[str(item.key)]) for item in items]
    out: list[dict[str, Any]] = [{"rating": None, "reply": "", "tries": 0} for _ in items]
    seed = judge.defaults.get("seed", 0)
    for attempt in range(MAX_TRIES):
        todo = [i for i, row in enumerate(out) if row["rating"] is None]
        if not todo:
            break
        for i, reply in zip(todo, judge.generate([prompts[i] for i in todo], seed=seed + attempt)):
            found = _RATING.search(reply)
            out[i].update(reply=reply, tries=attempt + 1, rating=float(found.group(1)) if found else None)
    for row in out:
        if row["rating"] is None:
            row["rating"], row["unrated"] = 0.0, True
    return out


def _percent(values: list[float]) -> float | None:
    return round(sum(values) * 100 / len(values), 2) if values else None


def table(per_item: list[dict[str, Any]], ratings: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """IF, RAG and Avg per subset present and over all items (RAG and Avg None without ratings)."""
    types = [row.get("type") for row in per_item]
    subsets = ["all", *[t for t in SUBSETS if t in types],
               *sorted({t for t in types if t and t not in SUBSETS})]
    out = {}
    for subset in subsets:
        rows = [i for i, t in enumerate(types) if subset == "all" or t == subset]
        follows = [float(x) for i in rows for x in per_item[i]["loose"]]
        if_score = _percent(follows) if follows else 0.0
        rag = _percent([ratings[i]["rating"] for i in rows]) if ratings is not None else None
        out[subset] = {"n_items": len(rows), "IF": if_score, "RAG": rag,
                       "Avg": round((if_score + rag) / 2, 2) if rag is not None else None}
    return out
