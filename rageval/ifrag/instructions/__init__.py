"""The 22 atomic, verifiable instructions of FollowRAG (the IFEval types it uses), one module per
IFEval family: ``keywords``, ``language``, ``length_constraints``, ``detectable_content``,
``detectable_format``, ``change_case``, ``combination``, ``punctuation`` and ``startend``.

Each instruction type has an ``id`` (IFEval's; FollowRAG's own names map to it in
``FOLLOWRAG_TO_IFEVAL``), a description template, a typed kwargs schema (``fields``), two
verifiers and a way to draw kwargs for a new test item (``base``). Relations are ``"less than"``
(count < n) and ``"at least"`` (count >= n). ``registry`` holds the types by id and which of them
may not be combined.

Two semantics: ``ifeval`` (``reference``) gives the verdicts of IFEval's reference checkers, as
FollowRAG runs them, quirks included (keywords as unescaped case-insensitive patterns matched
anywhere, Punkt sentences, NLTK word tokens, langdetect); ``rageval`` (``check``) is stricter:
words are runs of letters and digits, keywords never match inside a longer word, and the
README lists every difference. Loose mode (IFEval's) also accepts a response that passes with its
first line, its last line or both removed, each with markdown emphasis (``*``) stripped too.
"""
from rageval.ifrag.instructions.base import LANGUAGES, RELATIONS, SEMANTICS, Context, Instruction
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
from rageval.ifrag.instructions.registry import (CONFLICTS, FOLLOWRAG_TO_IFEVAL, IFEVAL_TO_FOLLOWRAG, REGISTRY,
                                                 compatible)
from rageval.ifrag.instructions.startend import END_PHRASES, EndChecker, Quotation

__all__ = [
    "CONFLICTS", "END_PHRASES", "FOLLOWRAG_TO_IFEVAL", "IFEVAL_TO_FOLLOWRAG", "LANGUAGES", "REGISTRY", "RELATIONS",
    "SEMANTICS", "Context", "Instruction", "compatible",
    # the 22 types, by family
    "KeywordsExistence", "KeywordFrequency", "ForbiddenWords", "ResponseLanguage", "NumberSentences",
    "NumberParagraphs", "NumberWords", "NthParagraphFirstWord", "Postscript", "NumberPlaceholders", "JsonFormat",
    "NumberBulletLists", "HighlightedSections", "MultipleSections", "Title", "CapitalWordFrequency",
    "EnglishCapital", "EnglishLowercase", "RepeatPrompt", "NoComma", "Quotation", "EndChecker",
]
