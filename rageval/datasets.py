"""``load_dataset``: a dataset spec (``beir:PATH``, ``irds:cranfield``, ``code:stdlib``, a bare path) to a Dataset."""
from __future__ import annotations

from pathlib import Path

from . import registry
from .data import Dataset
from .errors import SpecError


def load_dataset(spec: str, split: str | None = None) -> Dataset:
    """Load and validate a dataset. A bare path is given to the first loader whose ``detect`` accepts it."""
    name, _, _ = registry.parse_spec(spec)
    loaders = registry.available("corpora")
    if name in loaders:
        loader = registry.create("corpora", spec)
    else:
        path = Path(spec)
        if not path.exists():
            raise SpecError(f"dataset {spec!r}: no such path, and not a loader spec "
                            f"(loaders: {', '.join(f'{n}:' for n in loaders)})")
        for loader_name in loaders:
            if registry.plugin("corpora", loader_name).detect(path):
                loader = registry.create("corpora", f"{loader_name}:{spec}")
                break
        else:
            raise SpecError(f"dataset {spec!r}: no loader recognises this path "
                            "(a BEIR folder has corpus.jsonl and queries.jsonl)")
    dataset = loader.load(split)
    dataset.meta.setdefault("spec", spec)
    return dataset
