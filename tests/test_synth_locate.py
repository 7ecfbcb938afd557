"""Locating a model's reference inside the window it read (exact, whitespace, fuzzy) and merging spans."""
from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from rageval.synthesis.locate import Located, locate, merge

# "Alpha beta. " is 12 characters; the sentence (23) sits at [12, 35) and again at [49, 72).
DOC = "Alpha beta. The cat sat on the mat. Gamma delta. The cat sat on the mat. End."
CAT = "The cat sat on the mat."
# "the data\n  set is large." at [9, 33); "the dataset is large." at [40, 61).
WS = "Results: the data\n  set is large. Also: the dataset is large."


def test_the_fixtures_are_where_the_comments_say():
    assert DOC[12:35] == DOC[49:72] == CAT and len(DOC) == 77
    assert WS[9:33] == "the data\n  set is large." and WS[40:61] == "the dataset is large." and len(WS) == 61


# ---- exact, and only inside the window ----------------------------------------------------------

def test_exact_first_occurrence_in_the_window():
    assert locate(CAT, DOC, 0, len(DOC)) == Located(12, 35, "exact")


def test_before_the_window_and_inside_it_gives_the_one_inside():
    assert locate(CAT, DOC, 20, len(DOC)) == Located(49, 72, "exact")
    assert locate(CAT, DOC, 12, 72) == Located(12, 35, "exact")      # window edges are inclusive of it


def test_only_outside_the_window_is_none():
    assert locate("Alpha beta.", DOC, 40, len(DOC)) is None
    assert locate(CAT, DOC, 36, 71) is None                           # the second copy crosses the window end
    assert locate(CAT, DOC, 36, 71, fuzzy=99) is None


def test_surrounding_whitespace_is_ignored_and_blank_references_are_none():
    assert locate(f"  \n{CAT}\t ", DOC, 0, len(DOC)) == Located(12, 35, "exact")
    assert locate("", DOC, 0, len(DOC)) is None
    assert locate(" \n\u00a0", DOC, 0, len(DOC), fuzzy=0) is None


def test_bad_window_or_threshold_is_an_error():
    for start, end in [(-1, 5), (5, 4), (0, len(DOC) + 1)]:
        with pytest.raises(ValueError, match="window"):
            locate(CAT, DOC, start, end)
    with pytest.raises(ValueError, match="fuzzy"):
        locate(CAT, DOC, 0, len(DOC), fuzzy=101)


# ---- whitespace differences --------------------------------------------------------------------

def test_whitespace_runs_of_any_kind_are_equal():
    assert locate("the data set is large.", WS, 0, len(WS)) == Located(9, 33, "whitespace")
    assert locate("The\u00a0cat\n sat   on\tthe mat.", DOC, 20, len(DOC)) == Located(49, 72, "whitespace")


def test_whitespace_on_one_side_only_is_a_second_try():
    # the model wrote "dataset", the window has "data\n  set"
    assert locate("the dataset is large.", WS, 0, 35) == Located(9, 33, "whitespace")
    # the model wrote "data set", the window has "dataset"
    assert locate("the data  set is large.", WS, 34, len(WS)) == Located(40, 61, "whitespace")
    assert locate("Thecat saton the mat.", DOC, 0, len(DOC)) == Located(12, 35, "whitespace")


def test_equal_runs_win_over_an_earlier_match_that_needs_the_second_try():
    text = "the dataset is big; the data\tset is big"   # [0, 18) and [20, 39)
    assert locate("the data  set is big", text, 0, len(text)) == Located(20, 39, "whitespace")
    assert locate("the dataset is big", text, 0, len(text)) == Located(0, 18, "exact")


def test_a_reference_whose_words_differ_is_not_found_without_fuzzy():
    assert locate("A cat was sitting on the mat.", DOC, 0, len(DOC)) is None
    assert locate("The cat sat on teh mat.", DOC, 0, len(DOC)) is None


def test_whitespace_search_is_fast_on_adversarial_input():
    window = "a " * 2000                                     # 4,000 characters
    cases = ["a " * 999 + "b", "a\n" * 999 + "ab", "a" * 1999 + "b", ("a  " * 700)[:2000] + "b"]
    found = locate("a" * 2000, window, 0, len(window))     # the second try: the window joined without spaces
    assert found == Located(0, 3999, "whitespace")
    for reference in cases:
        began = time.perf_counter()
        assert locate(reference, window, 0, len(window)) is None
        assert time.perf_counter() - began < 0.5             # milliseconds here


# ---- fuzzy -------------------------------------------------------------------------------------

