"""Post-training quantization of a float Graph to Loihi's integer formats, calibrated on data.

Each neuron layer gets a scale λ (integer units of synaptic input per float unit): its
incoming synapses get effective integer weights ``W_int·2**weight_exp ≈ λ·unit_in·W`` (Lava's
8-bit mantissa grid, :mod:`neurodeploy.formats`), its threshold ``vth_q = round(λ·vth)``,
its bias ``bias_mant << bias_exp ≈ 64·λ·bias``, so that in fixed point ``v_int ≈ 64·λ·v``.
λ is as large as the 24-bit states allow on the calibration data (u must not wrap, v keeps 2×
headroom over the threshold and, unless that leaves the threshold below 2**10, no clipping of
its negative excursions), limited by the weight exponent range (Dense: ≤ 7; Conv2d: 0,
Lava's fixed-point Conv has no exponent) and the bias range. Calibration then picks, layer by
layer, the weight clip fraction whose fixed-point spike counts (Readout: decoded outputs) are
closest to float on the calibration data, and, per neuron, how a synapse bias is folded into
the neuron bias: in float it charges the current (a ramp over time when du < 1), on Loihi the
bias is a constant added to v, so each neuron takes the constant (the current's mean over T,
or its value at one of :data:`FOLD_STEPS` steps) whose spike trains, seen through the next
layer's kernel, stay closest to float. That fold is the one approximation left for du < 1 (an
exact form needs an initial current ``u₀ = −b/du`` with a neuron bias ``b/du``, which the IR's
NeuronQ, the simulator and the Lava backend do not carry). Each neuron's bias also takes out the
mean error its rounded weights put into its current on the calibration activity (bias
correction, :mod:`neurodeploy.quantize.bias_correction`; ``bias_correction=False`` keeps the
float bias alone).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy import kinds
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Add,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    SigmaDelta,
    SumPool2d,
    WeightQ,
    validate,
)
from neurodeploy.kinds.cuba import CubaState, layer_value, subthreshold_float
from neurodeploy.quantize import binary
from neurodeploy.quantize.bias_correction import input_means, mean_error
from neurodeploy.quantize.pool_folding import fold_pools
from neurodeploy.quantize.replay import replay_layer
from neurodeploy.quantize.report import LayerReport, QuantReport
from neurodeploy.quantize.rewrite import fold_avgpools
from neurodeploy.quantize.threads import threads_for
from neurodeploy.sim import decode, simulate
from neurodeploy.sim.dataset import input_encoding, steps_for

TARGETS = ("loihi2", "loihi1")
CLIP_CANDIDATES = (1.0, 0.9, 0.8, 0.7)
INPUT_BITS = 8  # graded input messages (direct encoding on Loihi 2)
FOLD_STEPS = 8  # candidate fold factors of a synapse bias (besides the mean), see _fold_candidates


def check_expressible(graph: Graph, target: str) -> None:
    """Raise NeurodeployError naming the first node fixed point cannot express (the fixed-point
    capability check, :func:`neurodeploy.capability.check_fixed`, before quantization)."""
    if target not in TARGETS:
        raise NeurodeployError(f"unknown target '{target}' (choose from {', '.join(TARGETS)})")
    if len(graph.inputs) != 1:
        raise NeurodeployError(f"the quantizer takes graphs with one input, got {graph.inputs}")
    check_fixed(graph, quantized=False)
    for e in graph.edges:
        kind = kinds.kind_of(graph.nodes[e.src])
        if e.delay and not (kind is not None and kind.fires and kind.binary):
            raise NeurodeployError(f"recurrent edge '{e.src}' -> '{e.dst}': only binary spikes "
                                   "may be delayed in fixed point")


@dataclass
class _Structure:
    """Who feeds whom: each synapse's target neuron, each neuron's synapses, forced inputs."""

    order: list[str]
    target: dict[str, str]            # synapse → neuron
    synapses: dict[str, list[str]]    # neuron → synapses
    direct: dict[str, list[str]]      # neuron → non-synapse sources (Input/neuron) reaching it
    bias_ok: dict[str, bool]          # synapse → its bias can be folded into the neuron
    weight_bits: int = lf.WEIGHT_BITS  # every synapse's num_weight_bits (binary: their own)


def _structure(g: Graph) -> _Structure:
    order = g.topological_order()
    target: dict[str, str] = {}
    bias_ok: dict[str, bool] = {}
    for name in order:
        if not isinstance(g.nodes[name], (Dense, Conv2d)):
            continue
        reached: set[str] = set()
        plain = True  # only Flatten between synapse and neuron
        stack = [(name, True)]
        while stack:
            cur, ok = stack.pop()
            for e in g.out_edges(cur):
                node = g.nodes[e.dst]
                if kinds.is_neuron(node):
                    reached.add(e.dst)
                    plain = plain and ok
                elif isinstance(node, (Flatten, SumPool2d, Add)):
                    stack.append((e.dst, ok and isinstance(node, Flatten)))
                else:
                    raise NeurodeployError(f"node '{name}' ({g.nodes[name].kind}): feeds "
                                           f"'{e.dst}' ({node.kind}) without a neuron between")
        if len(reached) != 1:
            raise NeurodeployError(f"node '{name}' ({g.nodes[name].kind}): must reach exactly one "
                                   f"neuron layer, reaches {sorted(reached) or 'none'}")
        target[name] = reached.pop()
        bias_ok[name] = plain
    synapses = {n: [s for s in order if target.get(s) == n] for n in order
                if kinds.is_neuron(g.nodes[n])}
    direct: dict[str, list[str]] = {n: [] for n in synapses}
    for n in synapses:  # walk back from each neuron through Flatten/SumPool/Add
        stack = [e.src for e in g.in_edges(n)]
        while stack:
            src = stack.pop()
            node = g.nodes[src]
            if isinstance(node, (Flatten, SumPool2d, Add)):
                stack += [e.src for e in g.in_edges(src)]
            elif isinstance(node, Input) or kinds.fires(node):
                direct[n].append(src)
    return _Structure(order, target, synapses, direct, bias_ok)


def _unit(g: Graph, name: str, lam: dict[str, float], st: _Structure, in_scale: float) -> float:
    """Float value of one integer unit of ``name``'s output."""
    node = g.nodes[name]
    if isinstance(node, Input):
        return in_scale
    kind = kinds.kind_of(node)
    if kind is not None and kind.fires:  # spikes: 1; graded spikes: their quantized unit
        return 1.0 if kind.binary else float(node.quant.scale)
    if isinstance(node, (Dense, Conv2d)):
        return 1.0 / lam[st.target[name]]
    src = g.in_edges(name)[0].src
    return _unit(g, src, lam, st, in_scale)


