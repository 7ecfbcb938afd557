"""``code-spans:stdlib`` / ``code-spans:PATH`` — whole source files as documents, docstring summaries
as queries, and each function's code (its character range in the file) as the reference span.

Built on the ``code:`` loader's records: the same files, functions, summaries and splits. The
docstring or leading comment of every documented function is blanked in the stored file text
(replaced by spaces, line breaks kept), so no query can be found verbatim and every offset stays valid.
"""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from rageval.corpora.code import SPLITS, CodeLoader
from rageval.corpora.code_functions import module_name
from rageval.data.model import Corpus, Dataset, Queries
from rageval.errors import DataError, MissingSplitError
from rageval.plugins import DatasetLoader

_NOT_NEWLINE = re.compile(r"[^\n]")


def blank(text: str, ranges: list[tuple[int, int]]) -> str:
    """``text`` with every range replaced by spaces (line breaks kept, so offsets do not move)."""
    parts, pos = [], 0
    for start, end in sorted(ranges):
        if start < pos:
            start = pos
        parts += [text[pos:start], _NOT_NEWLINE.sub(" ", text[start:end])]
        pos = max(pos, end)
    return "".join(parts) + text[pos:]


class CodeSpansLoader(DatasetLoader):
    """Source files as documents; a function's docstring summary is the query, its code the reference span."""

    def __init__(self, path: str, max_bytes: int = 1_000_000, exclude: str = ""):
        self.code = CodeLoader(path, max_bytes, exclude)

    def check(self) -> None:
        self.code.check()

    def load(self, split: str | None = None) -> Dataset:
        split = split or "test"
        if split not in SPLITS:
            raise MissingSplitError(self.code.root, f"no split {split!r}; available: {', '.join(SPLITS)}")
        records, stats = self.code.records()
        by_path: dict[str, list[dict]] = {}
        for r in records:
            by_path.setdefault(r["path"], []).append(r)
        ids, texts, titles, metas = [], [], [], []
        for path, recs in sorted(by_path.items()):
            text = (Path(self.code.root) / path).read_text(encoding="utf-8")
            ids.append(urllib.parse.quote(path, safe="/._-"))
            texts.append(blank(text, [(r["doc_start"], r["doc_end"]) for r in recs]))
            titles.append(module_name(path))
            metas.append({"path": path, "language": recs[0]["language"]})
        chosen = [r for r in records if r["split"] == split]
        if not chosen:
            raise DataError(self.code.root, f"the {split} split has no query")
        qids = [f"q:{r['id']}" for r in chosen]
        doc = {r["path"]: urllib.parse.quote(r["path"], safe="/._-") for r in chosen}
        spans = {q: [(doc[r["path"]], r["start"], r["end"])] for q, r in zip(qids, chosen)}
        qrels = {q: {doc[r["path"]]: 1} for q, r in zip(qids, chosen)}
        return Dataset(self.code.name + "-spans", Corpus(ids=ids, texts=texts, titles=titles, metas=metas),
                       Queries(qids, [r["summary"] for r in chosen]), qrels, spans, split,
                       meta={"source": str(self.code.root), "stats": stats})
