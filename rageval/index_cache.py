"""Retrievers' indexes cached on disk, beside the other caches (``rageval.cache``)."""
from __future__ import annotations

from .cache import cache_dir, key
from .data import Corpus
from .files import atomic_folder
from .plugins import Retriever


def cached_index(retriever: Retriever, corpus: Corpus) -> bool:
    """Index ``corpus``, or load the index a previous run saved under (``retriever.config()``, corpus
    fingerprint) in ``indexes/``. Returns whether it came from the cache."""
    if not retriever.cacheable:
        retriever.index(corpus)
        return False
    folder = cache_dir("indexes") / key(retriever.config(), corpus.fingerprint)
    if (folder / "complete").is_file():
        retriever.load(folder)
        return True
    retriever.index(corpus)
    with atomic_folder(folder, keep_existing=True) as partial:  # a concurrent run may finish it first
        retriever.save(partial)
        (partial / "complete").touch()
    return False
