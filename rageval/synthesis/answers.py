"""A model's answer text read as a question and its references, whatever shape the model chose.

Real models wrap the answer in reasoning (``<think>...</think>``, also a closing tag alone when the
chat template opened the block; a tag inside the answer's own strings is text), Markdown fences or
prose, write Python literals (single quotes, an extra field), a list of answers, or references as
objects with ``content``. The answer is found by scanning for balanced braces and brackets while
respecting string quoting, then parsed as JSON, else as a Python literal (``ast.literal_eval``,
never ``eval``), else after re-quoting its strings (a single-quoted string holding an apostrophe).
Any text either gives an :class:`Answer` or raises :class:`Unparsed` with a short reason; nothing
else is raised, and the work is linear in the text's length (at most two scanning passes; only
pairs nested at most three deep that hold a string are parsed).
"""
from __future__ import annotations

import ast
import json
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from rageval.plugins import valid_text

REASONS = ("empty", "no_json", "truncated", "not_an_object", "no_question", "no_references", "bad_references")

_MAX_DEPTH = 3       # pairs nested deeper than this are never tried: keeps the work linear
_THINK_TAG = re.compile(r"<\s*(/\s*)?think(?:ing)?\s*>", re.IGNORECASE)   # no two \s* side by side
_OPENER = re.compile(r"[{\[]")
_INSIDE = re.compile(r"""[{}\[\]"']""")
_STRING_STOP = {'"': re.compile(r'[\\"]'), "'": re.compile(r"[\\']")}
_CLOSER = {"{": "}", "[": "]"}
_BEFORE_STRING = "{[,:"     # a quote opens a string only after one of these (else: an apostrophe)
_AFTER_STRING = ",:}]"      # ... and closes it only before one of these (or the end of the text)
_FENCE_OPEN = re.compile(r"(?:```[\w+-]*)?")
_ESCAPE_OR_QUOTE = re.compile(r'\\(.)|"', re.DOTALL)
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)
# which failure of several candidates is reported: a question with unusable references first
# (then a cut-off answer), an object without a question before a value that is no object
_RANK = {"no_references": 0, "bad_references": 0, "no_question": 1, "not_an_object": 2}


@dataclass(frozen=True)
class Answer:
    """One parsed answer: the question and the references as the model wrote them (not yet located)."""

    question: str                  # stripped, non-empty; control characters (NUL...) removed, lone surrogates U+FFFD
    references: tuple[str, ...]    # non-empty strings, the model's order, at most max_references (surrogates too)
    extra_answers: int = 0         # further answers in a list that were ignored (the first is used)
    references_cut: int = 0        # references dropped: empty, not a string, or beyond max_references


