"""IFEval's ``detectable_content`` family: a postscript and square-bracket placeholders."""
from __future__ import annotations

import re
from typing import Any

from rageval.ifrag.instructions.base import Context, Instruction, findall


class Postscript(Instruction):
    id = "detectable_content:postscript"
    description = "At the end of your response, please explicitly add a postscript starting with {postscript_marker}"
    fields = {"postscript_marker": str}

    def check(self, response: str) -> bool:
        marker = self.kwargs["postscript_marker"].strip()
        pattern = r"\s?".join(re.escape(part) + ("\\." if i < marker.count(".") else "")
                              for i, part in enumerate(marker.split(".")) if part.strip())
        return re.search(r"(?i)(?<![\w.])" + pattern, response) is not None

    def reference(self, response: str) -> bool:
        marker = self.kwargs["postscript_marker"].strip()
        if marker == "P.P.S":
            pattern = r"\s*p\.\s?p\.\s?s.*$"
        elif marker == "P.S.":
            pattern = r"\s*p\.\s?s\..*$"
        else:
            pattern = r"\s*" + marker.lower() + r".*$"
        return bool(findall(pattern, response.lower(), re.MULTILINE))

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"postscript_marker": ctx.rng.choice(["P.S.", "P.P.S"])}


class NumberPlaceholders(Instruction):
    id = "detectable_content:number_placeholders"
    description = ("The response must contain at least {num_placeholders} placeholders represented by square "
                   "brackets, such as [address].")
    fields = {"num_placeholders": int}

    def check(self, response: str) -> bool:
        return len(re.findall(r"\[[^\[\]\n]*\w[^\[\]\n]*\]", response)) >= self.kwargs["num_placeholders"]

    def reference(self, response: str) -> bool:
        return len(re.findall(r"\[.*?\]", response)) >= self.kwargs["num_placeholders"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"num_placeholders": ctx.rng.randint(1, 3)}
