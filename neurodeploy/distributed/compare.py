"""Simulator vs Lava (``neurodeploy.lava.compare``) sharded by samples and merged exactly."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph

#: the order ``compare`` checks a layer's variables in (lava/comparison.py ``VARIABLES``)
VARIABLES = ("u", "v", "s")


def merge_comparisons(parts: Sequence[tuple[int, dict]]) -> dict:
    """One ``compare`` result from the results of consecutive sample shards
    (``(first sample, result)`` in sample order), equal to the result on all samples at once.

    Fixed mode only: agreement is per element there, so counts add up and the first divergence
    is the least ``(step, layer rank, variable, sample, neuron)`` over the shards (float mode
    judges each element against the layer's largest value over all samples, which a shard
    cannot know).
    """
    if not parts:
        raise NeurodeployError("no shard results to merge")
    results = [r for _, r in parts]
    layers = []
    for j, first in enumerate(results[0]["layers"]):
        entry: dict[str, Any] = {}
        for key in first:
            vals = [r["layers"][j][key] for r in results]
            if key == "layer":
                if any(v != first["layer"] for v in vals):
                    raise NeurodeployError(f"shard results disagree on layer {j}: {vals}")
                entry[key] = first["layer"]
            elif key == "mismatches":
                entry[key] = int(sum(vals))
            elif key in ("identical", *VARIABLES):
                entry[key] = all(vals)
            else:
                raise NeurodeployError(f"cannot merge the compare field '{key}' across shards")
        layers.append(entry)
    rank = {e["layer"]: i for i, e in enumerate(layers)}
    best: tuple | None = None
    first_div = None
    for offset, r in parts:
        d = r["first_divergence"]
        if d is None:
            continue
        d = dict(d, sample=int(d["sample"]) + offset)
        key = (d["step"], rank[d["layer"]], VARIABLES.index(d["variable"]), d["sample"],
               d["neuron"])
        if best is None or key < best:
            best, first_div = key, d
    return {"identical": first_div is None, "samples": int(sum(r["samples"] for r in results)),
            "T": results[0]["T"], "layers": layers, "first_divergence": first_div}


def require_fixed(mode: str) -> None:
    """Only fixed-mode comparisons shard exactly (see :func:`merge_comparisons`)."""
    if mode != "fixed":
        raise NeurodeployError(f"compare --mode {mode} runs in one process (its tolerance is "
                               "relative to each layer's largest value over all samples, which "
                               "a shard cannot know); drop --workers/--scheduler/--slurm")


def _compare_shard(graph: Graph, ds: Any, lo: int, hi: int, T: int | None,
                   lava_graph: Graph | None) -> dict:
    """``compare`` on samples ``lo:hi`` of ``ds`` (the samples ``compare`` would take), with
    the inputs ``compare`` would give them: all samples encoded at once (seed 0, so that rate
    encoding draws the same spikes), then sliced and passed on as spike data."""
    from neurodeploy.data import Dataset, encode
    from neurodeploy.lava import compare as lava_compare
    from neurodeploy.sim.dataset import input_encoding, steps_for

    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    x = encode(ds.x, enc, steps, seed=0)[:, lo:hi]  # [T, hi - lo, ...]
    part = Dataset(np.ascontiguousarray(np.swapaxes(x, 0, 1)), np.asarray(ds.y)[lo:hi],
                   ds.name, "spikes", ds.n_classes, int(x.shape[0]))
    return lava_compare(graph, part, samples=hi - lo, T=part.T, lava_graph=lava_graph,
                        mode="fixed")


def compare(cluster: Cluster, graph: Graph, ds: Any, samples: int = 20, T: int | None = None,
            lava_graph: Graph | None = None, progress: bool = False,
            mode: str = "fixed") -> dict:
    """:func:`neurodeploy.lava.compare` (fixed mode) on ``cluster``'s workers, one shard of
    consecutive samples per worker; the same result as in one process.

    The first ``samples`` samples go to every worker once (``scatter``); each shard encodes them
    as ``compare`` does and keeps its slice, so rate-encoded inputs do not depend on the
    sharding. This process does no simulation (it imports neither torch nor Lava).
    """
    from neurodeploy.distributed.execute import run_shards
    from neurodeploy.distributed.shards import split
    from neurodeploy.distributed.worker import run_with_lava

    require_fixed(mode)
    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    n = min(samples, len(ds))
    if n == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    data = cluster.client.scatter(ds.subset(slice(0, n)), broadcast=True, hash=False)
    ranges = split(n, cluster.workers)
    shards = [{"ds": data, "lo": r.start, "hi": r.stop} for r in ranges]
    labels = [f"samples {r.start}-{r.stop - 1}" for r in ranges]
    fn = partial(run_with_lava, _compare_shard, graph=graph, T=T, lava_graph=lava_graph)
    results = run_shards(cluster, fn, shards, labels, "comparing with Lava", progress)
    return merge_comparisons([(r.start, res) for r, res in zip(ranges, results, strict=True)])
