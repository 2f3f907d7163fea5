"""The reference engine: the simulator's equations written plainly, one new tensor per node per
step (int64 in fixed mode, float32 in float mode), each neuron through its kind's pure step.

It is the yardstick of the fast engine (:mod:`neurodeploy.sim.fast`), which must return the
same results bit for bit (tests/test_sim_fast.py); run it with
``simulate(..., engine="reference")``. Memory does not grow with T except for the graph
outputs and the records asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import STATE_BITS, STATE_HALF, shift
from neurodeploy.ir import Add, AvgPool2d, Conv2d, Dense, Flatten, Input, SumPool2d
from neurodeploy.ir.nodes import Node
from neurodeploy.kinds import NeuronKind
from neurodeploy.sim import delays as delay_lines
from neurodeploy.sim import ops
from neurodeploy.sim.prepare import NEURON_BOUND, Prepared, Raw, src_bound

Tensor = torch.Tensor


def param(value: np.ndarray | float, dev: torch.device) -> Tensor:
    """A float parameter as a float32 tensor on ``dev``."""
    return torch.as_tensor(np.asarray(value, np.float32), device=dev)


def delayed(node: Node) -> bool:
    """Whether ``node`` is a Dense or Conv2d with synaptic delays."""
    return isinstance(node, (Dense, Conv2d)) and node.max_delay > 0


def delayed_conv(conv: Conv2d, weight: np.ndarray, dt: torch.dtype, dev: torch.device
                 ) -> Callable[[Tensor], Tensor]:
    """A delayed Conv2d's step: ``x`` → one partial sum per distinct delay ``[K, B, *out]``
    (no 24-bit wrap: Lava runs it as a DelayDense, :mod:`neurodeploy.lava.compiler`)."""
    present, split = delay_lines.conv_delay_weight(weight, np.asarray(conv.delay), conv.groups)
    ws = torch.as_tensor(split, dtype=dt, device=dev)
    k = len(present)
    return lambda x: delay_lines.conv_parts(
        ops.conv2d(x.to(dt), ws, None, conv.stride, conv.padding, conv.dilation, conv.groups),
        k, conv.groups)


def delayed_bias(node: Node, dev: torch.device) -> Tensor | None:
    """A delayed synapse's float bias, shaped to add to what arrives (None without one)."""
    if node.bias is None:
        return None
    bias = param(node.bias, dev)
    return bias.reshape(-1, 1, 1) if isinstance(node, Conv2d) else bias


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


def compile_fixed(node: Node, bound_in: float, dev: torch.device) -> tuple[Callable, float]:
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
            if delayed(node):  # Lava's DelayDense shifts each delay group's sum
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
        if delayed(conv):  # exact sums, as the DelayDense that runs it in Lava
            parts = delayed_conv(conv, w_np, dt, dev)
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


def compile_float(node: Node, dev: torch.device) -> Callable:
    """Float step of a stateless node."""
    if isinstance(node, Input):
        return lambda ins: ins[0]
    if isinstance(node, Dense):
        b = param(node.bias, dev) if node.bias is not None else None
        if delayed(node):  # the bias is added to what arrives (see run)
            present, stacked = delay_lines.delay_groups(node.weight, np.asarray(node.delay))
            ws, k, n_out = param(stacked, dev), len(present), node.weight.shape[0]
            return lambda ins: ops.dense(ins[0], ws).reshape(-1, k, n_out).transpose(0, 1)
        w = param(node.weight, dev)
        return lambda ins: ops.dense(ins[0], w, b)
    if isinstance(node, Conv2d):
        if delayed(node):  # the bias is added to what arrives (see run)
            parts = delayed_conv(node, node.weight, torch.float32, dev)
            return lambda ins: parts(ins[0])
        w = param(node.weight, dev)
        b = param(node.bias, dev) if node.bias is not None else None
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


def run(prep: Prepared) -> Raw:
    """Simulate a prepared call step by step (see :func:`neurodeploy.sim.simulate`)."""
    graph, fixed, dev, shapes = prep.graph, prep.fixed, prep.device, prep.shapes
    order, in_edges, xt, T, B = prep.order, prep.in_edges, prep.x, prep.T, prep.B

    # ---- compile
    opsd: dict[str, _Op] = {}
    bounds: dict[str, float] = {}
    for name in order:
        node = graph.nodes[name]
        op = _Op(name, node, kind=kinds.kind_of(node))
        if op.kind is not None:
            op.params = (op.kind.fixed_params(node, dev) if fixed
                         else op.kind.float_params(node, dev))
            op.bound = NEURON_BOUND[op.kind.binary]
        elif fixed:
            if isinstance(node, Input):
                quantize, bound = ops.input_quantizer(node)
                op.step, op.bound = (lambda ins, f=quantize: f(ins[0])), float(bound)
            else:
                bound_in = sum(src_bound(graph, bounds, e.src) for e in in_edges[name])
                if isinstance(node, Add):
                    op.step, op.bound = compile_fixed(node, bound_in, dev)
                else:
                    op.step, op.bound = compile_fixed(node, max(bound_in, 1.0), dev)
        else:
            op.step = compile_float(node, dev)
        if delayed(node):
            op.delays = tuple(int(d) for d in np.unique(node.delay))
            bias = None if fixed else delayed_bias(node, dev)
            if bias is not None:
                op.after = lambda y, b=bias: y + b
        opsd[name] = op
        bounds[name] = op.bound

    val_dtype = torch.int64 if fixed else torch.float32
    states = {n: op.kind.initial_state(op.node, (B, *shapes[n]), fixed, dev)
              for n, op in opsd.items() if op.kind is not None}
    prev: dict[str, Tensor] = {
        n: torch.zeros((B, *shapes[n]), dtype=val_dtype, device=dev) for n in prep.delayed_srcs}
    rings = {n: delay_lines.new_ring(op.delays[-1], (B, *shapes[n]), val_dtype, dev)
             for n, op in opsd.items() if op.delays}
    counts = {n: torch.zeros(shapes[n], dtype=torch.int64, device=dev) for n in order}
    sats = {n: torch.zeros((), dtype=torch.int64, device=dev) for n in states}
    outs: dict[str, list[Tensor]] = {n: [] for n in graph.outputs}
    recs: dict[str, dict[str, list[Tensor]]] = {n: {} for n in prep.recorded}

    # ---- stream over time
    with ops.exact_float_math(fixed):
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
            for n in prep.delayed_srcs:
                prev[n] = cur[n]

    return Raw({n: torch.stack(v) for n, v in outs.items()}, counts,
               {n: {k: torch.stack(v) for k, v in r.items()} for n, r in recs.items()},
               {n: int(s.item()) for n, s in sats.items()})
