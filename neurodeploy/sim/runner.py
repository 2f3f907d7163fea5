"""The graph runner: turns a Graph into per-node step operations and streams over time.

Memory does not grow with T except for the graph outputs (``[T, B, *shape]`` per output node,
as :class:`SimResult` promises) and the records asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import STATE_BITS, STATE_HALF, shift
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
    SumPool2d,
    validate,
)
from neurodeploy.ir.nodes import Node
from neurodeploy.sim import dynamics as dyn
from neurodeploy.sim import ops

MODES = ("float", "fixed")
Tensor = torch.Tensor


@dataclass(eq=False)
class SimResult:
    """What one simulation returns (see :func:`simulate`)."""

    #: per graph output node, per step ``[T, B, *shape]``: a Readout's v (fixed mode: v·scale,
    #: float), a CubaLIF's spikes
    outputs: dict[str, Tensor]
    #: ``[B, n]`` the first output decoded by its Readout's rule (a CubaLIF output: spike counts)
    decoded: Tensor
    #: ``[B]`` int64 argmax of ``decoded``
    predictions: np.ndarray
    #: every node: nonzero output values per element, summed over T, mean over B (node's shape)
    counts: dict[str, np.ndarray]
    #: CubaLIF and Input nodes: ``counts.sum() / (T · elements)``
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
    neurons keep explicit state in the runner and call :mod:`neurodeploy.sim.dynamics`."""

    name: str
    node: Node
    step: Callable[[list[Tensor]], Tensor] | None = None
    bound: float = 1.0  # fixed mode: largest |integer| the node can output


def _compile_fixed(node: Node, bound_in: float, dev: torch.device) -> tuple[Callable, float]:
    """Fixed-point step of a stateless node and its output bound."""
    if isinstance(node, (Dense, Conv2d)):
        q = node.quant
        if q is None:
            raise NeurodeployError(f"node '{node.name}' ({node.kind}): no quantized weights; "
                                   "quantize the graph before simulating it in fixed mode")
        w_np = np.asarray(q.weight, np.int64)
        fan_in = int(np.prod(w_np.shape[1:]))
        acc_bound = bound_in * float(np.abs(w_np).max(initial=0)) * fan_in
        dt = ops.accum_dtype(acc_bound, node.name)
        w = torch.as_tensor(w_np, dtype=dt, device=dev)
        if isinstance(node, Dense):
            exp = int(q.weight_exp)

            def step(ins: list[Tensor]) -> Tensor:
                return shift(ops.to_int(ops.dense(ins[0].to(dt), w)), exp)

            return step, acc_bound * 2.0**exp + 1
        conv = node

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
    if isinstance(node, AvgPool2d):
        raise NeurodeployError(f"node '{node.name}' (avgpool2d): average pooling has no "
                               "fixed-point form; the quantizer rewrites it to SumPool2d")
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
        w = _param(node.weight, dev)
        b = _param(node.bias, dev) if node.bias is not None else None
        return lambda ins: ops.dense(ins[0], w, b)
    if isinstance(node, Conv2d):
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
    """Decode an output ``[T, B, *shape]`` to ``[B, n]``: a Readout by its rule
    (``weighted``: ``Σ_t weights[t]·v[t]``, steps beyond ``len(weights)`` weigh 0), a spiking
    output by its spike counts."""
    flat = v.reshape(v.shape[0], v.shape[1], -1).to(torch.float32)
    rule = node.decoding if isinstance(node, Readout) else "sum"
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
    order = graph.topological_order()
    in_edges = {n: graph.in_edges(n) for n in order}
    delayed_srcs = {e.src for e in graph.edges if e.delay}
    recorded = _record_set(graph, record)

    # ---- compile
    opsd: dict[str, _Op] = {}
    neuron_params: dict[str, tuple] = {}
    for name in order:
        node = graph.nodes[name]
        op = _Op(name, node)
        if isinstance(node, (CubaLIF, Readout)):
            if fixed:
                neuron_params[name] = _fixed_neuron_params(node, dev)
            else:
                neuron_params[name] = _float_neuron_params(node, dev)
            op.bound = 1.0
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
        opsd[name] = op
    # recurrent sources whose bound is only known after compiling: spikes (1) in valid graphs

    val_dtype = torch.int64 if fixed else torch.float32
    states: dict[str, dyn.NeuronState] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, (CubaLIF, Readout)):
            refr = node.refractory if isinstance(node, CubaLIF) and not fixed else 0
            states[name] = dyn.initial_state((B, *shapes[name]), val_dtype, dev, refr)
    prev: dict[str, Tensor] = {
        n: torch.zeros((B, *shapes[n]), dtype=val_dtype, device=dev) for n in delayed_srcs}
    counts = {n: torch.zeros(shapes[n], dtype=torch.int64, device=dev) for n in order}
    sats = {n: torch.zeros((), dtype=torch.int64, device=dev) for n in states}
    outs: dict[str, list[Tensor]] = {n: [] for n in graph.outputs}
    recs: dict[str, dict[str, list[Tensor]]] = {n: {} for n in recorded}

    # ---- stream over time
    for t in range(T):
        cur: dict[str, Tensor] = {}
        for name in order:
            node = opsd[name].node
            ins = [prev[e.src] if e.delay else cur[e.src] for e in in_edges[name]]
            if isinstance(node, Input):
                y = opsd[name].step([xt[t]]) if fixed else xt[t]
            elif isinstance(node, (CubaLIF, Readout)):
                i_in = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
                i_in = i_in.reshape(B, *shapes[name])
                y = _neuron_step(name, node, states, i_in, neuron_params[name], fixed, sats)
            else:
                y = opsd[name].step(ins)
            cur[name] = y
            counts[name] += (y != 0).sum(0)
            if name in outs:
                outs[name].append(_output_value(node, y, neuron_params.get(name), fixed))
            if name in recs:
                _record(recs[name], node, y, states.get(name))
        for n in delayed_srcs:
            prev[n] = cur[n]

    # ---- results
    outputs = {n: torch.stack(v) for n, v in outs.items()}
    first = graph.outputs[0]
    decoded = decode(outputs[first], graph.nodes[first])
    predictions = decoded.argmax(1).cpu().numpy().astype(np.int64)
    counts_np = {n: c.cpu().numpy().astype(np.float64) / B for n, c in counts.items()}
    rates = {n: float(counts_np[n].sum() / (T * max(counts_np[n].size, 1)))
             for n, node in graph.nodes.items() if isinstance(node, (CubaLIF, Input))}
    records = {n: {k: torch.stack(v) for k, v in r.items()} for n, r in recs.items()}
    return SimResult(outputs, decoded, predictions, counts_np, rates, records,
                     {n: int(s.item()) for n, s in sats.items()}, T, mode)


