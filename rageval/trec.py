"""TREC's formats: ``Run`` (a retriever's ranked lists, columnar, with run-file I/O) and qrels files
(TREC's four columns or BEIR's TSV). Ids must be writable as whitespace-separated columns."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from .data import Qrels
from .errors import DataError, RagevalError
from .files import atomic_open
from .jsonl import read_lines

log = logging.getLogger("rageval")
_HEADER_WORDS = {"query-id", "query_id", "qid", "query", "corpus-id", "corpus_id", "docid", "doc-id", "doc_id",
                 "doc", "score", "relevance", "rel", "grade", "label", "iter", "q0"}


def is_id(value: str) -> bool:
    """Whether ``value`` can be an id: non-empty, without whitespace (columns are split on it)."""
    return bool(value) and not any(ch.isspace() for ch in value)


def check_id(path: str | Path, line_no: int, name: str, value: str) -> None:
    if not is_id(value):
        raise DataError(path, f'"{name}" must be a non-empty id without whitespace, got {value!r}', line_no)


def read_qrels(path: str | Path) -> Qrels:
    """``query-id<TAB>corpus-id<TAB>score`` (a header line of column names is optional) or TREC's
    ``qid iter docid grade``. A first line is taken as a header only when it names columns; a bad
    grade anywhere else is an error. Negative grades are kept (not relevant) with a warning."""
    path = Path(path)
    qrels = Qrels()
    negative: list[int] = []
    for n, (line_no, line) in enumerate(read_lines(path)):
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) == 4:
            cols = [cols[0], cols[2], cols[3]]
        if len(cols) != 3:
            raise DataError(path, f"expected 3 columns query-id, corpus-id, score; got {line!r}", line_no)
        qid, did, grade = (c.strip() for c in cols)
        if n == 0 and grade.lower() in _HEADER_WORDS:
            continue  # the header line
        try:
            value = int(grade)
        except ValueError:
            raise DataError(path, f"score {grade!r} is not an integer", line_no) from None
        check_id(path, line_no, "query-id", qid)
        check_id(path, line_no, "corpus-id", did)
        if value < 0:
            negative.append(line_no)
        judged = qrels.setdefault(qid, {})
        if did in judged:
            raise DataError(path, f"duplicate judgment for query {qid!r}, document {did!r}", line_no)
        judged[did] = value
    if negative:
        log.warning("%s: %d negative grades (lines %s%s), counted as not relevant", path, len(negative),
                    ", ".join(map(str, negative[:5])), ", ..." if len(negative) > 5 else "")
    return qrels


class Run:
    """Ranked results for a set of queries.

    ``indices[i, j]`` is the corpus position of the j-th result of query ``query_ids[i]``
    (−1 pads short lists) and ``scores[i, j]`` its score; ``doc_ids`` maps positions to ids.
    Rows are in rank order.
    """

    def __init__(self, query_ids: Sequence[str], doc_ids: Sequence[str],
                 indices: np.ndarray, scores: np.ndarray):
        indices = np.asarray(indices)
        scores = np.asarray(scores)
        if indices.ndim != 2 or indices.shape != scores.shape or indices.shape[0] != len(query_ids):
            raise ValueError(f"Run arrays must both be [n_queries, k]; got {indices.shape} and {scores.shape}"
                             f" for {len(query_ids)} queries")
        self.query_ids = list(query_ids)
        self.doc_ids = doc_ids
        self.indices = indices
        self.scores = scores
        self.meta: dict = {}

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def __len__(self) -> int:
        return len(self.query_ids)

    def results(self) -> Iterator[tuple[str, list[str], list[float]]]:
        """Per query: (query id, doc ids, scores) in rank order, padding dropped."""
        for qid, idx, sc in zip(self.query_ids, self.indices, self.scores):
            keep = idx >= 0
            yield qid, [self.doc_ids[i] for i in idx[keep]], sc[keep].tolist()

    def to_dict(self) -> dict[str, dict[str, float]]:
        """``{qid: {docid: score}}``, the shape pytrec_eval takes."""
        return {qid: dict(zip(docs, scores)) for qid, docs, scores in self.results()}

    @classmethod
    def from_dict(cls, run: Mapping[str, Mapping[str, float]], doc_ids: Sequence[str] | None = None) -> "Run":
        """Build a run from ``{qid: {docid: score}}``, each list ordered by score (ties: doc id descending)."""
        if doc_ids is None:
            doc_ids = sorted({d for docs in run.values() for d in docs})
        position = {d: i for i, d in enumerate(doc_ids)}
        k = max((len(docs) for docs in run.values()), default=0)
        indices = np.full((len(run), k), -1, dtype=np.int64)
        scores = np.zeros((len(run), k), dtype=np.float64)
        for row, docs in enumerate(run.values()):
            ranked = sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)
            for col, (doc, score) in enumerate(ranked):
                indices[row, col] = position[doc]
                scores[row, col] = score
        return cls(list(run), doc_ids, indices, scores)

    def write_trec(self, path: str | Path, tag: str = "rageval") -> None:
        """Write the TREC run format (``qid Q0 docid rank score tag``), atomically.

        Scores are written with full precision so the file evaluates exactly like the run in memory.
        An id that is empty or holds whitespace cannot be written (the columns would shift): an error,
        and no file is left.
        """
        tag = "_".join(tag.split()) or "rageval"
        for kind, ids in (("query", self.query_ids), ("document", self.doc_ids)):
            bad = next((i for i in ids if not is_id(i)), None)
            if bad is not None:
                raise RagevalError(f"{path}: {kind} id {bad!r} is empty or holds whitespace: not writable as a TREC run")
        with atomic_open(path) as f:
            for qid, docs, scores in self.results():
                f.writelines(f"{qid} Q0 {doc} {rank} {score!r} {tag}\n"
                             for rank, (doc, score) in enumerate(zip(docs, scores), start=1))

    @classmethod
    def read_trec(cls, path: str | Path) -> "Run":
        """Read a TREC run file; a malformed line or a repeated (query, doc) pair is an error."""
        run: dict[str, dict[str, float]] = {}
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 6:
                    raise DataError(path, f"expected 6 columns 'qid Q0 docid rank score tag', got {line.strip()!r}", line_no)
                qid, _, doc, _, score, _ = parts
                try:
                    value = float(score)
                except ValueError:
                    raise DataError(path, f"score {score!r} is not a number", line_no) from None
                docs = run.setdefault(qid, {})
                if doc in docs:
                    raise DataError(path, f"document {doc!r} appears twice for query {qid!r}", line_no)
                docs[doc] = value
        return cls.from_dict(run)
