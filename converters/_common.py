"""What every frontend shares: a graph builder that tracks values, the neuron description each
framework produces, and the exact checks (finite parameters, shapes) with one-line errors.

A *value* is the output of one IR node as the source model sees it: ``(node, shape, scale)``
where ``scale`` is the spike amplitude the source model multiplies spikes by (snnTorch's
``graded_spikes_factor``); a scale ≠ 1 is folded into the weights of the next synapse.

A :class:`NeuronSpec` is a framework's neuron written in the IR's CUBA form plus the exact
corrections the algebra needs:

- ``gain``: the neuron integrates ``gain · I`` (e.g. SpikingJelly ``decay_input``: ``I/τ``;
  Norse: ``dt/τ_mem · I``). Folded into the weights of the neuron's only incoming synapse when
  it has one, otherwise (CubaLIF) into the state: ``v' = v/gain`` so ``vth' = vth/gain`` and
  ``bias' = bias/gain`` — the same spikes.
- ``delayed_reset``: the reset acts on the *next* step without the leak (snnTorch
  ``reset_delay=True``, subtract: ``mem[t] = β·mem[t−1] + I[t] − θ·s[t−1]``); expressed exactly
  as a recurrent synapse ``−θ`` from the neuron to itself (delay 1) with reset ``none``.
- ``recurrent``: a recurrent synapse ``W·s[t−1] (+ b)`` (snnTorch RLeaky).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Graph, Node, Readout
from neurodeploy.ir.shapes import node_output_shape

Shape = tuple[int, ...]


def to_numpy(x: Any) -> np.ndarray:
    """A tensor / array / number as a float32 numpy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def check_finite(where: str, param: str, value: Any) -> np.ndarray:
    """``value`` as float32; raises NeurodeployError naming ``where`` and ``param`` on NaN/inf."""
    arr = to_numpy(value)
    if not np.all(np.isfinite(arr)):
        raise NeurodeployError(f"module '{where}': parameter '{param}' contains NaN or "
                               "infinite values")
    return arr


def per_neuron(where: str, param: str, value: Any, shape: Shape, *,
               channel_axis: bool = False) -> np.ndarray:
    """A per-layer scalar or a per-neuron array of ``shape``; a per-channel vector ``[C]`` is
    broadcast over ``(C, H, W)`` when ``channel_axis``. Other shapes are refused."""
    arr = check_finite(where, param, value)
    if arr.size == 1:
        return arr.reshape(())
    if tuple(arr.shape) == tuple(shape):
        return arr
    if channel_axis and len(shape) == 3 and arr.size == shape[0]:
        return np.broadcast_to(arr.reshape(-1, 1, 1), shape).astype(np.float32)
    if arr.size == int(np.prod(shape)):
        return arr.reshape(shape)
    raise NeurodeployError(f"module '{where}': parameter '{param}' has shape {arr.shape}, which "
                           f"fits neither one value per layer nor the neuron shape {shape}")


@dataclass
class Value:
    """The output of IR node ``node`` (shape per sample) with spike amplitude ``scale``."""

    node: str
    shape: Shape
    scale: float = 1.0
    #: steps each element arrives late (a NIR ``Delay`` not yet folded into a Dense's delays)
    delay: np.ndarray | None = None


@dataclass
class NeuronSpec:
    """A source neuron in CUBA form (see the module docstring for ``gain``,
    ``delayed_reset`` and ``recurrent``). ``readout`` makes a non-firing Readout."""

    du: np.ndarray | float = 1.0
    dv: np.ndarray | float = 0.0
    vth: np.ndarray | float = 1.0
    bias: np.ndarray | float = 0.0
    reset: str = "zero"
    gain: np.ndarray | float = 1.0
    delayed_reset: bool = False
    readout: bool = False
    spike_scale: float = 1.0
    #: the source spikes on ``v ≥ θ`` (SpikingJelly): with reset zero/none the threshold becomes
    #: the next float32 below θ, so ``v > vth`` ⇔ ``v ≥ θ`` exactly in float32 (for subtract the
    #: threshold stays θ: the two differ only when v equals θ bit for bit)
    ge: bool = False
    #: what the module's forward returns, in order: "spikes" (the primary output) or a state
    returns: tuple[str, ...] = ("spikes",)
    #: recurrent synapses s[t−1] → neuron: each a Dense or Conv2d node (name set by the builder)
    recurrent: list[Node] = field(default_factory=list)
    #: steps after a spike during which v stays 0 (the IR's CubaLIF.refractory)
    refractory: int = 0
    note: str = ""


