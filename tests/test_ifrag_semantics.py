"""The two instruction semantics side by side: for each of the 22 types, hand-written responses at
the edges where IFEval's reference checkers (``ifeval``, as FollowRAG runs them) and rageval's
stricter verifiers (``rageval``) agree or differ. Each ifeval verdict follows from the reference
code's rule noted beside it (Punkt and langdetect verdicts are NLTK's and langdetect's own)."""
from __future__ import annotations

import pytest

from rageval.ifrag.instructions import REGISTRY
from rageval.ifrag.items import make_instruction

GERMAN = "Die Hauptstadt von Frankreich ist Paris. Sie liegt an der Seine und hat viele Museen."
FRENCH = "La capitale de la France est Paris. Elle se trouve sur la Seine et possède de nombreux musées."

# (type, kwargs, response, ifeval verdict, rageval verdict) -- strict mode
TABLE = [
    # end phrase: the reference strips surrounding " before testing the ending
    ("startend:end_checker", {"end_phrase": "Thank you for your time."},
     '"The answer is Paris. Thank you for your time."', True, True),
    ("startend:end_checker", {"end_phrase": "Thank you for your time."}, "Paris. Thank you for your time.\n", True, True),
    ("startend:end_checker", {"end_phrase": "Thank you for your time."}, "Paris. “Thank you for your time.”", False, True),
    ("startend:end_checker", {"end_phrase": "Thank you for your time."}, "Thank you for your time. Paris.", False, False),
    # only quotation marks are stripped around the end
    ("startend:end_checker", {"end_phrase": "Hope this helps."}, "Paris. Hope this helps.X", False, False),
    ("startend:end_checker", {"end_phrase": "Hope this helps."}, "Paris. Hope this helps. X", False, False),
    # sections: re.split on an unescaped, case-sensitive splitter anywhere in the text
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     '"Section 1\nA\nSection 2\nB"', True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     '{"Section 1": "A", "Section 2": "B"}', True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "SECTION 1\nA\nSECTION 2\nB", False, True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "MySection 1 and MySection 2", True, False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nA\nSection 2\nB\nSection 3\nC", True, True),  # at least n
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1\nA", False, False),
    # sentences: NLTK Punkt (English) for the reference
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"},
     "The answer is no. It is clear.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "I waited... then he came.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "Dr. Smith arrived at noon.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "Dr. Smith arrived. He sat.", False, False),
    # JSON: the reference removes ```json, ```Json or ```JSON, then ```
    ("detectable_format:json_format", {}, '```Json\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, '```jSon\n{"a": 1}\n```', False, True),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, '```JSON\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, '```\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, '  {"a": [1, 2]}  ', True, True),
    ("detectable_format:json_format", {}, 'Here: {"a": 1}', False, False),
    # postscript: a lower-cased pattern found anywhere (the marker unescaped unless P.S. / P.P.S)
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, '{"answer": "Paris", "note": "P.S. bye"}', True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Paris.\n**P.S.** bye", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "See the CP.S. item", True, False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Paris. ps. no", False, False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Answer\nP.P.S later", True, True),
    # the two markers IFEval knows allow a space after each dot; any other marker is a plain pattern
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Answer\nP. P. S later", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Answer.\nP. S. note", True, True),
    # the pattern runs to the end of a line (re.MULTILINE), not only of the text
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Answer.\nP.S. bye\nSee you.", True, True),
    ("detectable_content:postscript", {"postscript_marker": "Note+"}, "Paris.\nNoteee: later", True, False),
    # keywords: case-insensitive regular expressions, also inside longer words
    ("keywords:existence", {"keywords": ["Paris"]}, "Parisian food", True, False),
    ("keywords:existence", {"keywords": ["Paris"]}, "PARIS", True, True),
    ("keywords:existence", {"keywords": ["a.b"]}, "axb", True, False),
    ("keywords:frequency", {"keyword": "tesla", "frequency": 2, "relation": "at least"}, "Teslas and teslacoil", True, False),
    ("keywords:frequency", {"keyword": "tesla", "frequency": 2, "relation": "less than"}, "Tesla met Tesla.", False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["war"]}, "The warrior rested.", True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["war"]}, "The WAR ended", False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["e.g"]}, "The edg is sharp.", False, True),
    # language: langdetect; text it cannot classify counts as followed
    ("language:response_language", {"language": "de"}, GERMAN, True, True),
    ("language:response_language", {"language": "de"}, "2018", True, False),
    ("language:response_language", {"language": "de"}, FRENCH, False, False),
    # *** paragraphs: empty ends dropped, an empty middle fails
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "A\n***\nB", True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nA\n***\nB\n***", True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "A\n***\n***\nB", False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "A\n***\nB\n***\nC", False, False),
    # words: runs of \w
    ("length_constraints:number_words", {"num_words": 3, "relation": "at least"}, "don't stop", True, True),
    ("length_constraints:number_words", {"num_words": 3, "relation": "at least"}, "two words", False, False),
    ("length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "two words", True, True),
    ("length_constraints:number_words", {"num_words": 2, "relation": "less than"}, "two words", False, False),
    # first word: paragraphs split at exactly \n\n; a leading blank paragraph keeps its place
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"},
     "\n\nParis is big.\n\nIt is old.", False, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"},
     '"Paris," she said.\n\nEnd.', True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"},
     "Paris\n\n\n\nEnd.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"},
     "**Paris** is big.\n\nEnd.", False, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "paris"},
     "Intro.\nParis.", False, False),
    # the last paragraph may be the nth; one leading ' and then one leading " are dropped, the word ends
    # at the first of . , ? ! ' "
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "paris"},
     "Intro.\n\nParis is big.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"},
     "'Paris' is big.\n\nEnd.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "xerox"},
     "Xerox copies.\n\nEnd.", True, True),
    # placeholders: \[.*?\], empty brackets included
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Empty [] and [ ]", True, False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "[a] and [b] and [c]", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Only [one]", False, False),
    # bullets: lines starting with * (not **) or - (anything after), exactly n
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b", True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "---\n* a", True, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "*a\n*b", True, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b\n* c", False, False),
    # highlights: *x* and **x** with non-blank content, at least n
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "**bold** and *it*", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* *b* *c*", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "** ** and * *", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "** **", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "Mark *X* here", True, True),
    # title: <<...>> on one line, non-blank
    ("detectable_format:title", {}, "<<A title>>\nText", True, True),
    ("detectable_format:title", {}, "<< >>", False, False),
    ("detectable_format:title", {}, "<<a <b> c>>", True, False),
    ("detectable_format:title", {}, "<<X>>", True, True),
    # capital words: NLTK word tokens for the reference (U.S. one token, hyphenated words one token)
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "NASA's U.S. plan", True, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 3, "capital_relation": "at least"}, "A-B TEST", False, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}, "U.S.", False, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"}, "NASA and ESA", False, False),
    # all capitals / all lower case in English: str.isupper / islower, then langdetect (undetectable passes)
    ("change_case:english_capital", {}, "THE ANSWER IS PARIS.", True, True),
    ("change_case:english_capital", {}, "PARIS", False, False),
    ("change_case:english_capital", {}, "The answer is Paris.", False, False),
    ("change_case:english_lowercase", {}, "the answer is paris.", True, True),
    ("change_case:english_lowercase", {}, "the answer is Paris.", False, False),
    ("change_case:english_lowercase", {}, FRENCH.lower(), False, False),
    # repeat the question: starts with it, case-insensitive
    ("combination:repeat_prompt", {"prompt_to_repeat": "Who won?"}, "  who won? Edison", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Who won?"}, '"Who won?" Edison', False, False),
    # commas: only the ASCII comma for the reference
    ("punctuation:no_comma", {}, "Full-width comma，here", True, False),
    ("punctuation:no_comma", {}, "a,b", False, False),
    # quotation: ASCII double quotes only for the reference
    ("startend:quotation", {}, "“Paris”", False, True),
    ("startend:quotation", {}, '  "Paris"  ', True, True),
    ("startend:quotation", {}, '"', False, False),
    ("startend:quotation", {}, '""', True, True),
    ("startend:quotation", {}, "“Paris", False, False),
]


