"""Where a trained retriever's training data comes from, for one evaluated dataset, with the
pairs that copy the evaluated documents removed."""
from __future__ import annotations

import logging
import time

from rageval.data.loading import dataset_loader, load_dataset
from rageval.data.model import Dataset
from rageval.errors import MissingSplitError, RagevalError
from rageval.plugins import DatasetLoader, Retriever

log = logging.getLogger("rageval")


class TrainingData:
    """The train (and dev) split a trained retriever fits on when it is evaluated on the dataset
    ``spec``: of its ``train_spec`` (which must have a train split), else of the evaluated dataset,
    else of its ``default_train`` (the evaluation is then zero-shot). ``loader`` is the evaluated
    dataset's loader, already made and checked. Training data from another dataset loses every query
    whose relevant document is a copy or near copy of a document of the evaluated corpus
    (``rageval.data.code_pairs``: same normalised body, or shingle Jaccard >= 0.7); when that is every
    query, training is refused."""

    def __init__(self, spec: str, loader: DatasetLoader | None = None):
        self.spec, self.loader = spec, loader
        self._evaluation = None

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
        """The train split ``retriever`` fits on, and the dev split of the same dataset (None when it has
        none), both without the queries that would train on the evaluated documents."""
        spec, train = self.source(retriever)
        try:
            dev = self._load(spec, "dev")
        except MissingSplitError:
            dev = None
        if spec == self.spec:
            return train, dev
        train = self._without_leaks(retriever, spec, train)
        if dev is not None:
            dev = self._without_leaks(retriever, spec, dev, refuse=False)
        return train, dev

    def _without_leaks(self, retriever: Retriever, spec: str, data: Dataset, refuse: bool = True) -> Dataset | None:
        """``data`` without its queries whose relevant documents copy an evaluated document; an error
        (``refuse``) or None when no query is left."""
        from rageval.data.code_pairs import EvaluationSet

        start = time.perf_counter()
        if self._evaluation is None:
            loader = self.loader or dataset_loader(self.spec, corpus_only=True)
            self._evaluation = EvaluationSet()
            self._evaluation.add(loader.corpus().texts)
        leaked = {d for d in {d for q in data.queries.ids for d in data.qrels.relevant(q) if d in data.corpus}
                  if self._evaluation.leak(data.corpus.get(d).text)}
        if not leaked:
            return data
        keep = [q for q in data.queries.ids if not leaked & set(data.qrels.relevant(q))]
        log.warning("%s: %d of %d %s queries of %s train on (a near copy of) a document of %s: left out (%.1f s)",
                    retriever.name, len(data.queries) - len(keep), len(data.queries), data.split, spec, self.spec,
                    time.perf_counter() - start)
        if keep:
            return data.subset(keep)
        if refuse:
            raise RagevalError(f"{retriever.name} cannot train on {spec}: every one of its {len(data.queries)} "
                               f"{data.split} queries has a relevant document that is (a near copy of) a document "
                               f"of the evaluated dataset {self.spec}: refused (train on data without them)")
        return None