class Unparsed(ValueError):
    """An answer that could not be read; ``reason`` is a short stable code (one of REASONS)."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def parse_answer(text: str | None, max_references: int = 5) -> Answer:
    """The first answer in ``text`` that has a question and at least one usable reference.

    Keeps the first ``max_references`` references (the count dropped is ``references_cut``);
    raises :class:`Unparsed` when none can be read, with the most telling reason: a question with
    unusable references, then a cut-off answer (``truncated``), then an object without a question,
    a value that is not an object, and ``no_json`` last.

    A reasoning tag that the answer quotes (an excerpt of a document about ``<think>`` tags) opens
    no reasoning block: when the text read with its tags kept gives a first answer whose question or
    a reference holds a tag, that answer is the one."""
    if max_references < 1:
        raise ValueError(f"max_references must be at least 1, got {max_references}")
    text = text or ""
    body, unclosed_think = _without_thinking(text)
    if (body != text or unclosed_think) and (quoting := _quoting_tags(text, max_references)) is not None:
        return quoting
    if not body.strip():
        raise Unparsed("truncated" if unclosed_think else "empty",
                       "the answer ends inside its reasoning block" if unclosed_think else "")
    pairs, strings = _scan(body)
    failures: list[Unparsed] = []
    for value in _parsed_candidates(body, pairs, strings):
        try:
            return _answer(value, max_references)
        except Unparsed as failure:
            failures.append(failure)
    ranked = sorted(failures, key=lambda failure: _RANK[failure.reason])   # stable: the first of a rank
    if ranked and _RANK[ranked[0].reason] == 0:
        raise ranked[0]
    if unclosed_think or any(end == -1 and _answer_like(body, start) for start, end, _ in pairs):
        raise Unparsed("truncated", "the answer ends inside its reasoning block" if unclosed_think
                       else "an object is cut off before its end")
    if ranked:
        raise ranked[0]
    if _only_value(body, pairs, strings):
        raise Unparsed("not_an_object", "the answer is a JSON value that is not an object")
    raise Unparsed("no_json", "no JSON object or Python dict literal found")


def _quoting_tags(text: str, max_references: int) -> Answer | None:
    """The first answer of ``text`` read with its reasoning tags kept, if it quotes a tag; else None."""
    pairs, strings = _scan(text)
    for value in _parsed_candidates(text, pairs, strings):
        try:
            answer = _answer(value, max_references)
        except Unparsed:
            continue
        return answer if any(_THINK_TAG.search(part) for part in (answer.question, *answer.references)) else None
    return None


def _without_thinking(text: str) -> tuple[str, bool]:
    """The text outside reasoning blocks, and whether the last block never closed."""
    kept: list[str] = []
    pos, inside = 0, False
    for tag in _THINK_TAG.finditer(text):
        closing = bool(tag.group(1))
        if inside:
            if closing:
                inside, pos = False, tag.end()
        elif closing:      # a close with no open: the template opened the block, all before is reasoning
            kept, pos = [], tag.end()
        else:
            kept.append(text[pos:tag.start()])
            inside = True
    if not inside:
        kept.append(text[pos:])
    return "".join(kept), inside


def _scan(text: str) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Every balanced ``{...}`` / ``[...]`` as [start, end, depth] in order of their openers (end -1:
    never closed; depth 0: not inside another), and every string's [start, end) quotes included,
    in one pass."""
    pairs: list[list[int]] = []
    strings: list[tuple[int, int]] = []
    stack: list[list[int]] = []
    pos, n = 0, len(text)
    while pos < n:
        found = (_INSIDE if stack else _OPENER).search(text, pos)
        if found is None:
            break
        at, char = found.start(), found.group()
        pos = at + 1
        if char in _CLOSER:
            pair = [at, -1, len(stack)]
            pairs.append(pair)
            stack.append(pair)
        elif char in "}]":
            if _CLOSER[text[stack[-1][0]]] == char:   # a mismatched closer is left to the parser
                stack.pop()[1] = pos
        elif _previous_nonspace(text, at) in _BEFORE_STRING:
            end = _string_end(text, pos, char)
            if end == -1:
                break
            strings.append((at, end))
            pos = end
    return pairs, strings


def _previous_nonspace(text: str, at: int) -> str:
    at -= 1
    while at >= 0 and text[at].isspace():
        at -= 1
    return text[at] if at >= 0 else "\0"


def _next_nonspace(text: str, at: int) -> str:
    while at < len(text) and text[at].isspace():
        at += 1
    return text[at] if at < len(text) else ""


def _string_end(text: str, pos: int, quote: str) -> int:
    """Just past the quote that closes a string opened before ``pos`` (-1: it never closes)."""
    stop = _STRING_STOP[quote]
    while (found := stop.search(text, pos)) is not None:
        at = found.start()
        if text[at] == "\\":
            pos = at + 2
            continue
        pos = at + 1
        following = _next_nonspace(text, pos)
        if not following or following in _AFTER_STRING:
            return pos
    return -1


def _only_value(text: str, pairs: list[list[int]], strings: list[tuple[int, int]]) -> bool:
    """Whether the whole text (but for a Markdown fence) is one list that parses."""
    if not pairs or pairs[0][1] == -1:
        return False
    start, end, _ = pairs[0]
    return (_FENCE_OPEN.fullmatch(text[:start].strip()) is not None and text[end:].strip() in ("", "```")
            and _load(text, start, end, strings) is not _FAILED)


def _answer_like(text: str, start: int) -> bool:
    """An object, or a list whose first item is an object."""
    return text[start] == "{" or _next_nonspace(text, start + 1) == "{"


_FAILED = object()


