"""TREC's formats: ``Run`` (a retriever's ranked lists, columnar, with run-file I/O) and qrels files
(TREC's four columns or BEIR's TSV), read by trec_eval's grammar and never misread: ids must be
writable as whitespace-separated columns and reach trec_eval's C code whole, grades and scores are
ASCII numbers in the ranges documented here."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from rageval.data.jsonl import read_lines
from rageval.data.model import Qrels
from rageval.errors import DataError, RagevalError
from rageval.progress import progress
from rageval.store.files import atomic_open

log = logging.getLogger("rageval")
_HEADER_WORDS = {"query-id", "query_id", "qid", "query", "corpus-id", "corpus_id", "docid", "doc-id", "doc_id",
                 "doc", "score", "relevance", "rel", "grade", "label", "iter", "q0"}
MIN_GRADE, MAX_GRADE = -1000, 1000
"""The grades rageval accepts, for every measure. trec_eval's graded measures (ndcg, G) allocate and
loop over every grade level up to the largest, so their cost grows as its square: 10^5 takes 13 s for
one query, 2^31 - 1 exhausts memory, and beyond a C long the grade is silently wrapped."""
_ASCII_SPACE = " \t\n\v\f\r"  # what trec_eval splits columns on (C isspace)
_COLUMNS = re.compile(f"[{_ASCII_SPACE}]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")  # trec_eval's grades (atol) and ranks, ASCII digits only
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # a C decimal float (atof)
_EMPTY_OR_SPACE = "is empty or holds whitespace"


def id_problem(value: object, columns: bool = True) -> str | None:
    """What makes ``value`` unusable as a query or document id, or None: it must be a non-empty string
    without NUL (trec_eval's C code would cut the id there, so two ids could become one), valid Unicode,
    and, with ``columns`` (ids in or bound for TREC files, which split columns on it), without whitespace."""
    if not isinstance(value, str):
        return f"is not a string ({type(value).__name__})"
    if columns and (not value or any(ch.isspace() for ch in value)):
        return _EMPTY_OR_SPACE
    if not value:
        return "is empty"
    if "\x00" in value:
        return "holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def is_id(value: str) -> bool:
    """Whether ``value`` can be an id (see ``id_problem``)."""
    return id_problem(value) is None


def check_id(path: str | Path, line_no: int, name: str, value: str) -> None:
    """An error naming the file, line and value when ``value`` cannot be an id (``name`` is its field)."""
    if (problem := id_problem(value)) is not None:
        which = "" if problem == _EMPTY_OR_SPACE else f", which {problem}"
        raise DataError(path, f'"{name}" must be a non-empty id without whitespace, got {value!r}{which}', line_no)


def grade_problem(value: object) -> str | None:
    """What makes ``value`` unusable as a relevance grade, or None: an integer from MIN_GRADE to MAX_GRADE."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return f"is not an integer ({type(value).__name__})"
    if not MIN_GRADE <= value <= MAX_GRADE:
        return f"is outside the grades rageval scores, {MIN_GRADE} to {MAX_GRADE}"
    return None


def parse_grade(path: str | Path, line_no: int, text: str) -> int:
    """A grade as trec_eval reads it (an optional sign and ASCII digits), within MIN_GRADE..MAX_GRADE."""
    if not _INTEGER.fullmatch(text):
        raise DataError(path, f"score {text!r} is not an integer (an optional sign and the digits 0-9)", line_no)
    value = int(text)
    if (problem := grade_problem(value)) is not None:
        raise DataError(path, f"score {text!r} {problem}", line_no)
    return value


def check_qrels(qrels: Mapping[str, Mapping[str, int]], where: str = "qrels") -> None:
    """Judgments built in Python, checked before trec_eval sees them: ids (``id_problem``, whitespace
    allowed) and grades (``grade_problem``); an error names ``where``, the query, the document and the value."""
    for qid, judged in qrels.items():
        if (problem := id_problem(qid, columns=False)) is not None:
            raise RagevalError(f"{where}: query id {qid!r} {problem}")
        for did, grade in judged.items():
            if (problem := id_problem(did, columns=False)) is not None:
                raise RagevalError(f"{where}: query {qid!r}: document id {did!r} {problem}")
            if (problem := grade_problem(grade)) is not None:
                raise RagevalError(f"{where}: query {qid!r}, document {did!r}: grade {grade!r} {problem}")


def read_qrels(path: str | Path) -> Qrels:
    """``query-id<TAB>corpus-id<TAB>score`` (a header line of column names is optional) or TREC's
    ``qid iter docid grade`` (columns split on ASCII whitespace, as trec_eval does). A first line is
    taken as a header only when it names columns. A grade is what trec_eval reads (an optional sign and
    ASCII digits) within MIN_GRADE..MAX_GRADE; anything else is an error naming the file, line and value.
    Negative grades are kept (not relevant) with a warning."""
    path = Path(path)
    qrels = Qrels()
    negative: list[int] = []
    for n, (line_no, line) in enumerate(read_lines(path)):
        cols = line.split("\t") if "\t" in line else _COLUMNS.split(line.strip(_ASCII_SPACE))
        if len(cols) == 4:
            cols = [cols[0], cols[2], cols[3]]
        if len(cols) != 3:
            raise DataError(path, f"expected 3 columns query-id, corpus-id, score; got {line!r}", line_no)
        qid, did, grade = (c.strip(_ASCII_SPACE) for c in cols)
        if n == 0 and grade.lower() in _HEADER_WORDS:
            continue  # the header line
        value = parse_grade(path, line_no, grade)
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


def judgments_fingerprint(qrels: Mapping[str, Mapping[str, int]]) -> str:
    """A content hash of judgments alone (query id -> doc id -> grade; order does not matter): what
    ``rageval evaluate`` matches to file a run under the dataset these judgments belong to."""
    plain = {q: {d: int(g) for d, g in judged.items()} for q, judged in qrels.items()}  # numpy grades too
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def check_run(run: "Run", where: str = "run") -> None:
    """A run built in Python, checked before trec_eval sees it: the ids of its queries and of the
    documents it lists (``id_problem``, whitespace allowed) and finite scores."""
    for qid in run.query_ids:
        if (problem := id_problem(qid, columns=False)) is not None:
            raise RagevalError(f"{where}: query id {qid!r} {problem}")
    listed = run.indices >= 0
    for position in np.unique(run.indices[listed]).tolist():
        if (problem := id_problem(run.doc_ids[position], columns=False)) is not None:
            raise RagevalError(f"{where}: document id {run.doc_ids[position]!r} {problem}")
    if not np.isfinite(run.scores[listed]).all():
        row, col = np.argwhere(listed & ~np.isfinite(run.scores))[0].tolist()
        raise RagevalError(f"{where}: query {run.query_ids[row]!r}: score {float(run.scores[row, col])!r} of document "
                           f"{run.doc_ids[int(run.indices[row, col])]!r} is not a finite number")


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
        An id that is not one (``id_problem``: empty, whitespace, NUL) cannot be written: an error, and
        no file is left.
        """
        tag = "_".join(tag.split()) or "rageval"
        for kind, ids in (("query", self.query_ids), ("document", self.doc_ids)):
            bad = next((i for i in ids if not is_id(i)), None)
            if bad is not None:
                raise RagevalError(f"{path}: {kind} id {bad!r} {id_problem(bad)}: not writable as a TREC run")
        with atomic_open(path) as f:
            for qid, docs, scores in self.results():
                f.writelines(f"{qid} Q0 {doc} {rank} {score!r} {tag}\n"
                             for rank, (doc, score) in enumerate(zip(docs, scores), start=1))

    @classmethod
    def read_trec(cls, path: str | Path) -> "Run":
        """Read a TREC run file (``qid Q0 docid rank score tag``, columns split on ASCII whitespace).
        A line of another shape, an id that is not one (``id_problem``), a rank that is not an integer, a
        score that is not a finite decimal number (ASCII: no ``nan``, ``inf``, ``1e400`` or ``1_000``) or
        a repeated (query, doc) pair is an error naming the file, line and value."""
        path = Path(path)
        run: dict[str, dict[str, float]] = {}
        checked: set[str] = set()  # ids already found valid (each query id and document id recurs)
        with progress(None, f"reading {path}", unit="line") as step:
            for line_no, line in read_lines(path):
                if line_no % 100_000 == 0:
                    step.update(100_000)
                cls._read_line(path, line_no, line, run, checked)
        return cls.from_dict(run)

    @staticmethod
    def _read_line(path: Path, line_no: int, line: str, run: dict[str, dict[str, float]], checked: set[str]) -> None:
        """One line of a run file into ``run`` (``read_trec``'s rules)."""
        parts = _COLUMNS.split(line.strip(_ASCII_SPACE))
        if len(parts) != 6:
            raise DataError(path, f"expected 6 columns 'qid Q0 docid rank score tag', got {line.strip()!r}", line_no)
        qid, _, doc, rank, score, _ = parts
        for name, value in (("qid", qid), ("docid", doc)):
            if value not in checked:
                check_id(path, line_no, name, value)
                checked.add(value)
        if not _INTEGER.fullmatch(rank):
            raise DataError(path, f"rank {rank!r} is not an integer", line_no)
        if not _NUMBER.fullmatch(score):
            raise DataError(path, f"score {score!r} is not a number (a decimal number of ASCII digits)", line_no)
        value = float(score)
        if not math.isfinite(value):
            raise DataError(path, f"score {score!r} is too large for a float", line_no)
        docs = run.setdefault(qid, {})
        if doc in docs:
            raise DataError(path, f"document {doc!r} appears twice for query {qid!r}", line_no)
        docs[doc] = value
