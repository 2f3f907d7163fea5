"""Binary-weight layers on Loihi: mantissas ±1, the scale α folded into each neuron layer's scale.

A graph whose metadata says ``binary_weights`` (a :mod:`neurodeploy.nn` checkpoint trained with
binary weights) has synapses ``w = α·sign(W)`` with one α per layer (``--binary-alpha layer``).
The quantizer gives each neuron layer a scale λ (integer units of ``v`` per float unit) and its
synapses effective integer weights ``w·unit·λ`` (``unit``: the float value of one unit of the
synapse's input). Here λ is lowered to the largest value whose binary weights land exactly on
``±2**k << e`` (:func:`fold_scale`): every mantissa is ±1 and α goes into everything that
scales with λ — the threshold ``round(λ·vth)``, the bias, the decays' states — the same rounding
of vth and bias every layer has, nothing else approximated. λ drops by less than 2× (one bit of
the threshold's resolution at most). CUBA LIF's ``u`` and ``v`` are linear in the input current,
so dividing the current by α divides ``v`` by α; that is exact only if α is the same for every
neuron of the layer, because Lava's LIF (``lava.proc.lif``) has ONE threshold ``vth`` per
process (``Var(shape=(1,))``) and the IR's NeuronQ one ``vth`` per layer: a layer with one α per
output channel is refused, naming it.

Weight width: Lava's mixed-sign synapse counts the sign in ``num_weight_bits``
(``lava.proc.dense.process.Dense``: "the sign of the weight is included in the weight bits";
``truncate_weights`` drops ``8 − num_weight_bits + 1`` bits), so 1 bit in mixed sign holds
``{−256, 0}`` only, and ±1 needs :data:`BINARY_BITS` = 2: effective weights ±128 (``±1 << 7``),
which Lava's ``clip_weights``/``truncate_weights`` keep unchanged, times ``2**e`` by the Dense's
weight exponent. A Conv2d has no exponent in Lava's fixed-point Conv: its weights are ``±2**k``
with ``k ≤ 7`` as large as the layer's states allow, stored at ``9 − k`` bits (a convolution on
spikes: k = 7, 2 bits; on 8-bit graded input, a larger weight would wrap ``u``: more bits).
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy import formats as lf
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Graph, WeightQ

#: bits of a ±1 weight in Lava's mixed-sign format (sign + one magnitude bit)
BINARY_BITS = 2
#: the effective 8-bit-scale weight of mantissa 1 at :data:`BINARY_BITS` in mixed sign
BINARY_UNIT = 2 ** (lf.WEIGHT_BITS - BINARY_BITS + 1)
#: the largest ``k`` of an effective weight ``±2**k`` (``2**7``: :data:`BINARY_BITS` bits)
MAX_K = lf.WEIGHT_BITS + 1 - BINARY_BITS
_RTOL = 1e-5


def is_binary(graph: Graph) -> bool:
    """Does ``graph`` declare binary weights (``metadata['binary_weights']``)?"""
    return bool(graph.metadata.get("binary_weights"))


def layer_alpha(graph: Graph, name: str) -> float:
    """α of binary synapse ``name`` (its weights are ``±α``); a one-line NeurodeployError when
    α differs per output channel (not foldable into one threshold) or the weights are not ±α."""
    node = graph.nodes[name]
    w = np.abs(np.asarray(node.weight, np.float64))
    if w.size == 0 or float(w.max()) <= 0:
        raise NeurodeployError(f"node '{name}' ({node.kind}): binary weights are all zero")
    top = float(w.max())
    if np.all(np.abs(w - top) <= _RTOL * top):
        return top
    rows = w.reshape(w.shape[0], -1)
    per_row = np.all(np.abs(rows - rows[:, :1]) <= _RTOL * rows[:, :1], axis=1).all()
    if per_row:
        n = len(np.unique(np.round(rows[:, 0] / top, 6)))
        raise NeurodeployError(f"node '{name}' ({node.kind}): binary weights with one α per "
                               f"output channel ({n} distinct values) cannot be folded exactly: "
                               "Lava's LIF has one threshold per layer (train with "
                               "--binary-alpha layer)")
    raise NeurodeployError(f"node '{name}' ({node.kind}): the graph declares binary weights but "
                           f"this synapse's weights are not ±α ({len(np.unique(w))} magnitudes)")


def _exp_range(graph: Graph, synapses: list[str]) -> tuple[int, int]:
    """Weight exponents the synapses may take: none for Conv2d (Lava's fixed-point Conv has no
    exponent), :data:`neurodeploy.formats.WEIGHT_EXP_RANGE` for Dense."""
    if any(isinstance(graph.nodes[s], Conv2d) for s in synapses):
        return 0, 0
    return lf.WEIGHT_EXP_RANGE


def _split(m: int, lo: int, hi: int) -> tuple[int, int]:
    """``2**m = 2**k << e``: the weight ``2**k`` (k ≤ 7, as large as the exponent range lets
    it be) and the exponent ``e``."""
    e = max(lo, min(hi, m - MAX_K))
    return m - e, e


def fold_scale(graph: Graph, synapses: list[str], units: dict[str, float], lam: float,
               neuron: str) -> float:
    """The scale of neuron layer ``neuron``: ``lam`` (the largest its states allow), lowered so
    that its binary synapses' weights are exactly ``±2**k << e`` (mantissa ±1 at
    ``num_weight_bits = 9 − k``; Dense: k = 7, 2 bits). Returns ``lam`` unchanged for a graph
    without binary weights. One-line NeurodeployError when its synapses' ``α·unit`` differ or
    no power of two fits below ``lam``."""
    if not is_binary(graph) or not synapses:
        return lam
    gains = {s: layer_alpha(graph, s) * units[s] for s in synapses}
    c = next(iter(gains.values()))
    if any(abs(g - c) > _RTOL * c for g in gains.values()):
        raise NeurodeployError(f"node '{neuron}': its binary synapses {sorted(gains)} have "
                               "different α (times their input's unit); one threshold cannot "
                               "fold them all")
    lo, hi = _exp_range(graph, synapses)
    m = min(math.floor(math.log2(lam * c)), hi + MAX_K)
    k, _ = _split(m, lo, hi)
    if k < 1:
        raise NeurodeployError(f"node '{neuron}': binary weights ±{c:g} need a scale of at least "
                               f"{2.0**(lo + 1) / c:g} to be a weight of Loihi's mixed-sign "
                               f"format (±2 << {lo}), over what its states allow ({lam:g})")
    return 2.0**m / c


def weight_q(graph: Graph, name: str, w_gain: np.ndarray, lam: float) -> WeightQ | None:
    """The WeightQ of binary synapse ``name`` whose gained weights ``w_gain`` (``w·unit·λ``,
    after :func:`fold_scale`) are ``±2**m``: effective weights ``±2**k`` with exponent ``e``
    (``k + e = m``), mantissa ±1 at ``num_weight_bits = 9 − k`` (Dense: 2); None for a graph
    without binary weights."""
    if not is_binary(graph):
        return None
    mag = np.abs(np.asarray(w_gain, np.float64))
    m = int(round(math.log2(float(mag.max()))))
    if not np.allclose(mag, 2.0**m, rtol=_RTOL, atol=0):
        raise NeurodeployError(f"node '{name}': binary weights do not land on ±1 mantissas "
                               "(the neuron's scale was not folded)")
    k, e = _split(m, *_exp_range(graph, [name]))
    w_int = np.where(np.asarray(w_gain) >= 0, 2**k, -(2**k)).astype(np.int32)
    return WeightQ(weight=w_int, weight_exp=e, num_weight_bits=lf.WEIGHT_BITS + 1 - k,
                   scale=1.0 / lam)


__all__ = ["BINARY_BITS", "BINARY_UNIT", "MAX_K", "fold_scale", "is_binary", "layer_alpha",
           "weight_q"]
