"""Retrievers' indexes cached on disk, beside the other caches (``rageval.store.cache``)."""
from __future__ import annotations

from pathlib import Path

from rageval.data.model import Corpus
from rageval.plugins import Retriever
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_folder


def cached_index(retriever: Retriever, corpus: Corpus) -> tuple[bool, int | None]:
    """Index ``corpus``, or load the index a previous run saved under (``retriever.config()``, corpus
    fingerprint) in ``indexes/``. Returns whether it came from the cache, and the saved index's size
    in bytes (None for a retriever that does not save its index)."""
    if not retriever.cacheable:
        retriever.index(corpus)
        return False, None
    folder = cache_dir("indexes") / key(retriever.config(), corpus.fingerprint)
    if (folder / "complete").is_file():
        retriever.load(folder)
        return True, _size(folder)
    retriever.index(corpus)
    with atomic_folder(folder, keep_existing=True) as partial:  # a concurrent run may finish it first
        retriever.save(partial)
        (partial / "complete").touch()
    return False, _size(folder)


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
