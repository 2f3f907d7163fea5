"""The fast engine: the reference engine's results (:mod:`neurodeploy.sim.reference`), bit for
bit, with state and outputs in preallocated buffers updated in place and, in fixed mode, the
narrowest dtype that is exact for each node's bound.

Fixed mode — why every sum is exact (``B_x``: the largest ``|output|`` of node ``x``, from
its inputs' bounds and its integer weights, as the reference computes them):

- a Dense or Conv2d sums ``|Σ w·s| <= B_in · max|W| · fan_in`` in float32 when that bound is
  at most 2**24, else float64 (≤ 2**53, :func:`neurodeploy.sim.ops.accum_dtype`): every partial
  sum is an integer of at most that size, which the float format holds exactly, so the order of
  the additions cannot matter. A positive weight exponent is folded into the weights when the
  shifted bound still fits (``(W << e)·s = (W·s) << e``); otherwise the sum is cast to int32
  (int64 when its bound reaches 2**31) and shifted as an integer (``>>`` rounds toward −∞, as
  Lava's numpy shift does). A Conv2d's 24-bit wrap runs only where its bound reaches 2**23 and
  (CPU) a min/max shows some sum outside the range.
- Event-driven accumulation: a Dense fed by binary spikes counts them each step; none → its sum
  is 0 (no product); at most :data:`SPARSE_RATE` of the inputs active → it adds up the weight
  columns of the active inputs (``embedding_bag``), the same integers as the product (CPU only).
  Float mode has no event-driven path: a different order of float additions rounds differently.
- Inputs are quantized once for all steps (the same element-wise operations as per step).
- Neurons step in place through their kind's :meth:`~neurodeploy.kinds.base.NeuronKind.inplace`
  (CUBA: int32 state where :func:`neurodeploy.kinds.cuba.int32_fits` proves it); kinds without
  one run their pure step on int64 inputs.
- Counts: per step 0/1 (the spikes themselves, or a nonzero test written into a float buffer)
  added into ``[B, *shape]`` float32 counters (exact below 2**24 steps, float64 beyond), summed
  over the batch in int64 at the end.

Float mode runs the reference's float32 operations in the same order, in place.

On CUDA nothing waits for the GPU: no event-driven sums, no data-dependent branches (wraps and
clips run every step); :func:`neurodeploy.sim.ops.exact_float_math` turns TF32 and cuDNN off
in fixed mode so that float sums of integers stay exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy import kinds
from neurodeploy.formats import STATE_BITS, STATE_HALF, input_range
from neurodeploy.ir import Add, Conv2d, Dense, Flatten, Input, SumPool2d
from neurodeploy.ir.nodes import Node
from neurodeploy.kinds import NeuronKind
from neurodeploy.kinds.base import InplaceNeuron
from neurodeploy.sim import delays as delay_lines
from neurodeploy.sim import ops, reference
from neurodeploy.sim.prepare import NEURON_BOUND, Prepared, Raw, src_bound

Tensor = torch.Tensor
#: a Dense fed by binary spikes adds up weight columns when at most this fraction of its inputs
#: is active (measured on one CPU thread, B = 256, 256 → 256: the product and the column sums
#: break even near 10 %)
SPARSE_RATE = 0.05
_INT32_MAX = 2**31 - 1
_EXACT = {torch.float32: ops.FLOAT32_EXACT, torch.float64: ops.FLOAT64_EXACT}


def _int_dtype(bound: float) -> torch.dtype:
    return torch.int32 if bound <= _INT32_MAX else torch.int64


@dataclass(eq=False)
class _Node:
    """One node compiled: ``fn(inputs) -> output`` (``dtype``, at most ``bound`` in magnitude
    in fixed mode; ``binary``: 0/1 values)."""

    name: str
    node: Node
    fn: Callable[[list[Tensor]], Tensor]
    dtype: torch.dtype
    bound: float = 1.0
    binary: bool = False
    kind: NeuronKind | None = None
    inplace: InplaceNeuron | None = None
    #: a neuron run through its kind's pure step: its state, and its saturation count
    state: object = None
    sats: Tensor | None = None
    #: counts come from another node's counts (a Flatten: its source's, reshaped)
    counts_of: str | None = None
    srcs: list[tuple[str, int]] = field(default_factory=list)


def _as(x: Tensor, dtype: torch.dtype) -> Tensor:
    return x if x.dtype == dtype else x.to(dtype)


def _active(x: Tensor) -> int:
    """How many entries of the 0/1 tensor ``x`` are 1."""
    return int(x.sum())


def _column_sums(x: Tensor, w_t: Tensor) -> Tensor:
    """``x [B, in] @ w_t [in, out]`` for 0/1 ``x``: per row, the sum of the rows of ``w_t``
    whose input is active."""
    idx = x.nonzero()
    per_row = torch.bincount(idx[:, 0], minlength=x.shape[0])
    offsets = torch.zeros_like(per_row)
    offsets[1:] = per_row.cumsum(0)[:-1]
    return F.embedding_bag(idx[:, 1], w_t, offsets, mode="sum")


def _dense_fixed(node: Dense, bound_in: float, binary_in: bool, B: int,
                 dev: torch.device) -> tuple[Callable, torch.dtype, float]:
    q = node.quant
    w_np = np.asarray(q.weight, np.int64)
    acc_bound = bound_in * float(np.abs(w_np).max(initial=0)) * w_np.shape[1]
    dt = ops.accum_dtype(acc_bound, node.name)
    exp = int(q.weight_exp)
    fold = exp > 0 and acc_bound * 2.0**exp <= _EXACT[dt]
    w = torch.as_tensor(w_np << exp if fold else w_np, dtype=dt, device=dev)
    # event-driven on the CPU only: counting the spikes synchronises a GPU, whose products of
    # this size cost less than the wait
    w_t = w.t().contiguous() if binary_in and dev.type == "cpu" else None
    post = 0 if fold else exp
    bound = acc_bound * 2.0**exp + 1
    # the sum is held before its shift: the dtype must take the larger of both bounds
    out = torch.empty((B, w_np.shape[0]), dtype=_int_dtype(max(acc_bound, bound)), device=dev)
    acc = torch.empty((B, w_np.shape[0]), dtype=dt, device=dev)
    sparse_max = SPARSE_RATE * B * w_np.shape[1]

    def step(ins: list[Tensor]) -> Tensor:
        x = _as(ins[0].reshape(B, -1), dt)
        if w_t is not None:
            n = _active(x)
            if n == 0:
                return out.zero_()
            if n <= sparse_max:
                out.copy_(_column_sums(x, w_t))
            else:
                out.copy_(torch.mm(x, w.t(), out=acc))
        else:
            out.copy_(torch.mm(x, w.t(), out=acc))
        if post > 0:
            out.bitwise_left_shift_(post)
        elif post < 0:
            out.bitwise_right_shift_(-post)
        return out

    return step, out.dtype, bound


def _conv_fixed(node: Conv2d, bound_in: float, B: int, shape: tuple[int, ...],
                dev: torch.device) -> tuple[Callable, torch.dtype, float]:
    w_np = np.asarray(node.quant.weight, np.int64)
    acc_bound = bound_in * float(np.abs(w_np).max(initial=0)) * int(np.prod(w_np.shape[1:]))
    dt = ops.accum_dtype(acc_bound, node.name)
    w = torch.as_tensor(w_np, dtype=dt, device=dev)
    out = torch.empty((B, *shape), dtype=_int_dtype(acc_bound + 2 * STATE_HALF), device=dev)
    wraps = acc_bound >= STATE_HALF
    check = dev.type == "cpu"
    c = node
    # on CUDA an explicit im2col product: exact, and far faster than PyTorch's own
    # convolution, which is what runs with cuDNN off (ops.exact_float_math)
    conv = ((lambda x: ops.conv2d_gemm(x, w, c.stride, c.padding, c.dilation, c.groups))
            if dev.type == "cuda" else
            (lambda x: F.conv2d(x, w, None, c.stride, c.padding, c.dilation, c.groups)))

    def step(ins: list[Tensor]) -> Tensor:
        out.copy_(conv(_as(ins[0], dt)))
        if wraps:  # Lava's signed_clamp at 24 bits, where some sum leaves the range
            if check:
                lo, hi = torch.aminmax(out)
                if not (bool(lo < -STATE_HALF) or bool(hi >= STATE_HALF)):
                    return out
            out.add_(STATE_HALF).remainder_(1 << STATE_BITS).sub_(STATE_HALF)
        return out

    return step, out.dtype, float(min(acc_bound, STATE_HALF))


def _dense_float(node: Dense, B: int, dev: torch.device) -> Callable:
    w = reference.param(node.weight, dev)
    b = reference.param(node.bias, dev) if node.bias is not None else None
    out = torch.empty((B, w.shape[0]), dtype=torch.float32, device=dev)

    def step(ins: list[Tensor]) -> Tensor:
        torch.mm(ins[0].reshape(B, -1), w.t(), out=out)
        return out.add_(b) if b is not None else out

    return step


def _synapse(prep: Prepared, node: Node, name: str, bound_in: float, binary_in: bool
             ) -> tuple[Callable, torch.dtype, float]:
    """A stateless node's step, output dtype and (fixed mode) output bound."""
    B, dev, fixed = prep.B, prep.device, prep.fixed
    if reference.delayed(node):
        op_fn, bound = (reference.compile_fixed(node, max(bound_in, 1.0), dev) if fixed
                        else (reference.compile_float(node, dev), 0.0))
        delays = tuple(int(d) for d in np.unique(node.delay))
        ring = delay_lines.new_ring(delays[-1], (B, *prep.shapes[name]),
                                    torch.int64 if fixed else torch.float32, dev)
        bias = None if fixed else reference.delayed_bias(node, dev)
        clock = [0]

        def step(ins: list[Tensor]) -> Tensor:
            y = delay_lines.arrive(ring, clock[0], op_fn(ins), delays)
            clock[0] += 1
            return y + bias if bias is not None else y

        return step, ring.dtype, bound
    if isinstance(node, Flatten):
        return (lambda ins: ins[0].reshape(B, -1)), torch.float32, bound_in  # dtype: see caller
    if not fixed:
        if isinstance(node, Dense):
            return _dense_float(node, B, dev), torch.float32, 0.0
        return reference.compile_float(node, dev), torch.float32, 0.0
    if isinstance(node, Dense):
        return _dense_fixed(node, max(bound_in, 1.0), binary_in, B, dev)
    if isinstance(node, Conv2d):
        return _conv_fixed(node, max(bound_in, 1.0), B, prep.shapes[name], dev)
    if isinstance(node, SumPool2d):
        bound = max(bound_in, 1.0) * node.kernel[0] * node.kernel[1]
        dt = ops.accum_dtype(bound, node.name)
        p = node
        return ((lambda ins: ops.sum_pool2d(_as(ins[0], dt), p.kernel, p.stride, p.padding)),
                dt, bound)
    if isinstance(node, Add):
        out = torch.empty((B, *prep.shapes[name]), dtype=_int_dtype(bound_in), device=dev)

        def add(ins: list[Tensor]) -> Tensor:
            out.copy_(ins[0])
            for x in ins[1:]:
                out.add_(_as(x, out.dtype))
            return out

        return add, out.dtype, bound_in
    return reference.compile_fixed(node, bound_in, dev)[0], torch.int64, 0.0  # raises


