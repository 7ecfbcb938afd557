"""Where a trained retriever's training data comes from, for one evaluated dataset."""
from __future__ import annotations

import logging

from rageval.data.loading import load_dataset
from rageval.data.model import Dataset
from rageval.errors import MissingSplitError, RagevalError
from rageval.plugins import DatasetLoader, Retriever

log = logging.getLogger("rageval")


class TrainingData:
    """The train (and dev) split a trained retriever fits on when it is evaluated on the dataset
    ``spec``: of its ``train_spec`` (which must have a train split), else of the evaluated dataset,
    else of its ``default_train`` (the evaluation is then zero-shot). ``loader`` is the evaluated
    dataset's loader, already made and checked."""

    def __init__(self, spec: str, loader: DatasetLoader | None = None):
        self.spec, self.loader = spec, loader

    def _load(self, spec: str, split: str) -> Dataset:
        return load_dataset(spec, split, self.loader if spec == self.spec else None)

    def source(self, retriever: Retriever) -> tuple[str, Dataset]:
        """(the spec of the dataset ``retriever`` trains on, its train split)."""
        if retriever.train_spec:
            try:
                return retriever.train_spec, self._load(retriever.train_spec, "train")
            except MissingSplitError as e:
                raise RagevalError(f"{retriever.name} cannot train on {retriever.train_spec}: it has no train split "
                                   f"({e})") from None
        try:
            return self.spec, self._load(self.spec, "train")
        except MissingSplitError:
            if not retriever.default_train:
                raise RagevalError(f"{retriever.name} needs training and {self.spec} has no train split") from None
            log.info("%s has no train split: %s trains on %s (train split), zero-shot here", self.spec,
                     retriever.name, retriever.default_train)
            return retriever.default_train, self._load(retriever.default_train, "train")

    def splits(self, retriever: Retriever) -> tuple[Dataset, Dataset | None]:
        """The train split ``retriever`` fits on, and the dev split of the same dataset (None when it has none)."""
        spec, train = self.source(retriever)
        try:
            return train, self._load(spec, "dev")
        except MissingSplitError:
            return train, None
