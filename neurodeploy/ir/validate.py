"""Graph validation: every problem is reported as one line naming the node and the fault."""

from __future__ import annotations

import math
import numbers

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import WEIGHT_RANGE
from neurodeploy.ir.checks import check_finite as _check_finite
from neurodeploy.ir.checks import check_input_q, check_weight_q
from neurodeploy.ir.checks import fail as _fail
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import (
    ENCODINGS,
    AvgPool2d,
    Conv2d,
    Dense,
    Input,
    SumPool2d,
    WeightQ,
)
from neurodeploy.ir.shapes import Shape, infer_shapes


def _check_weights(node: Dense | Conv2d) -> None:
    _check_finite(node, "weight", node.weight)
    _check_finite(node, "bias", node.bias)
    if node.bias is not None and node.bias.shape != (node.weight.shape[0],):
        _fail(node, f"bias has shape {node.bias.shape}; expected ({node.weight.shape[0]},)")
    q = node.quant
    if q is not None:
        if not isinstance(q, WeightQ):
            _fail(node, f"quantized parameters must be WeightQ, got {type(q).__name__}")
        if q.weight.shape != node.weight.shape:
            _fail(node, f"quantized weight shape {q.weight.shape} differs from float weight "
                        f"shape {node.weight.shape}")
        if q.weight.size and (q.weight.min() < WEIGHT_RANGE[0] or q.weight.max() > WEIGHT_RANGE[1]):
            _fail(node, f"quantized weights outside Lava's 8-bit range {WEIGHT_RANGE}")
        check_weight_q(node)


#: the most elements (neurons) one node may output: 16 Mi, 16 Loihi 2 chips' worth in one
#: layer; beyond it simulation and mapping would exhaust memory before saying anything useful
MAX_LAYER_ELEMENTS = 1 << 24
#: the most time steps a graph may declare (``metadata["T"]``)
MAX_T = 1_000_000


def check_metadata(metadata: dict) -> None:
    """The facts stages read from the metadata: ``T`` a whole number of steps in
    [1, MAX_T], ``dt`` a positive number of seconds."""
    T = metadata.get("T")
    if T is not None and (not isinstance(T, numbers.Integral) or isinstance(T, (bool, np.bool_))
                          or not 1 <= T <= MAX_T):
        raise NeurodeployError(f"metadata 'T' = {T!r} must be a whole number of steps in "
                               f"[1, {MAX_T}]")
    dt = metadata.get("dt")
    if dt is not None and (not isinstance(dt, numbers.Real) or isinstance(dt, (bool, np.bool_))
                           or not math.isfinite(dt) or dt <= 0):
        raise NeurodeployError(f"metadata 'dt' = {dt!r} must be a positive number of seconds")


def validate(graph: Graph) -> dict[str, Shape]:
    """Check the graph and return every node's output shape.

    Raises NeurodeployError with a one-line message naming the node (or edge) at fault.
    """
    if not graph.nodes:
        raise NeurodeployError("the graph has no nodes")
    check_metadata(graph.metadata)
    for name, node in graph.nodes.items():
        if name != node.name:
            raise NeurodeployError(f"node '{node.name}' is stored under the key '{name}'")
        if not name or "/" in name or name in (".", ".."):
            raise NeurodeployError(f"node name {name!r} is not allowed (empty, '/', '.' or '..')")
    for e in graph.edges:
        for end in (e.src, e.dst):
            if end not in graph.nodes:
                raise NeurodeployError(f"edge '{e.src}' -> '{e.dst}': no node named '{end}'")
        if e.delay not in (0, 1):
            raise NeurodeployError(f"edge '{e.src}' -> '{e.dst}': delay must be 0 or 1, "
                                   f"got {e.delay}")
    if not graph.inputs:
        raise NeurodeployError("the graph declares no inputs")
    if not graph.outputs:
        raise NeurodeployError("the graph declares no outputs")
    for name in graph.inputs:
        if not isinstance(graph.nodes.get(name), Input):
            raise NeurodeployError(f"graph input '{name}' is not an Input node")
    for name in graph.outputs:
        if name not in graph.nodes:
            raise NeurodeployError(f"graph output '{name}': no node of that name")
    for node in graph:
        n_in = len(graph.in_edges(node.name))
        lo, hi = node.arity
        if n_in < lo or (hi is not None and n_in > hi):
            want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else f"{lo}-{hi}"
            _fail(node, f"has {n_in} incoming edges; takes {want}")
        if isinstance(node, Input):
            if node.name not in graph.inputs:
                _fail(node, "is not listed among the graph's inputs")
            if node.encoding not in ENCODINGS:
                _fail(node, f"encoding '{node.encoding}' is not one of {', '.join(ENCODINGS)}")
            if not node.shape or min(node.shape) < 1:
                _fail(node, f"shape {node.shape} must be non-empty with positive sizes")
            check_input_q(node)
        if isinstance(node, (Dense, Conv2d)):
            _check_weights(node)
        if isinstance(node, Conv2d):
            if node.groups < 1 or node.weight.ndim != 4 or node.weight.shape[0] % node.groups:
                _fail(node, f"groups={node.groups} does not divide the {node.weight.shape[0]} "
                            "output channels")
            for f in ("stride", "dilation"):
                if min(getattr(node, f)) < 1:
                    _fail(node, f"'{f}' must be >= 1, got {getattr(node, f)}")
        if isinstance(node, (Conv2d, SumPool2d, AvgPool2d)) and min(node.padding) < 0:
            _fail(node, f"padding must be >= 0, got {node.padding}")
        if isinstance(node, (SumPool2d, AvgPool2d)):
            if min(node.kernel) < 1 or min(node.stride) < 1:
                _fail(node, f"kernel {node.kernel} and stride {node.stride} must be >= 1")
        refractory = getattr(node, "refractory", None)
        if refractory is not None and not 0 <= refractory <= MAX_T:
            _fail(node, f"refractory period {refractory} outside [0, {MAX_T}] steps")
    shapes = infer_shapes(graph)
    for node in graph:
        size = math.prod(shapes[node.name])
        if size > MAX_LAYER_ELEMENTS:
            _fail(node, f"output of {size} elements {shapes[node.name]}; at most "
                        f"{MAX_LAYER_ELEMENTS} per node")
        node.check(shapes[node.name])
    return shapes