def _is_one(x: Any) -> bool:
    return bool(np.all(np.asarray(x, np.float32) == 1.0))


class Builder:
    """Builds a Graph node by node, computing each node's shape as it goes."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.graph = Graph(metadata=dict(metadata or {}))
        self.shapes: dict[str, Shape] = {}
        #: synapse nodes whose output has exactly one consumer in the source model
        self.exclusive: set[str] = set()

    def fresh(self, base: str) -> str:
        """A node name not used yet, derived from ``base`` ('/' is not allowed in names)."""
        base = (base or "node").replace("/", "_")
        name, i = base, 1
        while name in self.graph.nodes:
            i += 1
            name = f"{base}_{i}"
        return name

    def add(self, node: Node, *srcs: Value, where: str = "") -> Value:
        """Add ``node`` fed by ``srcs`` (same step); returns its value. Shape errors name the
        source module ``where``."""
        node.name = self.fresh(node.name)
        try:
            shape = node_output_shape(node, [s.shape for s in srcs]) if srcs else \
                tuple(getattr(node, "shape", ()))
        except NeurodeployError as exc:
            raise NeurodeployError(f"module '{where or node.name}': {exc}") from None
        self.graph.add(node, *(s.node for s in srcs))
        self.shapes[node.name] = shape
        return Value(node.name, shape)

    def synapse(self, node: Dense | Conv2d, src: Value, where: str) -> Value:
        """Add a Dense/Conv2d; the input's spike amplitude is folded into the weights."""
        if src.scale != 1.0:
            node.weight = (node.weight * np.float32(src.scale)).astype(np.float32)
        return self.add(node, Value(src.node, src.shape), where=where)

    def neuron(self, name: str, spec: NeuronSpec, srcs: list[Value], where: str) -> Value:
        """Add the neuron ``spec`` fed by ``srcs`` and the corrections it needs."""
        if not srcs:
            raise NeurodeployError(f"module '{where}': a neuron needs an input")
        shape = srcs[0].shape
        for s in srcs[1:]:
            if s.shape != shape:
                raise NeurodeployError(f"module '{where}': inputs of shapes {shape} and "
                                       f"{s.shape} do not fit")
        for s in srcs:
            if s.scale != 1.0:
                raise NeurodeployError(f"module '{where}': its input carries spikes of amplitude "
                                       f"{s.scale} without a synapse to fold it into")
        chan = len(shape) == 3
        du = per_neuron(where, "du", spec.du, shape, channel_axis=chan)
        dv = per_neuron(where, "dv", spec.dv, shape, channel_axis=chan)
        bias = per_neuron(where, "bias", spec.bias, shape, channel_axis=chan)
        gain = per_neuron(where, "gain", spec.gain, shape, channel_axis=chan)
        vth = per_neuron(where, "threshold", spec.vth, shape, channel_axis=chan)
        if not _is_one(gain):
            folded = self._fold_gain(srcs, gain, where) if not spec.recurrent and \
                not spec.delayed_reset else False
            if not folded:
                if spec.readout:
                    raise NeurodeployError(
                        f"module '{where}': its input gain cannot be folded into a single "
                        "preceding synapse, and a Readout has no threshold to rescale")
                vth = (vth / gain).astype(np.float32)
                bias = (bias / gain).astype(np.float32)
                for rec in spec.recurrent:  # recurrent input is not scaled by the gain
                    rec.weight = (rec.weight / _gain_for(rec, gain)).astype(np.float32)
                    if rec.bias is not None:
                        rec.bias = (rec.bias / _gain_for(rec, gain, bias=True)).astype(np.float32)
        if spec.readout:
            node: Node = Readout(name, shape=shape, du=du, dv=dv, bias=bias)
        else:
            reset = spec.reset
            if spec.delayed_reset:
                if reset != "subtract":
                    raise NeurodeployError(f"module '{where}': delayed reset '{reset}' not mapped")
                if _is_one(1 - dv):
                    pass  # no leak: v − θ·s[t−1] before or after the (unit) decay is the same
                else:
                    reset = "none"
            if spec.ge and reset != "subtract":
                vth = np.nextafter(vth.astype(np.float32), np.float32(-np.inf)).astype(np.float32)
            node = CubaLIF(name, shape=shape, du=du, dv=dv, vth=vth, bias=bias, reset=reset,
                           refractory=int(spec.refractory))
        out = self.add(node, *srcs, where=where)
        if spec.delayed_reset and node.reset == "none":
            spec.recurrent.append(_self_reset(f"{out.node}.reset", -vth, shape, where))
            keep = (1 - du).astype(np.float32)
            if np.any(keep != 0):
                # the reset enters through u, which keeps (1 − du) of it the next step: add
                # +(1 − du)·θ·s[t−2] (two one-step delays) so that u carries exactly −θ·s[t−1]
                d1 = _self_reset(f"{out.node}.reset_delay", np.ones_like(vth), shape, where)
                d2 = _self_reset(f"{out.node}.reset_comp", keep * vth, shape, where)
                for n in (d1, d2):
                    n.name = self.fresh(n.name)
                    self.graph.add(n)
                    self.shapes[n.name] = shape
                self.graph.connect(out.node, d1.name, delay=1)
                self.graph.connect(d1.name, d2.name, delay=1)
                self.graph.connect(d2.name, out.node)
        for rec in spec.recurrent:
            rec.name = self.fresh(rec.name if rec.name else f"{out.node}.rec")
            self.graph.add(rec)
            self.graph.connect(out.node, rec.name, delay=1)
            self.graph.connect(rec.name, out.node)
            self.shapes[rec.name] = shape
        return Value(out.node, shape, spec.spike_scale)

    def _fold_gain(self, srcs: list[Value], gain: np.ndarray, where: str) -> bool:
        """Multiply the only incoming synapse's weights by ``gain`` (per output neuron) when the
        neuron has one input, a Dense/Conv2d feeding nothing else. Returns whether it did."""
        if len(srcs) != 1:
            return False
        syn = self.graph.nodes[srcs[0].node]
        if not isinstance(syn, (Dense, Conv2d)) or syn.name not in self.exclusive \
                or self.graph.out_edges(syn.name):
            return False
        if gain.ndim == 0:
            g_w, g_b = gain, gain
        elif isinstance(syn, Dense):
            g_w, g_b = gain.reshape(-1, 1), gain.reshape(-1)
        else:
            per_c = gain.reshape(gain.shape[0], -1)
            if not np.all(per_c == per_c[:, :1]):
                return False
            g_w, g_b = per_c[:, 0].reshape(-1, 1, 1, 1), per_c[:, 0]
        syn.weight = (syn.weight * g_w).astype(np.float32)
        if syn.bias is not None:
            syn.bias = (syn.bias * g_b).astype(np.float32)
        return True


