"""``beir:PATH`` — a folder in BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv, spans.jsonl."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from rageval.corpora.records import id_field, matching_judgments, pick_split, read_records, reference_span
from rageval.data.jsonl import check_input_file, read_jsonl
from rageval.data.model import Corpus, Dataset, Queries, Span, Spans
from rageval.data.trec import read_qrels
from rageval.errors import DataError
from rageval.plugins import DatasetLoader

log = logging.getLogger("rageval")


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
        # lexists: a corpus.jsonl that is a folder or a broken link is still this layout, and check() says what is wrong
        return os.path.lexists(path / "corpus.jsonl") and os.path.lexists(path / "queries.jsonl")

    def check(self) -> None:
        """The layout, before any file is read: the folder, corpus.jsonl and queries.jsonl as regular
        files, and a qrels/ folder with at least one <split>.tsv."""
        if not self.path.is_dir():
            raise DataError(self.path, "not a folder" if self.path.exists() else "no such folder")
        for name in ("corpus.jsonl", "queries.jsonl"):
            check_input_file(self.path / name)
        qrels_dir = self.path / "qrels"
        if not qrels_dir.is_dir():
            raise DataError(qrels_dir, "no qrels folder: a BEIR folder keeps its judgments in qrels/<split>.tsv"
                            if not qrels_dir.exists() else "not a folder (qrels/<split>.tsv holds the judgments)")
        if not any(qrels_dir.glob("*.tsv")):
            raise DataError(qrels_dir, "no judgments: this folder has no <split>.tsv file")

    def load(self, split: str | None = None) -> Dataset:
        self.check()
        qrels_dir = self.path / "qrels"
        split = pick_split(sorted(p.stem for p in qrels_dir.glob("*.tsv")), split, qrels_dir)
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

    def corpus(self) -> Corpus:
        """The documents alone, from corpus.jsonl (``rageval synth`` needs no queries nor judgments)."""
        if self.group_by:
            return self.load().corpus
        if not self.path.is_dir():
            raise DataError(self.path, "not a folder" if self.path.exists() else "no such folder")
        check_input_file(self.path / "corpus.jsonl")
        return self._corpus(self.path / "corpus.jsonl")

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
    return qid, reference_span(path, line_no, f"query {qid!r}", corpus, did, obj.get("start"), obj.get("end"),
                               obj.get("text") if "text" in obj else None)


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
