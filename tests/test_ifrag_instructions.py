"""Every instruction verifier (rageval semantics) against hand-written responses that follow it and
that do not; the reference (ifeval) semantics are pinned in test_ifrag_semantics.py."""
from __future__ import annotations

import pytest

from rageval.ifrag.instructions import CONFLICTS, REGISTRY
from rageval.ifrag.items import make_instruction

GERMAN = "Die Hauptstadt von Frankreich ist Paris. Sie liegt an der Seine und hat viele Museen."
FRENCH = "La capitale de la France est Paris. Elle se trouve sur la Seine et possède de nombreux musées."

# id: (kwargs, responses that follow the instruction (strict), responses that do not)
CASES = {
    "keywords:existence": ({"keywords": ["Paris", "river"]},
                           ["Paris lies on a river.", "PARIS is by the RIVER", "The river… Paris! ✓  \n"],
                           ["", "Paris is nice.", "Parisian rivers", "riverside Paris"]),
    "keywords:frequency": ({"keyword": "tesla", "frequency": 2, "relation": "at least"},
                           ["Tesla met Tesla.", "tesla, TESLA and Tesla", "*Tesla* was named after Tesla \n"],
                           ["", "Tesla once.", "Teslas and teslacoil", "Nikola only"]),
    "keywords:forbidden_words": ({"forbidden_words": ["war", "battle"]},
                                ["Peace was signed.", "The warrior rested.", "Battleships sailed. \n"],
                                ["", "The war ended.", "A BATTLE began", "**war** is bad"]),
    "language:response_language": ({"language": "de"},
                                   [GERMAN, GERMAN.upper(), f"**{GERMAN}**  \n"],
                                   ["", FRENCH, "The capital of France is Paris and it lies on the Seine.", "1234"]),
    "detectable_format:json_format": ({},
                                      ['{"answer": "Paris"}', '```json\n{"answer": "Paris"}\n```', '  [1, 2, "ü"]  \n'],
                                      ["", "answer: Paris", "```json\n{answer: Paris}\n```", "Here: {\"a\": 1}"]),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Who won the prize?"},
                                  ["Who won the prize? Nobody did.", "who won the prize? Edison.",
                                   "  Who won the prize?\nTesla"],
                                  ["", "Nobody. Who won the prize?", "Who won the award?", "Q: Who won the prize?"]),
    "punctuation:no_comma": ({},
                             ["No commas here.", "Just one sentence ✓", "Lists:\n* a\n* b  \n"],
                             ["", "Yes, it is.", "Full-width comma，here", "a,b"]),
    "startend:quotation": ({},
                           ['"Paris."', '  "Paris, France"  \n', "“Paris”"],
                           ["", '"', 'Paris"', '"Paris" is the answer']),
    "length_constraints:number_sentences": ({"num_sentences": 3, "relation": "less than"},
                                            ["One. Two.", "Dr. Smith arrived at 3.5 p.m. today.",
                                             "Is it? Yes!  \n"],
                                            ["", "One. Two. Three.", "A! B? C. D.", "Mr. A came. B left. C sang."]),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 2},
                                             ["First part.\n***\nSecond part.", "A\n\n***\n\nB  \n",
                                              "***\nA\n***\nB\n***"],
                                             ["", "Only one.", "A\n***\n***\nB", "A\n***\nB\n***\nC"]),
    "length_constraints:number_words": ({"num_words": 3, "relation": "at least"},
                                        ["one two three", "Élan vital über alles", "**bold** words here  \n"],
                                        ["", "two words", "1, 2", "   \n"]),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "tesla"},
        ["Intro.\n\nTesla won.", "Intro.\n\n**Tesla** won.\n", "Intro\n \nTESLA, then more."],
        ["", "Intro.\nTesla won.", "Intro.\n\nEdison won.", "A.\n\nTesla.\n\nC."]),
    "detectable_content:postscript": ({"postscript_marker": "P.S."},
                                      ["Answer.\n\nP.S. Thanks.", "Answer.\np.s. bye", "Answer.\n  P. S. note  \n"],
                                      ["", "Answer. PS thanks", "Answer.\nP.S no second dot",
                                       "Answer.\nP.P.S later"]),
    "startend:end_checker": ({"end_phrase": "Hope this helps."},
                             ["Paris. Hope this helps.", "Paris.\nhope this helps.  \n", "«Paris» Hope this helps."],
                             ["", "Hope this helps. Paris.", "Paris. Hope this helps", "Paris. Hope this helps!"]),
    "detectable_content:number_placeholders": ({"num_placeholders": 2},
                                               ["Meet at [place] on [date].", "[név] and [ünnep]",
                                                "[a] [b] [c]  \n"],
                                               ["", "Meet at [place].", "Empty [] and [ ]", "No brackets"]),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2},
                                              ["* one\n* two", "- one\n- two\nend  ", "Intro\n  * one\n  * two"],
                                              ["", "* one", "* one\n* two\n* three", "**bold**\n*italic*"]),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 2},
                                                      ["*one* and *two*", "**bold** and *it*",
                                                       "*ünï* then *cödé*  \n"],
                                                      ["", "*one* only", "** ** and * *", "no highlights"]),
    "detectable_format:multiple_sections": ({"section_spliter": "Section", "num_sections": 2},
                                            ["Section 1\nA\nSection 2\nB", "SECTION 1\nA\nsection 2\nB",
                                             "## Section 1\nA\n**Section 2**\nB  \n"],
                                            ["", "Section 1\nA", "Section A\nSection B", "Part 1\nPart 2"]),
    "detectable_format:title": ({},
                                ["<<Paris>>\nThe capital.", "Text <<título ü>> text", "  <<A title>>  \n"],
                                ["", "<<>>", "<Paris>", "<<\n>>"]),
    "change_case:capital_word_frequency": ({"capital_frequency": 2, "capital_relation": "at least"},
                                           ["NASA and ESA", "The USA, UK.", "**ÉTÉ** and ÜBER  \n"],
                                           ["", "Only NASA.", "lowercase words", "2020 1999"]),
    "change_case:english_capital": ({},
                                    ["THE CAPITAL OF FRANCE IS PARIS.", "PARIS IS THE ANSWER, 100%.",
                                     "**THE ANSWER IS PARIS.**  \n"],
                                    ["", "The capital of France is Paris.", GERMAN.upper().replace("Ü", "U") + "X",
                                     "THE CAPITAL OF FRANCE IS Paris."]),
    "change_case:english_lowercase": ({},
                                      ["the capital of france is paris.", "i am sure that the answer is paris, 100%.",
                                       "*the answer is paris*  \n"],
                                      ["", "The capital is paris.", FRENCH.lower(), "the capital is PARIS"]),
}


