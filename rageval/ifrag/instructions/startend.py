"""IFEval's ``startend`` family: how the response is wrapped or ends."""
from __future__ import annotations

from typing import Any

from rageval.ifrag import text as tx
from rageval.ifrag.instructions.base import Context, Instruction

END_PHRASES = ("Is there anything else I can help with?", "Let me know if you have additional questions.",
               "That is all I know.", "Hope this helps.")


class Quotation(Instruction):
    id = "startend:quotation"
    description = "Wrap your entire response with double quotation marks."

    def check(self, response: str) -> bool:
        s = response.strip()
        return len(s) > 1 and ((s[0] == '"' and s[-1] == '"') or (s[0] == "“" and s[-1] == "”"))

    def reference(self, response: str) -> bool:
        s = response.strip()
        return len(s) > 1 and s[0] == '"' and s[-1] == '"'


class EndChecker(Instruction):
    id = "startend:end_checker"
    description = "Finish your response with this exact phrase {end_phrase}. No other words should follow this phrase."
    fields = {"end_phrase": str}

    def check(self, response: str) -> bool:
        return response.strip().strip('"“”').strip().lower().endswith(self.kwargs["end_phrase"].strip().lower())

    def reference(self, response: str) -> bool:
        return response.strip().strip('"').lower().endswith(self.kwargs["end_phrase"].strip().lower())

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        free = [p for p in END_PHRASES if not {w.lower() for w in tx.words(p)} & ctx.used_words]
        if not free:
            return {}
        phrase = ctx.rng.choice(free)
        ctx.used_words |= {w.lower() for w in tx.words(phrase)}
        return {"end_phrase": phrase}
