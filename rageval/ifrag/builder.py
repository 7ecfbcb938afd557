"""Build an instruction-following RAG test set: questions with gold answers, their top-k passages
from a retriever, and 1..M compatible instructions per item (see ``instructions.CONFLICTS``)."""
from __future__ import annotations

import logging
import random
from typing import Any

from rageval import registry
from rageval.data.loading import dataset_loader, load_dataset
from rageval.data.model import Dataset
from rageval.data.training import TrainingData
from rageval.errors import RagevalError
from rageval.ifrag.instructions import REGISTRY, Context, Instruction, compatible
from rageval.ifrag.items import TestItem
from rageval.retrieval.pipeline import retrieve

log = logging.getLogger("rageval")

PROMPT = "Answer the question using the passages below.\n\n{passages}\n\nQuestion: {question}\n\n{instructions}"


def render(question: str, passages: list[dict[str, str]], instructions: list[Instruction]) -> str:
    """The prompt of an item: passages ("Passage n: title" then text), question, then the
    instructions' descriptions, one per line."""
    shown = "\n\n".join(f"Passage {n}" + (f": {p['title']}" if p.get("title") else "") + f"\n{p['text']}"
                        for n, p in enumerate(passages, start=1))
    return PROMPT.format(passages=shown, question=question,
                         instructions="\n".join(i.describe() for i in instructions))


def draw_instructions(ctx: Context, max_instructions: int) -> list[Instruction]:
    """1..max_instructions instructions of distinct, compatible types with kwargs drawn from ``ctx``."""
    wanted = ctx.rng.randint(1, max_instructions)
    kinds = sorted(REGISTRY)
    ctx.rng.shuffle(kinds)
    chosen: list[Instruction] = []
    for iid in kinds:
        if len(chosen) == wanted:
            break
        cls = REGISTRY[iid]
        kwargs = cls.draw(ctx)
        if cls.fields and not kwargs:
            continue  # nothing to draw from (e.g. no content word in the passages)
        candidate = cls(**kwargs)
        if compatible(chosen, candidate):
            chosen.append(candidate)
    return chosen


def answered_queries(dataset: Dataset) -> list[int]:
    """Rows of the queries that carry gold answers (a non-empty list ``answers`` of strings)."""
    rows = [i for i, meta in enumerate(dataset.queries.metas)
            if isinstance(meta.get("answers"), list) and any(isinstance(a, str) and a.strip() for a in meta["answers"])]
    if not rows:
        raise RagevalError(f"dataset {dataset.label}: no query carries gold answers "
                           '(a list "answers" in queries.jsonl); a test set needs them')
    return rows


def build(dataset_spec: str, retriever_spec: str, n: int, max_instructions: int, seed: int, k: int = 3,
          split: str | None = None) -> list[TestItem]:
    """``n`` items (all there are, if fewer) drawn with ``seed``: same arguments, same items."""
    if n < 1 or max_instructions < 1 or k < 1:
        raise RagevalError(f"need n, max-instructions and k of at least 1, got {n}, {max_instructions}, {k}")
    if max_instructions > len(REGISTRY):
        raise RagevalError(f"max-instructions is at most {len(REGISTRY)} (one per instruction type)")
    loader = dataset_loader(dataset_spec)  # a wrong path is reported before a retriever imports its model
    retriever = registry.create("retrievers", retriever_spec)
    dataset = load_dataset(dataset_spec, split, loader)
    rows = answered_queries(dataset)
    if n > len(rows):
        log.warning("%s has %d queries with gold answers; building %d items, not %d", dataset.label, len(rows),
                    len(rows), n)
    rows = sorted(random.Random(seed).sample(rows, min(n, len(rows))))
    asked = dataset.subset([dataset.queries.ids[r] for r in rows])
    queries = asked.queries
    run, _ = retrieve(retriever, asked, k, TrainingData(dataset_spec, loader))
    corpus = dataset.corpus
    items = []
    for key, (qid, question, meta, positions) in enumerate(zip(queries.ids, queries.texts, queries.metas,
                                                                run.indices)):
        answers = [a for a in meta["answers"] if isinstance(a, str)]
        passages = [{"doc_id": corpus.ids[p], "title": corpus.titles[p], "text": corpus.texts[p]}
                    for p in positions if p >= 0]
        ctx = Context(question, answers, [p["text"] for p in passages], random.Random(f"{seed}:{qid}"))
        instructions = draw_instructions(ctx, max_instructions)
        source: dict[str, Any] = {"dataset": dataset.label, "query_id": qid, "retriever": retriever_spec, "k": k,
                                  "seed": seed}
        items.append(TestItem(key, render(question, passages, instructions), question, answers, instructions,
                              passages, {"source": source}))
    return items
