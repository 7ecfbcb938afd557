"""The instruction types by id, FollowRAG's names for them, and which types may not be combined."""
from __future__ import annotations

from rageval.ifrag.instructions.base import Instruction
from rageval.ifrag.instructions.change_case import CapitalWordFrequency, EnglishCapital, EnglishLowercase
from rageval.ifrag.instructions.combination import RepeatPrompt
from rageval.ifrag.instructions.detectable_content import NumberPlaceholders, Postscript
from rageval.ifrag.instructions.detectable_format import (HighlightedSections, JsonFormat, MultipleSections,
                                                          NumberBulletLists, Title)
from rageval.ifrag.instructions.keywords import ForbiddenWords, KeywordFrequency, KeywordsExistence
from rageval.ifrag.instructions.language import ResponseLanguage
from rageval.ifrag.instructions.length_constraints import (NthParagraphFirstWord, NumberParagraphs, NumberSentences,
                                                           NumberWords)
from rageval.ifrag.instructions.punctuation import NoComma
from rageval.ifrag.instructions.startend import EndChecker, Quotation

# the order instructions were registered in before the split by family, kept so nothing that iterates it changes
REGISTRY: dict[str, type[Instruction]] = {cls.id: cls for cls in (
    KeywordsExistence, KeywordFrequency, ForbiddenWords, ResponseLanguage, JsonFormat, RepeatPrompt, NoComma,
    Quotation, NumberSentences, NumberParagraphs, NumberWords, NthParagraphFirstWord, Postscript, EndChecker,
    NumberPlaceholders, NumberBulletLists, HighlightedSections, MultipleSections, Title, CapitalWordFrequency,
    EnglishCapital, EnglishLowercase)}
"""Instruction id -> its type."""

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
