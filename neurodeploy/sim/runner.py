"""The graph runner: turns a Graph into per-node step operations and streams over time.

Memory does not grow with T except for the graph outputs (``[T, B, *shape]`` per output node,
as :class:`SimResult` promises) and the records asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import STATE_BITS, STATE_HALF, shift
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    SumPool2d,
    validate,
)
from neurodeploy.ir.nodes import Node
from neurodeploy.kinds import NeuronKind
from neurodeploy.sim import delays as delay_lines
from neurodeploy.sim import ops

MODES = ("float", "fixed")
Tensor = torch.Tensor


@dataclass(eq=False)
class SimResult:
    """What one simulation returns (see :func:`simulate`)."""

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


def _device(device: str) -> torch.device:
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise NeurodeployError(f"device '{device}': CUDA is not available on this machine "
                               "(use --device cpu)")
    try:
        return torch.device(device)
    except RuntimeError:
        raise NeurodeployError(f"unknown device '{device}' (use cpu or cuda)") from None


def _param(value: np.ndarray | float, dev: torch.device) -> Tensor:
    return torch.as_tensor(np.asarray(value, np.float32), device=dev)


@dataclass(eq=False)
class _Op:
    """One node compiled for one mode: ``step(inputs) -> output`` for synapse/input nodes;
    neurons (``kind`` set) keep explicit state in the runner and call their kind's step."""

    name: str
    node: Node
    step: Callable[[list[Tensor]], Tensor] | None = None
    bound: float = 1.0  # fixed mode: largest |integer| the node can output
    kind: NeuronKind | None = None
    params: object = None  # a neuron's parameters as its kind's step takes them
    #: a delayed Dense: its distinct delays; ``step`` then returns one partial sum per delay
    #: ``[K, B, out]`` and the runner's ring buffer delivers them (:mod:`neurodeploy.sim.delays`)
    delays: tuple[int, ...] = ()
    after: Callable[[Tensor], Tensor] | None = None  # applied to what arrives (float bias)


def _delayed(node: Node) -> bool:
    return isinstance(node, (Dense, Conv2d)) and node.max_delay > 0


def _delayed_conv(conv: Conv2d, weight: np.ndarray, dt: torch.dtype, dev: torch.device
                  ) -> Callable[[Tensor], Tensor]:
    """A delayed Conv2d's step: ``x`` → one partial sum per distinct delay ``[K, B, *out]``
    (no 24-bit wrap: Lava runs it as a DelayDense, :mod:`neurodeploy.lava.compiler`)."""
    present, split = delay_lines.conv_delay_weight(weight, np.asarray(conv.delay), conv.groups)
    ws = torch.as_tensor(split, dtype=dt, device=dev)
    k = len(present)
    return lambda x: delay_lines.conv_parts(
        ops.conv2d(x.to(dt), ws, None, conv.stride, conv.padding, conv.dilation, conv.groups),
        k, conv.groups)


def _compile_fixed(node: Node, bound_in: float, dev: torch.device) -> tuple[Callable, float]:
    """Fixed-point step of a stateless node and its output bound."""
    if isinstance(node, (Dense, Conv2d)):
        q = node.quant
        w_np = np.asarray(q.weight, np.int64)
        fan_in = int(np.prod(w_np.shape[1:]))
        acc_bound = bound_in * float(np.abs(w_np).max(initial=0)) * fan_in
        dt = ops.accum_dtype(acc_bound, node.name)
        w = torch.as_tensor(w_np, dtype=dt, device=dev)
        if isinstance(node, Dense):
            exp = int(q.weight_exp)
            if _delayed(node):  # Lava's DelayDense shifts each delay group's sum
                present, stacked = delay_lines.delay_groups(w_np, np.asarray(node.delay))
                ws = torch.as_tensor(stacked, dtype=dt, device=dev)
                k, n_out = len(present), w_np.shape[0]

                def step(ins: list[Tensor]) -> Tensor:
                    acc = ops.to_int(ops.dense(ins[0].to(dt), ws))
                    return shift(acc.reshape(-1, k, n_out).transpose(0, 1), exp)

                return step, acc_bound * 2.0**exp + k

            def step(ins: list[Tensor]) -> Tensor:
                return shift(ops.to_int(ops.dense(ins[0].to(dt), w)), exp)

            return step, acc_bound * 2.0**exp + 1
        conv = node
        if _delayed(conv):  # exact sums, as the DelayDense that runs it in Lava
            parts = _delayed_conv(conv, w_np, dt, dev)
            return (lambda ins: ops.to_int(parts(ins[0]))), acc_bound

        def step(ins: list[Tensor]) -> Tensor:
            acc = ops.to_int(ops.conv2d(ins[0].to(dt), w, None, conv.stride, conv.padding,
                                        conv.dilation, conv.groups))
            return ops.wrap_signed(acc, STATE_BITS)

        return step, float(min(acc_bound, STATE_HALF))
    if isinstance(node, SumPool2d):
        k = node.kernel[0] * node.kernel[1]
        dt = ops.accum_dtype(bound_in * k, node.name)
        pool = node

        def step(ins: list[Tensor]) -> Tensor:
            return ops.to_int(ops.sum_pool2d(ins[0].to(dt), pool.kernel, pool.stride,
                                             pool.padding))

        return step, bound_in * k
    if isinstance(node, Flatten):
        return (lambda ins: ins[0].reshape(ins[0].shape[0], -1)), bound_in
    if isinstance(node, Add):
        return (lambda ins: torch.stack(ins).sum(0)), bound_in
    raise NeurodeployError(f"node '{node.name}': no fixed-point simulation for {node.kind}")


