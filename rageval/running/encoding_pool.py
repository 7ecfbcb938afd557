"""Corpus encoding on a pool of Ray actors, for dense index builds inside a ``--executor ray`` run.

Each actor loads the encoder once; the corpus's length-sorted chunks go to the pool and come back
in order, into the same embedding cache file a local build writes. A chunk is exactly what a local
build hands sentence-transformers in one call, so the vectors are the same bytes. The pool is used
when the Ray executor sets ``RAGEVAL_ENCODING_ACTORS`` (its ``encoders=`` option) in a task.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np

ACTORS_VARIABLE = "RAGEVAL_ENCODING_ACTORS"


def pool_size() -> int:
    """How many encoding actors this process may start (0: encode here); Ray is imported only when
    actors are asked for."""
    size = int(os.environ.get(ACTORS_VARIABLE) or 0)
    if size <= 0:
        return 0
    try:
        import ray
    except ImportError:
        return 0
    return size if ray.is_initialized() else 0


class EncodingActor:
    """One encoder (``make(**settings)``: an ``Encoder``), loaded once, encoding chunks of texts."""

    def __init__(self, make: Callable[..., Any], settings: dict) -> None:
        self.encoder = make(**settings)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_chunk(texts)


def encode_on_actors(make: Callable[..., Any], settings: dict, chunks: Sequence[list[str]],
                     actors: int) -> Iterator[np.ndarray]:
    """The embeddings of each chunk, in order, encoded by ``actors`` Ray actors (one CPU each), each
    holding ``make(**settings)``."""
    import ray
    import torch
    from ray.util import ActorPool

    threads = str(torch.get_num_threads())  # a model's last bits depend on it: the actors use this task's
    remote = ray.remote(EncodingActor).options(num_cpus=1, max_restarts=2, max_task_retries=2,
                                               runtime_env={"env_vars": {"OMP_NUM_THREADS": threads}})
    handles = [remote.remote(make, settings) for _ in range(min(actors, len(chunks)))]
    try:
        yield from ActorPool(handles).map(lambda actor, chunk: actor.encode.remote(chunk), chunks)
    finally:
        for handle in handles:
            ray.kill(handle)
