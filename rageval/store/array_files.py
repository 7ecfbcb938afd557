"""Numeric arrays saved as ``.npy`` files under a manifest of their layout and checksums, read back
as memory maps.

``save_arrays`` writes every array and then ``arrays.json``: the layout version the writer gave,
each array's dtype, shape and CRC-32, and plain values. ``load_arrays`` checks all of it before any
array is used (the checksums are read with buffered reads, so the maps stay unpaged until searched)
and raises ``InvalidArrays`` on anything that does not match: a missing, truncated or altered file,
or a layout other than the reader's, so a cache written by another version is rebuilt, not misread.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "arrays.json"
_CHUNK = 1 << 24


class InvalidArrays(Exception):
    """Saved arrays that must not be used: what is wrong with which file."""


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def save_arrays(folder: Path, layout: str, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
    """Write ``arrays`` as ``NAME.npy`` in ``folder``, then the manifest with ``layout`` and ``values``."""
    entries = {}
    for name, array in arrays.items():
        path = folder / f"{name}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        entries[name] = {"dtype": np.asarray(array).dtype.str, "shape": list(np.shape(array)), "crc32": _crc32(path)}
    manifest = {"layout": layout, "arrays": entries, "values": values}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def load_arrays(folder: Path, layout: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays (read-only memory maps) and values that ``save_arrays`` wrote in ``folder`` with
    this ``layout``; ``InvalidArrays`` when the manifest, a checksum, a dtype or a shape disagrees."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        found, entries, values = manifest["layout"], manifest["arrays"], manifest["values"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidArrays(f"{folder / MANIFEST}: no readable manifest ({type(e).__name__}: {e})") from None
    if found != layout:
        raise InvalidArrays(f"{folder}: layout {found!r}, this version reads {layout!r}")
    arrays = {}
    for name, entry in entries.items():
        path = folder / f"{name}.npy"
        try:
            crc = _crc32(path)
        except OSError as e:
            raise InvalidArrays(f"{path}: {e.strerror or e}") from None
        if crc != entry["crc32"]:
            raise InvalidArrays(f"{path}: checksum {crc:08x}, the manifest says {entry['crc32']:08x}")
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.dtype.str != entry["dtype"] or list(array.shape) != entry["shape"]:
            raise InvalidArrays(f"{path}: {array.dtype.str} {list(array.shape)}, the manifest says "
                                f"{entry['dtype']} {entry['shape']}")
        arrays[name] = array
    return arrays, values
