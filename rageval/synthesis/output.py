"""A synth folder: the documents, ``questions.csv`` in the published chunking evaluation's layout
(``question``, ``references`` as a JSON list of ``{"content", "start_index", "end_index"}``,
``corpus_id``), which ``rageval run --dataset docs:DIR`` reads as it is, and ``manifest.json``.

The folder is written whole or not at all (filled beside it, checked by reading it back with the
``docs:`` loader, then put in place). An existing ``--out`` is replaced only when it is empty or a
synth folder that holds nothing but the files its manifest lists; when a rerun produces the same
benchmark, the folder is left as it is (same bytes, the first run's timing kept). A run that finds
``--out`` written by another synth run since it began leaves that folder and stops with an error
(unless it holds the same benchmark); the last check and the replacement hold a lock on the folder
above, so two runs never replace one ``--out`` at once. A symbolic link is never ``--out``.
"""
from __future__ import annotations

import contextlib
import csv
import filecmp
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from rageval.data.model import Corpus
from rageval.errors import RagevalError
from rageval.store.files import atomic_folder, atomic_open, output_folder, remove_stale, write_json

log = logging.getLogger("rageval")
MANIFEST = "manifest.json"
QUESTIONS = "questions.csv"
KIND = "rageval-synth"
FORMAT = 1
_SAFE_PART = re.compile(r"[\w][\w.\- ]{0,150}")
_DOCUMENT_SUFFIXES = (".md", ".rst", ".txt")


@dataclass(frozen=True)
class Question:
    """A kept question: its text, its document and its references as (start, end, content)."""

    text: str
    doc_id: str
    references: tuple[tuple[int, int, str], ...]


class _Unchanged(Exception):
    """The rerun made the benchmark already in the folder: nothing to replace."""


def is_synth_folder(path: Path) -> bool:
    """Whether ``path`` holds a synth manifest, or a manifest.json beside a questions.csv (what ``rageval
    report`` asks: the summary of such a folder says what is wrong with its manifest)."""
    return read_manifest(path) is not None or ((path / MANIFEST).is_file() and (path / QUESTIONS).is_file())


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The synth manifest in ``path``, or None when there is none (or it is not a synth manifest)."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == KIND else None


class SynthFolder:
    """The ``--out`` folder of ``rageval synth``."""

    def __init__(self, path: str | Path):
        self.given, self.path = str(path), Path(path)  # "" is Path("."): the given text is checked
        self._began: bytes | None = None  # the manifest --out held when the run began (None: none)
        self._checked = False

    def check(self) -> None:
        """Before any work: a usable folder path that is absent, empty or a synth folder holding only
        its own files (rageval replaces only what it wrote)."""
        if not self._checked:
            self._began, self._checked = _manifest_bytes(self.path), True
        output_folder(self.given, "--out")
        if self.path.name in ("", "..") or self.path.resolve() == Path.cwd().resolve():
            raise RagevalError(f"--out {self.given} names the current folder, the root or a folder through '..': "
                               "rageval synth replaces the folder it writes; name a folder of its own")
        if self.path.is_symlink():  # the folder is replaced whole: a link would be replaced, or break the write
            raise RagevalError(f"--out {self.path} is a symbolic link (to {os.readlink(self.path)}): rageval synth "
                               "replaces the folder it writes, never through a link; give the folder itself")
        if removed := remove_stale(self.path.parent):
            log.info("removed %d temporary folders left beside %s by interrupted synth runs", removed, self.path)
        if not self.path.is_dir():
            return
        present = _entries(self.path)
        if not present:
            return
        manifest = read_manifest(self.path)
        if manifest is None:
            raise RagevalError(f"--out {self.path} is a folder with files that rageval synth did not write "
                               f"(e.g. {present[0]}): give a new or empty folder")
        own = {*manifest.get("files", []), MANIFEST}
        parents = {parent.as_posix() for name in own for parent in Path(name).parents if parent != Path(".")}
        foreign = [p for p in present if p not in own and p not in parents]
        if foreign:
            raise RagevalError(f"--out {self.path} holds files its synth manifest does not list (e.g. {foreign[0]}): "
                               "rageval replaces only what it wrote; move them or give another folder")

    def write(self, corpus: Corpus, kept: Sequence[Question], manifest: dict[str, Any],
              timing: dict[str, Any]) -> dict[str, Any]:
        """Write the benchmark (see the module docstring); returns the manifest as written or kept."""
        if not kept:
            raise RagevalError(f"no question was kept (requests {manifest['counts']['requests']}, dropped "
                               f"{manifest['counts']['dropped']}): nothing written to {self.path}")
        names = document_names(corpus)
        ids = {corpus.ids[i]: Path(name).with_suffix("").as_posix() for i, name in enumerate(names)}
        renamed = {ids[d]: d for d in corpus.ids if ids[d] != d}
        full = {"kind": KIND, "format": FORMAT, **manifest,
                "documents": len(corpus), "renamed": renamed, "files": sorted([*names, QUESTIONS]), "timing": timing}
        try:
            with _locked(self.path.parent), atomic_folder(self.path) as partial:
                self.check()  # again: the folder may have changed while the questions were made
                for i, name in enumerate(names):
                    (partial / name).parent.mkdir(parents=True, exist_ok=True)
                    with open(partial / name, "w", encoding="utf-8", newline="") as f:
                        f.write(corpus.texts[i])
                with atomic_open(partial / QUESTIONS) as f:
                    f.write(questions_csv(kept, ids))
                write_json(partial / MANIFEST, full)
                read_back(partial, corpus, kept, ids)
                if self._same(partial, full):
                    raise _Unchanged
                if (now := _manifest_bytes(self.path)) is not None and now != self._began:
                    raise RagevalError(f"--out {self.path} was written by another rageval synth while this one "
                                       "ran: it is left as that run wrote it and nothing was written (the answers "
                                       "are cached: rerun, or give another --out)")
        except _Unchanged:
            log.info("%s already holds this benchmark: left as it is", self.path)
            return read_manifest(self.path) or full
        log.info("wrote %d questions over %d documents to %s", len(kept), len(corpus), self.path)
        return full

    def _same(self, partial: Path, full: dict[str, Any]) -> bool:
        """Whether the folder already holds these files, byte for byte, and this manifest but its timing."""
        old = read_manifest(self.path)
        if old is None or {**old, "timing": None} != {**full, "timing": None}:
            return False
        return all(filecmp.cmp(partial / name, self.path / name, shallow=False) for name in full["files"])


