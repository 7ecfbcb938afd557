"""IFEval's ``detectable_format`` family: JSON, bullet lists, highlights, sections and a title."""
from __future__ import annotations

import re
from typing import Any

from rageval.ifrag.instructions.base import Context, Instruction, is_json, split


class JsonFormat(Instruction):
    id = "detectable_format:json_format"
    description = "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."

    def check(self, response: str) -> bool:
        return is_json(re.sub(r"^```(?:json)?\s*|\s*```$", "", response.strip(), flags=re.IGNORECASE))

    def reference(self, response: str) -> bool:
        body = response.strip()
        for fence in ("```json", "```Json", "```JSON", "```"):
            body = body.removeprefix(fence)
        return is_json(body.removesuffix("```").strip())


class NumberBulletLists(Instruction):
    id = "detectable_format:number_bullet_lists"
    description = ("Your answer must contain exactly {num_bullets} bullet points. Use the markdown bullet points "
                   "such as:\n* This is point 1.\n* This is point 2")
    fields = {"num_bullets": int}

    def check(self, response: str) -> bool:
        return len(re.findall(r"(?m)^\s*[*-][ \t]+\S", response)) == self.kwargs["num_bullets"]

    def reference(self, response: str) -> bool:
        stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
        dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
        return len(stars) + len(dashes) == self.kwargs["num_bullets"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"num_bullets": ctx.rng.randint(2, 5)}


class HighlightedSections(Instruction):
    id = "detectable_format:number_highlighted_sections"
    description = ("Highlight at least {num_highlights} sections in your answer with markdown, i.e. "
                   "*highlighted section*.")
    fields = {"num_highlights": int}

    def check(self, response: str) -> bool:
        spans = re.findall(r"\*\*([^\n*]+)\*\*|\*([^\n*]+)\*", response)
        return sum(1 for a, b in spans if (a or b).strip()) >= self.kwargs["num_highlights"]

    def reference(self, response: str) -> bool:
        single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
        double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response)
                  if h.removeprefix("**").removesuffix("**").strip()]
        return len(single) + len(double) >= self.kwargs["num_highlights"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"num_highlights": ctx.rng.randint(1, 3)}


class MultipleSections(Instruction):
    id = "detectable_format:multiple_sections"
    description = ("Your response must have {num_sections} sections. Mark the beginning of each section with "
                   "{section_spliter} X, such as:\n{section_spliter} 1\n[content of section 1]\n"
                   "{section_spliter} 2\n[content of section 2]")
    fields = {"section_spliter": str, "num_sections": int}

    def check(self, response: str) -> bool:
        spliter = re.escape(self.kwargs["section_spliter"].strip())
        headers = re.findall(rf"(?i)(?<!\w){spliter}\s*\d+", response)
        return len(headers) >= self.kwargs["num_sections"]

    def reference(self, response: str) -> bool:
        pattern = r"\s?" + self.kwargs["section_spliter"].strip() + r"\s?\d+\s?"
        return len(split(pattern, response)) - 1 >= self.kwargs["num_sections"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"section_spliter": ctx.rng.choice(["Section", "SECTION"]), "num_sections": ctx.rng.randint(2, 4)}


class Title(Instruction):
    id = "detectable_format:title"
    description = "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>."

    def check(self, response: str) -> bool:
        return re.search(r"<<[^\n<>]*\w[^\n<>]*>>", response) is not None

    def reference(self, response: str) -> bool:
        return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))
