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

from .errors import SpecError

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


def _cl100k_offsets(text: str) -> Offsets:
    enc = _cl100k()
    pieces = enc.decode_tokens_bytes(enc.encode_ordinary(text))
    ends_b = np.cumsum([len(p) for p in pieces], dtype=np.int64)
    starts_b = ends_b - np.array([len(p) for p in pieces], dtype=np.int64)
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
    return Tokenizer.from_file(str(file))


class Unit:
    """A named way of cutting text into tokens, with each token's character offsets."""

    def __init__(self, name: str = "regex"):
        self.name = name
        self.special = 0
        if name == "regex":
            self._offsets: Callable[[str], Offsets] = _regex
        elif name == "chars":
            self._offsets = _chars
        elif name == "cl100k_base":
            self._offsets = _cl100k_offsets
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
        else:
            raise SpecError(f"unknown token unit {name!r}; use regex, chars, cl100k_base or hf:/path/to/tokenizer")

    def offsets(self, text: str) -> Offsets:
        """(start, end) character offsets of every token of ``text``, in order."""
        return self._offsets(text)

    def count(self, text: str) -> int:
        """Tokens in ``text``, plus the special tokens of a ``+special`` unit."""
        return len(self._offsets(text)[0]) + self.special
