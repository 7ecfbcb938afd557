"""IFEval's ``length_constraints`` family: how many sentences, paragraphs or words, and how a
paragraph starts."""
from __future__ import annotations

import re
from typing import Any

from rageval.ifrag import reference_text as ref, text as tx
from rageval.ifrag.instructions.base import RELATIONS, Context, Instruction, compare


class NumberSentences(Instruction):
    id = "length_constraints:number_sentences"
    description = "Your response should contain {relation} {num_sentences} sentences."
    fields = {"num_sentences": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return compare(len(tx.sentences(response)), self.kwargs["relation"], self.kwargs["num_sentences"])

    def reference(self, response: str) -> bool:
        return compare(len(ref.sentences(response)), self.kwargs["relation"], self.kwargs["num_sentences"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation, n = ctx.draw_relation(1, 5)
        return {"num_sentences": n + (relation == "less than"), "relation": relation}


class NumberParagraphs(Instruction):
    id = "length_constraints:number_paragraphs"
    description = ("There should be {num_paragraphs} paragraphs. Paragraphs are separated with the markdown "
                   "divider: ***")
    fields = {"num_paragraphs": int}

    def check(self, response: str) -> bool:
        paragraphs = tx.divided_paragraphs(response)
        return paragraphs is not None and len(paragraphs) == self.kwargs["num_paragraphs"]

    def reference(self, response: str) -> bool:
        paragraphs = re.split(r"\s?\*\*\*\s?", response)
        count = len(paragraphs)
        for i, paragraph in enumerate(paragraphs):
            if not paragraph.strip():
                if 0 < i < len(paragraphs) - 1:
                    return False
                count -= 1
        return count == self.kwargs["num_paragraphs"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"num_paragraphs": ctx.rng.randint(2, 4)}


class NumberWords(Instruction):
    id = "length_constraints:number_words"
    description = "Answer with {relation} {num_words} words."
    fields = {"num_words": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return compare(len(tx.words(response)), self.kwargs["relation"], self.kwargs["num_words"])

    def reference(self, response: str) -> bool:
        return compare(ref.count_words(response), self.kwargs["relation"], self.kwargs["num_words"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation = ctx.rng.choice(RELATIONS)
        return {"num_words": ctx.rng.choice([10, 20, 30, 50] if relation == "at least" else [40, 60, 100, 200]),
                "relation": relation}


class NthParagraphFirstWord(Instruction):
    id = "length_constraints:nth_paragraph_first_word"
    description = ("There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with "
                   "each other by two new lines as if it was '\\n\\n' in python. Paragraph {nth_paragraph} must "
                   "start with word {first_word}.")
    fields = {"num_paragraphs": int, "nth_paragraph": int, "first_word": str}

    def check(self, response: str) -> bool:
        paragraphs = tx.blank_line_paragraphs(response)
        n, nth = self.kwargs["num_paragraphs"], self.kwargs["nth_paragraph"]
        if len(paragraphs) != n or not 1 <= nth <= n:
            return False
        first = tx.words(paragraphs[nth - 1])
        return bool(first) and first[0].lower() == self.kwargs["first_word"].lower()

    def reference(self, response: str) -> bool:
        paragraphs = response.split("\n\n")
        count = sum(1 for p in paragraphs if p.strip())  # blank ones are not counted, but keep their place
        nth = self.kwargs["nth_paragraph"]
        if not 1 <= nth <= count or not paragraphs[nth - 1].strip():
            return False
        word = paragraphs[nth - 1].strip().split()[0].strip().lstrip("'").lstrip('"')
        first = ""
        for letter in word:
            if letter in ".,?!'\"":
                break
            first += letter.lower()
        return count == self.kwargs["num_paragraphs"] and first == self.kwargs["first_word"].lower()

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        words = ctx.pick_words(1)
        n = ctx.rng.randint(2, 4)
        return {"num_paragraphs": n, "nth_paragraph": ctx.rng.randint(1, n), "first_word": words[0]} if words else {}
