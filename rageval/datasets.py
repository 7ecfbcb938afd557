"""``load_dataset``: a dataset spec (``beir:PATH``, ``irds:cranfield``, ``code:stdlib``, a bare path) to a Dataset."""
from __future__ import annotations

from pathlib import Path

from . import registry
from .data import Dataset
from .errors import SpecError
from .plugins import DatasetLoader


def dataset_loader(spec: str) -> DatasetLoader:
    """The loader a dataset spec names, made and checked without reading any data: an existing
    path is taken as a path first (even with ``,`` or ``:`` in it) and given to the first loader
    whose ``detect`` accepts it; a loader's missing folder or file is an error here."""
    loaders = registry.available("corpora")
    name = None if Path(spec).exists() else registry.parse_spec(spec)[0]
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
    loader.check()
    return loader


def load_dataset(spec: str, split: str | None = None, loader: DatasetLoader | None = None) -> Dataset:
    """Load and validate a dataset (``dataset_loader`` says which loader reads a spec, unless the
    caller made and checked it already)."""
    dataset = (loader or dataset_loader(spec)).load(split)
    dataset.meta.setdefault("spec", spec)
    return dataset
