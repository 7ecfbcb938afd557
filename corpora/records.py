"""What every loader checks the same way: fields and records of line-numbered JSONL files (reading
itself is ``rageval.data.jsonl``), the choice of a split, judgments matched to the corpus and queries, and
reference spans matched to their documents."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rageval.data.jsonl import read_jsonl
from rageval.data.model import Corpus, Qrels, Span
from rageval.data.trec import check_id, check_qrels
from rageval.errors import DataError, MissingSplitError

log = logging.getLogger("rageval")


def string_field(path: Path, line_no: int, obj: dict[str, Any], name: str, required: bool = True) -> str:
    """``obj[name]`` as a string (ids may be numbers); missing or of another type is an error."""
    if name not in obj or obj[name] is None:
        if required:
            raise DataError(path, f'missing "{name}"', line_no)
        return ""
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f'"{name}" must be a string, got {json.dumps(value)[:80]}', line_no)
    value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(path, f'"{name}" is not valid Unicode (a lone surrogate): {value[:80]!r}', line_no) from None
    return value


def id_field(path: Path, line_no: int, obj: dict[str, Any], name: str) -> str:
    """An id: a non-empty string without whitespace (run files separate columns by whitespace)."""
    value = string_field(path, line_no, obj, name)
    check_id(path, line_no, name, value)
    return value


def read_records(path: Path, optional: str, empty: str) -> tuple[list[str], list[str], list[str], list[dict[str, Any]]]:
    """Columns of a corpus or queries file: ``_id``, ``text``, one optional string field, and every
    other field as meta. A missing ``_id``/``text``, a duplicate id or an empty file (``empty`` says
    so) is an error."""
    ids, texts, extras, metas = [], [], [], []
    first_line: dict[str, int] = {}
    for line_no, obj in read_jsonl(path):
        rid = id_field(path, line_no, obj, "_id")
        if rid in first_line:
            raise DataError(path, f"duplicate _id {rid!r} (first on line {first_line[rid]})", line_no)
        first_line[rid] = line_no
        ids.append(rid)
        texts.append(string_field(path, line_no, obj, "text"))
        extras.append(string_field(path, line_no, obj, optional, required=False))
        metas.append({k: v for k, v in obj.items() if k not in ("_id", "text", optional)})
    if not ids:
        raise DataError(path, empty)
    return ids, texts, extras, metas


def pick_split(available: list[str], split: str | None, where: Path) -> str:
    """The requested split, else ``test`` when present, else the only one."""
    if not available:
        raise DataError(where, "no split: there are no judgments to score")
    if split is not None:
        if split not in available:
            raise MissingSplitError(where, f"no split {split!r}; available: {', '.join(available) or 'none'}")
        return split
    if "test" in available:
        return "test"
    if len(available) == 1:
        return available[0]
    raise DataError(where, f"several splits ({', '.join(available)}): choose one with --split")


def matching_judgments(qrels: Qrels, where: Path | str, corpus: Corpus, query_ids: set[str],
                       queries_name: str, corpus_name: str) -> Qrels:
    """The judgments whose query and document exist; the others are counted in a warning, and an
    error is raised when none is left. Ids and grades are checked first (``rageval.data.trec.check_qrels``)."""
    check_qrels(qrels, str(where))
    unknown_q = [q for q in qrels if q not in query_ids]
    unknown_docs = [d for q in qrels if q in query_ids for d in qrels[q] if d not in corpus]
    kept = {q: {d: g for d, g in j.items() if d in corpus} for q, j in qrels.items() if q in query_ids}
    kept = Qrels({q: j for q, j in kept.items() if j})
    if not kept:
        raise DataError(where, f"no judgment matches the corpus and queries ({len(unknown_q)} unknown query ids, "
                               f"{len(unknown_docs)} judgments of unknown documents)")
    if not kept.scored():
        raise DataError(where, f"no relevant judgment: all {sum(map(len, kept.values()))} grades are 0 or less, "
                               "so no query can be scored")
    skipped = [f"{len(ids)} {what} not in {name} (e.g. {ids[0]!r})" for ids, what, name in
               ((unknown_q, "queries", queries_name), (unknown_docs, "judgments of documents", corpus_name)) if ids]
    if skipped:
        log.warning("%s: skipped %s", where, " and ".join(skipped))
    return kept


def reference_span(path: Path, line_no: int, what: str, corpus: Corpus, doc: str, start: Any, end: Any,
                   text: str | None, past_end_ok: bool = False) -> Span:
    """A reference span checked against its document: ``doc`` in the corpus, ``start`` and ``end``
    integers in order within the document's text (past its end only with ``past_end_ok``, kept with a
    warning), and the document's text there equal to ``text`` when given. ``what`` names the span in
    messages (``query 'q1'``)."""
    if doc not in corpus:
        raise DataError(path, f"{what}: span names unknown document {doc!r}", line_no)
    body = corpus.texts[corpus.position(doc)]
    if not (isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)
            and not isinstance(end, bool) and 0 <= start <= end):
        raise DataError(path, f"{what}: offsets start={start!r}, end={end!r} are not two offsets in order", line_no)
    if end > len(body):
        if not past_end_ok:
            raise DataError(path, f"{what}: offsets start={start!r}, end={end!r} are not within document {doc!r} "
                                  f"(length {len(body)})", line_no)
        log.warning("%s:%d: %s: offsets %d..%d lie outside %r (length %d): kept as uncovered reference by "
                    "--chroma, dropped by the other span measures (lenient)", path, line_no, what, start, end, doc,
                    len(body))
    elif text is not None and body[start:end] != text:
        raise DataError(path, f"{what}: span text {str(text)[:40]!r} does not match document {doc!r} at "
                              f"[{start}:{end}] ({body[start:end][:40]!r})", line_no)
    return doc, start, end