def _gain_for(rec: Node, gain: np.ndarray, bias: bool = False) -> np.ndarray:
    if gain.ndim == 0:
        return gain
    if isinstance(rec, Dense):
        return gain.reshape(-1) if bias else gain.reshape(-1, 1)
    c = gain.reshape(gain.shape[0], -1)[:, 0]
    return c if bias else c.reshape(-1, 1, 1, 1)


def _self_reset(name: str, vth: np.ndarray, shape: Shape, where: str) -> Node:
    """A one-to-one synapse with weights ``vth`` (``−θ`` for a delayed subtractive reset): a
    diagonal Dense on ``(n,)`` neurons, a 1×1 Conv2d ``w[c, c] = vth[c]`` on ``(C, H, W)``."""
    if len(shape) == 1:
        diag = np.broadcast_to(vth, shape) if vth.ndim else np.full(shape, float(vth), np.float32)
        return Dense(name, weight=np.diag(diag).astype(np.float32))
    if len(shape) == 3:  # a 1×1 Conv2d, channel c → c with weight vth[c] (one per channel)
        c = shape[0]
        if vth.ndim == 0:
            th = np.full((c,), float(vth), np.float32)
        else:
            per_c = vth.reshape(c, -1)
            if not np.all(per_c == per_c[:, :1]):
                raise NeurodeployError(f"module '{where}': a delayed subtractive reset on a "
                                       "(C, H, W) layer needs one threshold (and one decay) per "
                                       "channel")
            th = per_c[:, 0]
        w = np.zeros((c, c, 1, 1), np.float32)
        w[np.arange(c), np.arange(c), 0, 0] = th
        return Conv2d(name, weight=w)
    raise NeurodeployError(f"module '{where}': delayed subtractive reset on neurons of shape "
                           f"{shape} is not supported (1-D or (C, H, W) only)")
