"""What both simulation engines share: checking the call, the output bounds that choose exact
dtypes, and turning an engine's raw results into a :class:`SimResult`.

The engines (:mod:`neurodeploy.sim.fast`, the default, and :mod:`neurodeploy.sim.reference`)
take a :class:`Prepared` call and return :class:`Raw` results; they differ only in how they
compute each step, and must agree bit for bit (tests/test_sim_fast.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Edge, Graph, Input, validate
from neurodeploy.ir.nodes import Node

MODES = ("float", "fixed")
Tensor = torch.Tensor

#: the largest |output| of a neuron node, by its kind's ``binary``: spikes 1; graded values
#: (a read-out's v, graded spikes) as large as Lava's int32 messages
NEURON_BOUND = {True: 1.0, False: float(2**31)}


@dataclass(eq=False)
class SimResult:
    """What one simulation returns (see :func:`neurodeploy.sim.simulate`)."""

    #: per graph output node, per step ``[T, B, *shape]``: a Readout's v (fixed mode: v·scale,
    #: float), a CubaLIF's spikes (what its kind's ``output`` reports)
    outputs: dict[str, Tensor]
    #: ``[B, n]`` the first output decoded by its kind's rule (a Readout's ``decoding``; a
    #: spiking output: spike counts)
    decoded: Tensor
    #: ``[B]`` int64 argmax of ``decoded``
    predictions: np.ndarray
    #: every node: nonzero output values per element, summed over T, mean over B (node's shape)
    counts: dict[str, np.ndarray]
    #: firing neurons (CubaLIF) and Input nodes: ``counts.sum() / (T · elements)``
    firing_rates: dict[str, float]
    #: nodes asked for: neurons → {"s", "u", "v"}, others → {"y"}, each ``[T, B, *shape]``
    records: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    #: neuron nodes (fixed mode): neuron-steps where u wrapped or v was clipped, summed over B·T
    saturations: dict[str, int] = field(default_factory=dict)
    T: int = 0
    mode: str = "float"


@dataclass(eq=False)
class Prepared:
    """A checked simulation call: the graph, its input ``x`` ``[T, B, *shape]`` (float32 on
    ``device``), the nodes in step order with their incoming edges and shapes."""

    graph: Graph
    x: Tensor
    fixed: bool
    device: torch.device
    shapes: dict[str, tuple[int, ...]]
    order: list[str]
    in_edges: dict[str, list[Edge]]
    #: sources of delay-1 (recurrent) edges: their previous step's output is kept
    delayed_srcs: set[str]
    recorded: set[str]

    @property
    def T(self) -> int:
        return int(self.x.shape[0])

    @property
    def B(self) -> int:
        return int(self.x.shape[1])


@dataclass(eq=False)
class Raw:
    """An engine's results: per graph output ``[T, B, *shape]`` float32; per node the int64
    count of nonzero outputs per element (summed over T and B); records ``[T, B, *shape]``
    (int64 in fixed mode, float32 in float mode); saturations per neuron node (fixed mode)."""

    outputs: dict[str, Tensor]
    counts: dict[str, Tensor]
    records: dict[str, dict[str, Tensor]]
    saturations: dict[str, int]


def device_of(device: str) -> torch.device:
    """``device`` as a torch device; NeurodeployError when it is unknown or has no CUDA."""
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise NeurodeployError(f"device '{device}': CUDA is not available on this machine "
                               "(use --device cpu)")
    try:
        return torch.device(device)
    except RuntimeError:
        raise NeurodeployError(f"unknown device '{device}' (use cpu or cuda)") from None


def record_set(graph: Graph, record: bool | Sequence[str]) -> set[str]:
    """The node names ``record`` asks for (True: all); NeurodeployError for an unknown one."""
    if record is True:
        return set(graph.nodes)
    if not record:
        return set()
    names = {record} if isinstance(record, str) else set(record)
    for n in names:
        graph[n]  # raises a NeurodeployError naming an unknown node
    return names


def prepare(graph: Graph, x: np.ndarray | Tensor, mode: str, record: bool | Sequence[str],
            device: str) -> Prepared:
    """Check a :func:`neurodeploy.sim.simulate` call (one-line NeurodeployErrors naming the
    mode, device, node or input at fault) and return it prepared."""
    if mode not in MODES:
        raise NeurodeployError(f"unknown simulation mode '{mode}' (choose float or fixed)")
    dev = device_of(device)
    shapes = validate(graph)
    if len(graph.inputs) != 1:
        raise NeurodeployError(f"the simulator takes graphs with one input, this one has "
                               f"{len(graph.inputs)}: {graph.inputs}")
    in_name = graph.inputs[0]
    xt = torch.as_tensor(np.asarray(x, np.float32) if not isinstance(x, Tensor) else x)
    xt = xt.to(device=dev, dtype=torch.float32)
    want = tuple(shapes[in_name])
    if xt.ndim != 2 + len(want) or tuple(xt.shape[2:]) != want:
        raise NeurodeployError(f"input '{in_name}': expected x of shape [T, B, "
                               f"{', '.join(map(str, want))}], got {list(xt.shape)}")
    if int(xt.shape[0]) < 1 or int(xt.shape[1]) < 1:
        raise NeurodeployError(f"input '{in_name}': x needs T >= 1 and B >= 1, got {list(xt.shape)}")
    fixed = mode == "fixed"
    if fixed:
        check_fixed(graph)
    order = graph.topological_order()
    return Prepared(graph, xt, fixed, dev, {n: tuple(s) for n, s in shapes.items()}, order,
                    {n: graph.in_edges(n) for n in order},
                    {e.src for e in graph.edges if e.delay}, record_set(graph, record))


def src_bound(graph: Graph, bounds: dict[str, float], src: str) -> float:
    """Output bound of ``src`` (fixed mode) from the bounds of the nodes compiled so far; a
    recurrent source not compiled yet is a neuron with binary spikes (1) or unknown (2**31)."""
    if src in bounds:
        return bounds[src]
    kind = kinds.kind_of(graph.nodes[src])
    return NEURON_BOUND[kind is not None and kind.fires and kind.binary]


def decode(v: Tensor, node: Node) -> Tensor:
    """Decode an output ``[T, B, *shape]`` to ``[B, n]`` by its kind's rule: a Readout's
    ``decoding`` (``weighted``: ``Σ_t weights[t]·v[t]``, steps beyond ``len(weights)`` weigh
    0), a spiking output by its spike counts. Computed on the CPU, so that the float
    reduction (and the prediction) does not depend on the device the simulation ran on."""
    flat = v.reshape(v.shape[0], v.shape[1], -1).to("cpu", torch.float32)
    kind = kinds.kind_of(node)
    rule = kind.decoding(node) if kind is not None else "sum"
    if rule == "mean":
        return flat.mean(0)
    if rule == "sum":
        return flat.sum(0)
    if rule == "max":
        return flat.max(0).values
    if rule == "last":
        return flat[-1]
    w = np.zeros(flat.shape[0], np.float32)
    src = np.asarray(node.weights, np.float32)[: flat.shape[0]]
    w[: len(src)] = src
    return torch.einsum("t,tbn->bn", torch.as_tensor(w, device=flat.device), flat)


def finish(prep: Prepared, raw: Raw) -> SimResult:
    """The :class:`SimResult` of an engine's raw results."""
    return result_of(prep.graph, raw, prep.B, prep.T, prep.fixed)


def result_of(graph: Graph, raw: Raw, B: int, T: int, fixed: bool) -> SimResult:
    """The :class:`SimResult` of raw results for ``B`` samples over ``T`` steps (an engine's,
    or sample shards' merged: :func:`neurodeploy.distributed.quantize.merge_results`)."""
    first = graph.outputs[0]
    decoded = decode(raw.outputs[first], graph.nodes[first])
    predictions = decoded.argmax(1).cpu().numpy().astype(np.int64)
    counts_np = {n: c.cpu().numpy().astype(np.float64) / B for n, c in raw.counts.items()}
    rates = {n: float(counts_np[n].sum() / (T * max(counts_np[n].size, 1)))
             for n, node in graph.nodes.items() if isinstance(node, Input) or kinds.fires(node)}
    return SimResult(raw.outputs, decoded, predictions, counts_np, rates, raw.records,
                     raw.saturations, T, "fixed" if fixed else "float")
