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
from typing import Iterable, Literal, Sequence

import numpy as np

from .errors import SpecError

# Lucene's classic English stop set (org.apache.lucene.analysis.en.EnglishAnalyzer.ENGLISH_STOP_WORDS_SET).
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split())

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[^\W_]+")
_WORD_WITH_UNDERSCORE = re.compile(r"\w+")


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
        self._word = _WORD if self.split_identifiers else _WORD_WITH_UNDERSCORE

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
        return text.split() if self.tokenizer == "whitespace" else self._word.findall(text)

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

    def add(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Term ids of all ``texts`` concatenated (int32), and each text's length in terms (int64).
        New terms are added to the vocabulary."""
        raw: list[str] = []
        lengths: list[int] = []
        tokenize = self.analyzer.raw_tokens
        for text in texts:
            toks = tokenize(text)
            raw += toks
            lengths.append(len(toks))
        raw_ids = np.fromiter(map(self._raw.__getitem__, raw), dtype=np.int64, count=len(raw))
        self._extend_table()
        term_ids = self._raw_to_term[raw_ids]
        keep = term_ids >= 0
        if keep.all():
            return term_ids, np.asarray(lengths, dtype=np.int64)
        doc_of = np.repeat(np.arange(len(lengths)), lengths)
        kept_lengths = np.bincount(doc_of[keep], minlength=len(lengths)).astype(np.int64)
        return term_ids[keep], kept_lengths

    def lookup(self, text: str) -> list[int]:
        """Term ids of a query's terms that are in the vocabulary, in order (repeats kept)."""
        terms = self.terms
        return [terms[t] for t in self.analyzer.tokenize(text) if t in terms]
