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


def _available_bytes() -> int | None:
    """Memory the machine can still give (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(graph: Graph, ds, steps: int | None, batch: int) -> None:
    """Refuse, before allocating, a run the data or the machine cannot hold: ``T`` outside
    [1, MAX_T], labels beyond the output layer's classes, or a batch whose per-step states
    and encoded input need more memory than is available (numbers and limits in the message).
    """
    from neurodeploy.ir.validate import MAX_T, validate

    if steps is not None and (isinstance(steps, bool) or not 1 <= int(steps) <= MAX_T):
        raise NeurodeployError(f"T = {steps} time steps: must be in [1, {MAX_T}]")
    shapes = validate(graph)
    n_out = int(np.prod(shapes[graph.outputs[0]]))
    y = np.asarray(ds.y)
    if y.size and (y.min() < 0 or y.max() >= n_out):
        raise NeurodeployError(f"dataset '{ds.name}': labels span [{int(y.min())}, "
                               f"{int(y.max())}] but the output layer '{graph.outputs[0]}' has "
                               f"{n_out} classes (labels must lie in [0, {n_out - 1}])")
    elements = sum(int(np.prod(s)) for s in shapes.values())
    need = 4 * (int(steps or 1) * batch * int(np.prod(shapes[graph.inputs[0]]))
                + 4 * batch * elements)
    have = _available_bytes()
    if have is not None and need > have:
        raise NeurodeployError(f"a batch of {batch} samples × T = {steps} needs about "
                               f"{need / 2**30:.1f} GiB; {have / 2**30:.1f} GiB is available "
                               "(lower the batch size, T or the samples)")


@dataclass(eq=False)
class BatchPart:
    """One batch's share of a :class:`DatasetResult`, before :func:`merge_batches` adds the
    batches up (in batch order, so the result does not depend on where each batch ran)."""

    n: int
    T: int
    predictions: np.ndarray  # [n] int64
    decoded: np.ndarray  # [n, classes] float
    counts: dict[str, np.ndarray]  # per node: the batch's summed counts (mean over B × n)
    saturations: dict[str, int]
    records: dict[str, dict[str, torch.Tensor]]


def batch_starts(ds, batch_size: int) -> range:
    """Offsets of the batches of ``batch_size`` samples ``run_dataset`` cuts ``ds`` into."""
    if len(ds) == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    if batch_size < 1:
        raise NeurodeployError(f"batch size must be >= 1, got {batch_size}")
    return range(0, len(ds), batch_size)


def run_batches(graph: Graph, ds, mode: str = "float", T: int | None = None,
                batch_size: int = 256, device: str = "cpu", seed: int = 0,
                record: bool | Sequence[str] = False, progress: bool = False,
                first_batch: int = 0) -> list[BatchPart]:
    """Simulate ``ds`` batch by batch (see :func:`run_dataset`); batch ``i`` of ``ds`` is
    encoded with seed ``seed + first_batch + i``, so a slice of a dataset starting at batch
    ``first_batch`` gives exactly the parts the whole dataset gives for those batches."""
    from neurodeploy.data import encode

    starts = batch_starts(ds, batch_size)
    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    check_fits(graph, ds, steps, min(batch_size, len(ds)))
    parts = []
    for i, lo in enumerate(track(starts, f"simulating ({mode})", total=len(starts),
                                 enabled=progress)):
        xb = ds.x[lo:lo + batch_size]
        x = encode(xb, enc, steps, seed=seed + first_batch + i)
        res = simulate(graph, x, mode=mode, record=record, device=device)
        b = len(xb)
        parts.append(BatchPart(b, res.T, res.predictions, res.decoded.cpu().numpy(),
                               {k: c * b for k, c in res.counts.items()},
                               dict(res.saturations), res.records))
    return parts


def merge_batches(graph: Graph, parts: Sequence[BatchPart], y: np.ndarray) -> DatasetResult:
    """Add up the batches of a dataset (``y``: its ``[N]`` labels) into a DatasetResult."""
    n = sum(p.n for p in parts)
    if n != len(y) or n == 0:
        raise NeurodeployError(f"the batches hold {n} samples, the dataset {len(y)}")
    counts: dict[str, np.ndarray] = {}
    sats: dict[str, int] = {}
    recs: dict[str, dict[str, list[torch.Tensor]]] = {}
    for part in parts:
        for k, c in part.counts.items():
            counts[k] = counts.get(k, 0) + c
        for k, s in part.saturations.items():
            sats[k] = sats.get(k, 0) + s
        for k, r in part.records.items():
            for var, val in r.items():
                recs.setdefault(k, {}).setdefault(var, []).append(val)
    t_used = parts[-1].T
    predictions = np.concatenate([p.predictions for p in parts])
    counts = {k: c / n for k, c in counts.items()}
    rates = {}
    for name, node in graph.nodes.items():
        if name in counts and (isinstance(node, Input) or kinds.fires(node)):
            rates[name] = float(counts[name].sum() / (t_used * max(counts[name].size, 1)))
    accuracy = float(np.mean(predictions == np.asarray(y)))
    records = {k: {var: torch.cat(v, dim=1) for var, v in r.items()} for k, r in recs.items()}
    return DatasetResult(accuracy, predictions, rates, counts, n, t_used, sats,
                         np.concatenate([p.decoded for p in parts]), records)


def run_dataset(graph: Graph, ds, mode: str = "float", T: int | None = None,
                batch_size: int = 256, device: str = "cpu", seed: int = 0,
                record: bool | Sequence[str] = False, progress: bool = False) -> DatasetResult:
    """Simulate ``graph`` on every sample of ``ds`` (a ``neurodeploy.data.Dataset``).

    Batches of ``batch_size`` are encoded with ``neurodeploy.data.encode`` (rate encoding
    seeded with ``seed + batch index``). ``progress`` shows a bar over batches on a terminal.
    :func:`run_batches` + :func:`merge_batches`; ``neurodeploy.distributed`` runs the batches
    on Dask workers and merges them the same way.
    """
    return merge_batches(graph, run_batches(graph, ds, mode, T, batch_size, device, seed, record,
                                            progress), ds.y)
