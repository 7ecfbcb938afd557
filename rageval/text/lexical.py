"""The lexical analyzer shared by every term-based component (BM25, RM3, the code loader).

Defaults (each can be switched off): the ``regex`` tokenizer splits on anything that is not a
Unicode letter or digit, after identifiers are split at camelCase boundaries
(``parseHTTPResponse`` -> ``parse HTTP Response``) and at underscores; tokens are lowercased;
the 33 English stop words of Lucene's classic ``StopAnalyzer`` are dropped; tokens are stemmed
with the Snowball English stemmer (PyStemmer). The ``whitespace`` tokenizer splits on whitespace
only (lowercasing, stop words and stemming still apply as set).
"""
from __future__ import annotations

import re
from collections import defaultdict
from itertools import chain
from typing import Literal, Sequence

import numpy as np

from rageval.errors import SpecError

# Lucene's classic English stop set (org.apache.lucene.analysis.en.EnglishAnalyzer.ENGLISH_STOP_WORDS_SET).
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split())

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[^\W_]+")
_WORD_WITH_UNDERSCORE = re.compile(r"\w+")
# On ASCII text the patterns' word characters are [A-Za-z0-9] (``_WORD``) and, for ``\w``, the underscore:
# byte tables that keep them and NUL (the separator of joined texts) and make any other byte a space.
_ASCII_WORD, _ASCII_WORD_WITH_UNDERSCORE = (
    bytes(c if c == 0 or (c < 128 and chr(c).isalnum()) or chr(c) in extra else 32 for c in range(256))
    for extra in ("", "_"))
_ASCII_SLICE = 4096  # texts joined at a time


class Analyzer:
    """Turns text into index terms. ``tokenize`` is the reference; ``Vocabulary`` the batch path."""

    def __init__(self, tokenizer: Literal["regex", "whitespace"] = "regex", lowercase: bool = True,
                 split_identifiers: bool = True, stopwords: Literal["english", "none"] = "english",
                 stemmer: str = "english"):
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.split_identifiers = split_identifiers and tokenizer == "regex"
        self.stopwords = ENGLISH_STOP_WORDS if stopwords == "english" else frozenset()
        self.stemmer_name = stemmer
        self._stemmer = None
        if stemmer != "none":
            import Stemmer  # PyStemmer: Snowball stemmers in C

            if stemmer not in Stemmer.algorithms():
                raise SpecError(f"unknown stemmer {stemmer!r}; available: none, {', '.join(Stemmer.algorithms())}")
            self._stemmer = Stemmer.Stemmer(stemmer)
        word = _WORD if self.split_identifiers else _WORD_WITH_UNDERSCORE
        self._split = str.split if tokenizer == "whitespace" else word.findall
        self._ascii_table = None if tokenizer == "whitespace" else (
            _ASCII_WORD if self.split_identifiers else _ASCII_WORD_WITH_UNDERSCORE)

    def config(self) -> dict:
        return {"tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "split_identifiers": self.split_identifiers,
                "stopwords": "english" if self.stopwords else "none", "stemmer": self.stemmer_name}

    def raw_tokens(self, text: str) -> list[str]:
        """Tokens before stop-word removal and stemming."""
        if self.split_identifiers and not text.islower():  # islower: no capital letter, nothing to split
            text = _CAMEL.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        return self._split(text)

    def raw_tokens_many(self, texts: Sequence[str]) -> list[list[str]]:
        """``raw_tokens`` of each text, the same steps through C-level maps (no Python call per text); the
        regex tokenizer splits ASCII texts through a byte table (``_ascii_words``), a quarter of its time."""
        if self.split_identifiers:
            texts = [t if lower else _CAMEL.sub(" ", t) for t, lower in zip(texts, map(str.islower, texts))]
        if self.lowercase:
            texts = list(map(str.lower, texts))
        if self._ascii_table is None:
            return list(map(self._split, texts))
        tokens: list[list[str]] = []
        for start in range(0, len(texts), _ASCII_SLICE):
            part = texts[start:start + _ASCII_SLICE]
            tokens += _ascii_words(part, self._ascii_table) or list(map(self._split, part))
        return tokens

    def normalize(self, tokens: Sequence[str]) -> list[str | None]:
        """Stem each raw token; stop words become None."""
        stems = self._stemmer.stemWords(tokens) if self._stemmer else list(tokens)
        stop = self.stopwords
        return [None if tok in stop else stem for tok, stem in zip(tokens, stems)]

    def tokenize(self, text: str) -> list[str]:
        """Index terms of ``text`` in order."""
        return [t for t in self.normalize(self.raw_tokens(text)) if t is not None]