@dataclass
class _Stats:
    """Float behaviour on the calibration data."""

    max_u: dict[str, float]
    max_v: dict[str, float]
    counts: dict[str, np.ndarray]     # firing neuron → per-sample spike counts [B, *shape]
    outputs: dict[str, torch.Tensor]  # read-out neuron → decoded [B, n]
    rates: dict[str, float]
    predictions: np.ndarray
    T: int = 1
    #: firing neuron → spike trains ``[T, B, *shape]`` (float32 0/1)
    trains: dict[str, torch.Tensor] = field(default_factory=dict)
    #: synapse → its mean input over steps and samples (bias correction; empty: none)
    means: dict[str, np.ndarray] = field(default_factory=dict)


def _run(g: Graph, x: np.ndarray, mode: str, neurons: list[str],
         recorder: Callable[..., Any] = simulate) -> tuple[_Stats, object]:
    res = recorder(g, x, mode=mode, record=neurons)
    max_u, max_v, counts, outputs, trains = {}, {}, {}, {}, {}
    for n in neurons:
        r = res.records[n]
        max_u[n] = float(r["u"].abs().max())
        max_v[n] = float(r["v"].abs().max())
        kind = kinds.neuron_kind(g.nodes[n])
        if kind.fires:  # in float units (graded spikes in fixed point: times their unit)
            s = kind.output(g.nodes[n], r["s"], mode == "fixed")
            counts[n] = s.sum(0).cpu().numpy()
            trains[n] = s
        else:
            v = res.outputs[n] if n in res.outputs else kind.output(
                g.nodes[n], r[kind.output_var], mode == "fixed")
            outputs[n] = decode(v, g.nodes[n])
    return _Stats(max_u, max_v, counts, outputs, res.firing_rates, res.predictions,
                  int(x.shape[0]), trains), res


