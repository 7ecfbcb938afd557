"""Walking a source tree: which files are code we can read, and a count of everything skipped."""
from __future__ import annotations

import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rageval.text.treesitter import BY_EXTENSION

# Folders never walked: virtualenvs, build output, vendored code, caches (hidden folders are skipped too).
SKIP_DIRS = frozenset({
    "node_modules", "bower_components", "__pycache__", "site-packages", "dist-packages", "venv", "build", "dist",
    "target", "vendor", "vendors", "third_party", "thirdparty", "_vendor", "_bundled",
})
GENERATED_NAME = re.compile(r"(\.min\.js|_pb2\.py|\.pb\.go|\.generated\.\w+|_generated\.\w+)$")
GENERATED_HEADER = re.compile(rb"(?i)(@generated|auto-?generated|automatically generated|do not edit|"
                              rb"generated (from|by|with) [^\n]{0,80}?\b[\w-]+\.(py|pl|sh|txt|proto|y)\b)")


@dataclass(frozen=True)
class SourceFile:
    path: str       # relative to the tree's root, with forward slashes
    language: str
    data: bytes
    text: str


def walk(root: Path, max_bytes: int, exclude: frozenset[str], counts: Counter) -> Iterator[SourceFile]:
    """Readable source files under ``root`` in a stable order; every skipped file is counted by reason.

    Symbolic links are never followed (so no loop), folders holding a ``pyvenv.cfg`` are virtualenvs;
    folders that cannot be read and anything that is not a regular file (a FIFO, a device) are skipped.
    """
    def unreadable(error: OSError) -> None:
        counts["unreadable folder"] += 1

    for folder, dirs, files in os.walk(root, followlinks=False, onerror=unreadable):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if _walked(base, d, exclude, counts))
        for name in sorted(files):
            found = _source_file(root, base / name, max_bytes, counts)
            if found is not None:
                yield found


def _walked(base: Path, name: str, exclude: frozenset[str], counts: Counter) -> bool:
    """Whether the folder ``base/name`` is walked: not hidden, skipped, excluded, a link or a virtualenv
    (a folder that cannot be checked is counted as unreadable)."""
    if name.startswith(".") or name in SKIP_DIRS or name in exclude:
        return False
    try:
        return not (base / name).is_symlink() and not (base / name / "pyvenv.cfg").exists()
    except OSError:
        counts["unreadable folder"] += 1
        return False


def _source_file(root: Path, path: Path, max_bytes: int, counts: Counter) -> SourceFile | None:
    """The file at ``path`` when it is readable source code of a known language, else None with the
    reason counted: unknown extension, symlink, generated (by name or header), not a regular file,
    over ``max_bytes``, unreadable, binary, or not UTF-8."""
    language = BY_EXTENSION.get(path.suffix.lower())
    if language is None:
        counts["unknown extension"] += 1
        return None
    if path.is_symlink():
        counts["symlink"] += 1
        return None
    if GENERATED_NAME.search(path.name):
        counts["generated"] += 1
        return None
    data = _read_regular(path, max_bytes, counts)
    if data is None:
        return None
    if b"\x00" in data[:8192]:
        counts["binary"] += 1
        return None
    if GENERATED_HEADER.search(data[:1024]):
        counts["generated"] += 1
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        counts["undecodable"] += 1
        return None
    return SourceFile(path.relative_to(root).as_posix(), language, data, text)


def _read_regular(path: Path, max_bytes: int, counts: Counter) -> bytes | None:
    """The bytes of ``path`` when it is a regular file of at most ``max_bytes``, else None with the reason counted."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            counts["not a regular file"] += 1
            return None
        if info.st_size > max_bytes:
            counts["over size cap"] += 1
            return None
        return path.read_bytes()
    except OSError:
        counts["unreadable"] += 1
        return None
