"""Where rageval keeps what it can rebuild: parsed datasets, indexes, embeddings, generations.

``$RAGEVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/rageval``, else ``~/.cache/rageval``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir(*parts: str) -> Path:
    """A folder under the cache root (created)."""
    root = os.environ.get("RAGEVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rageval"
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def key(*items: Any) -> str:
    """A short stable hash of JSON-serialisable items."""
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:24]

