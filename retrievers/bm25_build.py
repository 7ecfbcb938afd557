"""The BM25 index's postings, built in bounded memory: segments of counts, then ranges of terms.

Batches of analysed documents are counted (a [documents, terms] matrix of term frequencies per
batch); every ``SEGMENT`` postings, the counts are put term-major (a *segment*: within a term, its
documents ascending, by ``bm25_kernel.place``). Once there is a second segment, segments are
written to a temporary folder that the build then creates (a corpus of one segment touches no
file) and removes at its end, and read back as memory maps.
The postings are then assembled a range of terms at a time (about ``SEGMENT`` postings a range):
each segment's part of the range is copied after the previous segment's, so a term's documents stay
ascending, and the range is encoded (``bm25_kernel.encode``); its bytes wait in the folder until
every range is encoded. Memory peaks near one segment, one range and the encoded index, where
holding every count and then every posting term-major took about 12 bytes a posting.

The result does not depend on ``SEGMENT``: a posting is encoded from the same document and
frequency, and a range's blocks and bounds are the blocks and bounds of its terms.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numba
import numpy as np
import scipy.sparse as sp

from rageval.retrievers.bm25_kernel import BLOCK, START, encode, place
from rageval.retrievers.bm25_postings import EmptyVocabulary, Postings, doc_weights, idf_weights

SEGMENT = 4000000  # postings of a segment, and of a range of terms
_SEGMENT_ARRAYS = ("indptr", "doc_ids", "tf")


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def _give_back_freed_memory() -> None:
    """Return the memory of freed arrays to the system (glibc's ``malloc_trim``; nothing elsewhere): once
    large arrays have been freed, glibc serves arrays of up to 32 MB from its heap and keeps them after
    they are freed, which would hold a freed segment's memory through the rest of the build."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


class _Segments:
    """Term-major segments in corpus order, on disk once there are two (in ``folder``, a temporary folder
    made then, removed by ``close``); the document frequencies summed over them; the encoded ranges' bytes."""

    def __init__(self):
        self.folder: Path | None = None
        self.parts: list[dict[str, np.ndarray] | Path] = []
        self.df = np.zeros(0, dtype=np.int64)
        self.n_docs = 0
        self.tf_dtype = np.dtype(np.uint8)
        self.encoded: list[np.ndarray | Path] = []

    def add(self, counts: list[sp.csr_matrix], n_vocab: int) -> None:
        """The batches' counts (emptied as they are placed) as the next segment, over ``n_vocab`` terms."""
        df = np.zeros(n_vocab, dtype=np.int64)
        for part in counts:
            df += np.bincount(part.indices, minlength=n_vocab)
        indptr = np.concatenate([[0], np.cumsum(df)])
        dtype = np.result_type(*(part.data.dtype for part in counts))
        doc_ids, tf = np.empty(indptr[-1], dtype=np.int32), np.empty(indptr[-1], dtype=dtype)
        fill = indptr[:-1].copy()
        while counts:
            part = counts.pop(0)
            place(part.indptr, part.indices, part.data, self.n_docs, fill, doc_ids, tf)
            self.n_docs += part.shape[0]
        self.df = np.concatenate([self.df, np.zeros(n_vocab - len(self.df), dtype=np.int64)]) + df
        self.tf_dtype = np.result_type(self.tf_dtype, dtype)
        self.parts.append({"indptr": indptr, "doc_ids": doc_ids, "tf": tf})
        if len(self.parts) > 1:
            self.parts = [self._spilled(part, f"segment-{i}") for i, part in enumerate(self.parts)]
            _give_back_freed_memory()

    def _spilled(self, part: dict[str, np.ndarray] | Path, name: str) -> Path:
        if isinstance(part, Path):
            return part
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="rageval-bm25-build-"))
        (self.folder / name).mkdir()
        for key, array in part.items():
            np.save(self.folder / name / f"{key}.npy", array)
        return self.folder / name

    def segments(self) -> Iterator[dict[str, np.ndarray]]:
        """Each segment's arrays, in corpus order (memory maps of the spilled ones)."""
        for part in self.parts:
            if isinstance(part, Path):
                yield {key: np.load(part / f"{key}.npy", mmap_mode="r") for key in _SEGMENT_ARRAYS}
            else:
                yield part

    def keep_encoded(self, data: np.ndarray) -> None:
        """An encoded range's bytes, kept until ``encoded_bytes``: on disk when the segments are."""
        if self.parts and isinstance(self.parts[0], Path):
            path = self.folder / f"encoded-{len(self.encoded)}.bin"
            data.tofile(path)
            self.encoded.append(path)
        else:
            self.encoded.append(data)

    def close(self) -> None:
        """Remove the folder this build made, if it made one (nothing else is touched)."""
        if self.folder is not None:
            shutil.rmtree(self.folder)
            self.folder = None

    def encoded_bytes(self, size: int) -> np.ndarray:
        """Every range's bytes, in order, in one array of ``size``."""
        if len(self.encoded) == 1 and isinstance(self.encoded[0], np.ndarray):
            return self.encoded.pop()
        data, at = np.empty(size, dtype=np.uint8), 0
        while self.encoded:
            part = self.encoded.pop(0)
            if isinstance(part, Path):
                with open(part, "rb") as f:
                    at += f.readinto(memoryview(data[at:]))
            else:
                data[at:at + len(part)] = part
                at += len(part)
        return data


