"""``beir:PATH`` — a folder in BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv, spans.jsonl."""
from __future__ import annotations

import logging
from pathlib import Path

from rageval.data import Corpus, Dataset, Qrels, Queries, Span, Spans
from rageval.errors import DataError, MissingSplitError
from rageval.jsonl import read_jsonl, read_lines
from rageval.plugins import DatasetLoader

from .jsonl import check_id, id_field, read_records

log = logging.getLogger("rageval")


def pick_split(available: list[str], split: str | None, where: Path) -> str:
    """The requested split, else ``test`` when present, else the only one."""
    if split is not None:
        if split not in available:
            raise MissingSplitError(where, f"no split {split!r}; available: {', '.join(available) or 'none'}")
        return split
    if "test" in available:
        return "test"
    if len(available) == 1:
        return available[0]
    raise DataError(where, f"several splits ({', '.join(available)}): choose one with --split")


_HEADER_WORDS = {"query-id", "query_id", "qid", "query", "corpus-id", "corpus_id", "docid", "doc-id", "doc_id",
                 "doc", "score", "relevance", "rel", "grade", "label", "iter", "q0"}


def read_qrels(path: Path) -> Qrels:
    """``query-id<TAB>corpus-id<TAB>score`` (a header line of column names is optional; a 4-column
    TREC qrels line also works). A first line is taken as a header only when it names columns; a
    bad score anywhere else is an error. Negative grades are kept (not relevant) with a warning."""
    qrels: Qrels = {}
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


def matching_judgments(qrels: Qrels, where: Path | str, corpus: Corpus, query_ids: set[str],
                       queries_name: str, corpus_name: str) -> Qrels:
    """The judgments whose query and document exist; the others are counted in a warning, and an
    error is raised when none is left."""
    unknown_q = [q for q in qrels if q not in query_ids]
    unknown_docs = sum(1 for q in qrels if q in query_ids for d in qrels[q] if d not in corpus)
    kept = {q: {d: g for d, g in j.items() if d in corpus} for q, j in qrels.items() if q in query_ids}
    kept = {q: j for q, j in kept.items() if j}
    if not kept:
        raise DataError(where, f"no judgment matches the corpus and queries ({len(unknown_q)} unknown query ids, "
                               f"{unknown_docs} judgments of unknown documents)")
    if not any(g > 0 for j in kept.values() for g in j.values()):
        raise DataError(where, f"no relevant judgment: all {sum(map(len, kept.values()))} grades are 0 or less, "
                               "so no query can be scored")
    if unknown_q or unknown_docs:
        log.warning("%s: skipped %d queries not in %s (e.g. %r) and %d judgments of documents not in %s", where,
                    len(unknown_q), queries_name, unknown_q[0] if unknown_q else None, unknown_docs, corpus_name)
    return kept


