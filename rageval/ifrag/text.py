"""Text measures shared by the instruction verifiers and the answer scorers."""
from __future__ import annotations

import functools
import re
import string
from collections import Counter

_WORD = re.compile(r"\w+")
_ABBREVIATIONS = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|[Ee]\.g|[Ii]\.e|cf|Fig|approx)\.|\bNo\.(?=\s*\d)"
                            r"|(?:\.\.\.|…)(?=\s+[a-z])")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+")
_DIVIDER = re.compile(r"\s*\*\*\*+\s*")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | {"“", "”", "‘", "’", "«", "»", "–", "—", "…"}


def words(text: str) -> list[str]:
    """Word tokens: maximal runs of letters, digits and underscores (any script)."""
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Sentences: text split after . ! ? (and their CJK forms) followed by space, not after
    common abbreviations (Mr., e.g., etc., No. before a number; case-sensitive) nor after an
    ellipsis followed by a lower-case word; pieces without a word are dropped."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\x00").replace("…", "\x01"), text)
    return [s.replace("\x00", ".").replace("\x01", "…").strip() for s in _SENTENCE_END.split(protected)
            if _WORD.search(s)]


def divided_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by the markdown divider ``***``; None when one between two dividers is empty."""
    parts = [p.strip() for p in _DIVIDER.split(text.strip())]
    while parts and not parts[0]:
        parts.pop(0)
    while parts and not parts[-1]:
        parts.pop()
    return None if any(not p for p in parts) else parts


def blank_line_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by one or more blank lines."""
    return [p.strip() for p in _BLANK_LINE.split(text.strip()) if p.strip()]


def contains_word(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` (case-insensitive), not inside a longer word."""
    return count_word(text, phrase) > 0


def count_word(text: str, phrase: str) -> int:
    """Occurrences of ``phrase`` in ``text`` (case-insensitive), not inside a longer word."""
    left = r"(?<!\w)" if phrase[:1].isalnum() or phrase[:1] == "_" else ""
    right = r"(?!\w)" if phrase[-1:].isalnum() or phrase[-1:] == "_" else ""
    return len(re.findall(left + re.escape(phrase) + right, text, re.IGNORECASE))


@functools.cache
def _identifier():
    import py3langid
    return py3langid


def language(text: str) -> str:
    """ISO 639-1 code of the text's language (py3langid, lower-cased input so capitals do not mislead it)."""
    return _identifier().classify(text.lower())[0]


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def token_f1(response: str, gold: str) -> float:
    pred, ref = answer_tokens(response), answer_tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_recall(response: str, gold: str) -> float:
    """Share of the gold answer's tokens (with repeats) found in the response."""
    ref = answer_tokens(gold)
    if not ref:
        return 0.0
    return sum((Counter(answer_tokens(response)) & Counter(ref)).values()) / len(ref)