def _manifest_bytes(folder: Path) -> bytes | None:
    """The bytes of ``folder``'s manifest.json, or None when it has none."""
    try:
        return (folder / MANIFEST).read_bytes()
    except OSError:
        return None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (POSIX ``flock``: no file is made), held while --out is
    checked and replaced, so two synth runs never replace the same folder at once; elsewhere, none."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def as_written(corpus: Corpus) -> Corpus:
    """The corpus as its synth folder reads back: the ``docs:`` loader reads a file with universal
    newlines, so a carriage return (alone or before a line feed) is a line feed in every offset."""
    changed = [i for i, text in enumerate(corpus.texts) if "\r" in text]
    if not changed:
        return corpus
    log.info("%d documents hold carriage returns: their line ends are read as line feeds (as the docs: "
             "folder written reads them back), e.g. %r", len(changed), corpus.ids[changed[0]])
    texts = [text.replace("\r\n", "\n").replace("\r", "\n") for text in corpus.texts]
    return Corpus(ids=corpus.ids, texts=texts, titles=corpus.titles, metas=corpus.metas, fields=corpus.fields)


def _entries(folder: Path) -> list[str]:
    """Every entry under ``folder`` (files, links, folders), relative, sorted; links are not followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root).relative_to(folder)
        found += [(base / name).as_posix() for name in [*dirs, *files]]
    return sorted(found)


def document_names(corpus: Corpus) -> list[str]:
    """Each document's file name in the folder: its ``docs:`` path where it has one (``.md`` / ``.rst`` / ``.txt``),
    else its id with ``.txt`` when every part of it is a safe file name, else ``doc-N.txt`` (N the first
    number from its position on that no earlier name holds). Names differ in more than letter case (a
    folder copied to a case-insensitive file system keeps every file). The ``docs:`` loader reads the
    file back under the name without its suffix (the manifest's ``renamed`` maps a changed id to the
    original)."""
    names, taken = [], set()
    for i, doc_id in enumerate(corpus.ids):
        path = corpus.metas[i].get("path") if corpus.metas[i] else None
        if isinstance(path, str) and Path(path).suffix.lower() in _DOCUMENT_SUFFIXES and _safe(path):
            name = path
        elif _safe(doc_id):
            name = f"{doc_id}.txt"
        else:
            name = f"doc-{i}.txt"
        number = i
        while Path(name).with_suffix("").as_posix().casefold() in taken:
            name, number = f"doc-{number}.txt", number + 1
        taken.add(Path(name).with_suffix("").as_posix().casefold())
        names.append(name)
    return names


def _safe(path: str) -> bool:
    return all(_SAFE_PART.fullmatch(part) for part in path.split("/"))


def questions_csv(kept: Sequence[Question], ids: dict[str, str]) -> str:
    """``questions.csv``: one row a question, references as JSON objects in document order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["question", "references", "corpus_id"])
    for q in kept:
        refs = [{"content": c, "start_index": s, "end_index": e} for s, e, c in q.references]
        writer.writerow([q.text, json.dumps(refs, ensure_ascii=False), ids[q.doc_id]])
    return out.getvalue()


def read_back(folder: Path, corpus: Corpus, kept: Sequence[Question], ids: dict[str, str]) -> None:
    """Read the written folder with the ``docs:`` loader: the same documents, every reference verbatim
    at its offsets (a document the loader would read otherwise, e.g. with carriage returns, is named)."""
    from rageval.corpora.docs import DocsLoader

    dataset = DocsLoader(folder, questions=QUESTIONS).load()
    for i, doc_id in enumerate(corpus.ids):
        if dataset.corpus.texts[dataset.corpus.position(ids[doc_id])] != corpus.texts[i]:
            raise RagevalError(f"document {doc_id!r} does not read back as written (the docs: loader reads it "
                               "with universal newlines: a carriage return in it?)")
    if len(dataset.queries) != len(kept):
        raise RagevalError(f"questions.csv reads back {len(dataset.queries)} questions, not {len(kept)}")
