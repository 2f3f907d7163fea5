"""Quantization with its calibration recording on Dask: the float model's activity on the
calibration samples (the part of calibration that grows with the samples) is simulated on the
workers, split by samples, and merged exactly; the search over scales, clip fractions and bias
folds then runs here on the merged record — :func:`neurodeploy.quantize.quantize`'s own code,
given :func:`simulate_sharded` as its ``recorder``.

Exact merge: every shard returns :func:`neurodeploy.sim.simulate`'s result on its contiguous
slice of the samples; per-sample arrays (records, outputs) are concatenated in sample order,
integer spike counts added, and what the simulator derives from them over the whole batch
(decoded outputs, predictions, firing rates) is derived again over the merged arrays by the
simulator's own code (:func:`neurodeploy.sim.prepare.result_of`). The result equals one ``simulate`` over all
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

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph


def _simulate_shard(graph: Graph, x: np.ndarray, mode: str,
                    record: bool | Sequence[str]) -> Any:
    """One shard on a worker: :func:`neurodeploy.sim.simulate` on its samples."""
    from neurodeploy.sim import simulate

    return simulate(graph, x, mode=mode, record=record)


def merge_results(graph: Graph, parts: Sequence[Any]) -> Any:
    """One :class:`neurodeploy.sim.SimResult` from the results of contiguous sample shards, in
    sample order: records and outputs concatenated along the batch axis, counts of nonzero
    values added as the integers they are, saturations added; decoded outputs, predictions
    and firing rates then computed over the merged arrays by the simulator's own code
    (:func:`neurodeploy.sim.prepare.result_of`)."""
    from neurodeploy.sim.prepare import Raw, result_of

    if not parts:
        raise NeurodeployError("no shard results to merge")
    sizes = [int(p.decoded.shape[0]) for p in parts]
    counts = {}
    for k in parts[0].counts:
        # a shard's counts are its integer counts divided by its size: rint recovers them
        counts[k] = torch.from_numpy(sum(np.rint(p.counts[k] * b).astype(np.int64)
                                         for p, b in zip(parts, sizes, strict=True)))
    raw = Raw(outputs={k: torch.cat([p.outputs[k] for p in parts], dim=1)
                       for k in parts[0].outputs},
              counts=counts,
              records={n: {var: torch.cat([p.records[n][var] for p in parts], dim=1)
                           for var in rec} for n, rec in parts[0].records.items()},
              saturations={k: int(sum(p.saturations.get(k, 0) for p in parts))
                           for k in parts[0].saturations})
    return result_of(graph, raw, sum(sizes), parts[0].T, parts[0].mode == "fixed")


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