class Vocabulary:
    """Maps texts to term ids in bulk: each distinct raw token is normalised once, every
    occurrence is mapped through C-level dict lookups and a numpy table."""

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self.terms: dict[str, int] = {}
        self._raw: defaultdict[str, int] = defaultdict()
        self._raw.default_factory = self._raw.__len__
        self._raw_to_term = np.empty(0, dtype=np.int32)
        self._known: dict[str, int] = {}  # raw query token -> term id, -1 when not a term
        self._known_size = 0

    def __len__(self) -> int:
        return len(self.terms)

    def _extend_table(self) -> None:
        done = len(self._raw_to_term)
        if len(self._raw) == done:
            return
        new = list(self._raw)[done:]
        terms = self.terms
        ids = [-1 if t is None else terms.setdefault(t, len(terms)) for t in self.analyzer.normalize(new)]
        self._raw_to_term = np.concatenate([self._raw_to_term, np.asarray(ids, dtype=np.int32)])

    def add(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Term ids of all ``texts`` concatenated (int32), and each text's length in terms (int64).
        New terms are added to the vocabulary."""
        per_text = self.analyzer.raw_tokens_many(texts)
        raw = list(chain.from_iterable(per_text))
        raw_ids = np.fromiter(map(self._raw.__getitem__, raw), dtype=np.int64, count=len(raw))
        self._extend_table()
        return _kept(self._raw_to_term[raw_ids], per_text)

    def lookup(self, text: str) -> list[int]:
        """Term ids of a query's terms that are in the vocabulary, in order (repeats kept)."""
        return self.lookup_many([text])[0].tolist()

    def lookup_many(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``lookup`` of every text, concatenated (int64), and each text's number of them; each
        distinct raw token is normalised once (and remembered)."""
        if self._known_size != len(self.terms):  # the vocabulary grew: unknown tokens may be known now
            self._known, self._known_size = {}, len(self.terms)
        known, terms = self._known, self.terms
        per_text = self.analyzer.raw_tokens_many(texts)
        raw = list(chain.from_iterable(per_text))
        new = list(set(raw).difference(known))
        for tok, term in zip(new, self.analyzer.normalize(new)):
            known[tok] = terms.get(term, -1) if term is not None else -1
        return _kept(np.fromiter(map(known.__getitem__, raw), dtype=np.int64, count=len(raw)), per_text)


def _ascii_words(texts: Sequence[str], table: bytes) -> list[list[str]] | None:
    """Each text's runs of the bytes ``table`` keeps, from one translation of the texts joined by NUL:
    the regular expression's tokens, where every text is ASCII without a NUL (else None)."""
    joined = "\0".join(texts)
    if not texts or not joined.isascii() or joined.count("\0") != len(texts) - 1:
        return None
    return list(map(str.split, joined.encode("ascii").translate(table).decode("ascii").split("\0")))


def _kept(ids: np.ndarray, per_text: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """The ids that are terms (not -1) and each text's count of them."""
    lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    keep = ids >= 0
    if keep.all():
        return ids, lengths
    owner = np.repeat(np.arange(len(per_text)), lengths)
    return ids[keep], np.bincount(owner[keep], minlength=len(per_text)).astype(np.int64)
