"""The Ray executor on a local cluster of two simulated nodes: the same run folders as the local
executor, tasks on both nodes, a dead worker retried, caches reused; and its bad input."""
from __future__ import annotations

import json
import os
import time

import pytest

from rageval import RagevalError, benchmark
from rageval.errors import SpecError
from rageval.running.executors import LocalExecutor, RayExecutor, Task, executor
from rageval.store.run_folder import pair_folder

if os.environ.get("CI", "").lower() == "true":
    import ray  # installed by .ci/run (rageval[ray]): a failure, not a skip, when missing
else:
    ray = pytest.importorskip("ray", reason="the Ray executor needs rageval[ray]")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def trec_files(out, dataset, specs):
    return {spec: (pair_folder(out, dataset, spec) / "run.trec").read_bytes() for spec in specs}


@pytest.mark.slow
@pytest.mark.parametrize("dataset, label", [("adi", "adi.test"), ("cosqa", "cosqa.test")])
def test_ray_writes_what_local_writes_on_two_nodes_and_reuses_caches(cluster, shared, tmp_path, dataset, label,
                                                                     monkeypatch, bundled_model):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    specs = ["bm25", "bm25:k1=0.9,b=0.4", "dense", "bm25:k1=1.2,b=0.5"]
    local = benchmark(str(shared / dataset), specs, ["nDCG@10"], out=tmp_path / "local")
    assert all(o.error is None for o in local)
    runner = f"ray:address={cluster.address}"
    remote = benchmark(str(shared / dataset), specs, ["nDCG@10"], out=tmp_path / "ray", executor=runner)
    assert [o.system for o in remote] == specs and all(o.error is None for o in remote)
    assert trec_files(tmp_path / "local", label, specs) == trec_files(tmp_path / "ray", label, specs)
    for o_local, o_remote in zip(local, remote):
        assert o_local.means == o_remote.means
    # the second run finds every index in the cache the first one filled: nothing encoded, nothing built
    again = benchmark(str(shared / dataset), specs, ["nDCG@10"], out=tmp_path / "again", resume=False,
                      executor=runner)
    assert all(o.timings["index_from_cache"] for o in again)


@pytest.mark.slow
def test_a_pool_of_encoding_actors_writes_the_same_vectors(cluster, shared, tmp_path, monkeypatch, bundled_model):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    spec = "dense:batch_size=4,block_size=24"  # 82 documents: 6 chunks of at most 16 texts
    local = benchmark(str(shared / "adi"), [spec], ["nDCG@10"], out=tmp_path / "local")
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache-ray"))  # encode again, on the actors
    remote = benchmark(str(shared / "adi"), [spec], ["nDCG@10"], out=tmp_path / "ray",
                       executor=f"ray:address={cluster.address},encoders=2")
    assert remote[0].error is None and remote[0].means == local[0].means
    assert trec_files(tmp_path / "local", "adi.test", [spec]) == trec_files(tmp_path / "ray", "adi.test", [spec])
    local_vectors = next((tmp_path / "cache" / "embeddings").glob("*.f32")).read_bytes()
    assert next((tmp_path / "cache-ray" / "embeddings").glob("*.f32")).read_bytes() == local_vectors
    meta = json.loads(next((tmp_path / "cache-ray" / "embeddings").glob("*.json")).read_text())
    assert meta["encoding_actors"] == 2
    assert json.loads(next((tmp_path / "cache" / "embeddings").glob("*.json")).read_text())["encoding_actors"] == 0


def test_tasks_spread_over_both_nodes_and_a_dead_worker_is_retried(cluster, tmp_path):
    flag = tmp_path / "died-once"

    def dies_once(value):
        if not flag.exists():
            flag.touch()
            os._exit(1)  # the worker process dies in the middle of its task
        time.sleep(0.5)
        return value * 2

    runner = RayExecutor(address=cluster.address)
    results = dict(runner.run([Task(dies_once, (i,)) for i in range(4)]))
    assert results == {0: 0, 1: 2, 2: 4, 3: 6} and flag.exists()
    assert len(set(runner.nodes)) == 2  # SPREAD: both nodes ran tasks


def test_a_bm25_index_analysed_in_shards_on_ray_is_the_local_index(cluster, shared, monkeypatch):
    """cosqa's corpus analysed in 3 shards on Ray tasks (the size threshold lowered so that a test
    corpus is sharded): the same terms in the same order, the same index arrays, the same top 100
    (positions and scores) as a build in this process; the executor hands its ``indexers`` to tasks."""
    import numpy as np

    import rageval.running.index_shards as index_shards
    from rageval import get_retriever, load_dataset

    ds = load_dataset(str(shared / "cosqa"))
    local = get_retriever("bm25")
    local.index(ds.corpus)
    monkeypatch.setattr(index_shards, "DOCUMENTS_PER_SHARD", 10)
    monkeypatch.setenv(index_shards.SHARDS_VARIABLE, "3")
    assert index_shards.shard_count(len(ds.corpus)) == 0  # Ray is not initialised in this process
    ray.init(address=cluster.address)
    try:
        sharded = get_retriever("bm25")
        sharded.index(ds.corpus)
    finally:
        ray.shutdown()
    assert (local.shards, sharded.shards) == (0, 3)
    assert list(sharded.vocab.terms) == list(local.vocab.terms)
    for part in ("term_blocks", "blocks", "data", "block_bounds", "doc_k", "doc_class", "idf"):
        assert np.array_equal(getattr(sharded._index.postings, part), getattr(local._index.postings, part))
    mine, theirs = sharded.search(ds.queries, 100), local.search(ds.queries, 100)
    assert np.array_equal(mine.indices, theirs.indices) and np.array_equal(mine.scores, theirs.scores)
    runner = RayExecutor(address=cluster.address, indexers=4)
    assert dict(runner.run([Task(os.getenv, (index_shards.SHARDS_VARIABLE,))])) == {0: "4"}  # read in the task


def test_executor_specs_and_bad_input(monkeypatch):
    assert isinstance(executor("local"), LocalExecutor)
    ray_executor = executor("ray:num_cpus=2,max_retries=1")
    assert (ray_executor.num_cpus, ray_executor.max_retries, ray_executor.address) == (2.0, 1, None)
    with pytest.raises(SpecError, match="unknown executor 'dask'; available: local, ray"):
        executor("dask")
    with pytest.raises(SpecError, match="executor 'ray' has no option 'cpus'"):
        executor("ray:cpus=2")
    assert executor("ray:encoders=3").encoders == 3 and executor("ray:indexers=2").indexers == 2
    for option in ("encoders", "indexers", "num_cpus"):
        with pytest.raises(SpecError, match="encoders, indexers, num_cpus and num_gpus must not be negative"):
            executor(f"ray:{option}=-1")
    start = time.perf_counter()
    with pytest.raises(RagevalError, match="cannot reach a Ray cluster at 127.0.0.1:9"):
        executor("ray:address=127.0.0.1:9")
    assert time.perf_counter() - start < 30
    import builtins

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "ray" else real_import(name, *a, **k))
    with pytest.raises(RagevalError, match=r"--executor ray needs Ray: pip install 'rageval\[ray\]'"):
        executor("ray")
