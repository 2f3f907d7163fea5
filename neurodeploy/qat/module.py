"""A quantized IR graph as a differentiable torch module whose forward pass is the fixed-point
simulator's, bit for bit.

Trainable: each Dense/Conv2d's integer weight mantissas (a float64 latent per weight, rounded
onto the synapse's Lava grid every forward pass; it starts where the float weight lies inside
the integer's rounding cell, :func:`_latent`) and each neuron layer's integer bias mantissas
(a latent per neuron, rounded; the bias is ``bias_mant << bias_exp``). Fixed: the weight and bias
exponents, decays, thresholds, the input's quantization and the graph's structure — what
post-training quantization chose.

Forward (``x [T, B, *input_shape]``, float input as :func:`neurodeploy.sim.simulate` takes it):
every tensor holds exact integers in float64 (sums stay below 2**53), so each synapse computes
what the simulator's fixed mode computes; each neuron runs its kind's own ``fixed_step`` (the
value) and its kind's own ``float_step`` in integer units — ``I = a_in·2**6``, the 12-bit decays
as fractions, the threshold ``vth << 6``, a surrogate spike (``neurodeploy.nn``) scaled by the
threshold — for the gradient (straight-through: :mod:`neurodeploy.qat.ste`). Rounding of
weights, biases, the decays' ``>> 12``, a negative weight exponent's floor and the 24-bit wrap and
clip pass their gradient straight through. The outputs and their decoding are the simulator's
(:func:`neurodeploy.sim.decode`), so the module's predictions are those of
``simulate(module.to_graph(), x, mode="fixed")``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy import kinds
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Add, Conv2d, Dense, Flatten, Graph, Input, SumPool2d, validate
from neurodeploy.kinds.cuba import CubaState
from neurodeploy.nn.functional import SpikeConfig, spike
from neurodeploy.qat.ste import floor_shift, round_grid, straight
from neurodeploy.sim import decode
from neurodeploy.sim import ops as sim_ops

Tensor = torch.Tensor
#: neuron kinds the module trains through (their integer state is a CubaState of u and v)
KINDS = ("cuba_lif", "readout")
DTYPE = torch.float64


def weight_grid(w_int: np.ndarray, num_weight_bits: int) -> tuple[int, int, int]:
    """``(step, lo, hi)`` of the integer weights Lava keeps unchanged for a synapse whose weights
    have the sign mode of ``w_int`` (``lava_effective_weights`` is the identity on this grid)."""
    mode = lf.sign_mode(np.asarray(w_int))
    _, lo, hi = lf.mantissa_grid(mode)
    step = 2 ** (lf.WEIGHT_BITS - num_weight_bits + int(mode == "mixed"))
    if mode == "mixed":  # -256 would be clipped to -255 should the layer turn all-negative
        lo = -(2**lf.WEIGHT_BITS) + step
    return step, -((-lo) // step) * step, (hi // step) * step


def _refusal(g: Graph) -> str | None:
    """Why the module cannot train ``g`` (None: it can)."""
    if len(g.inputs) != 1:
        return f"graph: QAT takes one input, this graph has {len(g.inputs)}"
    for node in g:
        kind = kinds.kind_of(node)
        if kind is not None and kind.name not in KINDS:
            return (f"node '{node.name}' ({node.kind}): QAT trains {', '.join(KINDS)} neurons "
                    "only")
        if isinstance(node, Dense) and node.max_delay > 0:
            return f"node '{node.name}' (dense): QAT does not train synaptic delays"
        if kind is None and not isinstance(node, (Input, Dense, Conv2d, SumPool2d, Flatten,
                                                  Add)):
            return f"node '{node.name}' ({node.kind}): no fixed-point form for QAT"
    return None


class FixedPointModule(torch.nn.Module):
    """The quantized graph ``qgraph`` as a trainable module (module docstring). Raises
    NeurodeployError naming the node it cannot train."""

    def __init__(self, qgraph: Graph, spike_cfg: SpikeConfig | None = None) -> None:
        super().__init__()
        validate(qgraph)
        check_fixed(qgraph)
        why = _refusal(qgraph)
        if why:
            raise NeurodeployError(why)
        self.graph = qgraph
        self.order = qgraph.topological_order()
        self.spike_cfg = spike_cfg or SpikeConfig()
        self.weights = torch.nn.ParameterDict()
        self.biases = torch.nn.ParameterDict()
        self.grids: dict[str, tuple[int, int, int]] = {}
        self.bias_learned: dict[str, bool] = {}
        for name in self.order:
            node = qgraph.nodes[name]
            if isinstance(node, (Dense, Conv2d)):
                q = node.quant
                self.grids[name] = weight_grid(q.weight, int(q.num_weight_bits))
                self.weights[_key(name)] = torch.nn.Parameter(torch.as_tensor(
                    _latent(node.weight, q.weight, self.grids[name][0]), dtype=DTYPE))
            elif kinds.is_neuron(node):
                q = node.quant
                mant = np.broadcast_to(np.asarray(q.bias_mant, np.int64), tuple(node.shape))
                # a negative exponent floors the mantissa (Lava's scale_bias): kept as it is
                self.bias_learned[name] = int(q.bias_exp) >= 0
                self.biases[_key(name)] = torch.nn.Parameter(
                    torch.as_tensor(mant.copy(), dtype=DTYPE),
                    requires_grad=self.bias_learned[name])
        self.input_q, _ = sim_ops.input_quantizer(qgraph.nodes[qgraph.inputs[0]])

    # ------------------------------------------------------------ integer parameters

    def weight_int(self, name: str) -> Tensor:
        """Synapse ``name``'s integer weights (float64 holding integers; gradient straight
        through the rounding)."""
        step, lo, hi = self.grids[name]
        return round_grid(self.weights[_key(name)], step, lo, hi)

    def bias_mant(self, name: str) -> Tensor:
        """Neuron layer ``name``'s integer bias mantissas (the node's shape)."""
        lo, hi = lf.BIAS_MANT_RANGE
        return round_grid(self.biases[_key(name)], 1, lo, hi)

    def bias_int(self, name: str) -> Tensor:
        """Neuron layer ``name``'s effective integer bias ``bias_mant << bias_exp``."""
        e = int(self.graph.nodes[name].quant.bias_exp)
        if e < 0:
            return lf.shift(self.bias_mant(name).detach().to(torch.int64), e).to(DTYPE)
        return self.bias_mant(name) * 2.0**e

    def clamp_(self) -> None:
        """Keep every latent within one grid step of its range (call after an optimizer
        step), so that a latent far outside cannot stall its weight."""
        with torch.no_grad():
            for name, (step, lo, hi) in self.grids.items():
                self.weights[_key(name)].clamp_(lo - step, hi + step)
            lo, hi = lf.BIAS_MANT_RANGE
            for b in self.biases.values():
                b.clamp_(lo - 1, hi + 1)

    # ------------------------------------------------------------ forward

    def _neuron_params(self, name: str, dev: torch.device) -> tuple[Any, Any, Any, float]:
        """``(kind, fixed params, integer-unit float params, threshold in v units)``."""
        node = self.graph.nodes[name]
        kind = kinds.neuron_kind(node)
        q = node.quant
        bias = self.bias_int(name)
        fixed = kind.fixed_params(node, dev)._replace(
            bias_eff=bias.detach().round().to(torch.int64))
        vth = float(int(getattr(q, "vth", 0)) << lf.VTH_SHIFT)
        unit = dict(du=1.0 - lf.current_keep(int(q.du)) / lf.DECAY_UNITY,
                    dv=1.0 - lf.voltage_keep(int(q.dv)) / lf.DECAY_UNITY, vth=vth)
        fp = kind.float_params(node, dev)
        grad = fp._replace(bias=bias, **{k: torch.tensor(v, dtype=DTYPE, device=dev)
                                         for k, v in unit.items() if k in fp._fields})
        return kind, fixed, grad, max(vth, 1.0)

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``x [T, B, *input_shape]`` → ``(decoded [B, n], outputs)``: the first output decoded
        as the simulator decodes it, and every graph output ``[T, B, *shape]`` as
        :class:`neurodeploy.sim.SimResult` reports it in fixed mode."""
        g = self.graph
        dev = x.device
        all_shapes = validate(g)
        T, B = int(x.shape[0]), int(x.shape[1])
        xi = self.input_q(x.to(torch.float32)).to(DTYPE)
        weights = {n: self.weight_int(n) for n in self.grids}
        neurons = {n: self._neuron_params(n, dev) for n in self.order
                   if kinds.is_neuron(g.nodes[n])}
        in_edges = {n: g.in_edges(n) for n in self.order}
        delayed = {e.src for e in g.edges if e.delay}
        shapes = {n: tuple(g.nodes[n].shape) for n in neurons}
        states = {n: CubaState(torch.zeros((B, *s), dtype=DTYPE, device=dev),
                               torch.zeros((B, *s), dtype=DTYPE, device=dev),
                               kinds.neuron_kind(g.nodes[n]).initial_state(
                                   g.nodes[n], (B, *s), True, dev).ref)
                  for n, s in shapes.items()}
        prev = {n: torch.zeros((B, *all_shapes[n]), dtype=DTYPE, device=dev) for n in delayed}
        outs: dict[str, list[Tensor]] = {n: [] for n in g.outputs}
        for t in range(T):
            cur: dict[str, Tensor] = {}
            for name in self.order:
                node = g.nodes[name]
                ins = [prev[e.src] if e.delay else cur[e.src] for e in in_edges[name]]
                if isinstance(node, Input):
                    y = xi[t]
                elif name in neurons:
                    i_in = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
                    states[name], y = self._neuron_step(name, states[name],
                                                        i_in.reshape(B, *shapes[name]),
                                                        neurons[name])
                else:
                    y = self._synapse(node, ins, weights)
                cur[name] = y
                if name in outs:
                    kind = kinds.kind_of(node)
                    outs[name].append(kind.output(node, y, True) if kind is not None
                                      else y.to(torch.float32))
            prev = {n: cur[n] for n in delayed}
        outputs = {n: torch.stack(v) for n, v in outs.items()}
        first = g.outputs[0]
        return decode(outputs[first], g.nodes[first]), outputs

    def _neuron_step(self, name: str, state: CubaState, i_in: Tensor,
                     params: tuple[Any, Any, Any, float]) -> tuple[CubaState, Tensor]:
        """The kind's fixed step for the value, its float step in integer units for the
        gradient; a refractory counter (``state.ref``, exact integers) gates both alike and
        follows the fixed step's spikes."""
        kind, fixed, grad, vth = params
        exact = CubaState(state.u.detach().round().to(torch.int64),
                          state.v.detach().round().to(torch.int64), state.ref)
        a_in = i_in.detach().round().to(torch.int64)
        st_i, y_i, _ = kind.fixed_step(exact, a_in, fixed)
        cfg = self.spike_cfg

        def spike_fn(x: Tensor, v: Tensor) -> Tensor:
            return spike(x / vth, v, cfg, training=self.training)

        st_g, y_g = kind.float_step(CubaState(state.u, state.v, state.ref),
                                    i_in * 2.0**lf.ACT_SHIFT, grad, spike_fn)
        new = CubaState(straight(st_i.u, st_g.u), straight(st_i.v, st_g.v), st_i.ref)
        return new, straight(y_i, y_g)

    def _synapse(self, node: Any, ins: list[Tensor], weights: dict[str, Tensor]) -> Tensor:
        """A stateless node's fixed-point output (:mod:`neurodeploy.sim.ops`, fixed mode)."""
        if isinstance(node, Dense):
            return floor_shift(sim_ops.dense(ins[0], weights[node.name]),
                               int(node.quant.weight_exp))
        if isinstance(node, Conv2d):
            acc = sim_ops.conv2d(ins[0], weights[node.name], None, node.stride, node.padding,
                                 node.dilation, node.groups)
            wrapped = sim_ops.wrap_signed(acc.detach().round().to(torch.int64), lf.STATE_BITS)
            return straight(wrapped, acc)
        if isinstance(node, SumPool2d):
            return sim_ops.sum_pool2d(ins[0], node.kernel, node.stride, node.padding)
        if isinstance(node, Flatten):
            return ins[0].reshape(ins[0].shape[0], -1)
        return torch.stack(ins).sum(0)  # Add

    # ------------------------------------------------------------ back to the IR

    def to_graph(self) -> Graph:
        """A copy of the quantized graph with the module's integer weights and biases (the
        float fields are the float model's, unchanged)."""
        q = copy.deepcopy(self.graph)
        with torch.no_grad():
            for name in self.grids:
                node = q.nodes[name]
                w = self.weight_int(name).cpu().numpy().astype(np.int64)
                node.quant.weight = lf.lava_effective_weights(w, int(node.quant.num_weight_bits))
                if not np.array_equal(node.quant.weight, w):
                    raise NeurodeployError(f"node '{name}': QAT left weights off Lava's grid")
            for name, learned in self.bias_learned.items():
                if learned:
                    q.nodes[name].quant.bias_mant = self.bias_mant(name).cpu().numpy().astype(
                        np.int32)
        validate(q)
        return q


def _latent(w_float: np.ndarray | None, w_int: np.ndarray, step: int) -> np.ndarray:
    """Latent weights that round to the integers ``w_int`` and lie where the float weights
    ``w_float`` fall inside their rounding cells: ``w_float·s`` (``s``, the least-squares scale
    from float to integer weights) where that is within half a ``step`` of ``w_int``, else
    ``w_int`` itself (a weight rounded away from its nearest grid point on purpose,
    :mod:`neurodeploy.qat.rounding`, or clipped). A weight whose float value sat near a rounding
    boundary then flips with a small step of training (as in AdaRound) instead of having to
    cross half a grid step first."""
    wi = np.asarray(w_int, np.float64)
    if w_float is None or np.shape(w_float) != wi.shape:
        return wi.copy()
    wf = np.asarray(w_float, np.float64)
    den = float((wf * wf).sum())
    if den == 0 or not np.isfinite(den):
        return wi.copy()
    pos = wf * float((wf * wi).sum()) / den
    return np.where(np.abs(pos - wi) < 0.499 * step, pos, wi)


def _key(name: str) -> str:
    """A ParameterDict key for a node name (names may hold dots)."""
    return name.replace(".", "·")
