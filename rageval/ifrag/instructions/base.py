"""What every instruction family shares: the ``Instruction`` base class, the ``Context`` kwargs are
drawn from, the relations and languages kwargs may name, and the reference checkers' regex helpers."""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rageval.ifrag import text as tx

RELATIONS = ("less than", "at least")
SEMANTICS = ("ifeval", "rageval")
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
             "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "fi": "Finnish", "pl": "Polish",
             "ru": "Russian", "tr": "Turkish", "ar": "Arabic", "hi": "Hindi", "zh": "Chinese",
             "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "th": "Thai", "el": "Greek"}


def compare(count: int, relation: str, n: int) -> bool:
    """``count < n`` for ``"less than"``, ``count >= n`` for ``"at least"``."""
    return count < n if relation == "less than" else count >= n


def is_json(text: str) -> bool:
    """Whether ``text`` parses as JSON."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _pattern(pattern: str) -> str:
    """The reference uses kwargs as regular expressions; one that does not compile is taken literally."""
    try:
        re.compile(pattern)
    except re.error:
        return re.escape(pattern)
    return pattern


def search(pattern: str, text: str) -> bool:
    """The reference's case-insensitive ``re.search`` of a kwarg used as a pattern."""
    return re.search(_pattern(pattern), text, flags=re.IGNORECASE) is not None


def findall(pattern: str, text: str, flags: int = re.IGNORECASE) -> list:
    """The reference's ``re.findall`` of a kwarg used as a pattern."""
    return re.findall(_pattern(pattern), text, flags=flags)


def split(pattern: str, text: str) -> list[str]:
    """The reference's ``re.split`` on a kwarg used as a pattern."""
    return re.split(_pattern(pattern), text)


@dataclass
class Context:
    """What drawing kwargs may use: the question, gold answers and retrieved passages of an item."""

    question: str
    answers: list[str]
    passages: list[str]
    rng: random.Random
    used_words: set[str] = field(default_factory=set)  # words other instructions ask for

    def content_words(self) -> list[str]:
        """Distinct lower-case words of 5+ letters from the passages, in order of appearance."""
        seen = dict.fromkeys(w.lower() for p in self.passages for w in tx.words(p) if len(w) >= 5 and w.isalpha())
        return list(seen)

    def pick_words(self, k: int) -> list[str]:
        pool = [w for w in self.content_words() if w not in self.used_words]
        chosen = self.rng.sample(pool, min(k, len(pool))) if pool else []
        self.used_words.update(chosen)
        return chosen

    def draw_relation(self, low: int, high: int) -> tuple[str, int]:
        """A random relation and a count in ``low..high``."""
        return self.rng.choice(RELATIONS), self.rng.randint(low, high)


class Instruction:
    """One instruction type; an instance holds checked kwargs."""

    id: ClassVar[str]
    description: ClassVar[str]
    fields: ClassVar[dict[str, Any]] = {}  # name -> int | str | list[str] | "relation" | "language"

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs

    def describe(self) -> str:
        values = {k: (", ".join(repr(x) for x in v) if isinstance(v, list) else v) for k, v in self.kwargs.items()}
        if "language" in values:
            values["language"] = LANGUAGES.get(values["language"], values["language"])
        return self.description.format(**values)

    def check(self, response: str) -> bool:
        """rageval's verdict."""
        raise NotImplementedError

    def reference(self, response: str) -> bool:
        """The verdict of IFEval's reference checker."""
        raise NotImplementedError

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {}

    def follows(self, response: str, loose: bool = False, semantics: str = "ifeval") -> bool:
        """Whether ``response`` follows the instruction, strict or loose, under ``semantics``
        (``ifeval`` or ``rageval``); a blank response follows none."""
        if semantics not in SEMANTICS:
            raise ValueError(f"unknown semantics {semantics!r}; use one of: {', '.join(SEMANTICS)}")
        verdict = self.reference if semantics == "ifeval" else self.check
        if not loose:
            return bool(response.strip()) and verdict(response)
        lines = response.split("\n")
        cut = ["\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
        if semantics == "ifeval":  # IFEval strips the cut variants
            cut = [v.strip() for v in cut]
        variants = [response, *cut]
        variants += [v.replace("*", "") for v in variants]
        return any(v.strip() and verdict(v) for v in variants)