def test_every_instruction_type_is_covered():
    assert len(REGISTRY) == 22 and set(CASES) == set(REGISTRY)


@pytest.mark.parametrize("iid", sorted(CASES))
def test_verifier(iid):
    kwargs, passing, failing = CASES[iid]
    inst = make_instruction(iid, kwargs, "test")
    assert len(passing) >= 3 and len(failing) >= 3 and "" in failing
    for response in passing:
        assert inst.follows(response, semantics="rageval"), f"{iid} should accept {response!r}"
        assert inst.follows(response, loose=True, semantics="rageval"), f"{iid} (loose) should accept {response!r}"
    for response in failing:
        assert not inst.follows(response, semantics="rageval"), f"{iid} should reject {response!r}"
    assert inst.describe() and "{" not in inst.describe().replace("{\"", "")


def test_loose_mode_drops_first_and_last_lines_and_emphasis():
    end = make_instruction("startend:end_checker", {"end_phrase": "Hope this helps."}, "t")
    response = "Paris. Hope this helps.\nLet me know!"
    assert not end.follows(response) and end.follows(response, loose=True)
    quote = make_instruction("startend:quotation", {}, "t")
    framed = 'Sure, here it is:\n"Paris"\nDone.'
    assert not quote.follows(framed) and quote.follows(framed, loose=True)
    words = make_instruction("keywords:existence", {"keywords": ["Paris"]}, "t")
    assert words.follows("**Paris**") and words.follows("**Paris**", loose=True)
    comma = make_instruction("punctuation:no_comma", {}, "t")
    assert not comma.follows("Yes, sure.\nNo commas here") and comma.follows("Yes, sure.\nNo commas here", loose=True)
    assert not comma.follows("   ", loose=True)


def test_conflicts_are_symmetric_and_known():
    for iid, others in CONFLICTS.items():
        for other in others:
            assert other in REGISTRY and iid in CONFLICTS[other]
    assert "change_case:english_lowercase" in CONFLICTS["change_case:english_capital"]
    assert "detectable_format:number_bullet_lists" in CONFLICTS["detectable_format:json_format"]
