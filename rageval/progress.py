"""Progress bars for indexing and search (tqdm on stderr; hidden when stderr is not a terminal)."""
from __future__ import annotations

from tqdm.auto import tqdm


def bar(total: int, desc: str, unit: str = "doc") -> tqdm:
    """A progress bar to ``update(n)``; use as a context manager."""
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=None, leave=False, dynamic_ncols=True)