def _parsed_candidates(text: str, pairs: list[list[int]], strings: list[tuple[int, int]]):
    """The values of the closed answer-like pairs that hold a string and parse, outer before inner,
    at most _MAX_DEPTH deep; the inside of a pair that parsed is not tried again."""
    parsed_until = -1
    for start, end, depth in pairs:
        if end == -1 or depth > _MAX_DEPTH or start < parsed_until or not _answer_like(text, start):
            continue
        first = bisect_left(strings, (start,))
        if first == len(strings) or strings[first][0] >= end:
            continue
        value = _load(text, start, end, strings)
        if value is not _FAILED:
            parsed_until = end
            yield value


def _load(text: str, start: int, end: int, strings: list[tuple[int, int]]) -> Any:
    """``text[start:end]`` as JSON, else a Python literal, else either after re-quoting its strings."""
    source = text[start:end]
    tries = [source]
    first, last = bisect_left(strings, (start,)), bisect_left(strings, (end,))
    if first < last:
        tries.append(_requoted(text, start, end, strings[first:last]))
    for attempt in tries:
        try:
            return json.loads(attempt, strict=False)
        except (ValueError, RecursionError):
            pass
        try:
            return ast.literal_eval(attempt)
        except _LITERAL_ERRORS:
            pass
    return _FAILED


def _requoted(text: str, start: int, end: int, strings: list[tuple[int, int]]) -> str:
    """The pair's text with every string rewritten as a double-quoted JSON string: an unescaped
    double quote inside is escaped, ``\\'`` becomes ``'``, other escapes are kept."""
    out, pos = [], start
    for first, last in strings:
        body = _ESCAPE_OR_QUOTE.sub(_json_escape, text[first + 1:last - 1])
        out.extend((text[pos:first], '"', body, '"'))
        pos = last
    out.append(text[pos:end])
    return "".join(out)


def _json_escape(found: re.Match[str]) -> str:
    escaped = found.group(1)
    if escaped is None:
        return '\\"'
    return "'" if escaped == "'" else found.group()


def _fields(value: dict[Any, Any]) -> dict[str, Any]:
    """Keys stripped and lower-cased (the first of two that collide wins)."""
    fields: dict[str, Any] = {}
    for key, item in value.items():
        fields.setdefault(str(key).strip().lower(), item)
    return fields


def _answer(value: Any, max_references: int) -> Answer:
    extra = 0
    if isinstance(value, (list, tuple)):
        if not value or not isinstance(value[0], dict):
            raise Unparsed("not_an_object", "a list whose first item is not an object")
        value, extra = value[0], len(value) - 1
    if not isinstance(value, dict):
        raise Unparsed("not_an_object", f"a {type(value).__name__}, not an object")
    fields = _fields(value)
    question = fields.get("question")
    if isinstance(question, str):
        question = clean_question(question)
    if not isinstance(question, str) or not question:
        raise Unparsed("no_question", "no non-empty 'question' string")
    references, cut = _references(fields.get("references"), max_references)
    return Answer(question, references, extra, cut)



def clean_question(text: str) -> str:
    """A question as written to questions.csv: stripped, control characters that are not whitespace
    (NUL, ...: some CSV readers stop at them) left out, lone surrogates as U+FFFD."""
    return "".join(c for c in valid_text(text) if c.isspace() or unicodedata.category(c) != "Cc").strip()


def _references(value: Any, limit: int) -> tuple[tuple[str, ...], int]:
    """The usable references (strings, or objects' ``content``) and how many were dropped."""
    if value is None:
        raise Unparsed("no_references", "no 'references' field")
    if isinstance(value, (str, dict)):
        value = [value]
    elif not isinstance(value, (list, tuple)):
        raise Unparsed("bad_references", f"'references' is a {type(value).__name__}")
    kept: list[str] = []
    bad = 0
    for item in value:
        if isinstance(item, dict):
            item = _fields(item).get("content")
        if not isinstance(item, str):
            bad += 1
        elif item.strip():
            kept.append(valid_text(item))
    if not kept:
        raise Unparsed("bad_references" if bad else "no_references",
                       "no reference is a string or an object with a string 'content'" if bad
                       else "every reference is empty")
    return tuple(kept[:limit]), len(value) - min(len(kept), limit)
