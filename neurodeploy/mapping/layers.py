"""The layers a chip sees: each neuron node with the synapse chains that feed it, as connectivity.

On Loihi a neuron's incoming synapses live in its own core, so the unit of mapping is a *layer*:
one neuron node (CubaLIF or Readout) plus, for each *source* (a neuron node or the graph input,
reached backwards through Dense, Conv2d, SumPool2d, AvgPool2d, Flatten and Add nodes, delayed
edges included), the structural connectivity from that source's elements to the layer's
elements. A chain of several synapse nodes (a pooling feeding a convolution) is the compiler's
folded synapse: a source element connects to a layer element when any path joins them.

Two forms of connectivity, both exact:

- :class:`SpatialSource` — convolution and pooling chains between ``(C, H, W)`` arrays are
  separable: element ``(c, y, x)`` reads ``(c', y', x')`` iff ``Rc[c, c'] ∧ Ry[y, y'] ∧
  Rx[x, x']``, with one boolean *reach* matrix per axis (borders, stride, dilation, groups
  exact). ``kernel`` is the number of weights one output channel stores (shared by every
  position: Loihi 2's convolutional synapses).
- :class:`MatrixSource` — everything else (dense layers, flattening): ``count[j, i]`` is the
  number of synapses from source element ``i`` to layer element ``j`` (C order).

Synapses are counted structurally, zero weights included: a Dense weight matrix is stored
whole (the dense synapse encoding Lava's Dense and Intel's compiler use), a convolution's
kernel likewise. ``delay_slots`` is the largest synaptic delay of the Dense and Conv2d nodes
feeding the layer: each of its neurons keeps that many input accumulators besides its own
(Lava's ``DelayDense`` ``a_buff``: ``max_delay + 1`` per neuron; a delayed conv's kernel is still
counted as a kernel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Input,
    Node,
    SumPool2d,
)
from neurodeploy.ir.shapes import conv_out_size
from neurodeploy.ir.validate import validate

SPATIAL_TYPES = (Conv2d, SumPool2d, AvgPool2d)


@dataclass(frozen=True)
class SpatialSource:
    """Separable connectivity: conv/pool from a ``(C', H', W')`` source to a ``(C, H, W)`` layer,
    or one-to-one (a source that drives the neuron directly, any shape).

    ``reach[a]`` is a bool ``[out, in]`` matrix per axis (channel, row, column for conv/pool);
    ``kernel`` the weights stored per output channel (``C'/groups · kH · kW`` for a conv);
    ``weight_bits`` the synapse width.
    """

    name: str
    shape: tuple[int, ...]
    reach: tuple[np.ndarray, np.ndarray, np.ndarray]
    kernel: int
    weight_bits: int
    graded: bool


@dataclass(frozen=True)
class MatrixSource:
    """General connectivity: ``count`` int32 ``[layer elements, source elements]``."""

    name: str
    shape: tuple[int, ...]
    count: np.ndarray
    weight_bits: int
    graded: bool


Source = SpatialSource | MatrixSource


@dataclass(frozen=True)
class Layer:
    """One neuron node and its sources (see the module docstring)."""

    name: str
    shape: tuple[int, ...]
    synapses: tuple[str, ...]
    sources: tuple[Source, ...]
    delay_slots: int = 0

    @property
    def neurons(self) -> int:
        return int(math.prod(self.shape))

    @property
    def spatial(self) -> bool:
        return all(isinstance(s, SpatialSource) for s in self.sources)

    def fan_in(self) -> int:
        """Largest number of synapses into one neuron."""
        total = 0
        for s in self.sources:
            if isinstance(s, SpatialSource):
                total += int(np.prod([r.sum(1).max() if r.size else 0 for r in s.reach]))
            else:
                total += int(s.count.sum(1).max()) if s.count.size else 0
        return total


# ---------------------------------------------------------------- chains


def _chains(graph: Graph, name: str) -> list[tuple[str, list[str]]]:
    """``(source, [synapse nodes from source to name, source side first])`` for every path."""
    out: list[tuple[str, list[str]]] = []

    def walk(node_name: str, path: list[str]) -> None:
        for e in graph.in_edges(node_name):
            src = graph.nodes[e.src]
            if isinstance(src, Input) or kinds.is_neuron(src):
                out.append((e.src, path))
            else:
                walk(e.src, [e.src, *path])

    walk(name, [])
    return out


def _axis_reach(size_in: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    n_out = conv_out_size(size_in, kernel, stride, padding, dilation)
    pos = np.arange(n_out)[:, None] * stride - padding + np.arange(kernel)[None, :] * dilation
    r = np.zeros((n_out, size_in), bool)
    rows = np.repeat(np.arange(n_out), kernel)
    ok = (pos.ravel() >= 0) & (pos.ravel() < size_in)
    r[rows[ok], pos.ravel()[ok]] = True
    return r


def _node_reach(node: Node, in_shape: tuple[int, ...]) -> list[np.ndarray]:
    """Per-axis (channel, row, column) reach of one conv/pool node."""
    c, h, w = in_shape
    if isinstance(node, Conv2d):
        c_out, c_in_g, kh, kw = node.weight.shape
        s, p, d, g = node.stride, node.padding, node.dilation, node.groups
        rc = np.zeros((c_out, c), bool)
        for o in range(c_out):
            grp = o // (c_out // g)
            rc[o, grp * c_in_g:(grp + 1) * c_in_g] = True
    else:
        (kh, kw), s, p, d = node.kernel, node.stride, node.padding, (1, 1)
        rc = np.eye(c, dtype=bool)
    return [rc, _axis_reach(h, kh, s[0], p[0], d[0]), _axis_reach(w, kw, s[1], p[1], d[1])]


def _structure(graph: Graph, shapes: dict, chain: list[str], x: np.ndarray) -> np.ndarray:
    """Apply the chain's *structure* (every weight as 1, pooling as a unit sum) to the
    batch ``x`` ``[N, *source shape]`` (float64); returns ``[N, *layer shape]``."""
    import torch
    import torch.nn.functional as F

    y = torch.as_tensor(x, dtype=torch.float64)
    for name in chain:
        node = graph.nodes[name]
        if isinstance(node, Flatten):
            y = y.reshape(y.shape[0], -1)
        elif isinstance(node, Dense):
            y = y @ torch.ones(node.weight.shape, dtype=torch.float64).T
        elif isinstance(node, Conv2d):
            k = torch.ones(node.weight.shape, dtype=torch.float64)
            y = F.conv2d(y, k, stride=tuple(node.stride), padding=tuple(node.padding),
                         dilation=tuple(node.dilation), groups=node.groups)
        elif isinstance(node, (SumPool2d, AvgPool2d)):
            c = y.shape[1]
            k = torch.ones((c, 1, *node.kernel), dtype=torch.float64)
            y = F.conv2d(y, k, stride=tuple(node.stride), padding=tuple(node.padding), groups=c)
        elif isinstance(node, Add):
            pass  # the other addends are other sources: zero here
        else:
            raise NeurodeployError(f"node '{name}' ({node.kind}): no synaptic structure to map")
    return y.numpy()


def _count_matrix(graph: Graph, shapes: dict, chain: list[str], src_shape: tuple[int, ...],
                  out_shape: tuple[int, ...]) -> np.ndarray:
    """``[out elements, source elements]`` synapse counts of a chain (exact, via its
    structure applied to one-hot source batches, in blocks to bound memory)."""
    n_in = int(math.prod(src_shape))
    n_out = int(math.prod(out_shape))
    if [type(graph.nodes[c]) for c in chain] in ([Dense], [Flatten, Dense]):
        return np.ones((n_out, n_in), np.int32)
    out = np.zeros((n_out, n_in), np.int32)
    block = max(1, 2**22 // max(n_out, 1))
    for a in range(0, n_in, block):
        b = min(a + block, n_in)
        x = np.zeros((b - a, n_in))
        x[np.arange(b - a), np.arange(a, b)] = 1.0
        y = _structure(graph, shapes, chain, x.reshape(b - a, *src_shape))
        out[:, a:b] = np.rint(y.reshape(b - a, n_out)).T.astype(np.int32)
    return out


def _weight_bits(graph: Graph, chain: list[str], default: int) -> int:
    for name in chain:
        q = getattr(graph.nodes[name], "quant", None)
        if q is not None and hasattr(q, "num_weight_bits"):
            return int(q.num_weight_bits)
    return default


def _graded(graph: Graph, src: str) -> bool:
    """Does ``src`` send graded values (an Input that is not binary, a neuron whose kind is not
    ``binary``: a sigma-delta layer's graded spikes) rather than spikes?"""
    node = graph.nodes[src]
    kind = kinds.kind_of(node)
    if kind is not None:
        return not kind.binary
    if isinstance(node, Input):
        q = node.quant
        return not (q is not None and q.bits == 1) and node.encoding == "direct"
    return False


def _as_matrix(s: Source) -> MatrixSource:
    """A spatial source as explicit counts (for layers that mix it with dense sources)."""
    if isinstance(s, MatrixSource):
        return s
    count = np.ones((1, 1), np.int32)
    for r in s.reach:
        count = np.kron(count, r.astype(np.int32))
    return MatrixSource(s.name, s.shape, count, s.weight_bits, s.graded)


def graph_layers(graph: Graph, weight_bits: int = 8) -> list[Layer]:
    """Every neuron node of ``graph`` as a :class:`Layer`, in topological order.

    ``weight_bits`` is used for synapses that are not quantized (float graphs).
    """
    shapes = validate(graph)
    layers = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not kinds.is_neuron(node):
            continue
        shape = tuple(shapes[name])
        sources: list[Source] = []
        synapses: list[str] = []
        for src, chain in _chains(graph, name):
            synapses.extend(c for c in chain if c not in synapses)
            src_shape = tuple(shapes[src])
            bits = _weight_bits(graph, chain, weight_bits)
            graded = _graded(graph, src)
            body = [c for c in chain if not isinstance(graph.nodes[c], Add)]
            if not body:  # a source that feeds the neuron directly: one-to-one
                reach1 = tuple(np.eye(d, dtype=bool) for d in shape)
                sources.append(SpatialSource(src, src_shape, reach1, 1, bits, graded))
                continue
            if len(shape) == 3 and len(src_shape) == 3 and all(
                    isinstance(graph.nodes[c], SPATIAL_TYPES) for c in body):
                reach: list[np.ndarray] = []
                cur = src_shape
                for c in body:  # compose the chain axis by axis: reach = r_last ∘ ... ∘ r_first
                    r = _node_reach(graph.nodes[c], cur)
                    reach = r if not reach else [
                        (a.astype(np.int32) @ b.astype(np.int32)) > 0 for a, b in zip(r, reach, strict=True)]
                    cur = tuple(shapes[c])
                # weights stored per output channel: the (folded) kernel's taps
                kernel = int(np.prod([r.sum(1).max() if r.size else 0 for r in reach]))
                sources.append(SpatialSource(src, src_shape, tuple(reach), kernel, bits, graded))
            else:
                sources.append(MatrixSource(
                    src, src_shape, _count_matrix(graph, shapes, body, src_shape, shape), bits,
                    graded))
        if not all(isinstance(s, SpatialSource) for s in sources):
            sources = [_as_matrix(s) for s in sources]
        slots = max((graph.nodes[c].max_delay for c in synapses
                     if isinstance(graph.nodes[c], (Dense, Conv2d))), default=0)
        layers.append(Layer(name, shape, tuple(synapses), tuple(sources), slots))
    return layers


__all__ = ["Layer", "MatrixSource", "SpatialSource", "graph_layers"]
