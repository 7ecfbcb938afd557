"""IFEval's ``language`` family: the language the whole response is written in."""
from __future__ import annotations

from typing import Any

from rageval.ifrag import reference_text as ref, text as tx
from rageval.ifrag.instructions.base import Context, Instruction


class ResponseLanguage(Instruction):
    id = "language:response_language"
    description = "Your ENTIRE response should be in {language} language, no other language is allowed."
    fields = {"language": "language"}

    def check(self, response: str) -> bool:
        return bool(tx.words(response)) and tx.language(response) == self.kwargs["language"]

    def reference(self, response: str) -> bool:
        found = ref.detect_language(response)
        return found is None or found == self.kwargs["language"]  # undetectable counts as followed

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"language": ctx.rng.choice(["de", "fr", "es", "it", "pt", "nl"])}
