"""Simulator vs Lava (``neurodeploy.lava.compare``) sharded by samples and merged exactly."""

from __future__ import annotations

from functools import partial
from typing import Any

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.ir import Graph


def _compare_shard(graph: Graph, ds: Any, lo: int, hi: int, T: int | None,
                   lava_graph: Graph | None, mode: str,
                   rtol: float | None) -> tuple[dict, int]:
    """Summaries (:func:`neurodeploy.lava.comparison.summarize_records`) of samples ``lo:hi``
    of ``ds`` with the inputs ``compare`` would give them: all samples encoded at once (seed 0,
    so that rate encoding draws the same spikes), then sliced; and the number of steps."""
    from neurodeploy.lava.comparison import compare_inputs, encoded_inputs

    x = encoded_inputs(graph, ds, len(ds), T, mode)
    summ = compare_inputs(graph, x, lava_graph, mode=mode, rtol=rtol, shard=slice(lo, hi))
    return summ, int(x.shape[0])


def compare(cluster: Cluster, graph: Graph, ds: Any, samples: int = 20, T: int | None = None,
            lava_graph: Graph | None = None, progress: bool = False,
            mode: str = "fixed", rtol: float = 1e-5) -> dict:
    """:func:`neurodeploy.lava.compare` on ``cluster``'s workers, one shard of consecutive
    samples per worker; the same result as in one process: each shard returns per-variable
    summaries (its candidate mismatches and scales) and this process judges them together
    (:func:`neurodeploy.lava.verdict.judge`), so float mode's tolerance is relative to
    each layer's largest value over all samples, as in one process.

    The first ``samples`` samples go to every worker once (``scatter``); each shard encodes them
    as ``compare`` does and keeps its slice, so rate-encoded inputs do not depend on the
    sharding. This process does no simulation (it imports neither torch nor Lava).
    """
    from neurodeploy.distributed.execute import run_shards
    from neurodeploy.distributed.shards import split
    from neurodeploy.distributed.worker import run_with_lava
    from neurodeploy.lava.verdict import compare_samples, result

    n = compare_samples(mode, samples, ds)
    data = cluster.client.scatter(ds.subset(slice(0, n)), broadcast=True, hash=False)
    ranges = split(n, cluster.workers)
    shards = [{"ds": data, "lo": r.start, "hi": r.stop} for r in ranges]
    labels = [f"samples {r.start}-{r.stop - 1}" for r in ranges]
    tol = None if mode == "fixed" else float(rtol)
    fn = partial(run_with_lava, _compare_shard, graph=graph, T=T, lava_graph=lava_graph,
                 mode=mode, rtol=tol)
    results = run_shards(cluster, fn, shards, labels, "comparing with Lava", progress)
    return result([(r.start, res) for r, (res, _) in zip(ranges, results, strict=True)],
                  n, results[0][1], mode, rtol)

