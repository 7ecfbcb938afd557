"""A column of strings held as one UTF-8 buffer and offsets, each decoded when it is read.

A large corpus streamed into ``TextColumn``s costs its encoded size plus 8 bytes a string, where a
list of ``str`` costs a Python object (about 50 bytes of header, and 2 or 4 bytes a character for
text outside Latin-1) for every one.
"""
from __future__ import annotations

from array import array
from typing import Iterable, Iterator, Sequence, overload

import numpy as np


class TextColumn(Sequence[str]):
    """An immutable sequence of strings: ``column[i]`` decodes one, ``column[a:b]`` gives a list."""

    def __init__(self, data: bytes, offsets: np.ndarray):
        self._data = data
        self._offsets = offsets

    @classmethod
    def of(cls, texts: Iterable[str]) -> "TextColumn":
        """The column of ``texts``, read once (a generator is consumed as it is stored)."""
        builder = TextColumnBuilder()
        for text in texts:
            builder.append(text)
        return builder.build()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step == 1:
                return list(self._strings(start, max(start, stop)))
            return [self[j] for j in range(start, stop, step)]
        if not -n <= i < n:
            raise IndexError(f"TextColumn index {i} out of range for {n} strings")
        return next(self._strings(i % n, i % n + 1))

    def __iter__(self) -> Iterator[str]:
        return self._strings(0, len(self))

    def _strings(self, start: int, stop: int) -> Iterator[str]:
        """The strings ``start`` to ``stop`` (exclusive), decoded one by one."""
        data, bounds = self._data, self._offsets[start:stop + 1].tolist()
        return (data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds, bounds[1:]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextColumn):
            return self._data == other._data and np.array_equal(self._offsets, other._offsets)
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    @property
    def nbytes(self) -> int:
        """Bytes held: the encoded strings and their offsets."""
        return len(self._data) + self._offsets.nbytes


class TextColumnBuilder:
    """Appends strings to a growing buffer; ``build()`` freezes them into a ``TextColumn``."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("q")  # 8 bytes an entry

    def append(self, text: str) -> None:
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    def build(self) -> TextColumn:
        offsets = np.zeros(len(self._ends) + 1, dtype=np.int64)
        offsets[1:] = np.frombuffer(self._ends, dtype=np.int64)
        return TextColumn(bytes(self._data), offsets)