class BeirLoader(DatasetLoader):
    """BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv, optional spans.jsonl."""

    def __init__(self, path: Path, fields: str = "title,text", name: str = "", group_by: str = "",
                 lenient: bool = False):
        self.path = Path(path)
        self.fields = tuple(f.strip() for f in fields.split(",") if f.strip())
        self.name = name or self.path.resolve().name
        self.group_by = group_by
        self.lenient = lenient
        if group_by not in ("", "title"):
            raise DataError(self.path, f"group_by={group_by!r}: only 'title' is supported")
        if not self.fields:
            raise DataError(self.path, "fields= names no field")

    @classmethod
    def detect(cls, path: Path) -> bool:
        return (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file()

    def check(self) -> None:
        if not self.path.exists():
            raise DataError(self.path, "no such folder")

    def load(self, split: str | None = None) -> Dataset:
        if not self.path.is_dir():
            raise DataError(self.path, "not a folder" if self.path.exists() else "no such folder")
        qrels_dir = self.path / "qrels"
        splits = sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
        split = pick_split(splits, split, qrels_dir)
        corpus = self._corpus(self.path / "corpus.jsonl")
        queries = self._queries(self.path / "queries.jsonl")
        qrels_path = qrels_dir / f"{split}.tsv"
        qrels = matching_judgments(read_qrels(qrels_path), qrels_path, corpus, set(queries.ids),
                                   "queries.jsonl", "corpus.jsonl")
        queries = queries.subset(qrels)
        spans = None
        if (self.path / "spans.jsonl").is_file():
            spans = read_spans(self.path / "spans.jsonl", corpus, set(queries.ids), self.lenient)
        dataset = Dataset(self.name, corpus, queries, qrels, spans, split,
                          meta={"source": str(self.path), "fields": list(self.fields)})
        return join_by_title(dataset) if self.group_by == "title" else dataset

    def _corpus(self, path: Path) -> Corpus:
        ids, texts, titles, metas = read_records(path, "title", "the corpus is empty")
        if not any(t.strip() for t in (*texts, *titles)):
            raise DataError(path, f"every one of the {len(ids)} documents is empty: nothing to search")
        extra_seen = {k for meta in metas for k in meta}
        for f in self.fields:
            if f not in ("title", "text") and f not in extra_seen:
                raise DataError(path, f"fields= names {f!r}, which no document has; "
                                      f"fields present: {', '.join(['title', 'text', *sorted(extra_seen)])}")
        return Corpus(ids=ids, texts=texts, titles=titles, metas=metas, fields=self.fields)

    @staticmethod
    def _queries(path: Path) -> Queries:
        return Queries(*read_records(path, "instruction", "there are no queries"))


def read_spans(path: Path, corpus: Corpus, query_ids: set[str], lenient: bool = False) -> Spans:
    """Reference spans ``{"query-id", "corpus-id", "start", "end", "text"?}``, checked against the
    corpus: a bad span is an error naming its line, or with ``lenient`` skipped and counted."""
    spans: Spans = {}
    skipped = 0
    for line_no, obj in read_jsonl(path):
        try:
            span = _span(path, line_no, obj, corpus, query_ids)
        except DataError:
            if not lenient:
                raise
            skipped += 1
            continue
        if span is not None:
            spans.setdefault(span[0], []).append(span[1])
    if skipped:
        log.warning("%s: skipped %d spans that do not match the corpus (lenient)", path, skipped)
    return spans


def _span(path: Path, line_no: int, obj: dict, corpus: Corpus, query_ids: set[str]) -> tuple[str, Span] | None:
    """One checked span line: (query id, (doc id, start, end)), or None for a query of another split."""
    qid = id_field(path, line_no, obj, "query-id")
    if qid not in query_ids:
        return None
    did = id_field(path, line_no, obj, "corpus-id")
    if did not in corpus:
        raise DataError(path, f"query {qid!r}: span names unknown document {did!r}", line_no)
    start, end = obj.get("start"), obj.get("end")
    text = corpus.texts[corpus.position(did)]
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)):
        raise DataError(path, f"query {qid!r}: offsets start={start!r}, end={end!r} are not within "
                              f"document {did!r} (length {len(text)})", line_no)
    if "text" in obj and text[start:end] != obj["text"]:
        raise DataError(path, f"query {qid!r}: span text {str(obj['text'])[:40]!r} does not match document "
                              f"{did!r} at [{start}:{end}] ({text[start:end][:40]!r})", line_no)
    return qid, (did, start, end)


def join_by_title(dataset: Dataset, separator: str = "\n\n") -> Dataset:
    """One document per title (e.g. an article from its paragraphs): texts joined in corpus order,
    judgments and spans moved to the joined document, span offsets shifted."""
    corpus = dataset.corpus
    order: dict[str, list[int]] = {}
    for i, title in enumerate(corpus.titles):
        order.setdefault(title or corpus.ids[i], []).append(i)
    ids, texts, titles, metas = [], [], [], []
    moved: dict[str, tuple[str, int]] = {}
    for title, rows in order.items():
        new_id = "_".join(title.split())
        offset, parts = 0, []
        for i in rows:
            moved[corpus.ids[i]] = (new_id, offset)
            parts.append(corpus.texts[i])
            offset += len(corpus.texts[i]) + len(separator)
        ids.append(new_id)
        texts.append(separator.join(parts))
        titles.append(title)
        metas.append({"parts": [corpus.ids[i] for i in rows]})
    qrels = {}
    for q, judged in dataset.qrels.items():
        joined: dict[str, int] = {}
        for d, g in judged.items():
            joined[moved[d][0]] = max(g, joined.get(moved[d][0], g))
        qrels[q] = joined
    spans = None
    if dataset.spans is not None:
        spans = {q: [(moved[d][0], s + moved[d][1], e + moved[d][1]) for d, s, e in refs]
                 for q, refs in dataset.spans.items()}
    grouped = Corpus(ids=ids, texts=texts, titles=titles, metas=metas, fields=corpus.fields)
    return Dataset(dataset.name + "-by-title", grouped, dataset.queries, qrels, spans, dataset.split,
                   meta={**dataset.meta, "grouped_by": "title"})
