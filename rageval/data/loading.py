"""``load_dataset``: a dataset spec (``beir:PATH``, ``irds:cranfield``, ``code:stdlib``, a bare path) to a Dataset."""
from __future__ import annotations

from pathlib import Path

from rageval import registry
from rageval.data.model import Dataset
from rageval.errors import RagevalError, SpecError
from rageval.plugins import DatasetLoader


def dataset_loader(spec: str, corpus_only: bool = False) -> DatasetLoader:
    """The loader a dataset spec names, made and checked without reading any data. An existing path
    is taken whole as a path first (even with ``,``, ``:``, ``=`` or brackets in it), bare or after a
    loader's name (``beir:PATH``), and a bare one is given to the first loader whose ``detect``
    accepts it; a loader's missing folder or file is an error here. With ``corpus_only`` (a caller
    that reads just ``corpus()``, which checks what it reads), files of questions are not required."""
    loaders = registry.available("corpora")
    if not spec.strip():
        raise SpecError(f"dataset {spec!r} is empty: give a path or a loader spec "
                        f"({', '.join(f'{n}:' for n in loaders)})")
    prefix, colon, rest = spec.partition(":")
    if Path(spec).exists():
        path = Path(spec)
        for loader_name in loaders:
            if registry.plugin("corpora", loader_name).detect(path):
                loader = _create(loader_name, spec)
                break
        else:
            raise SpecError(f"dataset {spec!r}: no loader recognises this path "
                            "(a BEIR folder has corpus.jsonl and queries.jsonl)")
    elif colon and prefix.strip() in loaders and rest and Path(rest).exists():
        loader = _create(prefix.strip(), rest)
    elif registry.parse_spec(spec)[0] in loaders:
        loader = _create(spec)
    else:
        raise SpecError(f"dataset {spec!r}: no such path, and not a loader spec "
                        f"(loaders: {', '.join(f'{n}:' for n in loaders)})")
    if not corpus_only:
        loader.check()
    return loader


def _create(spec: str, path: str | None = None) -> DatasetLoader:
    """The loader a spec names; with ``path``, the loader named ``spec`` on that path, taken whole (not
    parsed as a spec). What its constructor rejects is an error naming the spec."""
    try:
        if path is None:
            return registry.create("corpora", spec)
        first, tp = next(iter(registry.options_of(registry.plugin("corpora", spec)).items()))
        loader = registry.create("corpora", spec, **{first: registry.convert(path, tp)})
        loader.spec = f"{spec}:{path}"
        return loader
    except RagevalError:
        raise
    except Exception as e:  # noqa: BLE001 - a plugin's own check of its options: still a bad spec
        raise SpecError(f"dataset {spec if path is None else f'{spec}:{path}'!r}: {type(e).__name__}: {e}") from None


def load_dataset(spec: str, split: str | None = None, loader: DatasetLoader | None = None) -> Dataset:
    """Load and validate a dataset (``dataset_loader`` says which loader reads a spec, unless the
    caller made and checked it already)."""
    dataset = (loader or dataset_loader(spec)).load(split)
    dataset.meta.setdefault("spec", spec)
    return dataset
