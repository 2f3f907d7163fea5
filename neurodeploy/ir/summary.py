"""Per-node counts for tables: output shape, neurons, synapses, parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import NEURON_TYPES, Conv2d, Dense
from neurodeploy.ir.validate import validate


@dataclass(frozen=True)
class NodeSummary:
    """One row of ``neurodeploy inspect``.

    ``synapses`` counts connections with a weight (Dense: in·out; Conv2d: one per kernel tap
    per output neuron inside the input, padding excluded); ``parameters`` counts stored float
    values (weights, biases, neuron parameters).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    neurons: int
    synapses: int
    parameters: int
    quantized: bool


def _conv_synapses(node: Conv2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Exact count of (input pixel, output neuron) pairs with a weight, borders included."""
    c_out, c_in_g, kh, kw = node.weight.shape
    _, h_in, w_in = in_shape
    _, h_out, w_out = out_shape

    def taps(size_in: int, size_out: int, k: int, s: int, p: int, d: int) -> int:
        pos = np.arange(size_out)[:, None] * s - p + np.arange(k)[None, :] * d
        return int(((pos >= 0) & (pos < size_in)).sum())

    th = taps(h_in, h_out, kh, node.stride[0], node.padding[0], node.dilation[0])
    tw = taps(w_in, w_out, kw, node.stride[1], node.padding[1], node.dilation[1])
    return th * tw * c_in_g * c_out


def summarize(graph: Graph) -> list[NodeSummary]:
    """One :class:`NodeSummary` per node, in the graph's node order."""
    shapes = validate(graph)
    rows = []
    for node in graph:
        shape = shapes[node.name]
        neurons = int(np.prod(shape)) if isinstance(node, NEURON_TYPES) else 0
        synapses = 0
        if isinstance(node, Dense):
            synapses = int(node.weight.size)
        elif isinstance(node, Conv2d):
            (src,) = graph.predecessors(node.name)
            synapses = _conv_synapses(node, shapes[src], shape)
        params = 0
        for value in vars(node).values():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                params += int(value.size)
        rows.append(NodeSummary(node.name, node.kind, shape, neurons, synapses, params,
                                getattr(node, "quant", None) is not None))
    return rows
