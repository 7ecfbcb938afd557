"""``irds:ID`` — any collection of the ir_datasets package (``irds:cranfield``, ``irds:beir/scifact/test``)."""
from __future__ import annotations

from typing import Any, Literal, Mapping

from rageval.corpora.records import matching_judgments
from rageval.data.model import Corpus, Dataset, Qrels, Queries
from rageval.data.text_column import TextColumnBuilder
from rageval.errors import DataError, RagevalError
from rageval.plugins import DatasetLoader

# Collections whose relevance codes put the most relevant documents LOWEST (1 = complete answer).
LOWER_IS_MORE_RELEVANT = {"cranfield"}


def reverse_grades(qrels: Qrels) -> Qrels:
    """Map codes where lower is better onto grades where higher is better: positive codes c become
    ``max + 1 - c``, codes <= 0 ("no interest") become 0."""
    top = max((g for j in qrels.values() for g in j.values()), default=0)
    return {q: {d: (top + 1 - g if g > 0 else 0) for d, g in j.items()} for q, j in qrels.items()}


class IrdsLoader(DatasetLoader):
    """A collection of the ir_datasets package, by id; grades made higher-is-better where a collection is reversed."""

    def __init__(self, dataset_id: str, grades: Literal["auto", "as-is", "reverse"] = "auto",
                 fields: str = "title,text"):
        self.dataset_id = dataset_id
        self.grades = grades
        self.fields = tuple(f.strip() for f in fields.split(",") if f.strip())

    def check(self) -> None:
        """The id is a registered ir_datasets collection (or a prefix of some, e.g. ``beir/scifact``)."""
        import ir_datasets

        if self.dataset_id not in ir_datasets.registry and not any(
                name.startswith(self.dataset_id.rstrip("/") + "/") for name in ir_datasets.registry):
            raise RagevalError(f"irds:{self.dataset_id}: ir_datasets has no such dataset")

    def load(self, split: str | None = None) -> Dataset:
        import ir_datasets

        did = f"{self.dataset_id}/{split}" if split and not self.dataset_id.endswith("/" + split) else self.dataset_id
        try:
            ds = ir_datasets.load(did)
        except KeyError:
            raise RagevalError(f"irds:{did}: ir_datasets has no such dataset") from None
        for need in ("docs", "queries", "qrels"):
            if not getattr(ds, f"has_{need}")():
                raise RagevalError(f"irds:{did}: this dataset has no {need}")
        try:
            corpus = self._corpus(ds)
            queries = {q.query_id: (getattr(q, "text", None) or q.default_text()) for q in ds.queries_iter()}
            qrels: Qrels = {}
            for qrel in ds.qrels_iter():
                qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
        except (OSError, ConnectionError, RuntimeError) as e:  # ir_datasets: 'All download sources failed'
            reason = e.args[0] if isinstance(e, RuntimeError) and e.args else e
            raise RagevalError(f"irds:{did}: could not read the collection ({reason}); offline, put its source "
                               "files under $IR_DATASETS_HOME (see ir_datasets' documentation)") from None
        reverse = self.grades == "reverse" or (self.grades == "auto" and
                                                self.dataset_id.split("/")[0] in LOWER_IS_MORE_RELEVANT)
        if reverse:
            qrels = reverse_grades(qrels)
        kept = matching_judgments(qrels, f"irds:{did}", corpus, set(queries), "its queries", "its documents")
        qids = [q for q in queries if q in kept]
        return Dataset(did.replace("/", "-"), corpus, Queries(qids, [queries[q] for q in qids]), kept,
                       split=split or "", meta={"source": f"irds:{did}", "grades_reversed": reverse})

    def _corpus(self, ds) -> Corpus:
        """The documents streamed from ``docs_iter()`` into compact columns: texts and titles as
        ``TextColumn``s (one UTF-8 buffer each), no per-document object but the id and, for a
        document with fields beyond id, title and text, its meta dict."""
        ids: list[str] = []
        metas: list[Mapping[str, Any]] = []
        texts, titles = TextColumnBuilder(), TextColumnBuilder()
        no_meta: dict[str, Any] = {}  # one dict for every document without extra fields, as Corpus shares it
        seen: set[str] = set()
        for doc in ds.docs_iter():
            if doc.doc_id in seen:
                raise DataError(f"irds:{self.dataset_id}", f"duplicate document id {doc.doc_id!r}")
            seen.add(doc.doc_id)
            fields = doc._asdict()
            ids.append(doc.doc_id)
            texts.append(fields.pop("text", None) or doc.default_text())
            titles.append(fields.pop("title", "") or "")
            fields.pop("doc_id")
            meta = {k: v for k, v in fields.items() if isinstance(v, (str, int, float))}
            metas.append(meta or no_meta)
        if not ids:
            raise DataError(f"irds:{self.dataset_id}", "the corpus is empty")
        return Corpus(ids=ids, texts=texts.build(), titles=titles.build(), metas=metas, fields=self.fields)
