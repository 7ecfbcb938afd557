"""The request rageval synth sends: its own instructions (written for this project), the questions
already kept from the same document (so the model does not repeat them, as the published pipeline
does), and the window's text, verbatim."""
from __future__ import annotations

import hashlib
from typing import Sequence

INSTRUCTIONS = """You write test questions for a search system, from the document excerpt below.

Write ONE question that a reader could ask and that the excerpt answers, and copy the passages of the excerpt that answer it.

Rules:
- The question is about one topic only; do not join two questions with "and".
- Do not copy long phrases of the excerpt into the question: ask it in your own words, as a person who has not read the excerpt would.
- Each reference is an exact copy of text from the excerpt: same words, same spelling, same punctuation. Copy whole sentences where you can.
- Give between 1 and {max_references} references. They may come from different places in the excerpt.
- Do not ask any of the questions already written (listed below, if any).

Answer with JSON only, in this form:
{{"question": "...", "references": ["first copied passage", "second copied passage"]}}
"""

PREVIOUS = "Questions already written from this document (do not repeat them):\n{questions}\n"
EXCERPT = "Document excerpt:\n<<<\n{window}\n>>>\n"
MAX_PREVIOUS = 50  # the most recent kept questions of the document listed in a prompt


def template_hash(max_references: int) -> str:
    """sha256 of the prompt's fixed text (recorded in the manifest: a changed prompt is a new benchmark)."""
    fixed = INSTRUCTIONS.format(max_references=max_references) + PREVIOUS + EXCERPT
    return hashlib.sha256(fixed.encode()).hexdigest()


def build_prompt(window_text: str, previous: Sequence[str], max_references: int) -> str:
    """One request's text: the instructions, the document's kept questions (the last ``MAX_PREVIOUS``),
    the window's text as it is in the document."""
    parts = [INSTRUCTIONS.format(max_references=max_references)]
    if previous:
        parts.append(PREVIOUS.format(questions="\n".join(f"- {q}" for q in previous[-MAX_PREVIOUS:])))
    parts.append(EXCERPT.format(window=window_text))
    return "\n".join(parts)
