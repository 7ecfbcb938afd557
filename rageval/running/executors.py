"""Where the benchmark's (dataset x chunker x retriever) pairs run: ``local`` (one after the other, in
this process; the default) or ``ray`` (each pair a Ray task, spread over the cluster's nodes; a task
whose worker dies is retried by Ray). Both run the same ``run_one``, which writes the pair's folder
with atomic files, so the run folders are the same whichever executes them: workers run torch with
this process's thread count, as a model's outputs depend on it in their last bits (on a cluster of
several machines the output and cache folders must be on storage every node sees, and machines of
another CPU may round differently). Workers use this process's cache folder.

With ``encoders=N`` a pair's dense index build encodes its corpus on a pool of N Ray actors
(``rageval.running.encoding_pool``), with the same vectors; with ``indexers=N`` a pair's BM25 index build
analyses its corpus in N shards on Ray tasks (``rageval.running.index_shards``), with the same index.

An executor spec: ``local``, ``ray``, ``ray:address=HOST:PORT,num_cpus=2,num_gpus=0,encoders=2,indexers=2``.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from rageval import registry
from rageval.errors import RagevalError, SpecError
from rageval.progress import INTERVAL_VARIABLE, interval_from_environment
from rageval.running.encoding_pool import ACTORS_VARIABLE
from rageval.running.index_shards import SHARDS_VARIABLE
from rageval.store.cache import cache_dir


@dataclass
class Task:
    """One pair to run: ``function(*args)`` returns its Outcome."""

    function: Callable[..., Any]
    args: tuple


class LocalExecutor:
    """Every pair in this process, in order."""

    def __init__(self) -> None:
        self.nodes: list[str] = []

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        for i, task in enumerate(tasks):
            yield i, task.function(*task.args)


def _local_threads() -> int:
    """The thread count torch uses in this process: workers use it too, because a model's outputs
    change in their last bits with the number of threads a matrix product is split over."""
    try:
        import torch
    except ImportError:
        return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    return torch.get_num_threads()


def _on_a_node(level: int, function: Callable[..., Any], *args: Any) -> tuple[Any, str]:
    """``function(*args)`` in a worker whose ``rageval`` log (progress lines included) goes at the
    driver's ``level`` to the worker's stderr, which Ray forwards to the driver's (``log_to_driver``)."""
    import ray

    from rageval.progress import log_to_stderr

    log_to_stderr(level)
    return function(*args), ray.get_runtime_context().get_node_id()


@dataclass
class RayExecutor:
    """Each pair a Ray task (``num_cpus`` / ``num_gpus`` each, spread over the nodes, retried when its
    worker dies); large arguments (datasets, corpora) go through the object store once; ``encoders``
    actors encode a dense corpus inside a pair (0: the pair's task encodes it); ``indexers`` tasks
    analyse a BM25 corpus of at least 100k documents in shards (0: the pair's task analyses it)."""

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_retries: int = 3
    encoders: int = 0
    indexers: int = 0
    nodes: list[str] = field(default_factory=list, init=False)  # the node of each finished task, in order

    def __post_init__(self) -> None:
        if min(self.encoders, self.indexers, self.num_cpus, self.num_gpus) < 0:
            raise SpecError("executor 'ray': encoders, indexers, num_cpus and num_gpus must not be negative")
        try:
            import ray  # noqa: F401
        except ImportError:
            raise RagevalError("--executor ray needs Ray: pip install 'rageval[ray]'") from None
        if self.address not in (None, "", "auto", "local") and "://" not in self.address:
            host, _, port = self.address.rpartition(":")
            try:
                socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
            except (OSError, ValueError) as e:
                raise RagevalError(f"--executor ray: cannot reach a Ray cluster at {self.address} ({e})") from None

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=None if self.address in (None, "", "local") else self.address,
                     include_dashboard=False, log_to_driver=True, configure_logging=False)
        try:
            remote = ray.remote(_on_a_node).options(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries,
                scheduling_strategy="SPREAD", runtime_env={"env_vars": {"OMP_NUM_THREADS": str(_local_threads()),
                                                        ACTORS_VARIABLE: str(self.encoders),
                                                        SHARDS_VARIABLE: str(self.indexers),
                                                        INTERVAL_VARIABLE: str(interval_from_environment()),
                                                        "RAGEVAL_CACHE": str(cache_dir())}})
            shared: dict[int, Any] = {}  # one object-store copy of each large argument

            def ref(arg: Any) -> Any:
                if isinstance(arg, (str, int, float, bool, type(None))):
                    return arg
                if id(arg) not in shared:
                    shared[id(arg)] = ray.put(arg)
                return shared[id(arg)]

            level = logging.getLogger("rageval").getEffectiveLevel()
            pending = {remote.remote(level, t.function, *map(ref, t.args)): i for i, t in enumerate(tasks)}
            while pending:
                [done], _ = ray.wait(list(pending), num_returns=1)
                outcome, node = ray.get(done)
                self.nodes.append(node)
                yield pending.pop(done), outcome
        finally:
            if started_here:
                ray.shutdown()


EXECUTORS: dict[str, type] = {"local": LocalExecutor, "ray": RayExecutor}


def executor(spec: str) -> LocalExecutor | RayExecutor:
    """The executor a spec names, its options converted to their annotated types."""
    name, positional, raw = registry.parse_spec(spec)
    if name not in EXECUTORS:
        raise SpecError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")
    if positional is not None:
        raw = {"address": positional, **raw}
    options = registry.typed_options(f"executor {name!r}", raw, registry.options_of(EXECUTORS[name]))
    return EXECUTORS[name](**options)
