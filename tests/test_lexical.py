"""The shared analyzer: identifier splitting, stop words, stemming; the batch path equals the reference."""
from __future__ import annotations

from rageval.lexical import Analyzer, Vocabulary


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
