"""Dataset runs sharded by whole batches: each shard runs the single-process batch loop on its
slice of the data (same batches, same encoding seeds) and the parts are merged in batch order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.distributed.spec import ClusterSpec
from neurodeploy.ir import Graph


def map_batches(cluster: Cluster, fn: Callable[..., list], ds: Any, batch_size: int,
                what: str, progress: bool = False) -> list:
    """Run ``fn(ds=slice, first_batch=k) -> [part per batch]`` on contiguous shards of whole
    batches of ``batch_size`` samples of ``ds`` (one shard per worker at most); return every
    batch's part in batch order."""
    from neurodeploy.distributed.execute import run_shards
    from neurodeploy.distributed.shards import split
    from neurodeploy.sim.dataset import batch_starts

    starts = batch_starts(ds, batch_size)
    shards, labels = [], []
    for group in split(len(starts), cluster.workers):
        lo = starts[group.start]
        hi = min(starts[group.stop - 1] + batch_size, len(ds))
        shards.append({"ds": ds.subset(slice(lo, hi)), "first_batch": group.start})
        labels.append(f"samples {lo}-{hi - 1}")
    return [part for parts in run_shards(cluster, fn, shards, labels, what, progress)
            for part in parts]


def run_dataset(cluster: Cluster, graph: Graph, ds: Any, mode: str = "float",
                T: int | None = None, batch_size: int = 256, device: str = "cpu",
                seed: int = 0, record: bool | Sequence[str] = False,
                progress: bool = False) -> Any:
    """:func:`neurodeploy.sim.run_dataset` on ``cluster``'s workers, byte-identical to it."""
    from neurodeploy.sim.dataset import merge_batches, run_batches

    fn = partial(run_batches, graph, mode=mode, T=T, batch_size=batch_size, device=device,
                 seed=seed, record=record, progress=False)
    parts = map_batches(cluster, fn, ds, batch_size, f"simulating ({mode})", progress)
    return merge_batches(graph, parts, ds.y)


def dataset_result(spec: ClusterSpec | None, graph: Graph, ds: Any, **kwargs: Any) -> Any:
    """``run_dataset(graph, ds, **kwargs)`` in this process (``spec`` None, no Dask import) or
    on the cluster ``spec`` asks for."""
    if spec is None:
        from neurodeploy.sim import run_dataset as run_local

        return run_local(graph, ds, **kwargs)
    from neurodeploy.distributed.cluster import open_cluster

    with open_cluster(spec) as cluster:
        return run_dataset(cluster, graph, ds, **kwargs)
