"""IFEval's ``punctuation`` family: no commas anywhere in the response."""
from __future__ import annotations

from rageval.ifrag.instructions.base import Instruction


class NoComma(Instruction):
    id = "punctuation:no_comma"
    description = "In your entire response, refrain from the use of any commas."

    def check(self, response: str) -> bool:
        return "," not in response and "，" not in response

    def reference(self, response: str) -> bool:
        return "," not in response
