"""Where rageval keeps what it can rebuild: parsed datasets, indexes, embeddings, generations.

``$RAGEVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/rageval``, else ``~/.cache/rageval``.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from rageval.errors import RagevalError


def _root() -> tuple[Path, str]:
    """The cache root and what chose it (the environment variable and its value, or the default)."""
    if os.environ.get("RAGEVAL_CACHE"):
        return Path(os.environ["RAGEVAL_CACHE"]), f"$RAGEVAL_CACHE={os.environ['RAGEVAL_CACHE']}"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "rageval", f"$XDG_CACHE_HOME={os.environ['XDG_CACHE_HOME']}"
    return Path.home() / ".cache" / "rageval", "the default, as $RAGEVAL_CACHE is not set"


def _blocker(path: Path) -> str:
    """Why ``path`` cannot be a folder: the first part of it that is in the way, or '' if none is."""
    for part in [*reversed(path.parents), path]:
        try:
            if not stat.S_ISDIR(os.stat(part).st_mode):
                return f"{part} exists and is not a folder"
        except FileNotFoundError:
            return f"{part} is a broken symbolic link" if os.path.islink(part) else ""
        except OSError as e:
            return f"{part} is a symbolic link loop" if e.errno == errno.ELOOP else ""
    return ""


def _unusable(path: Path, error: OSError) -> RagevalError:
    why = _blocker(path) or (error.strerror or str(error)).lower()
    return RagevalError(f"cache folder {path} ({_root()[1]}) cannot be used: {why}; "
                        "set $RAGEVAL_CACHE to a folder rageval may write in")


def cache_dir(*parts: str) -> Path:
    """A folder under the cache root (created); a RagevalError naming the cache's setting when it
    cannot be made (a file, a FIFO or a symbolic link loop in its way, no permission)."""
    path = Path(_root()[0], *parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unusable(path, e) from None
    return path


def check_cache() -> Path:
    """The cache root, made and tried by creating and removing a folder in it: a command calls this
    before any work, so an unusable ``$RAGEVAL_CACHE`` is an error up front."""
    root = cache_dir()
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".rageval-probe-", dir=root))
    except OSError as e:
        raise _unusable(root, e) from None
    return root


def key(*items: Any) -> str:
    """A short stable hash of JSON-serialisable items."""
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:24]
