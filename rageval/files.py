"""Atomic file writes: a reader sees either the old file or the complete new one, never a part.

Temporary names carry the writing process's id (``.NAME.<pid>.<random>.part``, ``.NAME.<pid>.<random>``),
so ``remove_stale`` can delete what a killed process left behind without touching a live writer's files.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .errors import RagevalError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only folder: name the file that could not be written
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.filename is None:
            raise RagevalError(f"cannot write {path}: {e.strerror or e}") from e
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; on success it replaces ``path``, on error it is
    removed. With ``keep_existing`` (a cache entry whose content is determined by its name), a
    ``path`` that another process put in place first is kept, and that is success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent))
    try:
        yield partial
        if keep_existing and path.exists():
            return
        shutil.rmtree(path, ignore_errors=True)
        try:
            os.replace(partial, path)
        except OSError:
            if not (keep_existing and path.exists()):  # lost the race to another writer of the same entry
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[^.]+(?:\.part)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: str | Path) -> int:
    """Delete the temporary files and folders under ``folder`` whose writing process is gone;
    returns how many went."""
    removed = 0
    for root, dirs, files in os.walk(folder):
        for name in [*files, *dirs]:
            found = _TEMPORARY.match(name)
            if found and int(found.group(1)) != os.getpid() and not _alive(int(found.group(1))):
                target = Path(root, name)
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                    if name in dirs:
                        dirs.remove(name)
                else:
                    target.unlink(missing_ok=True)
                removed += 1
    return removed


def write_json(path: str | Path, data: Any) -> None:
    with atomic_open(path) as f:
        json.dump(data, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> None:
    with atomic_open(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")
