"""IFEval's ``combination`` family: the response repeats the request before answering."""
from __future__ import annotations

from typing import Any

from rageval.ifrag.instructions.base import Context, Instruction


class RepeatPrompt(Instruction):
    id = "combination:repeat_prompt"
    description = ("First repeat the request word for word without change, then give your answer (1. do not say "
                   "any words or characters before repeating the request; 2. the request you need to repeat does "
                   "not include this sentence) Request: {prompt_to_repeat}")
    fields = {"prompt_to_repeat": str}

    def check(self, response: str) -> bool:
        return response.strip().lower().startswith(self.kwargs["prompt_to_repeat"].strip().lower())

    reference = check

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"prompt_to_repeat": ctx.question}
