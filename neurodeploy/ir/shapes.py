"""Shape inference: the per-step, per-sample output shape of every node."""

from __future__ import annotations

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import (
    NEURON_TYPES,
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Input,
    Node,
    SumPool2d,
)

Shape = tuple[int, ...]


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """PyTorch's output length of a convolution or pooling along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _spatial(node: Node, shape: Shape, kernel: tuple[int, int], stride: tuple[int, int],
             padding: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    if len(shape) != 3:
        raise NeurodeployError(
            f"node '{node.name}' ({node.kind}): expects a (C, H, W) input, got shape {shape}"
        )
    out = tuple(
        conv_out_size(shape[1 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in (0, 1)
    )
    if min(out) < 1:
        raise NeurodeployError(
            f"node '{node.name}' ({node.kind}): kernel {kernel} with padding {padding} does not "
            f"fit the input {shape}"
        )
    return out  # type: ignore[return-value]


def node_output_shape(node: Node, in_shapes: list[Shape]) -> Shape:
    """Output shape of ``node`` given the shapes of its inputs (all incoming edges)."""
    if isinstance(node, Input):
        return tuple(node.shape)
    if isinstance(node, Dense):
        (shape,) = in_shapes
        n_in = 1
        for s in shape:
            n_in *= s
        if node.weight.ndim != 2 or len(shape) != 1 or node.weight.shape[1] != n_in:
            raise NeurodeployError(
                f"node '{node.name}' (dense): weight of shape {node.weight.shape} does not take "
                f"an input of shape {shape} (a Flatten node is needed before a Dense on images)"
            )
        return (node.weight.shape[0],)
    if isinstance(node, Conv2d):
        (shape,) = in_shapes
        c_out, c_in_g, kh, kw = node.weight.shape
        if len(shape) != 3 or shape[0] != c_in_g * node.groups:
            raise NeurodeployError(
                f"node '{node.name}' (conv2d): weight {node.weight.shape} with groups="
                f"{node.groups} expects {c_in_g * node.groups} input channels, got shape {shape}"
            )
        h, w = _spatial(node, shape, (kh, kw), node.stride, node.padding, node.dilation)
        return (c_out, h, w)
    if isinstance(node, (SumPool2d, AvgPool2d)):
        (shape,) = in_shapes
        h, w = _spatial(node, shape, node.kernel, node.stride, node.padding)
        return (shape[0], h, w)
    if isinstance(node, Flatten):
        (shape,) = in_shapes
        n = 1
        for s in shape:
            n *= s
        return (n,)
    if isinstance(node, (Add, *NEURON_TYPES)):
        first = in_shapes[0]
        for other in in_shapes[1:]:
            if other != first:
                raise NeurodeployError(
                    f"node '{node.name}' ({node.kind}): inputs have different shapes "
                    f"{first} and {other}"
                )
        if isinstance(node, NEURON_TYPES) and tuple(node.shape) != first:
            raise NeurodeployError(
                f"node '{node.name}' ({node.kind}): declared shape {tuple(node.shape)} differs "
                f"from its input's shape {first}"
            )
        return first
    raise NeurodeployError(f"node '{node.name}': unknown node kind {type(node).__name__}")


def _delayed_only_input(node: Node, delayed: Shape | None) -> Shape:
    """Input shape of a node fed only by delayed (recurrent) edges: from its parameters (Dense,
    neurons), otherwise the shape of its delayed source (``delayed``, e.g. a recurrent Conv2d
    fed by the previous step's spikes of a (C, H, W) layer)."""
    if isinstance(node, Dense) and node.weight.ndim == 2:
        return (node.weight.shape[1],)
    if isinstance(node, NEURON_TYPES):
        return tuple(node.shape)
    if delayed is not None:
        return delayed
    raise NeurodeployError(
        f"node '{node.name}' ({node.kind}): fed only by recurrent (delay 1) edges whose source "
        "shape is unknown"
    )


def _delayed_source_shape(graph: Graph, name: str, known: dict[str, Shape]) -> Shape | None:
    for e in graph.in_edges(name):
        if e.delay and e.src in known:
            return known[e.src]
    return None


def _provisional_shapes(graph: Graph, order: list[str]) -> dict[str, Shape]:
    """Best-effort shapes (no errors) used to resolve delayed-only inputs: repeated passes in
    topological order, a node computed once all its same-step inputs (or, for a node fed only
    by delayed edges, one delayed source) are known; neurons and Adds from the known subset."""
    known: dict[str, Shape] = {}
    for _ in range(len(order) + 1):
        grew = False
        for name in order:
            if name in known:
                continue
            node = graph.nodes[name]
            preds = graph.predecessors(name)
            ins = [known[p] for p in preds if p in known]
            if not preds and not isinstance(node, Input):
                delayed = _delayed_source_shape(graph, name, known)
                if delayed is None and not isinstance(node, (Dense, *NEURON_TYPES)):
                    continue
                try:
                    ins = [_delayed_only_input(node, delayed)]
                except NeurodeployError:
                    continue
            elif len(ins) < len(preds) and not (ins and isinstance(node, (Add, *NEURON_TYPES))):
                continue
            try:
                known[name] = node_output_shape(node, ins)
            except (NeurodeployError, ValueError):
                continue
            grew = True
        if not grew:
            break
    return known


def infer_shapes(graph: Graph) -> dict[str, Shape]:
    """Output shape of every node, computed in topological order.

    A node fed only by delayed (recurrent) edges takes its input shape from its parameters
    (Dense, neurons) or else from its delayed source (a recurrent Conv2d); every delayed edge
    is then checked against its source's shape.
    Raises NeurodeployError naming the first node whose inputs do not fit.
    """
    order = graph.topological_order()
    provisional: dict[str, Shape] | None = None
    shapes: dict[str, Shape] = {}
    assumed: dict[str, Shape] = {}
    for name in order:
        node = graph.nodes[name]
        ins = [shapes[src] for src in graph.predecessors(name)]
        if not ins and not isinstance(node, Input):
            delayed = None
            if not isinstance(node, (Dense, *NEURON_TYPES)):
                if provisional is None:
                    provisional = _provisional_shapes(graph, order)
                delayed = _delayed_source_shape(graph, name, {**provisional, **shapes})
            ins = [_delayed_only_input(node, delayed)]
        assumed[name] = ins[0] if ins else ()
        shapes[name] = node_output_shape(node, ins)
    for e in graph.edges:
        if e.delay and shapes[e.src] != assumed[e.dst]:
            raise NeurodeployError(
                f"recurrent edge '{e.src}' -> '{e.dst}': shape {shapes[e.src]} does not fit "
                f"node '{e.dst}' ({graph.nodes[e.dst].kind}), which takes {assumed[e.dst]}"
            )
    return shapes