def build(batches: Iterable[tuple[np.ndarray, np.ndarray]], n_terms: Callable[[], int],
          params: dict[str, Any]) -> Postings:
    """The postings of (term ids, document lengths) batches; ``n_terms()``: the vocabulary size so far;
    ``params``: k1, b, epsilon, idf (kind), single. EmptyVocabulary when no document has a term."""
    segments = _Segments()
    try:
        doc_len = _count(batches, n_terms, segments)
        return _assemble(segments, doc_len, params)
    finally:
        segments.close()


def _count(batches: Iterable[tuple[np.ndarray, np.ndarray]], n_terms: Callable[[], int],
           segments: _Segments) -> np.ndarray:
    """Each batch reduced to a [documents, terms] matrix of term counts, made into segments of about
    ``SEGMENT`` postings; every document's length."""
    pending, held, lengths = [], 0, []
    for term_ids, lens in batches:
        docs = np.repeat(np.arange(len(lens), dtype=np.int32), lens)
        counts = sp.csr_matrix((np.ones(len(term_ids), dtype=np.int32), (docs, term_ids)),
                               shape=(len(lens), n_terms()))
        counts.sum_duplicates()
        if counts.nnz and counts.data.max() < 2**16:  # frequencies in 2 bytes
            counts.data = counts.data.astype(np.uint16)
        pending.append(counts)
        held += counts.nnz
        lengths.append(lens)
        if held >= SEGMENT:
            segments.add(pending, n_terms())
            held = 0
    if n_terms() == 0:
        raise EmptyVocabulary("no term in any document")
    if pending:
        segments.add(pending, n_terms())
    return np.concatenate(lengths)  # there is a batch: the vocabulary is not empty


def _ranges(df: np.ndarray, size: int) -> list[tuple[int, int]]:
    """[first, last) terms of consecutive ranges of about ``size`` postings (a term is never split)."""
    ends = np.searchsorted(np.cumsum(df), np.arange(size, df.sum(), size), side="left") + 1
    bounds = np.unique(np.concatenate([[0], ends, [len(df)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


@numba.njit(nogil=True, cache=True)
def _gather(indptr, doc_ids, tf, first, last, fill, out_docs, out_tf):
    """Copy a segment's postings of terms ``first`` .. ``last - 1`` (those it knows) to each term's
    ``fill`` position (advanced) in the range's arrays."""
    for t in range(first, min(last, len(indptr) - 1)):
        a, b = indptr[t], indptr[t + 1]
        at = fill[t - first]
        out_docs[at:at + b - a] = doc_ids[a:b]
        out_tf[at:at + b - a] = tf[a:b]
        fill[t - first] = at + b - a


def _assemble(segments: _Segments, doc_len: np.ndarray, params: dict[str, Any]) -> Postings:
    """The segments' postings encoded a range of terms at a time."""
    k1, single, df = params["k1"], params["single"], segments.df
    idf = idf_weights(df, len(doc_len), params["idf"], params["epsilon"])
    doc_k, doc_class = doc_weights(doc_len, k1, params["b"])
    term_blocks = np.concatenate([[0], np.cumsum(-(-df // BLOCK))]).astype(np.int64)
    blocks = np.empty((4, term_blocks[-1]), dtype=np.int64)
    block_bounds, term_bounds = np.empty((2, term_blocks[-1])), np.empty((2, len(df)))
    size = 0
    for first, last in _ranges(df, SEGMENT):
        indptr = np.concatenate([[0], np.cumsum(df[first:last])])
        doc_ids, tf = np.empty(indptr[-1], dtype=np.int32), np.empty(indptr[-1], dtype=segments.tf_dtype)
        fill = indptr[:-1].copy()
        for segment in segments.segments():
            _gather(segment["indptr"], segment["doc_ids"], segment["tf"], first, last, fill, doc_ids, tf)
        lo, hi = term_blocks[first], term_blocks[last]
        encoded = encode(indptr, doc_ids, tf, df[first:last], term_blocks[first:last + 1] - lo, doc_k, doc_class,
                         idf[first:last], k1 + 1, single)
        del doc_ids, tf
        encoded[0][START] += size
        blocks[:, lo:hi], block_bounds[:, lo:hi], term_bounds[:, first:last] = encoded[0], encoded[2], encoded[3]
        segments.keep_encoded(encoded[1])
        size += len(encoded[1])
        del encoded
        _give_back_freed_memory()
    return Postings(term_blocks, df, blocks, segments.encoded_bytes(size), block_bounds, term_bounds, idf=idf,
                    doc_k=doc_k, doc_class=doc_class, k1=k1, single=single)