def test_fuzzy_finds_a_typo_only_when_the_score_passes():
    typo = "The cat sat on teh mat."     # Indel distance 2 over 23 + 23 characters: ratio 95.65
    assert locate(typo, DOC, 0, len(DOC), fuzzy=90) == Located(12, 35, "fuzzy")
    assert locate(typo, DOC, 0, len(DOC), fuzzy=95) == Located(12, 35, "fuzzy")
    assert locate(typo, DOC, 0, len(DOC), fuzzy=96) is None
    assert locate(typo, DOC, 20, len(DOC), fuzzy=90) == Located(49, 72, "fuzzy")
    assert locate(typo, DOC, 36, 48, fuzzy=90) is None      # only outside the window


def test_fuzzy_is_case_punctuation_and_whitespace_insensitive_like_the_published_scorer():
    assert locate("THE CAT SAT ON THE MAT!", DOC, 0, len(DOC), fuzzy=100) == Located(12, 35, "fuzzy")
    assert locate("The  cat\nsat on teh mat.", DOC, 0, len(DOC), fuzzy=90) == Located(12, 35, "fuzzy")


def test_fuzzy_takes_whole_words_when_they_match_as_well():
    assert locate("Xhe cat sat on the mat.", DOC, 0, len(DOC), fuzzy=90) == Located(12, 35, "fuzzy")


def test_a_paraphrase_passes_only_a_low_threshold():
    paraphrase = "A cat was sitting on the mat."
    assert locate(paraphrase, DOC, 0, len(DOC), fuzzy=98) is None
    assert locate(paraphrase, DOC, 0, len(DOC), fuzzy=60) is not None


def test_fuzzy_compares_the_whole_reference_not_a_part_of_it():
    # the window is all inside the longer reference: partial_ratio says 100, the whole comparison ~55
    reference = "The cat sat on the mat. Gamma delta. The cat sat on the mat."
    assert locate(reference, DOC, 12, 35, fuzzy=80) is None
    assert locate(reference, DOC, 0, len(DOC), fuzzy=80) == Located(12, 72, "exact")


# ---- properties --------------------------------------------------------------------------------

_SPACES = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", " \n ", "\u2003"])
_ALPHABET = st.sampled_from(list("ab.") + [" ", "\n", "\u00a0"])


@st.composite
def _windowed(draw):
    document = "".join(draw(st.lists(_ALPHABET, min_size=1, max_size=80)))
    start = draw(st.integers(0, len(document)))
    end = draw(st.integers(start, len(document)))
    return document, start, end


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_windowed(), st.data())
def test_a_window_substring_is_found_exactly_at_its_first_occurrence(case, data):
    document, start, end = case
    window = document[start:end]
    assume(window.strip())
    first = data.draw(st.integers(0, len(window) - 1))
    last = data.draw(st.integers(first + 1, len(window)))
    reference = window[first:last]
    assume(reference.strip())
    found = locate(reference, document, start, end)
    at = start + window.find(reference.strip())
    assert found == Located(at, at + len(reference.strip()), "exact")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_windowed(), st.text(st.sampled_from(list("ab.x") + [" ", "\n", "\u00a0"]), max_size=20),
       st.sampled_from([None, 0, 50, 90, 100]))
def test_whatever_is_found_lies_inside_the_window_and_is_trimmed(case, reference, fuzzy):
    document, start, end = case
    found = locate(reference, document, start, end, fuzzy)
    if found is not None:
        assert start <= found.start < found.end <= end
        text = document[found.start:found.end]
        assert text == text.strip()
        if found.how != "fuzzy":
            assert "".join(text.split()) == "".join(reference.split())
    if not reference.strip():
        assert found is None


def _oracle(reference: str, window: str) -> tuple[int, int] | None:
    """The stages as regular expressions, written independently: exact, then words with any
    whitespace run between them, then characters with optional whitespace between them."""
    target = reference.strip()
    if (at := window.find(target)) != -1:
        return at, at + len(target)
    for pattern in (r"\s+".join(map(re.escape, target.split())),
                    r"\s*".join(map(re.escape, "".join(target.split())))):
        if (found := re.search(pattern, window)) is not None:
            return found.span()
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_windowed(), st.data())
def test_whitespace_mangled_copies_are_found_at_the_right_place(case, data):
    document, start, end = case
    window = document[start:end]
    words = list(re.finditer(r"\S+", window))
    assume(words)
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    original = window[words[first].start():words[last].end()]
    mangled = ""
    for i, word in enumerate(w.group() for w in words[first:last + 1]):
        if i:
            mangled += data.draw(st.sampled_from(["", "", " "]) | _SPACES)   # dropped, kept or changed
        split = data.draw(st.integers(0, len(word)))
        mangled += word[:split] + data.draw(st.sampled_from(["", "", ""]) | _SPACES) + word[split:]
    found = locate(mangled, document, start, end)
    assert found is not None
    assert "".join(document[found.start:found.end].split()) == "".join(original.split())
    expected = _oracle(mangled, window)
    assert (found.start, found.end) == (start + expected[0], start + expected[1])


