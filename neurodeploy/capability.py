"""What Lava's fixed-point models can run: one check, asked by the quantizer (before it
quantizes), the simulator's fixed mode, the Lava backend, netx export and deploy.

A neuron node is asked of its kind (:meth:`neurodeploy.kinds.NeuronKind.fixed_refusal`);
inputs and synapses need their integer parameters; average pooling has no fixed-point form
(the quantizer rewrites it to a sum pool); Lava's fixed-point Conv applies no weight exponent.

Lava's Dense (and DelayDense, which also runs a delayed Conv2d) accumulates in numpy int32: a
sum beyond ``[−2**31, 2**31 − 1]`` wraps in Lava where the simulator adds exactly. The graph
check (:func:`check_fixed` on a quantized graph: simulate fixed, the Lava backend, netx export,
deploy, and the quantizer's own fixed-point run) bounds every such sum from its weights and its
inputs' message ranges (:func:`accumulation_bounds`): a sum that inputs within their integer
format can drive out of int32 (every synapse at its worst input: reachable) is refused naming
the layer and the bound; one that only graded neuron outputs at their format's bound could
drive out (possible, not certain) is warned about, one line naming the layer and the bound.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import STATE_BITS, STATE_HALF, input_range, shift
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    Node,
    SigmaDelta,
    SumPool2d,
)

#: what a node without its quantized parameters lacks, by their type
_MISSING = {"InputQ": "no InputQ (integer input format)",
            "WeightQ": "no quantized weights (WeightQ)",
            "NeuronQ": "no NeuronQ (integer neuron parameters)"}


def _quant_type(node: Node) -> str | None:
    """The name of ``node``'s quantized-parameter type, None when it has none."""
    for f in dataclasses.fields(node):
        if f.name == "quant":
            return str(f.type).split("|")[0].strip()
    return None


def fixed_refusal(node: Node, quantized: bool = True) -> str | None:
    """Why Lava's fixed-point models cannot run ``node`` (None: they can). ``quantized``: the
    node must carry its integer parameters (False: asked before quantization, also refusing
    what the quantization cannot express)."""
    qtype = _quant_type(node)
    if quantized and qtype is not None and node.quant is None:  # type: ignore[attr-defined]
        return (f"{_MISSING.get(qtype, f'no {qtype}')}: not quantized; run `neurodeploy "
                "quantize` first")
    if quantized and isinstance(node, AvgPool2d):
        return "average pooling has no fixed-point form; the quantizer rewrites it to sumpool2d"
    if quantized and isinstance(node, Conv2d) and node.quant.weight_exp != 0:
        return (f"Lava's fixed-point Conv ignores weight_exp, which is {node.quant.weight_exp}; "
                "quantize with weight_exp = 0")
    kind = kinds.kind_of(node)
    return kind.fixed_refusal(node) if kind is not None else None


def check_fixed(graph: Graph, quantized: bool = True) -> None:
    """Raise NeurodeployError naming the first node Lava's fixed-point models cannot run (see
    :func:`fixed_refusal`); on a quantized graph also check its int32 sums
    (:func:`check_accumulation`)."""
    for node in graph:
        why = fixed_refusal(node, quantized)
        if why:
            raise NeurodeployError(f"node '{node.name}' ({node.kind}): {why}")
    if quantized:
        check_accumulation(graph)


#: Lava's Dense accumulator: numpy int32
INT32_RANGE = (-(2**31), 2**31 - 1)


@dataclasses.dataclass(frozen=True)
class SumBound:
    """The range of one int32-accumulated synapse's integer output (after its weight exponent's
    left shift), and whether inputs within their integer formats reach it (``reachable``) or
    only graded neuron outputs at their format's bound could."""

    node: str
    kind: str
    lo: int
    hi: int
    reachable: bool

    @property
    def overflows(self) -> bool:
        return self.lo < INT32_RANGE[0] or self.hi > INT32_RANGE[1]


def _message_range(node: Node) -> tuple[int, int, bool] | None:
    """``(lo, hi, reachable)`` of what a neuron node sends (None: not a neuron). Binary spikes
    [0, 1]; a sigma-delta's graded spike ``delta >> state_exp`` with its states in Lava's 24-bit
    precision (mode ``sigma``: the sigma); other graded values (a read-out's v) 24-bit. Neuron
    outputs are bounds, not reachable for certain."""
    kind = kinds.kind_of(node)
    if kind is None:
        return None
    if kind.binary:
        return 0, 1, False
    if isinstance(node, SigmaDelta) and node.quant is not None and node.mode != "sigma":
        big = 1 << (STATE_BITS - int(node.quant.state_exp))
        return -big, big, False
    return -STATE_HALF, STATE_HALF - 1, False


