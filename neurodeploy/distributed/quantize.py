"""Quantization with its calibration recording on Dask: the float model's activity on the
calibration samples (the part of calibration that grows with the samples) is simulated on the
workers, split by samples, and merged exactly; the search over scales, clip fractions and bias
folds then runs here on the merged record — :func:`neurodeploy.quantize.quantize`'s own code,
given :func:`simulate_sharded` as its ``recorder``.

Exact merge: every shard returns :func:`neurodeploy.sim.simulate`'s result on its contiguous
slice of the samples; per-sample arrays (records, outputs) are concatenated in sample order,
integer spike counts added, and what the simulator derives from them over the whole batch
(decoded outputs, predictions, firing rates) is derived again over the merged arrays, as
:func:`neurodeploy.sim.prepare.finish` does. The result equals one ``simulate`` over all
samples as long as each sample's float arithmetic does not depend on the batch it runs in:
fixed point always; float mode holds on the CPU for the same thread count (MKL's float32 sums
depend on it, and the workers run one thread — so does the quantizer here for graphs whose
per-step products are small, :mod:`neurodeploy.quantize.threads`). The written graph is then
byte-identical to the one quantized in one process (tests/test_distributed.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.distributed.cluster import Cluster
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph, Input


def _simulate_shard(graph: Graph, x: np.ndarray, mode: str,
                    record: bool | Sequence[str]) -> Any:
    """One shard on a worker: :func:`neurodeploy.sim.simulate` on its samples."""
    from neurodeploy.sim import simulate

    return simulate(graph, x, mode=mode, record=record)


def merge_results(graph: Graph, parts: Sequence[Any]) -> Any:
    """One :class:`neurodeploy.sim.SimResult` from the results of contiguous sample shards, in
    sample order: records and outputs concatenated along the batch axis, spike counts added as
    the integers they are, decoded outputs, predictions and firing rates computed over the
    merged arrays (the formulas of :func:`neurodeploy.sim.prepare.finish`)."""
    from neurodeploy.sim import SimResult, decode

    if not parts:
        raise NeurodeployError("no shard results to merge")
    sizes = [int(p.decoded.shape[0]) for p in parts]
    B, T = sum(sizes), parts[0].T
    outputs = {k: torch.cat([p.outputs[k] for p in parts], dim=1) for k in parts[0].outputs}
    first = graph.outputs[0]
    decoded = decode(outputs[first], graph.nodes[first])
    predictions = decoded.argmax(1).cpu().numpy().astype(np.int64)
    counts = {}
    for k in parts[0].counts:
        # each shard's counts are integer counts divided by its size: rint recovers them
        total = sum(np.rint(p.counts[k] * b).astype(np.int64) for p, b in zip(parts, sizes,
                                                                                strict=True))
        counts[k] = total.astype(np.float64) / B
    rates = {n: float(counts[n].sum() / (T * max(counts[n].size, 1)))
             for n, node in graph.nodes.items()
             if n in counts and (isinstance(node, Input) or kinds.fires(node))}
    records = {n: {var: torch.cat([p.records[n][var] for p in parts], dim=1) for var in rec}
               for n, rec in parts[0].records.items()}
    saturations = {k: int(sum(p.saturations.get(k, 0) for p in parts))
                   for k in parts[0].saturations}
    return SimResult(outputs, decoded, predictions, counts, rates, records, saturations, T,
                     parts[0].mode)


def simulate_sharded(cluster: Cluster, graph: Graph, x: np.ndarray | torch.Tensor,
                     mode: str = "float", record: bool | Sequence[str] = False,
                     progress: bool = False) -> Any:
    """``neurodeploy.sim.simulate(graph, x, mode, record)`` with the samples (``x``'s axis 1,
    ``[T, B, *shape]``) split into one contiguous shard per worker of ``cluster``, merged by
    :func:`merge_results`. Fails naming the shard (samples ``lo-hi``) whose run failed."""
    from neurodeploy.distributed.execute import run_shards
    from neurodeploy.distributed.shards import split

    x = x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    ranges = split(int(x.shape[1]), cluster.workers)
    shards = [{"graph": graph, "x": np.ascontiguousarray(x[:, r.start:r.stop]), "mode": mode,
               "record": record} for r in ranges]
    labels = [f"samples {r.start}-{r.stop - 1}" for r in ranges]
    parts = run_shards(cluster, _simulate_shard, shards, labels, f"recording ({mode})", progress)
    return merge_results(graph, parts)


def quantize(cluster: Cluster, graph: Graph, calib: Any, **kwargs: Any) -> Any:
    """:func:`neurodeploy.quantize.quantize` with the float recording of the calibration
    samples on ``cluster`` (:func:`simulate_sharded`); the same ``(graph, report)``."""
    from neurodeploy.quantize import quantize as quantize_local

    return quantize_local(graph, calib, recorder=partial(simulate_sharded, cluster), **kwargs)
