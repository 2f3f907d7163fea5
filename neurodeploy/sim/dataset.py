"""Whole-dataset simulation: encode, batch, simulate, accumulate accuracy and activity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph, Input
from neurodeploy.progress import track
from neurodeploy.sim.runner import simulate


@dataclass(eq=False)
class DatasetResult:
    """Accuracy and activity of a graph on a dataset (counts/rates are means over samples)."""

    accuracy: float
    predictions: np.ndarray  # [N] int64
    firing_rates: dict[str, float]
    counts: dict[str, np.ndarray]
    n_samples: int
    T: int
    #: per neuron node (fixed mode): neuron-steps where u wrapped or v was clipped
    saturations: dict[str, int] = field(default_factory=dict)
    #: ``[N, n]`` decoded outputs (float)
    decoded: np.ndarray | None = None
    #: records asked for, concatenated over batches along the batch axis (dim 1)
    records: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def input_encoding(graph: Graph, data_encoding: str) -> str:
    """The encoding to apply: spike data stays spikes; static data uses the graph input's
    encoding (``direct`` or ``rate``)."""
    node = graph.nodes[graph.inputs[0]]
    enc = node.encoding if isinstance(node, Input) else "direct"
    if data_encoding == "spikes":
        return "spikes"
    if enc == "spikes":
        raise NeurodeployError(f"input '{node.name}' expects spike data [N, T, ...] but the "
                               "dataset is static")
    return enc


def steps_for(graph: Graph, ds_encoding: str, ds_T: int | None, T: int | None) -> int | None:
    """T to encode with: the argument, else ``graph.metadata['T']``, else the data's steps."""
    if T is not None:
        return int(T)
    if graph.metadata.get("T") is not None:
        return int(graph.metadata["T"])
    if ds_encoding == "spikes":
        return ds_T
    raise NeurodeployError("the number of steps T is not known: the graph's metadata has no 'T' "
                           "and the data is static; pass T")


def run_dataset(graph: Graph, ds, mode: str = "float", T: int | None = None,
                batch_size: int = 256, device: str = "cpu", seed: int = 0,
                record: bool | Sequence[str] = False, progress: bool = False) -> DatasetResult:
    """Simulate ``graph`` on every sample of ``ds`` (a ``neurodeploy.data.Dataset``).

    Batches of ``batch_size`` are encoded with ``neurodeploy.data.encode`` (rate encoding
    seeded with ``seed + batch index``). ``progress`` shows a bar over batches on a terminal.
    """
    from neurodeploy.data import encode

    n = len(ds)
    if n == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    if batch_size < 1:
        raise NeurodeployError(f"batch size must be >= 1, got {batch_size}")
    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    preds, decoded = [], []
    counts: dict[str, np.ndarray] = {}
    sats: dict[str, int] = {}
    recs: dict[str, dict[str, list[torch.Tensor]]] = {}
    t_used = 0
    starts = range(0, n, batch_size)
    for i, lo in enumerate(track(starts, f"simulating ({mode})", total=len(starts),
                                 enabled=progress)):
        xb = ds.x[lo:lo + batch_size]
        x = encode(xb, enc, steps, seed=seed + i)
        res = simulate(graph, x, mode=mode, record=record, device=device)
        t_used = res.T
        b = len(xb)
        preds.append(res.predictions)
        decoded.append(res.decoded.cpu().numpy())
        for k, c in res.counts.items():
            counts[k] = counts.get(k, 0) + c * b
        for k, s in res.saturations.items():
            sats[k] = sats.get(k, 0) + s
        for k, r in res.records.items():
            for var, val in r.items():
                recs.setdefault(k, {}).setdefault(var, []).append(val)
    predictions = np.concatenate(preds)
    counts = {k: c / n for k, c in counts.items()}
    rates = {}
    for name, node in graph.nodes.items():
        if name in counts and (isinstance(node, Input) or kinds.fires(node)):
            rates[name] = float(counts[name].sum() / (t_used * max(counts[name].size, 1)))
    accuracy = float(np.mean(predictions == np.asarray(ds.y)))
    records = {k: {var: torch.cat(v, dim=1) for var, v in r.items()} for k, r in recs.items()}
    return DatasetResult(accuracy, predictions, rates, counts, n, t_used, sats,
                         np.concatenate(decoded), records)