def _compile_float(node: Node, dev: torch.device) -> Callable:
    """Float step of a stateless node."""
    if isinstance(node, Input):
        return lambda ins: ins[0]
    if isinstance(node, Dense):
        b = _param(node.bias, dev) if node.bias is not None else None
        if _delayed(node):  # the bias is added to what arrives (see simulate)
            present, stacked = delay_lines.delay_groups(node.weight, np.asarray(node.delay))
            ws, k, n_out = _param(stacked, dev), len(present), node.weight.shape[0]
            return lambda ins: ops.dense(ins[0], ws).reshape(-1, k, n_out).transpose(0, 1)
        w = _param(node.weight, dev)
        return lambda ins: ops.dense(ins[0], w, b)
    if isinstance(node, Conv2d):
        if _delayed(node):  # the bias is added to what arrives (see simulate)
            parts = _delayed_conv(node, node.weight, torch.float32, dev)
            return lambda ins: parts(ins[0])
        w = _param(node.weight, dev)
        b = _param(node.bias, dev) if node.bias is not None else None
        c = node
        return lambda ins: ops.conv2d(ins[0], w, b, c.stride, c.padding, c.dilation, c.groups)
    if isinstance(node, (SumPool2d, AvgPool2d)):
        p = node
        div = float(p.kernel[0] * p.kernel[1]) if isinstance(p, AvgPool2d) else 1.0
        return lambda ins: ops.sum_pool2d(ins[0], p.kernel, p.stride, p.padding) / div
    if isinstance(node, Flatten):
        return lambda ins: ins[0].reshape(ins[0].shape[0], -1)
    if isinstance(node, Add):
        return lambda ins: torch.stack(ins).sum(0)
    raise NeurodeployError(f"node '{node.name}': no float simulation for {node.kind}")


def _record_set(graph: Graph, record: bool | Sequence[str]) -> set[str]:
    if record is True:
        return set(graph.nodes)
    if not record:
        return set()
    names = {record} if isinstance(record, str) else set(record)
    for n in names:
        graph[n]  # raises a NeurodeployError naming an unknown node
    return names


def decode(v: Tensor, node: Node) -> Tensor:
    """Decode an output ``[T, B, *shape]`` to ``[B, n]`` by its kind's rule: a Readout's
    ``decoding`` (``weighted``: ``Σ_t weights[t]·v[t]``, steps beyond ``len(weights)`` weigh
    0), a spiking output by its spike counts."""
    flat = v.reshape(v.shape[0], v.shape[1], -1).to(torch.float32)
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