def _neuron(prep: Prepared, nd: _Node, a_bound: float) -> None:
    """Fill in ``nd`` for a neuron node: in place where its kind can, else its pure step."""
    B, dev, fixed, node = prep.B, prep.device, prep.fixed, nd.node
    shape, kind = (B, *prep.shapes[nd.name]), nd.kind
    nd.binary = kind.binary and kind.fires
    inp = kind.inplace(node, shape, fixed, dev, a_bound)
    if inp is not None:
        nd.inplace, nd.dtype = inp, inp.y_dtype
        a_buf = torch.empty(shape, dtype=inp.a_dtype, device=dev)

        def step(ins: list[Tensor]) -> Tensor:
            if not fixed:
                a = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
                return inp.step(a.reshape(shape))
            x = ins[0].reshape(shape)
            if len(ins) == 1 and x.dtype == inp.a_dtype:
                return inp.step(x)
            a_buf.copy_(x)
            for other in ins[1:]:
                a_buf.add_(_as(other.reshape(shape), inp.a_dtype))
            return inp.step(a_buf)

        nd.fn = step
        return
    params = kind.fixed_params(node, dev) if fixed else kind.float_params(node, dev)
    nd.state = kind.initial_state(node, shape, fixed, dev)
    nd.dtype = torch.int64 if fixed else torch.float32
    nd.sats = torch.zeros((), dtype=torch.int64, device=dev)

    def pure(ins: list[Tensor]) -> Tensor:
        # a new tensor: a pure step may keep its input in its state (sigma-delta's act), and
        # the buffers it comes from are overwritten next step
        ins = [x.to(nd.dtype, copy=True) for x in ins]
        a = (ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)).reshape(shape)
        if fixed:
            nd.state, y, sat = kind.fixed_step(nd.state, a, params)
            nd.sats += sat.sum()
        else:
            nd.state, y = kind.float_step(nd.state, a, params)
        return y

    nd.fn = pure


