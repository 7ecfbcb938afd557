"""The span measures as the published chunking evaluation computes them (``--chroma``).

Chroma's "Evaluating Chunking Strategies for Retrieval" scores in characters, with these rules
(each differs from the default token-level measures of ``rageval.metrics.token_spans``):

- a chunk is placed in its document by searching for its text (``place_by_search``), not by
  the chunker's offsets: a repeated passage lands on its first occurrence;
- a chunk *meets* a reference when their ranges intersect or only touch (end of one == start of
  the other);
- top-k: numerator |C ∩ E| over the met chunks C and references E (merged); recall divides by
  the summed reference lengths, precision by the summed lengths of all k retrieved chunks, IoU
  by that sum plus each reference's characters no retrieved chunk covers (summed per reference);
- Precision-Ω: every chunk of the corpus that meets a reference; |C ∩ E| / |C ∪ E|, the union of
  those chunks and the references (so a reference that lies outside its document counts whole).
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

import numpy as np

from rageval.data.model import Span

Interval = tuple[int, int]


def place_by_search(document: str, text: str) -> Interval | None:
    """Where the chunking evaluation puts a chunk: drop one trailing ``.``, take the first exact
    occurrence, else the first case-insensitive match with any whitespace between the words."""
    if text.endswith("."):
        text = text[:-1]
    at = document.find(text)
    if at != -1:
        return at, at + len(text)
    pattern = r"\s*".join(re.escape(word) for word in text.split())
    found = re.search(pattern, document, re.IGNORECASE)
    return found.span() if found else None


def _union_length(ranges: Sequence[Interval]) -> int:
    total, reach = 0, None
    for start, end in sorted(ranges):
        if reach is None or start > reach:
            total += max(0, end - start)
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _meets(chunk: Interval, ref: Interval) -> bool:
    return max(chunk[0], ref[0]) <= min(chunk[1], ref[1])


def _by_doc(ranges: Sequence[Span]) -> dict[str, list[Interval]]:
    out: defaultdict[str, list[Interval]] = defaultdict(list)
    for doc, start, end in ranges:
        out[doc].append((start, end))
    return out


def chroma_scores(retrieved: Sequence[Sequence[Span]], references: Sequence[Sequence[Span]]) -> dict[str, np.ndarray]:
    """recall, precision and iou of every query over its retrieved chunks' placed ranges."""
    out = {name: np.zeros(len(references)) for name in ("recall", "precision", "iou")}
    for i, (chunks, refs) in enumerate(zip(retrieved, references)):
        chunk_total = sum(end - start for _, start, end in chunks)
        ref_total = sum(end - start for _, start, end in refs)
        found, uncovered = 0, 0
        chunks_in = _by_doc(chunks)
        for doc, doc_refs in _by_doc(refs).items():
            met = [c for c in chunks_in.get(doc, []) if any(_meets(c, r) for r in doc_refs)]
            covered = _union_length(met)
            found += covered + _union_length(doc_refs) - _union_length(met + doc_refs)
            uncovered += sum(_union_length([r, *met]) - covered for r in doc_refs)
        if ref_total:
            out["recall"][i] = found / ref_total
        if chunk_total:
            out["precision"][i] = found / chunk_total
        if chunk_total + uncovered:
            out["iou"][i] = found / (chunk_total + uncovered)
    return out


def chroma_precision_omega(chunks: dict[str, Sequence[Interval]], references: Sequence[Sequence[Span]]) -> np.ndarray:
    """Precision-Ω of every query: ``chunks`` maps a document to its chunks' placed ranges."""
    out = np.zeros(len(references))
    for i, refs in enumerate(references):
        found = denominator = 0
        met_any = False
        for doc, doc_refs in _by_doc(refs).items():
            met = [c for c in chunks.get(doc, ()) if any(_meets(c, r) for r in doc_refs)]
            met_any = met_any or bool(met)
            both = _union_length(met + doc_refs)
            found += _union_length(met) + _union_length(doc_refs) - both
            denominator += both
        if met_any and denominator:
            out[i] = found / denominator
    return out
