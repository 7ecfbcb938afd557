"""The BM25 index's postings, compact: blocks of 128 (document gap, term frequency) pairs with the
score bounds that dynamic pruning reads.

Each term's postings (documents in corpus order) are cut into blocks of ``BLOCK``. A block stores
its documents less its first one, then its term frequencies less one, each at the narrowest width
of 1, 2 or 4 bytes that holds the block's largest value (``widths``: document width in the low four
bits, frequency width in the high four), so any posting is read in place, without decoding the
block (a search looks a document up by bisection); beside the bytes, its first and last document
(skipping reads them alone) and its postings' largest and smallest weight. On a Zipf corpus a
posting takes about 3 bytes in all, where a stored float64 weight and int32 document took 12.

Weights are not stored but recomputed where a posting is read (``bm25_kernel.weight``, from the
frequency, ``doc_k[doc_class[d]] = k1 x length norm`` and ``idf[t]``): a quantised impact would change
float scores, and a float per posting would take most of the memory. The arithmetic is the one the
build used when it stored weights, so scores are unchanged, bit for bit. ``doc_k`` holds one value per
distinct document length, and ``doc_class`` each document's entry in it, in the narrowest unsigned
integer that holds it: a search reads one per posting, at random, from an array of 1 MB (uint8: the 1M
Zipf corpus's 51 lengths) rather than 8 MB of floats.

Saved with ``rageval.store.array_files`` (``LAYOUT``, checksums) and loaded as memory maps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rageval.store.array_files import load_arrays, save_arrays

LAYOUT = "rageval-bm25-blocks-2"
_ARRAYS = ("term_blocks", "df", "blocks", "data", "block_bounds", "term_bounds", "idf", "doc_k", "doc_class")


def idf_weights(df: np.ndarray, n_docs: int, kind: Literal["okapi", "lucene"], epsilon: float) -> np.ndarray:
    """``okapi``: log((N - n + .5) / (n + .5)), negatives floored at epsilon x mean idf (rank_bm25's
    BM25Okapi); ``lucene``: log(1 + (N - n + .5) / (n + .5)) (Lucene, Pyserini)."""
    if kind == "lucene":
        return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if len(idf):
        idf[idf < 0] = epsilon * idf.mean()
    return idf


@dataclass
class Postings:
    """Block-encoded postings, their weight bounds, and what weighs a posting."""

    term_blocks: np.ndarray  # int64 [terms + 1]: each term's blocks
    df: np.ndarray  # int64 [terms]
    blocks: np.ndarray  # int64 [4, blocks]: first and last document, offset in data, widths
    data: np.ndarray  # uint8
    block_bounds: np.ndarray  # float64 [2, blocks]: largest and smallest weight in the block
    term_bounds: np.ndarray  # float64 [2, terms]
    idf: np.ndarray  # float64 [terms]
    doc_k: np.ndarray  # float64 [distinct document lengths, ascending]: k1 x (1 - b + b |d| / avgdl)
    doc_class: np.ndarray  # uint8, uint16 or uint32 [docs]: each document's entry of doc_k
    k1: float
    single: bool  # weights rounded to float32

    @property
    def shape(self) -> tuple[int, int]:
        """(terms, documents)."""
        return len(self.df), len(self.doc_class)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in _ARRAYS)

    def term(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Term ``t``'s documents and weights, decoded (for inspection and tests)."""
        from rageval.retrievers.bm25_kernel import term_postings

        return term_postings(self.term_blocks, self.df, self.blocks, self.data, t, self.doc_k, self.doc_class, self.idf,
                             self.k1 + 1, self.single)

    def save(self, folder: Path) -> None:
        save_arrays(folder, LAYOUT, {name: getattr(self, name) for name in _ARRAYS},
                    {"k1": self.k1, "single": self.single})

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """Memory maps of what ``save`` wrote; ``InvalidArrays`` when it is damaged or of another layout."""
        arrays, values = load_arrays(folder, LAYOUT)
        return cls(**arrays, k1=float(values["k1"]), single=bool(values["single"]))


def doc_weights(doc_len: np.ndarray, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """``doc_k``: k1 x (1 - b + b |d| / avgdl) for each distinct length of ``doc_len``, ascending (each value
    computed as for a document of that length, element by element), and ``doc_class``: each document's
    entry, in the narrowest of uint8, uint16 and uint32 that holds them."""
    avgdl = doc_len.sum() / len(doc_len)  # > 0: some document holds a term
    lengths, doc_class = np.unique(doc_len, return_inverse=True)
    doc_k = 1 - b + b * lengths / avgdl
    doc_k *= k1
    narrowest = next(t for t in (np.uint8, np.uint16, np.uint32) if len(lengths) - 1 <= np.iinfo(t).max)
    return doc_k, doc_class.astype(narrowest)


class EmptyVocabulary(ValueError):
    """No document has a term: there is nothing to index."""
