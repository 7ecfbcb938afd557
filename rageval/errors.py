"""Errors a user can cause, each naming where the problem is."""
from __future__ import annotations

from pathlib import Path


class RagevalError(Exception):
    """Base class of every error rageval reports to a user (printed as one line, no traceback)."""


class DataError(RagevalError):
    """Bad input data: names the file, the line (1-based) and what is wrong with which value."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class SpecError(RagevalError):
    """A plugin spec string names an unknown plugin or option, or an option value of the wrong type."""


class MissingSplitError(DataError):
    """A dataset has no split of the requested name."""
