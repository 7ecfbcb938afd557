"""Atomic file writes, the clean-up of what an interrupted write left, and the checks of output paths
a user names.

A reader sees either the old file or the complete new one, never a part: every file (and cache folder)
is first written under a temporary name beside it, ``.NAME.rageval-<host>-<pid>-<12 hex digits>.part``
(``<host>``: 8 hex digits of the machine's host name), then renamed. Only rageval makes names of that
shape, so ``remove_stale`` can delete what a killed rageval process on this machine left behind without
touching a live writer's files, another machine's, or anything rageval did not write. Neither writer
creates a folder: who owns the folder creates it, and a file a user names must have an existing folder.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from rageval.errors import RagevalError

_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "surrogatepass")).hexdigest()[:8]
_TEMPORARY = re.compile(rf"\..+\.rageval-{_HOST}-([1-9][0-9]*)-[0-9a-f]{{12}}\.part", re.DOTALL)


def _temporary(path: Path) -> str:
    """A fresh temporary name beside ``path`` that ``_TEMPORARY`` matches, naming this process."""
    return str(path.with_name(f".{path.name}.rageval-{_HOST}-{os.getpid()}-{secrets.token_hex(6)}.part"))


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it is removed.
    The folder of ``path`` must exist; a file that cannot be written raises RagevalError naming it."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise RagevalError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):  # a full disk, a target that is a folder...
            raise RagevalError(f"cannot write {path}: {e.strerror or e}") from e
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``path`` (whose parent must exist) to fill; on success it replaces
    ``path``, on error it is removed. With ``keep_existing`` (a cache entry whose content is determined
    by its name), a ``path`` that another process put in place first is kept, and that is success."""
    path = Path(path)
    partial = Path(_temporary(path))
    try:
        partial.mkdir()
    except OSError as e:
        raise RagevalError(f"cannot write {path}: {e.strerror or e}") from e
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


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: str | Path, depth: int = 0) -> int:
    """Delete the temporary files and folders that rageval processes of this machine, now gone, left in
    ``folder`` and in its sub-folders down to ``depth`` levels below (symbolic links are not followed);
    returns how many went. Nothing whose name rageval does not make is ever touched."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:  # gone, unreadable or not a folder: nothing of ours to remove
        return 0
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        if found and int(found.group(1)) != os.getpid() and not process_alive(int(found.group(1))):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            removed += 1
        elif depth > 0 and entry.is_dir(follow_symlinks=False):
            removed += remove_stale(entry.path, depth - 1)
    return removed


def output_file(path: str | Path | None, option: str) -> Path | None:
    """Check a file a user asked rageval to write (``option`` names where it came from) before any
    work: a non-empty path, not a symbolic link (the user's link is never replaced by a file), not a
    folder nor a device, in an existing, writable folder. Creates
    nothing; ``None`` (the option not given) passes."""
    if path is None:
        return None
    if str(path) == "":
        raise RagevalError(f"{option} is empty: give a file name")
    path = Path(path)
    if path.is_symlink():
        raise RagevalError(f"{option} {path} is {_link(path)}: rageval does not write through links; "
                           "give the file itself or another name")
    if path.is_dir():
        raise RagevalError(f"{option} {path} is a folder: give a file name")
    if path.exists() and not path.is_file():
        raise RagevalError(f"{option} {path} exists and is not a regular file")
    _writable_folder(path.parent, path, option)
    return path


def output_folder(path: str | Path, option: str, create: bool = False) -> Path:
    """Check a folder a user asked rageval to write into (``option`` names where it came from): a
    non-empty path, a writable folder or one that can be made in an existing, writable folder. With
    ``create``, the missing folder is made (its parent never is)."""
    if str(path) == "":
        raise RagevalError(f"{option} is empty: give a folder")
    path = Path(path)
    if path.is_dir():
        _writable_folder(path, path, option)
        return path
    if path.exists():
        raise RagevalError(f"{option} {path} is a file, not a folder")
    if path.is_symlink():
        raise RagevalError(f"{option} {path} is {_link(path)}")
    _writable_folder(path.parent, path, option)
    if create:
        try:
            path.mkdir()
        except FileExistsError:  # made by a concurrent run meanwhile
            if not path.is_dir():
                raise RagevalError(f"{option} {path} is a file, not a folder") from None
        except OSError as e:
            raise RagevalError(f"{option} {path}: cannot create the folder: {e.strerror or e}") from e
    return path


def _link(path: Path) -> str:
    """What the symbolic link ``path`` is, for a message: a loop, a link to nothing, or a link to what."""
    target = os.readlink(path)
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"a symbolic link loop (to {target})"
        return f"a symbolic link to nothing ({target} does not exist)"
    return f"a symbolic link (to {target})"


def what_is(path: Path) -> str:
    """What an existing ``path`` (or a broken symbolic link) is, for a message: ``a file``, ``a FIFO``,
    ``a folder``, ``a symbolic link loop (to ...)``, ..."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return _link(path) if path.is_symlink() else "missing"
    from rageval.data.jsonl import _KINDS

    for test, kind in ((stat.S_ISREG, "a file"), *_KINDS):
        if test(mode):
            return kind
    return "not a regular file nor a folder"


def _writable_folder(folder: Path, path: Path, option: str) -> None:
    """``folder``, where the target ``path`` goes, exists, is a folder and takes new entries: tried by
    making and removing a temporary folder in it (permissions alone do not tell, e.g. for root or /proc)."""
    if not folder.exists():
        raise RagevalError(f"{option} {path}: no such folder {folder} (rageval creates no folder above it)")
    if not folder.is_dir():
        raise RagevalError(f"{option} {path}: {folder} is not a folder")
    probe = _temporary(folder / "probe")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        raise RagevalError(f"{option} {path}: cannot write in {folder}: {e.strerror or e}") from e


def write_json(path: str | Path, data: Any) -> None:
    """``data`` as indented UTF-8 JSON, atomically."""
    with atomic_open(path) as f:
        json.dump(data, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> None:
    """One JSON object per line, atomically."""
    with atomic_open(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")
