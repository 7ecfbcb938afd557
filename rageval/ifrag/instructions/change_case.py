"""IFEval's ``change_case`` family: capital words, all capitals, all lowercase."""
from __future__ import annotations

from typing import Any

from rageval.ifrag import reference_text as ref, text as tx
from rageval.ifrag.instructions.base import Context, Instruction, compare


class CapitalWordFrequency(Instruction):
    id = "change_case:capital_word_frequency"
    description = "In your response, words with all capital letters should appear {capital_relation} {capital_frequency} times."
    fields = {"capital_frequency": int, "capital_relation": "relation"}

    def check(self, response: str) -> bool:
        count = sum(1 for w in tx.words(response) if w.isupper())
        return compare(count, self.kwargs["capital_relation"], self.kwargs["capital_frequency"])

    def reference(self, response: str) -> bool:
        count = sum(1 for w in ref.word_tokens(response) if w.isupper())
        return compare(count, self.kwargs["capital_relation"], self.kwargs["capital_frequency"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation, n = ctx.draw_relation(2, 10)
        return {"capital_frequency": n, "capital_relation": relation}


class EnglishCapital(Instruction):
    id = "change_case:english_capital"
    description = "Your entire response should be in English, and in all capital letters."

    def check(self, response: str) -> bool:
        return response.isupper() and tx.language(response) == "en"

    def reference(self, response: str) -> bool:
        return response.isupper() and ref.detect_language(response) in ("en", None)


class EnglishLowercase(Instruction):
    id = "change_case:english_lowercase"
    description = "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."

    def check(self, response: str) -> bool:
        return response.islower() and tx.language(response) == "en"

    def reference(self, response: str) -> bool:
        return response.islower() and ref.detect_language(response) in ("en", None)
