"""IFEval's ``keywords`` family: words the response must include, count or avoid."""
from __future__ import annotations

from typing import Any

from rageval.ifrag import text as tx
from rageval.ifrag.instructions.base import Context, Instruction, compare, findall, search


class KeywordsExistence(Instruction):
    id = "keywords:existence"
    description = "Include the keywords {keywords} in the response."
    fields = {"keywords": list[str]}

    def check(self, response: str) -> bool:
        return all(tx.contains_word(response, k) for k in self.kwargs["keywords"])

    def reference(self, response: str) -> bool:
        return all(search(k, response) for k in self.kwargs["keywords"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        words = ctx.pick_words(ctx.rng.randint(1, 2))
        return {"keywords": words} if words else {}


class KeywordFrequency(Instruction):
    id = "keywords:frequency"
    description = "In your response, the word {keyword} should appear {relation} {frequency} times."
    fields = {"keyword": str, "frequency": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return compare(tx.count_word(response, self.kwargs["keyword"]), self.kwargs["relation"],
                       self.kwargs["frequency"])

    def reference(self, response: str) -> bool:
        return compare(len(findall(self.kwargs["keyword"].strip(), response)), self.kwargs["relation"],
                       self.kwargs["frequency"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        words = ctx.pick_words(1)
        relation, n = ctx.draw_relation(1, 3)
        return {"keyword": words[0], "frequency": n + (relation == "less than"), "relation": relation} if words else {}


class ForbiddenWords(Instruction):
    id = "keywords:forbidden_words"
    description = "Do not include the keywords {forbidden_words} in the response."
    fields = {"forbidden_words": list[str]}

    def check(self, response: str) -> bool:
        return not any(tx.contains_word(response, w) for w in self.kwargs["forbidden_words"])

    def reference(self, response: str) -> bool:
        return not any(search(r"\b" + w + r"\b", response) for w in self.kwargs["forbidden_words"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        # never a word of the question or of a gold answer: the correct answer must stay possible
        taken = {w.lower() for t in [ctx.question, *ctx.answers] for w in tx.words(t)}
        ctx.used_words |= taken
        words = ctx.pick_words(ctx.rng.randint(1, 3))
        return {"forbidden_words": words} if words else {}