def _neuron_biases(q: Graph, st: _Structure, n: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(own, synaptic)`` float biases of neuron layer ``n`` (shape of the layer): its own
    (added to v each step) and the sum of its synapses' biases (added to u each step), or None
    when its synapses have none. Refuses a synapse bias before pooling or an Add."""
    node = q.nodes[n]
    own = np.broadcast_to(np.asarray(node.bias, np.float64), node.shape).copy()
    syn_bias: np.ndarray | None = None
    for s in st.synapses[n]:
        syn = q.nodes[s]
        if syn.bias is None or not np.any(syn.bias):
            continue
        if not st.bias_ok[s]:
            raise NeurodeployError(f"node '{s}' ({syn.kind}): a synapse bias before pooling or "
                                   "an Add cannot be expressed on Loihi")
        b = np.asarray(syn.bias, np.float64)
        if isinstance(syn, Conv2d):
            c_shape = (b.size,) + (1,) * (len(syn.weight.shape) - 2)
            b = np.broadcast_to(b.reshape(c_shape), _out_shape(q, s)).reshape(-1)
        b = b.reshape(node.shape) if b.size == int(np.prod(node.shape)) else b
        syn_bias = b if syn_bias is None else syn_bias + b
    return own, syn_bias


def _fold_candidates(du: float, T: int, n: int | None = None) -> np.ndarray:
    """Factors a synapse bias ``b`` may be folded into the neuron bias with (``b·factor``).

    In float the bias charges the current as ``b·c(t)``, ``c(t) = Σ_{k≤t} (1−du)^k`` at step t
    (``t + 1`` for du = 0); Loihi's bias is constant, so no factor is exact unless du = 1
    (c ≡ 1). The first candidate is the mean of c over the T steps; the others are c at ``n``
    (default :data:`FOLD_STEPS`) steps spread over [0, T − 1]. Calibration picks one per
    neuron."""
    if du >= 1:
        return np.ones(1)
    n = FOLD_STEPS if n is None else n
    c = np.cumsum((1.0 - du) ** np.arange(T))
    picks = np.unique(np.round(np.linspace(0, T - 1, min(n, T))).astype(int))
    return np.concatenate([[float(np.mean(c))], c[picks]])


def _fold_note(du: float, T: int, factor: np.ndarray, calibrated: bool) -> str:
    """The report's note on how a layer's synapse bias was folded into its neuron bias."""
    mean = _fold_candidates(du, T)[0]
    if not calibrated:
        return (f"synapse bias folded into the neuron bias as its current's mean over T "
                f"(factor {mean:.3g}; exact only for du = 1)")
    share = float(np.mean(np.isclose(factor, mean)))
    return (f"synapse bias folded into the neuron bias with per-neuron factors calibrated on "
            f"filtered spike trains (min {factor.min():.3g}, median {np.median(factor):.3g}, max "
            f"{factor.max():.3g}; the current's mean over T, {mean:.3g}, kept by {share:.0%}; "
            "exact only for du = 1)")


def _build(g: Graph, st: _Structure, stats: _Stats, clip: dict[str, float], in_q: InputQ,
           fold: dict[str, np.ndarray] | None = None) -> tuple[Graph, list[LayerReport]]:
    """The quantized copy of ``g`` for clip fractions ``clip`` (synapse → fraction),
    per-neuron synapse-bias fold factors ``fold`` (neuron layer → factors; default: the
    current's mean over T) and each neuron's bias corrected by the mean error of its rounded
    weights on the synapses' mean inputs ``stats.means``
    (:mod:`neurodeploy.quantize.bias_correction`; none when empty)."""
    q = copy.deepcopy(g)
    q.nodes[q.inputs[0]].quant = in_q
    lam: dict[str, float] = {}
    reports = []
    for n in st.order:
        node = q.nodes[n]
        kind = kinds.kind_of(node)
        if kind is None:
            continue
        rep = LayerReport(n, node.kind, synapses=list(st.synapses[n]))
        units = {s: _unit(q, q.in_edges(s)[0].src, lam, st, in_q.scale) for s in st.synapses[n]}
        # the bias the neuron sees: its own plus its synapses' biases folded in (below)
        bias, syn_bias = _neuron_biases(q, st, n)
        if syn_bias is not None:
            if isinstance(node, SigmaDelta):
                raise NeurodeployError(f"node '{n}' (sigma_delta): a synapse bias would "
                                       "accumulate in its sigma every step; give the bias to "
                                       "the sigma-delta node instead")
            du = layer_value(node, "du")
            factor = fold.get(n) if fold else None
            if factor is None:
                factor = np.full(node.shape, _fold_candidates(du, stats.T)[0])
            bias = bias + syn_bias * factor
            if du < 1:
                rep.notes.append(_fold_note(du, stats.T, np.asarray(factor), fold is not None
                                            and n in fold))
        # λ: what the neuron's states and parameters allow, then what the weights allow
        limits = kind.scale_limits(node, stats.max_u[n], stats.max_v[n], bias)
        for s in st.synapses[n]:
            w_max = float(np.abs(q.nodes[s].weight).max(initial=0)) * units[s]
            if w_max > 0:
                _, lo, hi = lf.mantissa_grid(lf.sign_mode(q.nodes[s].weight),
                                                st.weight_bits)
                top = max(abs(lo), abs(hi))
                exp_max = 0 if isinstance(q.nodes[s], Conv2d) else lf.WEIGHT_EXP_RANGE[1]
                limits.append(top * 2.0**exp_max / (clip.get(s, 1.0) * w_max))
        lam_n = min(limits)
        if st.direct[n]:  # a path without synapse: the neuron takes its source's units as is
            forced = 1.0 / _unit(q, st.direct[n][0], lam, st, in_q.scale)
            if forced > lam_n * 1.0001:
                rep.notes.append(f"input without synapse forces scale {forced:g} (over headroom)")
            lam_n = forced
            rep.notes.append("fed without a synapse: scale fixed by its source")
        if not (math.isfinite(lam_n) and lam_n > 0 and math.isfinite(1.0 / lam_n)
                and lam_n < 1e300):
            w_top = max((float(np.abs(q.nodes[s].weight).max(initial=0))
                         for s in st.synapses[n]), default=0.0)
            raise NeurodeployError(f"node '{n}': no integer scale represents it on Loihi "
                                   f"(scale {lam_n:g}); its synapses' weights (largest "
                                   f"|w| = {w_top:g}), bias or states are out of range")
        lam_n = binary.fold_scale(q, st.synapses[n], units, lam_n, n)  # binary: mantissas ±1
        lam[n] = lam_n
        rep.scale = lam_n
        # weights
        errs, norms = 0.0, 0.0
        drift = np.zeros(int(np.prod(node.shape)))  # mean error current of the rounding
        for s in st.synapses[n]:
            syn = q.nodes[s]
            w_gain = syn.weight.astype(np.float64) * units[s] * lam_n
            if isinstance(syn, Conv2d):
                exp = 0
            else:
                exp = lf.weight_exp_for(float(np.abs(w_gain).max(initial=0)),
                                         lf.sign_mode(w_gain), clip.get(s, 1.0), st.weight_bits)
                exp = int(np.clip(exp, *lf.WEIGHT_EXP_RANGE))
            if st.weight_bits == 1 and lf.sign_mode(w_gain) == "mixed" and not binary.is_binary(q):
                raise NeurodeployError(f"node '{s}' ({syn.kind}): 1-bit weights of mixed sign "
                                       "hold only -256 and 0 (Lava counts the sign as a bit); "
                                       "use 2 bits or more")
            w_int, sat = lf.quantize_weights(w_gain, exp, st.weight_bits)
            syn.quant = WeightQ(weight=w_int, weight_exp=exp, num_weight_bits=st.weight_bits,
                                scale=1.0 / lam_n)
            bq = binary.weight_q(q, s, w_gain, lam_n)
            if bq is not None:
                syn.quant, w_int, exp, sat = bq, bq.weight, bq.weight_exp, 0
                rep.notes.append(f"{s}: binary, mantissas ±1 at {bq.num_weight_bits} bits")
            rep.weight_exp[s] = exp
            rep.clip[s] = clip.get(s, 1.0)
            rep.saturated += sat
            errs += float(np.sum((w_int * 2.0**exp - w_gain) ** 2))
            norms += float(np.sum(w_gain**2))
            if s in stats.means and st.bias_ok[s]:
                w_eff = w_int.astype(np.float64) * 2.0**exp / (units[s] * lam_n)
                drift += mean_error(syn, w_eff, stats.means[s])
        rep.weight_error = float(np.sqrt(errs / norms)) if norms > 0 else (
            0.0 if st.synapses[n] else None)
        # neuron parameters: the kind's quantization rule
        node.quant, notes = _quantize_neuron(node, kind, lam_n, bias, drift, stats.T)
        rep.notes += notes
        rep.vth = int(node.quant.vth) if kind.fires else None
        rep.du, rep.dv = getattr(node.quant, "du", 0), getattr(node.quant, "dv", 0)
        reports.append(rep)
    return q, reports


def _quantize_neuron(node, kind, lam: float, bias: np.ndarray, drift: np.ndarray,
                     T: int) -> tuple[object, list[str]]:
    """The kind's quantization of ``node`` at scale ``lam`` with its float ``bias`` less the
    mean error current ``drift`` of its rounded weights (flat, float units; folded like a
    synapse bias). Uncorrected where the correction is zero, the node a sigma-delta, or the
    corrected bias beyond the bias format."""
    if isinstance(node, SigmaDelta) or not np.any(drift):
        return kind.quantize(node, lam, bias)
    factor = _fold_candidates(layer_value(node, "du"), T)[0]
    corr = drift.reshape(node.shape) * factor
    try:
        q, notes = kind.quantize(node, lam, bias - corr)
    except NeurodeployError:
        q, notes = kind.quantize(node, lam, bias)
        return q, notes + ["bias correction skipped: the corrected bias exceeds the bias format"]
    return q, notes + [f"bias corrected by the weights' mean rounding error on the calibration "
                       f"activity (max |correction| {np.abs(corr).max():.3g} per step, "
                       f"threshold {float(np.max(getattr(node, 'vth', 0.0))):.3g})"]


def _out_shape(g: Graph, name: str) -> tuple[int, ...]:
    from neurodeploy.ir import infer_shapes

    return infer_shapes(g)[name]


def _drift(n: str, g: Graph, ref: _Stats, got: _Stats, T: int) -> float:
    if kinds.fires(g.nodes[n]):
        return float(np.mean(np.abs(got.counts[n] - ref.counts[n]))) / T
    a, b = got.outputs[n].cpu().numpy(), ref.outputs[n].cpu().numpy()
    mism = float(np.mean(a.argmax(1) != b.argmax(1)))
    return float(np.sqrt(np.mean((a - b) ** 2)) / (np.std(b) + 1e-12)) + mism


def _downstream_kernel(g: Graph, st: _Structure, n: str) -> tuple[float, float]:
    """``(du, dv)`` of the neuron layer that ``n``'s spikes feed through a synapse (the kernel
    a spike-time error is seen through); ``(1, 0)``, a plain integrator, when there are several
    or none."""
    fed = {st.target[s] for s in st.target if any(
        e.src == n for e in g.in_edges(s))}
    if len(fed) != 1:
        return 1.0, 0.0
    node = g.nodes[fed.pop()]
    if isinstance(node, SigmaDelta):  # its sigma integrates what it receives
        return 1.0, 0.0
    return layer_value(node, "du"), layer_value(node, "dv")


def _neuron_drift(n: str, g: Graph, st: _Structure, ref: _Stats, got: _Stats) -> np.ndarray:
    """Per-neuron drift of layer ``n`` from float over the calibration samples, shape of the
    layer's output.

    A firing layer: the difference of the spike trains filtered with the CUBA kernel of the
    layer they feed (its current and voltage decays: the sub-threshold dynamics of
    :mod:`neurodeploy.kinds.cuba`), summed in absolute value over steps and samples: the error
    each neuron puts into the next layer's voltage per unit weight (for an integrator readout,
    du = 1 and dv = 0, the earth mover's distance between the spike trains: a spike k steps
    late costs k). A read-out layer: summed |Δ decoded output|."""
    if not kinds.fires(g.nodes[n]):
        a, b = got.outputs[n].cpu().numpy(), ref.outputs[n].cpu().numpy()
        return np.abs(a - b).sum(0)
    du, dv = _downstream_kernel(g, st, n)
    diff = got.trains[n] - ref.trains[n].to(got.trains[n].device)
    state = CubaState(torch.zeros_like(diff[0]), torch.zeros_like(diff[0]))
    total = torch.zeros_like(diff[0])
    for t in range(diff.shape[0]):
        state = CubaState(*subthreshold_float(state, diff[t], du, dv, 0.0))
        total += state.v.abs()
    return total.sum(0).cpu().numpy()


def _calibrate_fold(g: Graph, st: _Structure, ref: _Stats, clip: dict[str, float],
                    in_q: InputQ, fold: dict[str, np.ndarray], n: str, x: np.ndarray,
                    trains: dict[str, torch.Tensor]) -> int:
    """Pick, per neuron of layer ``n``, the synapse-bias fold factor whose fixed-point spike
    trains (:func:`_neuron_drift`; Readout: decoded outputs) are closest to float on the
    calibration data; stores it in
    ``fold[n]``. The neurons of a layer do not feed each other (recurrent layers: nearly), so
    each may take its best candidate from a separate run. Returns the number of runs."""
    node = g.nodes[n]
    _, syn_bias = _neuron_biases(g, st, n)
    if syn_bias is None:
        return 0
    cands = _fold_candidates(layer_value(node, "du"), int(x.shape[0]))
    if len(cands) < 2:
        return 0
    drifts = []
    for c in cands:
        trial = dict(fold, **{n: np.full(node.shape, c)})
        qg, _ = _build(g, st, ref, clip, in_q, trial)
        got = _run_layer(qg, st, n, x, trains)
        drifts.append(_neuron_drift(n, qg, st, ref, got).reshape(node.shape))
    best = np.argmin(np.stack(drifts), axis=0)  # ties keep the first: the current's mean
    fold[n] = cands[best]
    return len(cands)


def _layer_graph(q: Graph, st: _Structure, n: str) -> tuple[Graph, str] | None:
    """Neuron layer ``n`` alone (its synapses, pools, flattens and recurrent synapses) fed by
    its only source (the graph's input or a firing layer, as an Input of binary spikes):
    ``(subgraph, source)``, or None when ``n`` has several sources (an Add of two layers)."""
    keep, sources, stack = {n}, set(), [n]
    while stack:
        cur = stack.pop()
        for e in q.in_edges(cur):
            node = q.nodes[e.src]
            if e.src == n:
                continue  # its own spikes (a recurrent synapse) stay inside
            if isinstance(node, Input) or kinds.fires(node):
                sources.add(e.src)
            elif e.src not in keep:
                keep.add(e.src)
                stack.append(e.src)
    if len(sources) != 1:
        return None
    (source,) = sources
    src = q.nodes[source]
    sub = Graph(metadata=dict(q.metadata))
    sub.nodes[source] = src if isinstance(src, Input) else Input(
        source, shape=tuple(src.shape), encoding="spikes", quant=InputQ(scale=1.0, bits=1))
    for name in st.order:
        if name in keep:
            sub.nodes[name] = q.nodes[name]
    sub.edges = [e for e in q.edges if e.dst in keep and (e.src in keep or e.src == source)]
    sub.inputs, sub.outputs = [source], [n]
    return sub, source


def _run_layer(q: Graph, st: _Structure, n: str, x: np.ndarray,
               trains: dict[str, torch.Tensor]) -> _Stats:
    """Layer ``n`` of the quantized graph ``q`` in fixed point on the calibration input ``x``:
    alone, fed by the recorded fixed-point spikes ``trains`` of the layer before it, when it
    has one source (the same numbers as the whole graph, at the cost of one layer; replayed
    with its synapses batched over time where it has no recurrence,
    :mod:`neurodeploy.quantize.replay`); the whole graph otherwise."""
    local = _layer_graph(q, st, n)
    if local is None or (not isinstance(q.nodes[local[1]], Input) and local[1] not in trains):
        return _run(q, x, "fixed", [n])[0]
    sub, source = local
    xin = x if isinstance(q.nodes[source], Input) else trains[source]
    out = replay_layer(sub, n, xin)
    if out is None:
        return _run(sub, xin, "fixed", [n])[0]
    if kinds.fires(q.nodes[n]):
        return _Stats({}, {}, {n: out.sum(0).numpy()}, {}, {}, np.zeros(0), int(out.shape[0]),
                      {n: out})
    return _Stats({}, {}, {}, {n: decode(out, q.nodes[n])}, {}, np.zeros(0), int(out.shape[0]))


def _layer_key(q: Graph, st: _Structure, n: str) -> bytes:
    """The integer parameters of neuron layer ``n`` and its synapses in ``q``, as bytes (two
    calibration candidates with the same key run identically)."""
    parts = []
    for s in st.synapses[n]:
        wq = q.nodes[s].quant
        parts += [np.asarray(wq.weight).tobytes(), str(int(wq.weight_exp)).encode()]
    nq = q.nodes[n].quant
    parts += [repr(sorted((k, np.asarray(v).tobytes() if isinstance(v, np.ndarray) else v)
                          for k, v in vars(nq).items())).encode()]
    return b"|".join(parts)


def _input_q(g: Graph, x: np.ndarray, enc: str, target: str) -> InputQ:
    node = g.nodes[g.inputs[0]]
    if enc in ("rate", "spikes") and np.isin(x, (0.0, 1.0)).all():
        return InputQ(scale=1.0, bits=1)
    if target == "loihi1":
        raise NeurodeployError(f"node '{node.name}' (input): Loihi 1 has binary spikes only; "
                               f"'{enc}' input with graded values needs target loihi2 "
                               "(or rate encoding)")
    lo, hi = float(x.min()), float(x.max())
    signed = lo < 0
    top = max(abs(lo), abs(hi))
    lo_q, hi_q = lf.input_range(INPUT_BITS, signed)
    levels = min(-lo_q, hi_q) if signed else hi_q
    return InputQ(scale=top / levels if top > 0 else 1.0, bits=INPUT_BITS, signed=signed)


def quantize(graph: Graph, calib, target: str = "loihi2", T: int | None = None,
             max_calib: int = 256, candidates: tuple[float, ...] = CLIP_CANDIDATES,
             seed: int = 0, fold: bool = True, weight_bits: int = lf.WEIGHT_BITS,
             recorder: Callable[..., Any] = simulate,
             bias_correction: bool = True) -> tuple[Graph, QuantReport]:
    """:func:`_quantize` with one torch thread where the graph's per-step products are small
    (:mod:`neurodeploy.quantize.threads`)."""
    with threads_for(graph, min(len(calib), max_calib)):
        return _quantize(graph, calib, target, T, max_calib, candidates, seed, fold,
                         weight_bits, recorder, bias_correction)


def _quantize(graph: Graph, calib, target: str = "loihi2", T: int | None = None,
              max_calib: int = 256, candidates: tuple[float, ...] = CLIP_CANDIDATES,
              seed: int = 0, fold: bool = True, weight_bits: int = lf.WEIGHT_BITS,
              recorder: Callable[..., Any] = simulate,
              bias_correction: bool = True) -> tuple[Graph, QuantReport]:
    """Quantize ``graph`` for ``target`` (``loihi2`` | ``loihi1``), calibrated on the first
    ``max_calib`` samples of ``calib`` (a ``neurodeploy.data.Dataset``) over ``T`` steps
    (default: ``graph.metadata['T']`` or the data's steps), every synapse's weights at
    ``weight_bits`` bits (``num_weight_bits``, 1-8; mixed sign counts the sign as a bit; binary
    weights keep their own). ``recorder``: what records the float model's activity on the
    calibration samples, called as :func:`neurodeploy.sim.simulate` (default: it, in this
    process; :mod:`neurodeploy.distributed.quantize` splits the samples over Dask workers).

    Returns the quantized graph (the same float graph with ``quant`` filled in; with ``fold``,
    pools folded into the synapse after them where that is cheaper on the chip
    (:mod:`neurodeploy.quantize.pool_folding`, listed in the report's ``pool_folding``); the
    remaining AvgPool2d nodes become SumPool2d with ``1/k²`` folded into a synapse) and a
    :class:`QuantReport`. With ``bias_correction`` each neuron's bias also takes out the mean
    error its rounded weights put into its current on the calibration data
    (:mod:`neurodeploy.quantize.bias_correction`).
    Raises NeurodeployError naming the node fixed point cannot express.
    """
    from neurodeploy.data import encode

    validate(graph)
    check_expressible(graph, target)
    if isinstance(weight_bits, bool) or not isinstance(weight_bits, (int, np.integer)) \
            or not 1 <= weight_bits <= lf.WEIGHT_BITS:
        raise NeurodeployError(f"weight bits must be an integer from 1 to {lf.WEIGHT_BITS}, "
                               f"got {weight_bits!r}")
    g, fold_notes = fold_pools(graph) if fold else (graph, [])
    g = fold_avgpools(g)
    st = _structure(g)
    st.weight_bits = int(weight_bits)
    ds = calib.subset(slice(0, max_calib))
    if len(ds) == 0:
        raise NeurodeployError("the calibration data set has no samples")
    enc = input_encoding(g, ds.encoding)
    steps = steps_for(g, ds.encoding, ds.T, T)
    x = encode(ds.x, enc, steps, seed=seed)
    neurons = [n for n in st.order if kinds.is_neuron(g.nodes[n])]
    ref, _ = _run(g, x, "float", neurons, recorder)
    if bias_correction:
        ref.means = input_means(g, list(st.target), x, ref.trains)
    in_q = _input_q(g, x, enc, target)
    y = np.asarray(ds.y)

    clip: dict[str, float] = {s: 1.0 for s in st.target}
    fold: dict[str, np.ndarray] = {}
    tried = 0
    trains: dict[str, torch.Tensor] = {}  # calibrated layer → its fixed-point spike trains
    for n in neurons:  # greedy, layer by layer in topological order
        last: _Stats | None = None  # the run of the configuration kept so far
        for s in st.synapses[n]:
            best: tuple[float, float, _Stats | None] = (np.inf, clip[s], None)
            seen: set[bytes] = set()
            for c in candidates:
                trial = dict(clip, **{s: c})
                qg, _ = _build(g, st, ref, trial, in_q, fold)
                key = _layer_key(qg, st, n)
                if key in seen:  # the same integers as a candidate already run
                    continue
                seen.add(key)
                got = _run_layer(qg, st, n, x, trains)
                tried += 1
                d = _drift(n, qg, ref, got, x.shape[0])
                if d < best[0] - 1e-12:
                    best = (d, c, got)
            clip[s], last = best[1], best[2]
        folded = _calibrate_fold(g, st, ref, clip, in_q, fold, n, x, trains)
        tried += folded
        if kinds.fires(g.nodes[n]):  # what the layers after it are calibrated on
            if last is None or folded:
                last = _run_layer(_build(g, st, ref, clip, in_q, fold)[0], st, n, x, trains)
            trains[n] = last.trains[n]
    qg, reports = _build(g, st, ref, clip, in_q, fold)
    got, res = _run(qg, x, "fixed", [n for n in neurons if not kinds.fires(g.nodes[n])])
    for rep in reports:
        n = rep.name
        rep.states_at_bounds = int(res.saturations.get(n, 0))
        if kinds.fires(g.nodes[n]):
            rep.firing_rate_float = ref.rates[n]
            rep.firing_rate_fixed = got.rates[n]
            rep.dead = bool(got.rates[n] == 0 and ref.rates[n] > 0)
        else:
            rep.output_error = _drift(n, qg, ref, got, x.shape[0])
    qg.metadata = dict(qg.metadata, quantized={"target": target, "T": int(x.shape[0]),
                                               "calibration": ds.name, "n_calib": len(ds)})
    report = QuantReport(target, int(x.shape[0]), len(ds), float(in_q.scale), int(in_q.bits),
                         float(np.mean(ref.predictions == y)), float(np.mean(got.predictions == y)),
                         reports, tried, [str(n) for n in fold_notes])
    validate(qg)
    return qg, report
