"""The 22 atomic, verifiable instructions of FollowRAG (the IFEval types it uses).

Each instruction type has an ``id`` (IFEval's; FollowRAG's own names map to it in
``rageval.ifrag.followrag``), a description template, a typed kwargs schema (``fields``), two
verifiers and a way to draw kwargs for a new test item. Relations are ``"less than"`` (count < n)
and ``"at least"`` (count >= n).

Two semantics: ``ifeval`` (``reference``) gives the verdicts of IFEval's reference checkers, as
FollowRAG runs them, quirks included (keywords as unescaped case-insensitive patterns matched
anywhere, Punkt sentences, NLTK word tokens, langdetect); ``rageval`` (``check``) is stricter:
words are runs of letters and digits, keywords never match inside a longer word, and the
README lists every difference. Loose mode (IFEval's) also accepts a response that passes with its
first line, its last line or both removed, each with markdown emphasis (``*``) stripped too.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import reference_text as ref
from . import text as tx

RELATIONS = ("less than", "at least")
SEMANTICS = ("ifeval", "rageval")
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
             "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "fi": "Finnish", "pl": "Polish",
             "ru": "Russian", "tr": "Turkish", "ar": "Arabic", "hi": "Hindi", "zh": "Chinese",
             "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "th": "Thai", "el": "Greek"}
END_PHRASES = ("Is there anything else I can help with?", "Let me know if you have additional questions.",
               "That is all I know.", "Hope this helps.")


def _compare(count: int, relation: str, n: int) -> bool:
    return count < n if relation == "less than" else count >= n


def _is_json(text: str) -> bool:
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


def _search(pattern: str, text: str) -> bool:
    return re.search(_pattern(pattern), text, flags=re.IGNORECASE) is not None


def _findall(pattern: str, text: str, flags: int = re.IGNORECASE) -> list:
    return re.findall(_pattern(pattern), text, flags=flags)


def _split(pattern: str, text: str) -> list[str]:
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


REGISTRY: dict[str, type[Instruction]] = {}


def instruction(cls: type[Instruction]) -> type[Instruction]:
    REGISTRY[cls.id] = cls
    return cls


def _draw_relation(ctx: Context, low: int, high: int) -> tuple[str, int]:
    return ctx.rng.choice(RELATIONS), ctx.rng.randint(low, high)


@instruction
class KeywordsExistence(Instruction):
    id = "keywords:existence"
    description = "Include the keywords {keywords} in the response."
    fields = {"keywords": list[str]}

    def check(self, response: str) -> bool:
        return all(tx.contains_word(response, k) for k in self.kwargs["keywords"])

    def reference(self, response: str) -> bool:
        return all(_search(k, response) for k in self.kwargs["keywords"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        words = ctx.pick_words(ctx.rng.randint(1, 2))
        return {"keywords": words} if words else {}


@instruction
class KeywordFrequency(Instruction):
    id = "keywords:frequency"
    description = "In your response, the word {keyword} should appear {relation} {frequency} times."
    fields = {"keyword": str, "frequency": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return _compare(tx.count_word(response, self.kwargs["keyword"]), self.kwargs["relation"],
                        self.kwargs["frequency"])

    def reference(self, response: str) -> bool:
        return _compare(len(_findall(self.kwargs["keyword"].strip(), response)), self.kwargs["relation"],
                        self.kwargs["frequency"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        words = ctx.pick_words(1)
        relation, n = _draw_relation(ctx, 1, 3)
        return {"keyword": words[0], "frequency": n + (relation == "less than"), "relation": relation} if words else {}


@instruction
class ForbiddenWords(Instruction):
    id = "keywords:forbidden_words"
    description = "Do not include the keywords {forbidden_words} in the response."
    fields = {"forbidden_words": list[str]}

    def check(self, response: str) -> bool:
        return not any(tx.contains_word(response, w) for w in self.kwargs["forbidden_words"])

    def reference(self, response: str) -> bool:
        return not any(_search(r"\b" + w + r"\b", response) for w in self.kwargs["forbidden_words"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        # never a word of the question or of a gold answer: the correct answer must stay possible
        taken = {w.lower() for t in [ctx.question, *ctx.answers] for w in tx.words(t)}
        ctx.used_words |= taken
        words = ctx.pick_words(ctx.rng.randint(1, 3))
        return {"forbidden_words": words} if words else {}


@instruction
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


@instruction
class JsonFormat(Instruction):
    id = "detectable_format:json_format"
    description = "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."

    def check(self, response: str) -> bool:
        return _is_json(re.sub(r"^```(?:json)?\s*|\s*```$", "", response.strip(), flags=re.IGNORECASE))

    def reference(self, response: str) -> bool:
        body = response.strip()
        for fence in ("```json", "```Json", "```JSON", "```"):
            body = body.removeprefix(fence)
        return _is_json(body.removesuffix("```").strip())


@instruction
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


@instruction
class NoComma(Instruction):
    id = "punctuation:no_comma"
    description = "In your entire response, refrain from the use of any commas."

    def check(self, response: str) -> bool:
        return "," not in response and "，" not in response

    def reference(self, response: str) -> bool:
        return "," not in response


@instruction
class Quotation(Instruction):
    id = "startend:quotation"
    description = "Wrap your entire response with double quotation marks."

    def check(self, response: str) -> bool:
        s = response.strip()
        return len(s) > 1 and ((s[0] == '"' and s[-1] == '"') or (s[0] == "“" and s[-1] == "”"))

    def reference(self, response: str) -> bool:
        s = response.strip()
        return len(s) > 1 and s[0] == '"' and s[-1] == '"'


@instruction
class NumberSentences(Instruction):
    id = "length_constraints:number_sentences"
    description = "Your response should contain {relation} {num_sentences} sentences."
    fields = {"num_sentences": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return _compare(len(tx.sentences(response)), self.kwargs["relation"], self.kwargs["num_sentences"])

    def reference(self, response: str) -> bool:
        return _compare(len(ref.sentences(response)), self.kwargs["relation"], self.kwargs["num_sentences"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation, n = _draw_relation(ctx, 1, 5)
        return {"num_sentences": n + (relation == "less than"), "relation": relation}


@instruction
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


@instruction
class NumberWords(Instruction):
    id = "length_constraints:number_words"
    description = "Answer with {relation} {num_words} words."
    fields = {"num_words": int, "relation": "relation"}

    def check(self, response: str) -> bool:
        return _compare(len(tx.words(response)), self.kwargs["relation"], self.kwargs["num_words"])

    def reference(self, response: str) -> bool:
        return _compare(ref.count_words(response), self.kwargs["relation"], self.kwargs["num_words"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation = ctx.rng.choice(RELATIONS)
        return {"num_words": ctx.rng.choice([10, 20, 30, 50] if relation == "at least" else [40, 60, 100, 200]),
                "relation": relation}


@instruction
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


@instruction
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
        return bool(_findall(pattern, response.lower(), re.MULTILINE))

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"postscript_marker": ctx.rng.choice(["P.S.", "P.P.S"])}


@instruction
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


@instruction
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


@instruction
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


@instruction
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


@instruction
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
        return len(_split(pattern, response)) - 1 >= self.kwargs["num_sections"]

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        return {"section_spliter": ctx.rng.choice(["Section", "SECTION"]), "num_sections": ctx.rng.randint(2, 4)}


@instruction
class Title(Instruction):
    id = "detectable_format:title"
    description = "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>."

    def check(self, response: str) -> bool:
        return re.search(r"<<[^\n<>]*\w[^\n<>]*>>", response) is not None

    def reference(self, response: str) -> bool:
        return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


@instruction
class CapitalWordFrequency(Instruction):
    id = "change_case:capital_word_frequency"
    description = "In your response, words with all capital letters should appear {capital_relation} {capital_frequency} times."
    fields = {"capital_frequency": int, "capital_relation": "relation"}

    def check(self, response: str) -> bool:
        count = sum(1 for w in tx.words(response) if w.isupper())
        return _compare(count, self.kwargs["capital_relation"], self.kwargs["capital_frequency"])

    def reference(self, response: str) -> bool:
        count = sum(1 for w in ref.word_tokens(response) if w.isupper())
        return _compare(count, self.kwargs["capital_relation"], self.kwargs["capital_frequency"])

    @classmethod
    def draw(cls, ctx: Context) -> dict[str, Any]:
        relation, n = _draw_relation(ctx, 2, 10)
        return {"capital_frequency": n, "capital_relation": relation}


@instruction
class EnglishCapital(Instruction):
    id = "change_case:english_capital"
    description = "Your entire response should be in English, and in all capital letters."

    def check(self, response: str) -> bool:
        return response.isupper() and tx.language(response) == "en"

    def reference(self, response: str) -> bool:
        return response.isupper() and ref.detect_language(response) in ("en", None)


@instruction
class EnglishLowercase(Instruction):
    id = "change_case:english_lowercase"
    description = "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."

    def check(self, response: str) -> bool:
        return response.islower() and tx.language(response) == "en"

    def reference(self, response: str) -> bool:
        return response.islower() and ref.detect_language(response) in ("en", None)


# FollowRAG's instruction names and the IFEval ids they stand for
FOLLOWRAG_TO_IFEVAL = {
    "keywords_inclusion": "keywords:existence",
    "keywords_frequency": "keywords:frequency",
    "keywords_exclusion": "keywords:forbidden_words",
    "format_language": "language:response_language",
    "length_sentence": "length_constraints:number_sentences",
    "length_paragraph": "length_constraints:number_paragraphs",
    "length_words": "length_constraints:number_words",
    "position_first_word": "length_constraints:nth_paragraph_first_word",
    "structure_placeholder": "detectable_content:number_placeholders",
    "position_postscript": "detectable_content:postscript",
    "structure_bullets": "detectable_format:number_bullet_lists",
    "structure_highlights": "detectable_format:number_highlighted_sections",
    "structure_sections": "detectable_format:multiple_sections",
    "format_json": "detectable_format:json_format",
    "structure_title": "detectable_format:title",
    "format_repeat_question": "combination:repeat_prompt",
    "position_end_with": "startend:end_checker",
    "cases_capital_words": "change_case:capital_word_frequency",
    "cases_uppercase": "change_case:english_capital",
    "cases_lowercase": "change_case:english_lowercase",
    "format_no_commas": "punctuation:no_comma",
    "format_quotation": "startend:quotation",
}
IFEVAL_TO_FOLLOWRAG = {v: k for k, v in FOLLOWRAG_TO_IFEVAL.items()}

_CONFLICT_PAIRS = {
    "change_case:english_capital": {"change_case:english_lowercase", "change_case:capital_word_frequency",
                                    "language:response_language"},
    "change_case:english_lowercase": {"change_case:capital_word_frequency", "language:response_language"},
    "detectable_format:json_format": {"detectable_format:number_bullet_lists", "detectable_format:multiple_sections",
                                      "detectable_format:title", "detectable_format:number_highlighted_sections",
                                      "length_constraints:number_paragraphs",
                                      "length_constraints:nth_paragraph_first_word", "startend:quotation",
                                      "startend:end_checker", "detectable_content:postscript",
                                      "combination:repeat_prompt", "punctuation:no_comma"},
    "startend:quotation": {"startend:end_checker", "combination:repeat_prompt"},
    "combination:repeat_prompt": {"language:response_language", "length_constraints:nth_paragraph_first_word"},
    "length_constraints:number_paragraphs": {"length_constraints:nth_paragraph_first_word",
                                             "detectable_format:multiple_sections"},
    "startend:end_checker": {"detectable_content:postscript", "language:response_language"},
    "language:response_language": {"keywords:existence", "keywords:frequency",
                                   "length_constraints:nth_paragraph_first_word"},
}
CONFLICTS: dict[str, frozenset[str]] = {
    iid: frozenset(other for other in REGISTRY if other in _CONFLICT_PAIRS.get(iid, ()) or
                   iid in _CONFLICT_PAIRS.get(other, ()))
    for iid in REGISTRY
}
"""Instruction id -> the ids it may not be combined with (symmetric)."""


def compatible(chosen: list[Instruction], candidate: Instruction) -> bool:
    """Whether ``candidate`` can join ``chosen``: a new type, no conflict in ``CONFLICTS``, and no
    comma ban beside a request to repeat (or end with) text that has a comma."""
    ids = {i.id for i in chosen}
    if candidate.id in ids or CONFLICTS[candidate.id] & ids:
        return False
    quoted = [str(i.kwargs.get("prompt_to_repeat", "")) + str(i.kwargs.get("end_phrase", ""))
              for i in [*chosen, candidate]]
    return not ("punctuation:no_comma" in ids | {candidate.id} and any("," in q for q in quoted))