def simulate(graph: Graph, x: np.ndarray | Tensor, mode: str = "float",
             record: bool | Sequence[str] = False, device: str = "cpu") -> SimResult:
    """Run ``graph`` on ``x`` (``[T, B, *input_shape]``, encoded float values) step by step.

    ``mode``: ``float`` (the IR's float equations, float32) or ``fixed`` (Lava's bit-accurate
    integer arithmetic; needs a quantized graph). ``record``: True for every node or a list of
    node names. ``device``: ``cpu`` or ``cuda``. See :class:`SimResult` for what comes back.
    """
    if mode not in MODES:
        raise NeurodeployError(f"unknown simulation mode '{mode}' (choose float or fixed)")
    dev = _device(device)
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
    T, B = int(xt.shape[0]), int(xt.shape[1])
    if T < 1 or B < 1:
        raise NeurodeployError(f"input '{in_name}': x needs T >= 1 and B >= 1, got {list(xt.shape)}")
    fixed = mode == "fixed"
    if fixed:
        check_fixed(graph)
    order = graph.topological_order()
    in_edges = {n: graph.in_edges(n) for n in order}
    delayed_srcs = {e.src for e in graph.edges if e.delay}
    recorded = _record_set(graph, record)

    # ---- compile
    opsd: dict[str, _Op] = {}
    for name in order:
        node = graph.nodes[name]
        op = _Op(name, node, kind=kinds.kind_of(node))
        if op.kind is not None:
            op.params = (op.kind.fixed_params(node, dev) if fixed
                         else op.kind.float_params(node, dev))
            op.bound = _NEURON_BOUND[op.kind.binary]
        elif fixed:
            if isinstance(node, Input):
                quantize, bound = ops.input_quantizer(node)
                op.step, op.bound = (lambda ins, f=quantize: f(ins[0])), float(bound)
            else:
                bound_in = sum(_src_bound(graph, opsd, e.src) for e in in_edges[name])
                if isinstance(node, Add):
                    op.step, op.bound = _compile_fixed(node, bound_in, dev)
                else:
                    op.step, op.bound = _compile_fixed(node, max(bound_in, 1.0), dev)
        else:
            op.step = _compile_float(node, dev)
        if _delayed(node):
            op.delays = tuple(int(d) for d in np.unique(node.delay))
            if not fixed and node.bias is not None:
                bias = _param(node.bias, dev)
                if isinstance(node, Conv2d):
                    bias = bias.reshape(-1, 1, 1)
                op.after = lambda y, b=bias: y + b
        opsd[name] = op
    # recurrent sources whose bound is only known after compiling: spikes (1) in valid graphs

    val_dtype = torch.int64 if fixed else torch.float32
    states = {n: op.kind.initial_state(op.node, (B, *shapes[n]), fixed, dev)
              for n, op in opsd.items() if op.kind is not None}
    prev: dict[str, Tensor] = {
        n: torch.zeros((B, *shapes[n]), dtype=val_dtype, device=dev) for n in delayed_srcs}
    rings = {n: delay_lines.new_ring(op.delays[-1], (B, *shapes[n]), val_dtype, dev)
             for n, op in opsd.items() if op.delays}
    counts = {n: torch.zeros(shapes[n], dtype=torch.int64, device=dev) for n in order}
    sats = {n: torch.zeros((), dtype=torch.int64, device=dev) for n in states}
    outs: dict[str, list[Tensor]] = {n: [] for n in graph.outputs}
    recs: dict[str, dict[str, list[Tensor]]] = {n: {} for n in recorded}

    # ---- stream over time
    for t in range(T):
        cur: dict[str, Tensor] = {}
        for name in order:
            op = opsd[name]
            ins = [prev[e.src] if e.delay else cur[e.src] for e in in_edges[name]]
            if isinstance(op.node, Input):
                y = op.step([xt[t]]) if fixed else xt[t]
            elif op.kind is not None:
                i_in = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
                i_in = i_in.reshape(B, *shapes[name])
                if fixed:
                    states[name], y, sat = op.kind.fixed_step(states[name], i_in, op.params)
                    sats[name] += sat.sum()
                else:
                    states[name], y = op.kind.float_step(states[name], i_in, op.params)
            elif op.delays:
                y = delay_lines.arrive(rings[name], t, op.step(ins), op.delays)
                if op.after is not None:
                    y = op.after(y)
            else:
                y = op.step(ins)
            cur[name] = y
            counts[name] += (y != 0).sum(0)
            if name in outs:
                outs[name].append(op.kind.output(op.node, y, fixed) if op.kind is not None
                                  else y.to(torch.float32))
            if name in recs:
                rec = op.kind.record(states[name], y) if op.kind is not None else {"y": y}
                for var, value in rec.items():
                    recs[name].setdefault(var, []).append(value)
        for n in delayed_srcs:
            prev[n] = cur[n]

    # ---- results
    outputs = {n: torch.stack(v) for n, v in outs.items()}
    first = graph.outputs[0]
    decoded = decode(outputs[first], graph.nodes[first])
    predictions = decoded.argmax(1).cpu().numpy().astype(np.int64)
    counts_np = {n: c.cpu().numpy().astype(np.float64) / B for n, c in counts.items()}
    rates = {n: float(counts_np[n].sum() / (T * max(counts_np[n].size, 1)))
             for n, node in graph.nodes.items() if isinstance(node, Input) or kinds.fires(node)}
    records = {n: {k: torch.stack(v) for k, v in r.items()} for n, r in recs.items()}
    return SimResult(outputs, decoded, predictions, counts_np, rates, records,
                     {n: int(s.item()) for n, s in sats.items()}, T, mode)


#: the largest |output| of a neuron node, by its kind's ``binary``: spikes 1; graded values
#: (a read-out's v, graded spikes) as large as Lava's int32 messages
_NEURON_BOUND = {True: 1.0, False: float(2**31)}


def _src_bound(graph: Graph, opsd: dict[str, _Op], src: str) -> float:
    """Output bound of ``src``; a recurrent source not compiled yet is a neuron with binary
    spikes (1) or unknown (2**31, which makes the consumer accumulate in float64)."""
    if src in opsd:
        return opsd[src].bound
    kind = kinds.kind_of(graph.nodes[src])
    return _NEURON_BOUND[kind is not None and kind.fires and kind.binary]
