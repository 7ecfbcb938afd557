"""Token positions in characters, for chunk sizes and token-level span measures.

A unit is ``regex`` (words and single punctuation marks: ``\\w+|[^\\w\\s]``), ``chars`` (every
character), ``cl100k_base`` (OpenAI's BPE, offline through the ``bpe-openai`` package), or the
path of a local Hugging Face tokenizer (``hf:/path/to/tokenizer``; append ``+special`` to count
the special tokens it adds to every sequence).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable

import numpy as np

from rageval.errors import SpecError

_REGEX = re.compile(r"\w+|[^\w\s]")
Offsets = tuple[np.ndarray, np.ndarray]


def _regex(text: str) -> Offsets:
    spans = [m.span() for m in _REGEX.finditer(text)]
    arr = np.array(spans, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _chars(text: str) -> Offsets:
    pos = np.arange(len(text), dtype=np.int64)
    return pos, pos + 1


def byte_to_char(text: str) -> np.ndarray:
    """Character offset of every byte offset of ``text``'s UTF-8 encoding (tree-sitter counts bytes)."""
    data = text.encode("utf-8")
    starts = (np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80
    return np.concatenate([[0], np.cumsum(starts)]).astype(np.int64)


@functools.cache
def _cl100k():
    import bpe_openai

    return bpe_openai.get_encoding("cl100k_base")


@functools.cache
def _cl100k_byte_lengths() -> np.ndarray:
    """Length in bytes of every cl100k_base token id."""
    enc = _cl100k()
    lengths = np.zeros(enc.n_vocab + 1, dtype=np.int64)
    for token in range(enc.n_vocab):
        try:
            lengths[token] = len(enc.decode_single_token_bytes(token))
        except KeyError:  # ids between the ordinary and the special tokens
            pass
    return lengths


def _cl100k_offsets(text: str) -> Offsets:
    enc = _cl100k()
    ids = np.asarray(enc.encode_ordinary(text), dtype=np.int64)
    lengths = _cl100k_byte_lengths()[ids]
    ends_b = np.cumsum(lengths)
    starts_b = ends_b - lengths
    to_char = byte_to_char(text)
    return to_char[starts_b], to_char[ends_b]


@functools.cache
def _hf(path: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise SpecError("hf: token units need the tokenizers package (pip install tokenizers)") from None

    p = Path(path)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise SpecError(f"tokenizer {path}: no tokenizer.json there (a local Hugging Face tokenizer is needed)")
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_truncation()  # a model's tokenizer.json may truncate and pad to its input size:
    tokenizer.no_padding()     # counting tokens must do neither
    return tokenizer


class Unit:
    """A named way of cutting text into tokens, with each token's character offsets."""

    def __init__(self, name: str = "regex"):
        self.name = name
        self.special = 0
        self._count: Callable[[str], int] = lambda text: len(self._offsets(text)[0])
        self._counts: Callable[[list[str]], list[int]] = lambda texts: [self._count(t) for t in texts]
        if name == "regex":
            self._offsets: Callable[[str], Offsets] = _regex
            self._count = lambda text: len(_REGEX.findall(text))
        elif name == "chars":
            self._offsets = _chars
            self._count = len
        elif name == "cl100k_base":
            self._offsets = _cl100k_offsets
            self._count = lambda text: len(_cl100k().encode_ordinary(text))
        elif name.startswith("hf:"):
            path = name[3:]
            if path.endswith("+special"):
                path = path[: -len("+special")]
                self.special = _hf(path).num_special_tokens_to_add(False)
            tok = _hf(path)

            def offsets(text: str) -> Offsets:
                arr = np.array(tok.encode(text, add_special_tokens=False).offsets, dtype=np.int64).reshape(-1, 2)
                return arr[:, 0], arr[:, 1]

            self._offsets = offsets
            self._count = lambda text: len(tok.encode(text, add_special_tokens=False))
            self._counts = lambda texts: [len(e) for e in tok.encode_batch(texts, add_special_tokens=False)]
        else:
            raise SpecError(f"unknown token unit {name!r}; use regex, chars, cl100k_base or hf:/path/to/tokenizer")

    def offsets(self, text: str) -> Offsets:
        """(start, end) character offsets of every token of ``text``, in order."""
        return self._offsets(text)

    def count(self, text: str) -> int:
        """Tokens in ``text``, plus the special tokens of a ``+special`` unit (never truncated or padded)."""
        return self._count(text) + self.special

    def counts(self, texts: list[str]) -> list[int]:
        """``count`` of every text, in one batch where the tokenizer has one."""
        if self.name == "chars":
            return [len(t) + self.special for t in texts]
        return [n + self.special for n in self._counts(texts)]
