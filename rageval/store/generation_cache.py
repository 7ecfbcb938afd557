"""The on-disk cache of generations: one SQLite table under the cache folder.

A generation is keyed by (generator identity, prompt, generation parameters); each one is
committed as soon as it arrives, so an interrupted or failed batch keeps what it produced.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from rageval.store.cache import cache_dir, key


def generation_key(identity: Mapping[str, Any], prompt: str, params: Mapping[str, Any]) -> str:
    return key(dict(identity), prompt, dict(params))


class GenerationCache:
    """Generated texts by key, in ``<cache>/generations/generations.sqlite`` (safe across processes)."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir("generations") / "generations.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, text TEXT NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, text FROM generations WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update(rows.fetchall())
        return found

    def put(self, cache_key: str, text: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO generations (key, text) VALUES (?, ?)", (cache_key, text))

    def close(self) -> None:
        self._db.close()