def _row_range(w: np.ndarray, lo: int, hi: int, exp: int) -> tuple[int, int]:
    """The extreme integer sums over rows of ``w`` ``[rows, fan_in]`` for inputs in
    ``[lo, hi]`` (each synapse at its own worst input), shifted left by ``max(exp, 0)``."""
    w = w.astype(np.int64)
    pos, neg = np.clip(w, 0, None), np.clip(w, None, 0)
    top = (pos.sum(1) * hi + neg.sum(1) * lo).astype(np.float64)
    bottom = (pos.sum(1) * lo + neg.sum(1) * hi).astype(np.float64)
    left = max(exp, 0)
    return int(bottom.min(initial=0.0)) << left, int(top.max(initial=0.0)) << left


def accumulation_bounds(graph: Graph) -> list[SumBound]:
    """The output range of every quantized Dense and delayed Conv2d (Lava: Dense/DelayDense,
    int32 sums), from its integer weights and its input's message range (inputs: their
    ``InputQ`` format, reachable; neurons: :func:`_message_range`; Flatten passes it on, Add and
    sum pools add it up, a plain Conv wraps to 24 bits)."""
    ranges: dict[str, tuple[int, int, bool]] = {}
    bounds: dict[str, SumBound] = {}
    unknown = (INT32_RANGE[0], INT32_RANGE[1], False)

    def message(name: str, visiting: frozenset[str]) -> tuple[int, int, bool]:
        if name in ranges:
            return ranges[name]
        node = graph.nodes[name]
        own = _message_range(node)  # a neuron's range is its own: loops end here
        if own is not None:
            ranges[name] = own
            return own
        if name in visiting:  # a loop without a neuron (refused elsewhere)
            return unknown
        srcs = [message(e.src, visiting | {name}) for e in graph.in_edges(name)]
        if isinstance(node, Input):
            q = node.quant
            out = (*input_range(q.bits, q.signed), True) if q is not None else unknown
        elif isinstance(node, (Flatten, Add, SumPool2d)) and srcs:
            k = node.kernel[0] * node.kernel[1] if isinstance(node, SumPool2d) else 1
            out = (k * sum(s[0] for s in srcs), k * sum(s[1] for s in srcs),
                   all(s[2] for s in srcs))
        elif isinstance(node, (Dense, Conv2d)) and node.quant is not None and srcs and (
                isinstance(node, Dense) or node.max_delay > 0):
            lo, hi, reach = srcs[0]
            w = np.asarray(node.quant.weight)
            exp = int(node.quant.weight_exp) if isinstance(node, Dense) else 0
            out_lo, out_hi = _row_range(w.reshape(w.shape[0], -1), lo, hi, exp)
            bounds[name] = SumBound(name, node.kind, out_lo, out_hi, reach)
            out = (max(shift(out_lo, min(exp, 0)), INT32_RANGE[0]),
                   min(shift(out_hi, min(exp, 0)), INT32_RANGE[1]), reach)
        else:  # a plain Conv (24-bit wrap in Lava) or what fixed point refuses elsewhere
            out = (-STATE_HALF, STATE_HALF - 1, False)
        ranges[name] = out
        return out

    try:  # sources first, so that recursion only follows delayed edges
        order = graph.topological_order()
    except NeurodeployError:
        order = list(graph.nodes)
    for name in order:
        message(name, frozenset())
    return [bounds[n] for n in graph.nodes if n in bounds]


def check_accumulation(graph: Graph) -> None:
    """Refuse (NeurodeployError) a quantized graph whose int32 sums inputs within their format
    can drive beyond int32, naming the layer and the bound; warn (one ``UserWarning`` line per
    layer) where only graded neuron outputs at their bound could (module docstring)."""
    for b in accumulation_bounds(graph):
        if not b.overflows:
            continue
        where = (f"node '{b.node}' ({b.kind}): its integer sums reach [{b.lo}, {b.hi}], beyond "
                 "Lava's int32 accumulator [-2**31, 2**31 - 1]")
        if b.reachable:
            raise NeurodeployError(f"{where} for inputs within their format; Lava's Dense would "
                                   "wrap them where the simulator adds exactly (lower the "
                                   "weights, the weight exponent or the input bits)")
        warnings.warn(f"{where} if its graded inputs reached their format's bound; Lava's "
                      "Dense would then wrap them where the simulator adds exactly",
                      UserWarning, stacklevel=3)