# ---- merge -------------------------------------------------------------------------------------

def test_merge_joins_overlaps_and_keeps_touching_spans_apart():
    assert merge([]) == []
    assert merge([(5, 9), (0, 3)]) == [(0, 3), (5, 9)]
    assert merge([(0, 5), (3, 8)]) == [(0, 8)]                    # overlap
    assert merge([(0, 10), (2, 4)]) == [(0, 10)]                  # nested
    assert merge([(0, 3), (3, 5)]) == [(0, 3), (3, 5)]            # touching: apart
    assert merge([(4, 6), (0, 5), (5, 9), (20, 21), (2, 2 + 1)]) == [(0, 9), (20, 21)]
    assert merge([(1, 2), (1, 2)]) == [(1, 2)]                    # duplicates
    assert merge(iter([(7, 8), (6, 7)])) == [(6, 7), (7, 8)]


@pytest.mark.parametrize("spans", [[(3, 3)], [(0, 5), (4, 4)], [(5, 2)]])
def test_merge_rejects_empty_spans(spans):
    with pytest.raises(ValueError, match="empty span"):
        merge(spans)


# ---- Unicode normalisation and invisible characters ----------------------------------------------
# A model copies what it reads: a document that writes "é" as "e" + U+0301 (NFD, as macOS file tools and
# some PDF extractors do) is copied as "é" (NFC); a zero-width space or a soft hyphen is not copied at all;
# a ligature "ﬁ" is copied as "fi". Such a copy is the same text, found at the document's own characters.

CAFE_NFD = "Menu. The cafe\u0301 serves cre\u0300me bru\u0302le\u0301e. End."   # the sentence at [6, 39)
CAFE_NFC = "The caf\u00e9 serves cr\u00e8me br\u00fbl\u00e9e."


def test_the_unicode_fixtures_are_where_the_comments_say():
    # 29 characters in NFC; 33 in NFD (four letters carry a combining accent)
    assert CAFE_NFD[6:39] == "The cafe\u0301 serves cre\u0300me bru\u0302le\u0301e." and len(CAFE_NFC) == 29


def test_a_copy_in_another_normal_form_is_found_at_the_documents_characters():
    assert locate(CAFE_NFC, CAFE_NFD, 0, len(CAFE_NFD)) == Located(6, 39, "unicode")
    nfc_doc = f"Menu. {CAFE_NFC} End."
    nfd_ref = "The cafe\u0301 serves cre\u0300me bru\u0302le\u0301e."
    assert locate(nfd_ref, nfc_doc, 0, len(nfc_doc)) == Located(6, 35, "unicode")
    # with whitespace differences too, and only inside the window
    assert locate("The  caf\u00e9\nserves", CAFE_NFD, 0, len(CAFE_NFD)) == Located(6, 22, "unicode")
    assert locate(CAFE_NFC, CAFE_NFD, 7, len(CAFE_NFD)) is None


def test_invisible_format_characters_and_ligatures_are_not_needed_in_the_copy():
    doc = "the ket\u200btle is \ufb01ne and so\u00adft\ufeff."
    # "the " 0-4, "ket<ZWSP>tle" 4-11, " is " 11-15, "ﬁne" 15-18, " and " 18-23, "so<SHY>ft" 23-28
    assert locate("kettle is fine", doc, 0, len(doc)) == Located(4, 18, "unicode")
    assert locate("soft", doc, 0, len(doc)) == Located(23, 28, "unicode")
    assert locate("kettle\n is   fine", doc, 0, len(doc)) == Located(4, 18, "unicode")


def test_a_match_never_cuts_a_character_from_its_combining_mark_or_a_ligature_apart():
    assert locate("cafe", "the caf\u00e9", 0, 8) is None                      # NFC: "é" is no "e"
    assert locate("cafe", "the cafe\u0301", 0, 9) is None                     # NFD: the accent belongs to the e
    assert locate("cafe", "the cafe\u0301 and the cafe", 0, 22) == Located(18, 22, "exact")
    assert locate("ine", "\ufb01ne", 0, 3) is None                            # half of the ligature "ﬁ"
    assert locate("caf e", "the caf e\u0301", 0, 10) is None                  # whitespace stage too


def test_typographic_quotes_and_dashes_copied_as_ascii_are_found():
    doc = "Intro. He said \u201cit\u2019s fine\u201d \u2013 then left. Outro."   # the sentence at [7, 39)
    assert locate("He said \"it's fine\" - then left.", doc, 0, len(doc)) == Located(7, 39, "unicode")
    assert locate("a non-breaking one", "a non\u2011breaking one", 0, 18) == Located(0, 18, "unicode")
    assert locate("it's", "it\u2019s", 0, 4) == Located(0, 4, "unicode") and locate("its", "it\u2019s", 0, 4) is None
