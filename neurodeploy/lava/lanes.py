"""Lanes: run L samples side by side in one Lava network, so Lava runs ``ceil(B / L)`` sample
periods instead of ``B``.

Lava runs one sample after another; each sample costs ``T + depth`` Lava steps, and each step
costs every process a round of messages between OS processes (about 12 ms of CPU for a small
network, almost none of it arithmetic), plus a reset of every state ``Var`` between samples (Lava
sends a ``Var.set`` one element per message). A laned graph holds L independent copies of the
network side by side:

- every node's first axis grows L times, lane-major: a neuron layer of shape ``(C, H, W)``
  becomes ``(L·C, H, W)``, a vector ``(N,)`` becomes ``(L·N,)``;
- a Dense's weights become the block-diagonal ``kron(I_L, W)`` (delays alike); lane ``l``'s
  outputs see only lane ``l``'s inputs, every other term is an exact 0;
- a Conv2d becomes a grouped convolution with ``L·groups`` groups and its kernel (and bias)
  repeated L times along the output channels; pools act per channel and are unchanged;
- a neuron's per-neuron parameters (arrays broadcast to its shape) are repeated L times;
  per-layer scalars are unchanged.

Flatten of ``(L·C, H, W)`` is lane-major, which is the layout the block-diagonal Dense after
it expects. Each lane therefore computes, in Lava's own arithmetic, exactly what the network
computes for its sample alone: the records of a laned run, unstacked, equal those of the
sample-by-sample run (tested on every graph family of the Lava tests).

A graph with a node this module does not know (a node type, or a field it cannot lane) runs
with one lane, as before. The number of lanes is bounded so that no block-diagonal weight
matrix exceeds :data:`MAX_LANED_WEIGHTS` entries.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from neurodeploy import kinds
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    SumPool2d,
    infer_shapes,
)

#: largest number of entries of one laned (block-diagonal) Dense weight matrix, delay groups
#: included: 2**22 int64 entries are 32 MB per copy Lava keeps
MAX_LANED_WEIGHTS = 2 ** 22
#: most lanes used by default (beyond this the per-step work outweighs the saved overhead)
MAX_LANES = 32

#: fields each plain node type may carry (a value in any other field disables lanes)
_KNOWN = {
    Input: {"name", "shape", "encoding", "quant"},
    Dense: {"name", "weight", "bias", "quant", "delay"},
    Conv2d: {"name", "weight", "bias", "stride", "padding", "dilation", "groups", "quant"},
    SumPool2d: {"name", "kernel", "stride", "padding"},
    AvgPool2d: {"name", "kernel", "stride", "padding"},
    Flatten: {"name"},
    Add: {"name"},
}
#: neuron fields that are not per-neuron (a Readout's per-step decoding weights)
_NOT_PER_NEURON = {"weights"}


def _set_fields(node: object) -> set[str]:
    return {f.name for f in dataclasses.fields(node) if getattr(node, f.name) is not None}


def lanes_for(graph: Graph, batch: int, limit: int = MAX_LANES) -> int:
    """How many lanes to run ``batch`` samples of ``graph`` with: 1 when the graph has a node
    this module cannot lane, else at most ``limit``, ``batch`` and what keeps every laned Dense
    under :data:`MAX_LANED_WEIGHTS` entries."""
    lanes = max(1, min(int(limit), int(batch)))
    shapes = infer_shapes(graph)
    for name, node in graph.nodes.items():
        if kinds.is_neuron(node):
            shape = shapes[name]
            for f in dataclasses.fields(node):
                v = getattr(node, f.name)
                if (isinstance(v, np.ndarray) and f.name not in _NOT_PER_NEURON
                        and not _broadcastable(v, shape)):
                    return 1
            continue
        known = _KNOWN.get(type(node))
        if known is None or not _set_fields(node) <= known:
            return 1
        if isinstance(node, Dense):
            w = np.asarray(node.weight)
            depth = 1 + int(np.max(node.delay, initial=0)) if node.delay is not None else 1
            per_lane = w.size * 2 * depth  # the schedule may add an alignment delay group
            while lanes > 1 and lanes * lanes * per_lane > MAX_LANED_WEIGHTS:
                lanes -= 1
    return lanes


def _broadcastable(v: np.ndarray, shape: tuple[int, ...]) -> bool:
    try:
        np.broadcast_to(v, shape)
    except ValueError:
        return False
    return True


def _repeat(v: np.ndarray, shape: tuple[int, ...], lanes: int) -> np.ndarray:
    """A per-neuron array of a layer of ``shape`` for ``lanes`` lanes (a scalar stays)."""
    if v.size <= 1:
        return v
    full = np.broadcast_to(v, shape)
    return np.ascontiguousarray(np.concatenate([full] * lanes, axis=0)).astype(v.dtype)


def _lane_axis0(shape: tuple[int, ...], lanes: int) -> tuple[int, ...]:
    return (shape[0] * lanes,) + tuple(shape[1:])


def _lane_neuron_fields(obj: object, shape: tuple[int, ...], lanes: int) -> object:
    changes = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.name == "shape":
            changes["shape"] = _lane_axis0(tuple(v), lanes)
        elif isinstance(v, np.ndarray) and f.name not in _NOT_PER_NEURON:
            changes[f.name] = _repeat(v, shape, lanes)
        elif f.name == "quant" and v is not None:
            changes["quant"] = _lane_neuron_fields(v, shape, lanes)
    return dataclasses.replace(obj, **changes)


def _block_diag(w: np.ndarray, lanes: int) -> np.ndarray:
    return np.kron(np.eye(lanes, dtype=w.dtype), w)


def lane_graph(graph: Graph, lanes: int) -> Graph:
    """The graph with ``lanes`` independent copies of every node side by side (see the module
    docstring); node names and edges are unchanged. ``lanes`` must come from
    :func:`lanes_for`."""
    shapes = infer_shapes(graph)
    out = Graph(metadata=copy.deepcopy(graph.metadata))
    for name, node in graph.nodes.items():
        if kinds.is_neuron(node):
            new = _lane_neuron_fields(node, shapes[name], lanes)
        elif isinstance(node, Input):
            new = dataclasses.replace(node, shape=_lane_axis0(tuple(node.shape), lanes))
        elif isinstance(node, Dense):
            q = node.quant
            new = dataclasses.replace(
                node, weight=_block_diag(np.asarray(node.weight), lanes),
                bias=None if node.bias is None else np.tile(node.bias, lanes),
                delay=None if node.delay is None else _block_diag(node.delay, lanes),
                quant=None if q is None else dataclasses.replace(
                    q, weight=_block_diag(np.asarray(q.weight), lanes)))
        elif isinstance(node, Conv2d):
            q = node.quant
            reps = (lanes,) + (1,) * (np.ndim(node.weight) - 1)
            new = dataclasses.replace(
                node, weight=np.tile(node.weight, reps), groups=node.groups * lanes,
                bias=None if node.bias is None else np.tile(node.bias, lanes),
                quant=None if q is None else dataclasses.replace(
                    q, weight=np.tile(q.weight, reps)))
        else:
            new = copy.copy(node)
        out.nodes[name] = new
    out.edges = [dataclasses.replace(e) for e in graph.edges]
    out.inputs, out.outputs = list(graph.inputs), list(graph.outputs)
    return out


def lane_inputs(x: np.ndarray, lanes: int) -> np.ndarray:
    """``[T, B, *shape]`` → ``[T, ceil(B / lanes), lanes·shape[0], *shape[1:]]``, lane ``l`` of
    laned sample ``b`` holding sample ``b·lanes + l`` (missing samples are zeros)."""
    T, B = x.shape[:2]
    groups = -(-B // lanes)
    pad = groups * lanes - B
    if pad:
        x = np.concatenate([x, np.zeros((T, pad) + x.shape[2:], x.dtype)], axis=1)
    x = x.reshape((T, groups, lanes) + x.shape[2:])
    return x.reshape((T, groups, lanes * x.shape[3]) + x.shape[4:])


def unlane(a: np.ndarray, lanes: int, batch: int) -> np.ndarray:
    """Inverse of :func:`lane_inputs` for any ``[T, groups, lanes·n0, *rest]`` array: the
    first ``batch`` samples as ``[T, batch, n0, *rest]``."""
    T, groups = a.shape[:2]
    a = a.reshape((T, groups, lanes, a.shape[2] // lanes) + a.shape[3:])
    return a.reshape((T, groups * lanes) + a.shape[3:])[:, :batch]
