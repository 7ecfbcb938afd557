"""``docs:PATH`` — a folder of ``.md`` / ``.rst`` / ``.txt`` / ``.html`` documents with questions and reference spans.

Questions come from ``queries.jsonl`` + ``spans.jsonl`` (the BEIR layout of ../shared/datasets),
or from a CSV with columns ``question``, ``references`` (a JSON list of ``{"content",
"start_index", "end_index"}``) and ``corpus_id`` (the format of the public chunking-evaluation
data). A document's id is its path without extension; HTML is reduced to its text, and offsets
refer to that stored text.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import stat
from html.parser import HTMLParser
from pathlib import Path

from rageval.corpora.beir import BeirLoader, read_spans
from rageval.corpora.records import reference_span
from rageval.data.jsonl import check_input_file
from rageval.data.model import Corpus, Dataset, Queries, Spans
from rageval.errors import DataError
from rageval.plugins import DatasetLoader

log = logging.getLogger("rageval")
EXTENSIONS = (".md", ".rst", ".txt", ".html", ".htm")
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of an HTML page (scripts and styles dropped, block elements on their own lines)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


class DocsLoader(DatasetLoader):
    """A folder of .md/.rst/.txt/.html documents with questions: queries.jsonl + spans.jsonl, or a chunking-evaluation CSV."""

    def __init__(self, path: Path, questions: str = "", lenient: bool = False):
        self.path = Path(path)
        self.questions = questions
        self.lenient = lenient

    def check(self) -> None:
        """The folder, and a ``questions=`` file (before any document is read)."""
        if not self.path.is_dir():
            raise DataError(self.path, "no such folder" if not self.path.exists() else "not a folder")
        if self.questions:
            self._questions_file()

    def load(self, split: str | None = None) -> Dataset:
        self.check()
        corpus = self._corpus()
        source = self._questions_file() if self.questions else self._find_questions()
        if source.suffix.lower() == ".csv":
            queries, spans = self._csv(source, corpus)
        else:
            queries = BeirLoader._queries(self.path / "queries.jsonl")
            spans = read_spans(source, corpus, set(queries.ids), self.lenient)
            queries = queries.subset(spans)
        if not spans:
            raise DataError(source, "no question has a reference span")
        qrels = {q: {d: 1 for d, _, _ in refs} for q, refs in spans.items()}
        return Dataset(self.path.resolve().name, corpus, queries, qrels, spans, split or "test",
                       meta={"source": str(self.path), "questions": str(source)})

    def corpus(self) -> Corpus:
        """The folder's documents, questions or not (a folder ``rageval synth`` is to ask about)."""
        self.check()
        return self._corpus()

    def _questions_file(self) -> Path:
        """The ``questions=`` file: a relative path is taken inside the dataset folder and may not
        lead out of it (``..``, a symbolic link); an absolute path is read where it points. It must
        be a ``.csv`` or a ``.jsonl`` spans file, and a regular file."""
        given = Path(self.questions)
        where = f"questions={self.questions}"
        if given.suffix.lower() not in (".csv", ".jsonl"):
            raise DataError(self.path, f"{where}: expected a .csv file or a .jsonl spans file")
        if given.is_absolute():
            path = given
        else:
            path = self.path / given
            if not path.resolve().is_relative_to(self.path.resolve()):
                raise DataError(self.path, f"{where}: a relative path must stay inside the dataset folder "
                                           "(write an absolute path to read a file elsewhere)")
        check_input_file(path)
        return path

    def _find_questions(self) -> Path:
        csvs = sorted(self.path.glob("*.csv"))
        if len(csvs) == 1:
            return csvs[0]
        if (self.path / "spans.jsonl").is_file() and (self.path / "queries.jsonl").is_file():
            return self.path / "spans.jsonl"
        raise DataError(self.path, "no questions: expected queries.jsonl + spans.jsonl or one .csv "
                                   f"(found {len(csvs)} .csv files; name one with questions=FILE)")

    def _files(self) -> list[Path]:
        """Document files under the folder in sorted order; symbolic links (which could lead out of
        the folder) and what is not a regular file are skipped and counted, hidden entries ignored."""
        found, skipped = [], 0
        for folder, dirs, files in os.walk(self.path, followlinks=False):
            base = Path(folder)
            skipped += sum(1 for d in dirs if (base / d).is_symlink())
            dirs[:] = [d for d in dirs if not d.startswith(".") and not (base / d).is_symlink()]
            for name in files:
                file = base / name
                if name.startswith(".") or file.suffix.lower() not in EXTENSIONS:
                    continue
                if file.is_symlink() or not stat.S_ISREG(file.stat().st_mode):
                    skipped += 1
                    continue
                found.append(file)
        if skipped:
            log.warning("%s: skipped %d symbolic links and other entries that are not regular files", self.path, skipped)
        return sorted(found)

    def _corpus(self) -> Corpus:
        ids, texts, metas = [], [], []
        for file in self._files():
            rel = file.relative_to(self.path)
            try:
                raw = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise DataError(file, f"not UTF-8: byte {e.object[e.start]:#04x} at offset {e.start}") from None
            ids.append(rel.with_suffix("").as_posix())
            texts.append(html_text(raw) if file.suffix.lower() in (".html", ".htm") else raw)
            metas.append({"path": rel.as_posix()})
        if not ids:
            raise DataError(self.path, f"no document ({', '.join(EXTENSIONS)}) in this folder")
        if len(set(ids)) != len(ids):
            raise DataError(self.path, "two documents share a name without extension")
        return Corpus(ids=ids, texts=texts, metas=metas, fields=("text",))

    def _csv(self, path: Path, corpus: Corpus) -> tuple[Queries, Spans]:
        ids, texts, spans, skipped = [], [], {}, 0
        try:
            raw = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            line = e.object[:e.start].count(b"\n") + 1
            raise DataError(path, f"not UTF-8: byte {e.object[e.start]:#04x}", line) from None
        except OSError as e:
            raise DataError(path, e.strerror or str(e)) from None
        with io.StringIO(raw, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"question", "references"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(path, f"missing column(s) {', '.join(sorted(missing))} in the header line", 1)
            for row in reader:
                line = reader.line_num
                qid = f"q{len(ids) + skipped}"
                try:
                    refs = self._references(path, line, row, corpus)
                except DataError:
                    if not self.lenient:
                        raise
                    skipped += 1
                    continue
                ids.append(qid)
                texts.append(row["question"])
                spans[qid] = refs
        if skipped:
            log.warning("%s: skipped %d questions whose references do not match the documents (lenient)", path, skipped)
        return Queries(ids, texts), spans

    def _references(self, path: Path, line: int, row: dict, corpus: Corpus) -> list[tuple[str, int, int]]:
        if row["references"] is None:  # csv gives None for the fields a short row lacks
            columns = [v for k, v in row.items() if k is not None]
            raise DataError(path, f"the row has {sum(v is not None for v in columns)} of the header's {len(columns)} "
                                  "columns", line)
        question = row["question"][:60]
        doc = self._document(path, line, question, row.get("corpus_id") or "", corpus)
        try:
            refs = json.loads(row["references"])
        except json.JSONDecodeError as e:
            raise DataError(path, f"question {question!r}: references is not JSON ({e.msg})", line) from None
        if not isinstance(refs, list):
            raise DataError(path, f"question {question!r}: references must be a JSON list, got {row['references'][:60]!r}",
                            line)
        out = []
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                raise DataError(path, f"question {question!r}: reference {i} is not an object: {json.dumps(ref)[:60]}",
                                line)
            out.append(reference_span(path, line, f"question {question!r}, reference {i}", corpus, doc,
                                      ref.get("start_index"), ref.get("end_index"), ref.get("content"),
                                      past_end_ok=self.lenient))
        if not out:
            raise DataError(path, f"question {question!r}: references holds no span", line)
        return out

    @staticmethod
    def _document(path: Path, line: int, question: str, corpus_id: str, corpus: Corpus) -> str:
        """The document a ``corpus_id`` names: its id, or the one document whose file stem it is
        (the published layout keeps documents in ``corpora/NAME.md`` and names them ``NAME``)."""
        if not corpus_id and len(corpus) == 1:
            return corpus.ids[0]
        if corpus_id in corpus:
            return corpus_id
        by_stem = [d for d in corpus.ids if d.rsplit("/", 1)[-1] == corpus_id]
        if len(by_stem) == 1:
            return by_stem[0]
        raise DataError(path, f"question {question!r}: corpus_id {corpus_id!r} is not a document of the folder "
                              f"(documents: {', '.join(corpus.ids[:5])}{'...' if len(corpus) > 5 else ''})", line)
