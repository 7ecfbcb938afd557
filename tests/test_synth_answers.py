"""Reading a model's answer text: every shape real models send, each failure reason, and the
guarantee that any text gives an Answer or Unparsed, in time linear in its length."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from rageval.synthesis.answers import REASONS, Answer, Unparsed, parse_answer

PLAIN = '{"question": "What is the revenue?", "references": ["Revenue was $5M.", "It grew 10%."]}'
EXPECTED = Answer("What is the revenue?", ("Revenue was $5M.", "It grew 10%."))


def reason(text: str, **options) -> str:
    with pytest.raises(Unparsed) as caught:
        parse_answer(text, **options)
    assert caught.value.reason in REASONS
    return caught.value.reason


# ---- each shape alone -------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    PLAIN,
    "<think>The user wants {a question}; maybe [this]?</think>\n" + PLAIN,
    "<THINK>\nhmm\n</Think>" + PLAIN,
    "<thinking>long reasoning</thinking>\n\n" + PLAIN,
    # the chat template opened the block: all before the close is reasoning, drafts included
    'Okay, a draft: {"question": "Draft?", "references": ["x"]}. Better:\n</think>\n\n' + PLAIN,
    "```json\n" + PLAIN + "\n```",
    "```\n" + PLAIN + "\n```",
    "Here is the question: " + PLAIN + " Hope it helps!",
    "Here's one {as asked}:\n" + PLAIN + "\nLet me know if you'd like [more].",
    PLAIN.replace("question", "Question").replace("references", "References"),
    PLAIN.replace('"question"', '" QUESTION "'),
], ids=["plain", "think", "think-case", "thinking", "close-tag-only", "fence-json", "fence-bare", "prose",
        "prose-with-braces", "key-case", "key-spaces"])
def test_shapes_alone(text):
    assert parse_answer(text) == EXPECTED


def test_python_literal_with_extra_field_as_in_the_published_prompt():
    text = ("{'oath': 'I will not use and', 'question': 'What is the revenue?', "
            "'references': ['Revenue was $5M.', 'It grew 10%.']}")
    assert parse_answer(text) == EXPECTED


def test_python_literal_with_an_apostrophe_inside_a_single_quoted_string():
    # invalid as Python and as JSON; the string spans are re-quoted
    text = "{'question': 'What is the company's revenue?', 'references': ['The company's revenue was $5M.']}"
    assert parse_answer(text) == Answer("What is the company's revenue?", ("The company's revenue was $5M.",))


def test_python_literal_mixing_quote_styles_and_escapes():
    text = """{'question': "What's new?", 'references': ['It\\'s "new".', "Tab\\there"]}"""
    assert parse_answer(text) == Answer("What's new?", ("It's \"new\".", "Tab\there"))


def test_list_of_answers():
    assert parse_answer("[" + PLAIN + "]") == EXPECTED
    three = parse_answer(f"[{PLAIN}, {{\"question\": \"Other?\", \"references\": [\"x\"]}}, {{}}]")
    assert three == Answer(EXPECTED.question, EXPECTED.references, extra_answers=2)


def test_references_as_objects_strings_and_a_single_string():
    objects = ('{"question": "Q?", "references": [{"content": "first", "start_index": 3, "end_index": 8},'
               ' {"Content": "second"}, "third"]}')
    assert parse_answer(objects) == Answer("Q?", ("first", "second", "third"))
    assert parse_answer('{"question": "Q?", "references": "only one"}') == Answer("Q?", ("only one",))
    assert parse_answer('{"question": "Q?", "references": {"content": "one object"}}') == Answer("Q?", ("one object",))


def test_references_are_kept_as_written_and_the_question_stripped():
    answer = parse_answer('{"question": "  Why?\\n", "references": ["  padded  ", "a\\n b"]}')
    assert answer == Answer("Why?", ("  padded  ", "a\n b"))


def test_braces_brackets_and_quotes_inside_strings_do_not_confuse_the_scan():
    text = ('Sure {\n'   # a stray, never-closed brace in the prose before the answer
            '{"question": "What does {x} mean in f\\"{y}]\\"?", '
            '"references": ["a } b", "c ] { [", "it\'s \'quoted\'"]}')
    assert parse_answer(text) == Answer('What does {x} mean in f"{y}]"?', ("a } b", "c ] { [", "it's 'quoted'"))


def test_escapes_unicode_and_newlines_come_through_exactly():
    text = ('{"question": "Caf\\u00e9 \\ud83d\\ude00 \\"quoted\\" back\\\\slash?", '
            '"references": ["line one\\nline two\\ttab", "raw\nnewline and \u00e9\u4e2d\u6587", "slash \\/"]}')
    assert parse_answer(text) == Answer('Café 😀 "quoted" back\\slash?',
                                        ("line one\nline two\ttab", "raw\nnewline and é中文", "slash /"))


def test_all_shapes_combined():
    text = ("<think>I should pick {one} topic and not use 'and'.</think>\n"
            "Here you go:\n```json\n"
            "[{'oath': 'I will not use and', 'Question': 'What did the firm's board approve?', "
            "'References': [{'content': 'The board approved the merger.', 'start_index': 10}, "
            "{'content': 'It closed in May.'}]}]\n```\nDone.")
    assert parse_answer(text) == Answer("What did the firm's board approve?",
                                        ("The board approved the merger.", "It closed in May."))


def test_decoys_before_the_answer():
    code = "int f() { return 0; } " * 500 + '{"note": "not it"} [{"x": 1}] '
    assert parse_answer(code + PLAIN) == EXPECTED


def test_a_valid_answer_after_one_with_unusable_references():
    assert parse_answer('{"question": "A?", "references": []}\n' + PLAIN) == EXPECTED


def test_the_first_usable_answer_wins():
    second = '{"question": "Second?", "references": ["b"]}'
    assert parse_answer(PLAIN + "\n" + second) == EXPECTED


# ---- references kept and cut --------------------------------------------------------------------

def test_more_references_than_the_maximum_keeps_the_first():
    refs = [f"r{i}" for i in range(7)]
    text = json.dumps({"question": "Q?", "references": refs})
    assert parse_answer(text) == Answer("Q?", tuple(refs[:5]), references_cut=2)
    assert parse_answer(text, max_references=2) == Answer("Q?", ("r0", "r1"), references_cut=5)
    with pytest.raises(ValueError):
        parse_answer(text, max_references=0)


def test_empty_and_non_string_references_are_dropped_and_counted():
    text = '{"question": "Q?", "references": ["", "keep", 3, null, "  ", {"text": "x"}, ["nested"], "also"]}'
    assert parse_answer(text) == Answer("Q?", ("keep", "also"), references_cut=6)
    # dropped ones and the ones beyond the maximum are both counted
    assert parse_answer(text, max_references=1) == Answer("Q?", ("keep",), references_cut=7)


# ---- each failure reason ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   \n\t", "<think>all reasoning, then nothing</think>\n  "])
def test_empty(text):
    assert reason(text) == "empty"
    with pytest.raises(Unparsed, match="^empty"):   # the reason also starts the message
        parse_answer(text)


def test_none_is_empty():
    assert reason(None) == "empty"


@pytest.mark.parametrize("text", [
    "I cannot find a good question in this text.",
    "See [1] and [2] for details.",
    "{question: What?, references: [x]}",                 # not JSON, not a Python literal
    "int main() { return 0; }",
    '{"question" "What?" "references" ["x"]}',
])
def test_no_json(text):
    assert reason(text) == "no_json"


@pytest.mark.parametrize("text", [
    '{"question": "What is the revenue?", "references": ["Revenue was',      # cut inside a string
    '{"question": "What is the revenue?", "references": ["Revenue was $5M."',
    '```json\n{"question": "What is the revenue?", "refer',
    "[{'question': 'What?', 'references': ['a'",
    "<think>Let me think about the document. It says {a: 1}",                # reasoning never ended
    "Here it is. <think>still thinking " + PLAIN,                             # the answer is inside the block
    '{"reasoning": "done"}\n{"question": "What',                             # truncated beats no_question
])
def test_truncated(text):
    assert reason(text) == "truncated"


@pytest.mark.parametrize("text", ['["Revenue was $5M.", "It grew."]', "```json\n[1, 2]\n```", "[{1, 2}]",
                                  "{'a', 'b'}"])
def test_not_an_object(text):
    assert reason(text) == "not_an_object"


@pytest.mark.parametrize("text", [
    '{"query": "What?", "references": ["x"]}',
    '{"question": "", "references": ["x"]}',
    '{"question": "   ", "references": ["x"]}',
    '{"question": 42, "references": ["x"]}',
    '{"question": ["What?"], "references": ["x"]}',
    '[{"answer": "x"}, ' + PLAIN + "]",        # a list: only the first answer counts
])
def test_no_question(text):
    assert reason(text) == "no_question"


@pytest.mark.parametrize("text", [
    '{"question": "Q?"}',
    '{"question": "Q?", "references": []}',
    '{"question": "Q?", "references": ""}',
    '{"question": "Q?", "references": ["", "  \\n"]}',
    '{"question": "Q?", "references": null}',
])
def test_no_references(text):
    assert reason(text) == "no_references"


@pytest.mark.parametrize("text", [
    '{"question": "Q?", "references": 5}',
    '{"question": "Q?", "references": true}',
    '{"question": "Q?", "references": [1, 2]}',
    '{"question": "Q?", "references": [{"text": "x"}, {"content": 3}]}',
    '{"question": "Q?", "references": [["nested"], ""]}',
])
def test_bad_references(text):
    assert reason(text) == "bad_references"


def test_a_question_with_bad_references_is_reported_over_a_later_object_without_one():
    assert reason('{"question": "Q?", "references": 5} {"note": "x"}') == "bad_references"


def test_unparsed_is_a_value_error_with_a_known_reason():
    with pytest.raises(ValueError):
        Unparsed("no_such_reason")
    assert issubclass(Unparsed, ValueError)


# ---- properties: round trips and never anything but Unparsed ------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<"), min_size=1, max_size=40)
_USABLE = _TEXT.filter(lambda s: s.strip())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=_USABLE, references=st.lists(_USABLE, min_size=1, max_size=5),
       style=st.sampled_from(["json", "json-ascii", "python"]), prose=st.booleans())
def test_round_trip_of_any_strings(question, references, style, prose):
    """Whatever the strings hold (quotes, braces, backslashes, unicode, newlines), a well-formed
    answer gives them back exactly, in JSON or as a Python literal, with or without prose around
    (control characters in a question: see the next test)."""
    assume(all(c.isspace() or not (c < "\x20" or "\x7f" <= c <= "\x9f") for c in question))
    value = {"question": question, "references": references}
    text = {"json": json.dumps(value, ensure_ascii=False), "json-ascii": json.dumps(value),
            "python": repr(value)}[style]
    if prose:
        text = f"<think>\nreasoning\n</think>\nHere is my answer:\n```json\n{text}\n```\nThat is all."
    assert parse_answer(text) == Answer(question.strip(), tuple(references))


def test_a_question_loses_control_characters_and_lone_surrogates_become_replacement_characters():
    """A question is written to questions.csv: NUL and other control characters that are not whitespace
    are left out (some CSV readers stop at a NUL), an escaped lone surrogate (no UTF-8 file holds one)
    is U+FFFD; a question of nothing else is no question. References keep their characters (they must
    match the document), but a lone surrogate in them is U+FFFD too."""
    text = '{"question": " Wh\\u0000at\\u0007 \\ud800is\\tit?\\u0085\\u009b ", "references": ["a\\udfffb\\u0000"]}'
    assert parse_answer(text) == Answer("What \ufffdis\tit?", ("a\ufffdb\x00",))
    assert parse_answer("{'question': 'a\\x00b', 'references': ['c']}") == Answer("ab", ("c",))
    assert parse_answer('{"question": "\\ud83d\\ude00?", "references": ["c"]}').question == "\U0001F600?"
    with pytest.raises(Unparsed) as failure:
        parse_answer('{"question": "\\u0000\\u0001 ", "references": ["c"]}')
    assert failure.value.reason == "no_question"


@pytest.mark.parametrize("quoted", ["Wrap reasoning in <think> tags.", "Use <think>...</think> blocks.",
                                    "The closing tag </Thinking> ends it."])
@pytest.mark.parametrize("before", ["", "<think>\nThe excerpt is about tags.\n</think>\n\n",
                                    "The excerpt is about tags.\n</think>\n"])
def test_reasoning_tags_that_the_answer_quotes_are_text(quoted, before):
    """A document about reasoning models quotes their tags: a reference (or question) that holds one is
    copied whole, whether the model reasoned first or not."""
    answer = json.dumps({"question": "How is <think> used?", "references": [quoted]})
    assert parse_answer(before + answer) == Answer("How is <think> used?", (quoted,))


_PIECES = st.sampled_from(list("{}[]\"':,\\` \n\t") + ["<think>", "</think>", "<thinking>", '"question"',
                                                      "'references'", '"content"', "```json", "null", "True",
                                                      "\\u00e9", "\\ud800", "\x00", "1e999", "9" * 5000, "é"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_PIECES, max_size=60).map("".join), st.text(max_size=200),
                 st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace"))))
def test_any_text_gives_an_answer_or_unparsed(text):
    try:
        answer = parse_answer(text)
    except Unparsed as failure:
        assert failure.reason in REASONS
    else:
        assert answer.question == answer.question.strip() and answer.question
        assert 1 <= len(answer.references) <= 5 and all(r.strip() for r in answer.references)


# ---- size: no quadratic blow-up, no RecursionError ----------------------------------------------

_N = 200_000
_GOOD = '{"question": "q", "references": ["r"]}'


@pytest.mark.parametrize("text, expected", [
    ("{" * _N, "truncated"),
    ("[{" * (_N // 2), "truncated"),
    ("{" * (_N // 2) + "}" * (_N // 2), "no_json"),
    ('{"a":' * (_N // 5) + "1" + "}" * (_N // 5), "no_json"),                # valid but too deep to parse
    ('{"a":' * 30_000 + "1" + "}" * 30_000 + _GOOD, None),                   # ... and an answer after it
    ("{''}" * (_N // 4) + _GOOD, None),                                      # 50,000 decoys that parse
    ("{x} " * (_N // 4) + _GOOD, None),
    ("{'a': 'it's', 'b': " * (_N // 20) + "x" + "}" * (_N // 20), "no_json"),
    ('{"a": "' + "\\" * _N, "truncated"),
    ("<think>" * (_N // 7), "truncated"),
    ("</think>" * (_N // 8), "empty"),
    ("[" + "it's " * (_N // 5), "no_json"),
    (" " * _N + "x [1]", "no_json"),
    ("<" + " " * _N + "x", "no_json"),
    ("< / " + " " * _N + "x", "no_json"),
    ('{"question": "q", "references": ["' + "a" * _N + '"]}', None),
], ids=lambda value: str(value)[:12] if isinstance(value, str) else str(value))
def test_large_adversarial_answers_are_fast(text, expected):
    began = time.perf_counter()
    if expected is None:
        assert parse_answer(text).question == "q"
    else:
        assert reason(text) == expected
    assert time.perf_counter() - began < 5.0   # linear: well under a second here; quadratic: minutes
