"""Lexical analysis of a corpus in shards, for BM25 index builds: on Ray tasks inside a ``--executor
ray`` run, or on forked processes of this machine.

The corpus is cut into contiguous shards; each task analyses its shard with a vocabulary of its own
and returns the shard's terms (in order of first occurrence) with its documents' term ids. Merged
in shard order, the terms get the ids a single pass over the corpus gives them, so the index, and
every score, is the same as a one-process build's. Ray tasks are used when the Ray executor sets
``RAGEVAL_INDEX_SHARDS`` (its ``indexers=`` option) in a task; processes when BM25 may use more
than one core (its ``threads``) and the corpus has at least ``DOCUMENTS_PER_SHARD`` documents a
process (Python's tokenization holds the GIL, so threads would not help).
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Iterator, Sequence

import numpy as np

from rageval.text.lexical import Analyzer, Vocabulary

SHARDS_VARIABLE = "RAGEVAL_INDEX_SHARDS"
# Documents a task is given at the least: below this, shipping them costs more than analysing them here.
DOCUMENTS_PER_SHARD = 50_000


def shard_count(n_docs: int) -> int:
    """How many shards this process may analyse on Ray for ``n_docs`` documents (0: analyse here).
    Ray is imported only when shards are asked for (importing it takes a fraction of a second)."""
    shards = min(int(os.environ.get(SHARDS_VARIABLE) or 0), n_docs // DOCUMENTS_PER_SHARD)
    if shards < 2:
        return 0
    try:
        import ray
    except ImportError:
        return 0
    return shards if ray.is_initialized() else 0


def analyse_shard(config: dict, texts: Sequence[str], batch: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A shard's terms in order of first occurrence, and its documents' term ids (into those terms)
    and lengths, analysed in batches of ``batch`` texts."""
    vocab = Vocabulary(Analyzer(**config))
    ids, lengths = [], []
    for start in range(0, len(texts), batch):
        term_ids, lens = vocab.add(texts[start:start + batch])
        ids.append(term_ids)
        lengths.append(lens)
    return list(vocab.terms), np.concatenate(ids), np.concatenate(lengths)


def analyse_on_tasks(vocab: Vocabulary, contents: Sequence[str], shards: int,
                     batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(term ids, document lengths) of each shard of ``contents``, in corpus order, analysed by
    ``shards`` Ray tasks (one CPU each, retried when a worker dies); each shard's terms are added to
    ``vocab`` as it comes back."""
    import ray

    remote = ray.remote(analyse_shard).options(num_cpus=1, max_retries=3)
    bounds = np.linspace(0, len(contents), shards + 1).astype(int).tolist()
    config = vocab.analyzer.config()
    pending = [remote.remote(config, contents[a:b], batch) for a, b in zip(bounds, bounds[1:])]
    for ref in pending:
        terms, local_ids, lengths = ray.get(ref)
        yield merged_ids(vocab, terms, local_ids), lengths


def merged_ids(vocab: Vocabulary, terms: list[str], local_ids: np.ndarray) -> np.ndarray:
    """A shard's term ids (into its ``terms``) as ids of ``vocab``, its new terms added in their order."""
    table = np.fromiter((vocab.terms.setdefault(t, len(vocab.terms)) for t in terms), dtype=np.int32,
                        count=len(terms))
    return table[local_ids]


def process_count(n_docs: int, cores: int) -> int:
    """How many forked processes may analyse ``n_docs`` documents on ``cores`` cores (0: analyse here,
    also where processes cannot be forked)."""
    processes = min(cores, n_docs // DOCUMENTS_PER_SHARD)
    return processes if processes >= 2 and "fork" in multiprocessing.get_all_start_methods() else 0


_FORKED: dict[str, Any] = {}  # what the forked processes read: set before the pool starts, cleared after


def _analyse_range(bounds: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    start, stop = bounds
    return analyse_shard(_FORKED["config"], _FORKED["contents"][start:stop], _FORKED["batch"])


def analyse_on_processes(vocab: Vocabulary, contents: Sequence[str], processes: int,
                         batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(term ids, document lengths) of ``contents`` in batches of ``batch`` documents, in corpus order,
    analysed in ``processes`` contiguous shards by as many forked processes (which read ``contents``
    from the memory they share with this one); each shard's terms are added to ``vocab`` as it comes back."""
    bounds = np.linspace(0, len(contents), processes + 1).astype(int).tolist()
    _FORKED.update(config=vocab.analyzer.config(), contents=contents, batch=batch)
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for terms, local_ids, lengths in pool.imap(_analyse_range, list(zip(bounds, bounds[1:]))):
                ids, ends = merged_ids(vocab, terms, local_ids), np.concatenate([[0], np.cumsum(lengths)])
                for first in range(0, len(lengths), batch):
                    last = min(first + batch, len(lengths))
                    yield ids[ends[first]:ends[last]], lengths[first:last]
    finally:
        _FORKED.clear()
