"""Retrievers' indexes cached on disk, beside the other caches (``rageval.store.cache``)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from rageval.data.model import Corpus
from rageval.plugins import Retriever
from rageval.store.array_files import InvalidArrays
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_folder

log = logging.getLogger("rageval")


def cached_index(retriever: Retriever, corpus: Corpus) -> tuple[bool, int | None]:
    """Index ``corpus``, or load the index a previous run saved under (``retriever.config()``, corpus
    fingerprint) in ``indexes/``; a saved index that ``load`` finds damaged or of another layout
    (``InvalidArrays``) is removed, with a warning, and built again. Returns whether it came from
    the cache, and the saved index's size in bytes (None for a retriever that does not save its index)."""
    if not retriever.cacheable:
        retriever.index(corpus)
        return False, None
    folder = cache_dir("indexes") / key(retriever.config(), corpus.fingerprint)
    if (folder / "complete").is_file():
        try:
            retriever.load(folder)
            return True, _size(folder)
        except InvalidArrays as e:  # damaged, or written by another version: rebuilt, never misread
            log.warning("cached index not used, rebuilding it: %s", e)
            shutil.rmtree(folder, ignore_errors=True)  # an entry of rageval's own cache
    retriever.index(corpus)
    with atomic_folder(folder, keep_existing=True) as partial:  # a concurrent run may finish it first
        retriever.save(partial)
        (partial / "complete").touch()
    return False, _size(folder)


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