def _src_bound(graph: Graph, opsd: dict[str, _Op], src: str) -> float:
    """Output bound of ``src``; a recurrent source not compiled yet is a neuron (spikes, 1) or
    unknown (2**31, which makes the consumer accumulate in float64)."""
    if src in opsd:
        return opsd[src].bound
    return 1.0 if isinstance(graph.nodes[src], CubaLIF) else float(2**31)


def _float_neuron_params(node: CubaLIF | Readout, dev: torch.device) -> tuple:
    p = (_param(node.du, dev), _param(node.dv, dev), _param(node.bias, dev))
    if isinstance(node, CubaLIF):
        p = p + (_param(node.vth, dev),)
    return p


def _fixed_neuron_params(node: CubaLIF | Readout, dev: torch.device) -> tuple:
    q = node.quant
    if q is None:
        raise NeurodeployError(f"node '{node.name}' ({node.kind}): no NeuronQ; quantize the "
                               "graph before simulating it in fixed mode")
    if isinstance(node, CubaLIF):
        if node.reset != "zero":
            raise NeurodeployError(f"node '{node.name}' (cuba_lif): reset '{node.reset}' has no "
                                   "fixed-point form (Lava's LIF resets v to 0)")
        if node.refractory > 0:
            raise NeurodeployError(f"node '{node.name}' (cuba_lif): refractory period "
                                   f"{node.refractory} has no fixed-point form in Lava's LIF")
    bias = dyn.effective_bias(torch.as_tensor(np.asarray(q.bias_mant, np.int64), device=dev),
                              int(q.bias_exp))
    return int(q.du), int(q.dv), bias, int(q.vth), float(q.scale)


def _neuron_step(name: str, node: Node, states: dict[str, dyn.NeuronState], i_in: Tensor,
                 params: tuple, fixed: bool, sats: dict[str, Tensor]) -> Tensor:
    st = states[name]
    if fixed:
        du, dv, bias, vth, _ = params
        if isinstance(node, CubaLIF):
            st, s, sat = dyn.cuba_fixed_step(st, i_in, du, dv, vth, bias)
        else:
            st, sat = dyn.readout_fixed_step(st, i_in, du, dv, bias)
            s = st.v
        sats[name] += sat.sum()
    else:
        if isinstance(node, CubaLIF):
            du, dv, bias, vth = params
            st, s = dyn.cuba_float_step(st, i_in, du, dv, vth, bias, node.reset, node.refractory)
        else:
            du, dv, bias = params
            st = dyn.readout_float_step(st, i_in, du, dv, bias)
            s = st.v
    states[name] = st
    return s


def _output_value(node: Node, y: Tensor, params: tuple | None, fixed: bool) -> Tensor:
    if fixed and isinstance(node, Readout) and params is not None:
        return y.to(torch.float32) * params[4]
    return y.to(torch.float32)


def _record(rec: dict[str, list[Tensor]], node: Node, y: Tensor,
            st: dyn.NeuronState | None) -> None:
    if st is None:
        rec.setdefault("y", []).append(y)
        return
    s = y if isinstance(node, CubaLIF) else torch.zeros_like(st.v)
    rec.setdefault("s", []).append(s)
    rec.setdefault("u", []).append(st.u)
    rec.setdefault("v", []).append(st.v)