def test_the_table_covers_every_type():
    assert {row[0] for row in TABLE} == set(REGISTRY)


@pytest.mark.parametrize("iid, kwargs, response, ifeval, rageval", TABLE)
def test_verdicts(iid, kwargs, response, ifeval, rageval):
    inst = make_instruction(iid, kwargs, "test")
    assert inst.follows(response, semantics="ifeval") is ifeval
    assert inst.follows(response, semantics="rageval") is rageval


@pytest.mark.parametrize("iid", sorted(REGISTRY))
def test_a_blank_response_follows_nothing(iid):
    kwargs = next(row[1] for row in TABLE if row[0] == iid)
    inst = make_instruction(iid, kwargs, "test")
    for semantics in ("ifeval", "rageval"):
        assert not inst.follows("  \n", semantics=semantics) and not inst.follows("", loose=True, semantics=semantics)


def test_ifeval_loose_variants():
    first_word = make_instruction("length_constraints:nth_paragraph_first_word",
                                  {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"}, "t")
    response = "\n\nParis is big.\n\nIt is old."
    # strict fails on the leading blank paragraph; loose drops the first line and strips the rest
    assert not first_word.follows(response) and first_word.follows(response, loose=True)
    end = make_instruction("startend:end_checker", {"end_phrase": "Thank you."}, "t")
    assert end.follows("Paris. Thank you.\nLet me know!", loose=True)
    assert not end.follows("Paris. Thank you.\nLet me know!")
    bold = make_instruction("length_constraints:nth_paragraph_first_word",
                            {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "paris"}, "t")
    assert not bold.follows("**Paris** is big.\n\nEnd.") and bold.follows("**Paris** is big.\n\nEnd.", loose=True)
    # IFEval strips each cut variant: dropping the first line leaves "\n\nParis...", whose blank first
    # paragraph would fail; stripped, it passes
    deep = "\n\n\nParis is big.\n\nIt is old."
    assert not first_word.follows(deep) and first_word.follows(deep, loose=True)
    # the variant without the last line keeps its line breaks: "a\n" has no capital word, "C D E" three
    capitals = make_instruction("change_case:capital_word_frequency",
                                {"capital_frequency": 1, "capital_relation": "less than"}, "t")
    assert not capitals.follows("a\n\nC D E") and capitals.follows("a\n\nC D E", loose=True)
    # ... and so does the variant without both ends: only "b\n" is free of capital words
    assert not capitals.follows("A\nb\n\nC") and capitals.follows("A\nb\n\nC", loose=True)
    # only the variant without the last line is quoted
    quote = make_instruction("startend:quotation", {}, "t")
    assert not quote.follows('"Paris\nmore"\nBye') and quote.follows('"Paris\nmore"\nBye', loose=True)


def test_the_registry_maps_each_id_to_its_class():
    assert all(isinstance(cls, type) and cls.id == iid for iid, cls in REGISTRY.items())


def test_descriptions_name_the_language_and_list_the_keywords():
    language = make_instruction("language:response_language", {"language": "de"}, "t")
    assert language.describe() == ("Your ENTIRE response should be in German language, "
                                   "no other language is allowed.")
    unnamed = make_instruction("language:response_language", {"language": "eo"}, "t")
    assert unnamed.describe().startswith("Your ENTIRE response should be in eo language")  # a code without a name
    keywords = make_instruction("keywords:existence", {"keywords": ["Paris", "river"]}, "t")
    assert keywords.describe() == "Include the keywords 'Paris', 'river' in the response."


def test_unknown_semantics():
    inst = make_instruction("punctuation:no_comma", {}, "t")
    with pytest.raises(ValueError, match="unknown semantics 'strict'; use one of: ifeval, rageval"):
        inst.follows("x", semantics="strict")
