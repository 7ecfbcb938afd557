"""Where rageval keeps what it can rebuild: parsed datasets, indexes, embeddings, generations.

``$RAGEVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/rageval``, else ``~/.cache/rageval``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import atomic_folder

if TYPE_CHECKING:
    from .data import Corpus
    from .plugins import Retriever


def cache_dir(*parts: str) -> Path:
    """A folder under the cache root (created)."""
    root = os.environ.get("RAGEVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rageval"
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def key(*items: Any) -> str:
    """A short stable hash of JSON-serialisable items."""
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached_index(retriever: "Retriever", corpus: "Corpus") -> bool:
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