def _compile(prep: Prepared) -> list[_Node]:
    graph, fixed = prep.graph, prep.fixed
    nodes: dict[str, _Node] = {}
    bounds: dict[str, float] = {}
    for name in prep.order:
        node = graph.nodes[name]
        srcs = [(e.src, e.delay) for e in prep.in_edges[name]]
        nd = _Node(name, node, lambda ins: ins[0], torch.float32, srcs=srcs,
                   kind=kinds.kind_of(node))
        bound_in = sum(src_bound(graph, bounds, s) for s, _ in srcs)
        if nd.kind is not None:
            nd.bound = NEURON_BOUND[nd.kind.binary]
            _neuron(prep, nd, bound_in)
        elif isinstance(node, Input):
            nd.bound = float(ops.input_quantizer(node)[1]) if fixed else 0.0
            nd.dtype = ops.accum_dtype(nd.bound, name) if fixed else torch.float32
            nd.binary = fixed and input_range(node.quant.bits, node.quant.signed) == (0, 1)
        else:
            src = nodes.get(srcs[0][0]) if srcs else None
            binary_in = len(srcs) == 1 and src is not None and src.binary
            nd.fn, nd.dtype, nd.bound = _synapse(prep, node, name, bound_in, binary_in)
            if isinstance(node, Flatten) and src is not None:
                nd.dtype, nd.binary = src.dtype, src.binary
                nd.counts_of = srcs[0][0] if srcs[0][1] == 0 else None
        nodes[name] = nd
        bounds[name] = nd.bound
    return list(nodes.values())


