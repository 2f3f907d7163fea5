"""Fold SumPool2d/AvgPool2d into the synapse after it, exactly.

A pool feeds graded sums into the next synapse: on Loihi that needs a pooling layer of its own
and the next synapse receives multi-bit messages (counted as MACs by the energy model). Folded,
the spikes go straight into one synapse and stay binary (ACs):

- pool (kernel k, stride s, no padding) → Conv2d (kernel K, stride S, padding P, dilation 1):
  one Conv2d with kernel ``s·(K−1) + k``, stride ``s·S``, padding ``s·P`` and weights
  ``W'[o, c, s·a + α, s·b + β] += W[o, c, a, b]`` for ``α, β < k`` (``/k²`` for an average
  pool). Exact when the pool covers its input (``H = s·(Hp − 1) + k``, same for W) and, with
  ``P > 0``, the pool does not overlap (``k ≤ s``); otherwise the pool is kept.
- pool → Flatten → Dense: one Dense on the flattened input, ``W'[o, (c, s·m + α, s·n + β)] +=
  W[o, (c, m, n)]`` (rows the pool never reads get 0).

The unfolded form is kept where the folded synapse would be larger on the chip than the two
layers it replaces: when its fan-in per neuron would exceed ``max_fan_in`` (Loihi 2's 8192
synapses per neuron) or it would store more than ``max_growth`` times the weights of the
original synapse. Every decision is a note, for the quantize and energy reports.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from neurodeploy.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, SumPool2d
from neurodeploy.ir.shapes import infer_shapes

#: Loihi 2's fan-in per neuron (synapses)
MAX_FAN_IN = 8192
#: a folded synapse may store at most this many times the weights of the one it replaces
MAX_GROWTH = 16.0


@dataclass
class FoldNote:
    """One pool: folded into ``synapse`` or kept (``reason``)."""

    pool: str
    synapse: str
    folded: bool
    reason: str

    def __str__(self) -> str:
        return (f"{self.pool} folded into {self.synapse} ({self.reason})" if self.folded else
                f"{self.pool} kept before {self.synapse}: {self.reason}")


def _only_successor(graph: Graph, name: str) -> str | None:
    outs = graph.out_edges(name)
    if len(outs) != 1 or outs[0].delay != 0:
        return None
    dst = outs[0].dst
    return dst if len(graph.in_edges(dst)) == 1 else None


def _pool_weights(w: np.ndarray, k: tuple[int, int], s: tuple[int, int],
                  in_hw: tuple[int, int], pooled_hw: tuple[int, int]) -> np.ndarray:
    """``w [..., Hp, Wp]`` spread over the pool's input ``[..., H, W]`` (the adjoint of the
    sum pool)."""
    out = np.zeros(w.shape[:-2] + tuple(in_hw), np.float64)
    for a in range(k[0]):
        for b in range(k[1]):
            out[..., a:a + s[0] * (pooled_hw[0] - 1) + 1:s[0],
                b:b + s[1] * (pooled_hw[1] - 1) + 1:s[1]] += w
    return out


def _fold_conv(pool: SumPool2d | AvgPool2d, conv: Conv2d, in_shape: tuple[int, ...],
               pooled: tuple[int, ...], gain: float) -> Conv2d | str:
    """The folded Conv2d, or the reason there is none."""
    k, s = pool.kernel, pool.stride
    if conv.dilation != (1, 1):
        return "the convolution is dilated"
    for d in (0, 1):
        if in_shape[1 + d] != s[d] * (pooled[1 + d] - 1) + k[d]:
            return "the pool leaves input rows or columns unread"
        if conv.padding[d] > 0 and k[d] > s[d]:
            return "an overlapping pool before a padded convolution"
    kh, kw = conv.weight.shape[2:]
    big = (s[0] * (kh - 1) + k[0], s[1] * (kw - 1) + k[1])
    w = _pool_weights(conv.weight.astype(np.float64), k, s, big, (kh, kw)) * gain
    return Conv2d(conv.name, weight=w.astype(np.float32), bias=conv.bias,
                  stride=(s[0] * conv.stride[0], s[1] * conv.stride[1]),
                  padding=(s[0] * conv.padding[0], s[1] * conv.padding[1]), dilation=(1, 1),
                  groups=conv.groups)


def _fold_dense(pool: SumPool2d | AvgPool2d, dense: Dense, in_shape: tuple[int, ...],
                pooled: tuple[int, ...], gain: float) -> Dense:
    w = dense.weight.astype(np.float64).reshape(dense.weight.shape[0], *pooled)
    w = _pool_weights(w, pool.kernel, pool.stride, tuple(in_shape[1:]), tuple(pooled[1:]))
    return Dense(dense.name, weight=(w * gain).reshape(w.shape[0], -1).astype(np.float32),
                 bias=dense.bias)


def fold_pools(graph: Graph, max_fan_in: int = MAX_FAN_IN,
               max_growth: float = MAX_GROWTH) -> tuple[Graph, list[FoldNote]]:
    """A copy of ``graph`` with every foldable pool folded into the Conv2d (or Flatten → Dense)
    after it, and a note per pool (folded, or kept and why). Float semantics are unchanged
    (up to float32 rounding of the summed weights)."""
    g = copy.deepcopy(graph)
    notes: list[FoldNote] = []
    for name in list(g.nodes):
        pool = g.nodes.get(name)
        if not isinstance(pool, (SumPool2d, AvgPool2d)):
            continue
        shapes = infer_shapes(g)
        ins = g.in_edges(name)
        nxt = _only_successor(g, name)
        if len(ins) != 1 or ins[0].delay != 0 or nxt is None:
            continue
        if pool.padding != (0, 0):
            notes.append(FoldNote(name, nxt, False, "the pool is padded"))
            continue
        gain = 1.0 / (pool.kernel[0] * pool.kernel[1]) if isinstance(pool, AvgPool2d) else 1.0
        in_shape, pooled = shapes[ins[0].src], shapes[name]
        syn = g.nodes[nxt]
        if isinstance(syn, Flatten):
            dense_name = _only_successor(g, nxt)
            if dense_name is None or not isinstance(g.nodes[dense_name], Dense):
                continue
            folded: Conv2d | Dense | str = _fold_dense(pool, g.nodes[dense_name], in_shape,
                                                       pooled, gain)
            syn = g.nodes[dense_name]
        elif isinstance(syn, Conv2d):
            folded = _fold_conv(pool, syn, in_shape, pooled, gain)
        else:
            continue
        if syn.quant is not None:  # its integer weights were calibrated for the pooled input
            folded = "the synapse is already quantized (fold before quantizing)"
        elif syn.max_delay > 0:  # an input pixel would need one delay per pooled position
            folded = "the synapse has synaptic delays"
        if isinstance(folded, str):
            notes.append(FoldNote(name, syn.name, False, folded))
            continue
        fan_in = int(np.prod(folded.weight.shape[1:]))
        growth = folded.weight.size / max(syn.weight.size, 1)
        if fan_in > max_fan_in:
            notes.append(FoldNote(name, syn.name, False, f"folded fan-in {fan_in} > "
                                  f"{max_fan_in} synapses per neuron"))
            continue
        if growth > max_growth:
            notes.append(FoldNote(name, syn.name, False, f"folded weights {growth:.1f}x the "
                                  f"original (> {max_growth:g}x)"))
            continue
        # pool → conv: the pool's input feeds the conv; pool → flatten → dense: the flatten
        g.edges = [e for e in g.edges if e.dst != name and e.src != name]
        g.nodes.pop(name)
        g.connect(ins[0].src, nxt)
        g.nodes[syn.name] = folded
        notes.append(FoldNote(name, syn.name, True, f"binary input, {growth:.2f}x weights"))
    _reorder(g)
    return g, notes


def _reorder(g: Graph) -> None:
    """Keep the node dict in a topological order (edges were re-pointed)."""
    order = g.topological_order()
    g.nodes = {n: g.nodes[n] for n in order}
