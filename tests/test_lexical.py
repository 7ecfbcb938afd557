"""The shared analyzer: identifier splitting, stop words, stemming; the batch path equals the reference."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rageval.text import lexical
from rageval.text.lexical import Analyzer, Vocabulary


def test_defaults_split_identifiers_drop_stop_words_and_stem():
    a = Analyzer()
    assert a.tokenize("parseHTTPResponse read_file_lines, the Café's résumés") == [
        "pars", "http", "respons", "read", "file", "line", "café", "s", "résumé"]
    assert Analyzer(stemmer="none", stopwords="none").tokenize("The getX_y") == ["the", "get", "x", "y"]
    assert Analyzer(split_identifiers=False, stemmer="none").tokenize("getX_y") == ["getx_y"]
    assert Analyzer(tokenizer="whitespace", stemmer="none", lowercase=False).tokenize("a.b  C-d") == ["a.b", "C-d"]


def test_vocabulary_batch_path_matches_the_reference_tokenizer():
    texts = ["The quick brown fox", "", "jumpsOver the lazy_dog and the fox", "a an the"]
    analyzer = Analyzer()
    vocab = Vocabulary(analyzer)
    ids, lengths = vocab.add(texts)
    terms = {i: t for t, i in vocab.terms.items()}
    expected = [analyzer.tokenize(t) for t in texts]
    assert lengths.tolist() == [len(e) for e in expected]
    assert [terms[i] for i in ids.tolist()] == [t for e in expected for t in e]
    assert vocab.lookup("FOXES unknownword the") == [vocab.terms["fox"]]


def test_the_many_text_paths_equal_the_per_text_reference():
    """raw_tokens_many and lookup_many give, text by text, what raw_tokens and tokenize give, under
    every analyzer setting (capitals, underscores, digits, accents, a text that is all stop words)."""
    texts = ["parseHTTPResponse", "read_file_lines 2x", "", "the a an", "Café résumés ÉTÉ",
             "getX_y  C-d\ttabs\nlines", "ALLCAPS mixedCase42Value", "123 456", "foxes FOXES fox"]
    for options in ({}, {"split_identifiers": False}, {"tokenizer": "whitespace"}, {"lowercase": False},
                    {"stopwords": "none", "stemmer": "none"}):
        analyzer = Analyzer(**options)
        assert analyzer.raw_tokens_many(texts) == [analyzer.raw_tokens(t) for t in texts], options
        vocab = Vocabulary(analyzer)
        vocab.add(texts[:4])  # some of the later texts' terms are unknown: dropped
        ids, lengths = vocab.lookup_many(texts)
        expected = [[vocab.terms[t] for t in analyzer.tokenize(text) if t in vocab.terms] for text in texts]
        assert lengths.tolist() == [len(e) for e in expected], options
        assert ids.tolist() == [i for e in expected for i in e], options
        vocab.add(texts[4:])  # the vocabulary grew: what was unknown is found now
        assert vocab.lookup_many(texts)[0].tolist() == [vocab.terms[t] for text in texts
                                                       for t in analyzer.tokenize(text)], options


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aZ9_ .-\t\n\x00\x1c\x7f\u00e9\u00c9\u212a\u00aa\u00b2x"),
                        max_size=12), max_size=9))
def test_ascii_texts_split_through_the_byte_table_as_the_regular_expression_splits_them(texts):
    """Texts of ASCII word characters, punctuation, underscores, tabs, newlines, NUL and other controls,
    and some with letters beyond ASCII (é, É, the Kelvin sign that lowercases to k, ª, ²): the batch path
    (a byte table where every text of a slice is ASCII without NUL, else the expression) gives each
    text's ``raw_tokens``, under both regex settings, slices of three texts and of many."""
    for options in ({}, {"split_identifiers": False}, {"lowercase": False}):
        analyzer = Analyzer(stemmer="none", **options)
        want = [analyzer.raw_tokens(t) for t in texts]
        assert analyzer.raw_tokens_many(texts) == want, options
        slice_size = lexical._ASCII_SLICE
        try:
            lexical._ASCII_SLICE = 3
            assert analyzer.raw_tokens_many(texts) == want, options
        finally:
            lexical._ASCII_SLICE = slice_size