def _inputs(prep: Prepared, node: Input, dtype: torch.dtype) -> Tensor:
    """The input node's values for every step ``[T, B, *shape]``: fixed mode, its integer
    messages (as floats of ``dtype``, exact), quantized once."""
    if not prep.fixed:
        return prep.x
    quantize, _ = ops.input_quantizer(node)
    return quantize(prep.x).to(dtype)


def run(prep: Prepared) -> Raw:
    """Simulate a prepared call step by step (see :func:`neurodeploy.sim.simulate`)."""
    graph, fixed, dev, T, B = prep.graph, prep.fixed, prep.device, prep.T, prep.B
    nodes = _compile(prep)
    by_name = {nd.name: nd for nd in nodes}
    in_nd = by_name[graph.inputs[0]]
    xin = _inputs(prep, in_nd.node, in_nd.dtype)

    prev = {n: torch.zeros((B, *prep.shapes[n]), dtype=by_name[n].dtype, device=dev)
            for n in prep.delayed_srcs}
    cdt = torch.float32 if T < ops.FLOAT32_EXACT else torch.float64
    counters = {nd.name: torch.zeros((B, *prep.shapes[nd.name]), dtype=cdt, device=dev)
                for nd in nodes if nd is not in_nd and nd.counts_of is None}
    # nonzero tests into float buffers (several times faster on CPU than bool ones)
    nonzero = {n: torch.empty_like(c) for n, c in counters.items() if not by_name[n].binary}
    outs = {n: torch.empty((T, B, *prep.shapes[n]), dtype=torch.float32, device=dev)
            for n in graph.outputs}
    rec_dtype = torch.int64 if fixed else torch.float32
    recs: dict[str, dict[str, Tensor]] = {n: {} for n in prep.recorded}

    with ops.exact_float_math(fixed):
        for t in range(T):
            cur: dict[str, Tensor] = {}
            for nd in nodes:
                name = nd.name
                if nd is in_nd:
                    y = xin[t]
                else:
                    y = nd.fn([prev[s] if d else cur[s] for s, d in nd.srcs])
                    counter = counters.get(name)
                    if counter is not None:
                        counter.add_(y if nd.binary else torch.ne(y, 0, out=nonzero[name]))
                cur[name] = y
                if name in outs:
                    outs[name][t].copy_(nd.kind.output(nd.node, y, fixed)
                                        if nd.kind is not None else y)
                if name in recs:
                    state = nd.inplace.state if nd.inplace is not None else nd.state
                    rec = nd.kind.record(state, y) if nd.kind is not None else {"y": y}
                    for var, value in rec.items():
                        if var not in recs[name]:
                            recs[name][var] = torch.empty((T, *value.shape), dtype=rec_dtype,
                                                          device=dev)
                        recs[name][var][t].copy_(value)
            for n in prep.delayed_srcs:
                prev[n].copy_(cur[n])

    counts = {n: c.sum(0, dtype=torch.int64) for n, c in counters.items()}
    counts[in_nd.name] = (xin != 0).sum((0, 1))
    for nd in nodes:
        if nd.counts_of is not None:
            counts[nd.name] = counts[nd.counts_of].reshape(prep.shapes[nd.name])
    sats = {nd.name: int((nd.inplace.saturations if nd.inplace is not None else nd.sats).item())
            for nd in nodes if nd.kind is not None}
    return Raw(outs, {n: counts[n] for n in prep.order}, recs, sats)
