"""The sigma-delta kind (IR node :class:`neurodeploy.ir.SigmaDelta`, kind ``sigma_delta``):
Loihi 2's sigma-delta neurons with graded spikes, Lava's ``lava.proc.sdn`` (``SigmaDelta``,
``Delta``, ``Sigma`` — the node's ``mode``).

Float step: the IR's equations (:class:`neurodeploy.ir.SigmaDelta`), as Lava's float models
compute them (``PySigmaDeltaModelFloat``, ``PyDeltaModelFloat``, ``PySigmaModelFloat``).

Fixed point (lava/proc/sdn/models.py, ``*ModelFixed``), with ``E = spike_exp + state_exp``::

    sigma_delta: sigma += a_in;  act = f(sigma + (bias << E))
    delta:       act = a_in << E                       (no sigma, no activation, no bias)
    both:        delta = act − act_prev + residue
                 s = delta where |delta| >= (vth << E), else 0;  residue = delta − s
                 y = s >> state_exp                     (a graded spike, arithmetic shift)
    sigma:       sigma += a_in;  y = sigma

Lava holds this state in int32 (its ``precision=24`` is not enforced): every sum wraps at 32
bits as numpy's int32 does; the step reports a saturation where a state or a graded spike
leaves Loihi's 24 bits (there the chip and Lava's Python model part).

Records: ``u`` = sigma, ``v`` = act (0 in mode ``sigma``), ``s`` = what the node sends (the
graded spike; mode ``sigma``: sigma). Graded spikes are not 0/1 (``binary = False``): the
synapses they feed multiply-accumulate, and Lava's synapses take them with graded messages.

Quantization (the quantizer's layer scale λ: state units per float unit): ``spike_exp =
state_exp = 0``, ``vth`` and ``bias`` times λ, a graded spike worth ``1/λ`` — the synapses a
sigma-delta layer feeds take that unit like any input. Netx files bring their own exponents
(``spike_exp = state_exp = 6``). NIR has no sigma-delta
primitive (export refused naming the node). netx: ``SDNN`` neurons with netx's exponents
(``spike_exp = state_exp = 6``), ReLU, ``sigma_output`` for mode ``sigma``; mode ``delta`` is
netx's SDNN input block.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.checks import sigma_delta_q_refusal
from neurodeploy.ir.nodes import SigmaDelta, SigmaDeltaQ
from neurodeploy.kinds.base import LavaNeuron, NeuronKind, SpikeFn

Tensor = torch.Tensor
#: the quantizer keeps sigma, twice the activation (a delta), the threshold and the bias below
#: this fraction of the 24-bit state
STATE_HEADROOM = 0.9


class SDState(NamedTuple):
    """State of one sigma-delta neuron array ``[B, *shape]``: the sigma ``sigma``, the last
    activation ``act`` and the ``residue`` not yet sent."""

    sigma: Tensor
    act: Tensor
    residue: Tensor


def _wrap32(x: Tensor) -> Tensor:
    """numpy's int32 arithmetic on int64 tensors: ``x`` wrapped to 32-bit two's complement."""
    half = 1 << (lf.SD_WORD_BITS - 1)
    return torch.remainder(x + half, 2 * half) - half


def _encode(act: Tensor, state: SDState, vth: Any) -> tuple[Tensor, Tensor]:
    """The delta encoder: ``(s, residue)`` for the new activation ``act``."""
    delta = act - state.act + state.residue
    s = torch.where(delta.abs() >= vth, delta, torch.zeros_like(delta))
    return s, delta - s


def float_step(state: SDState, i_in: Tensor, mode: str, relu: bool, vth: Any,
               bias: Any) -> tuple[SDState, Tensor]:
    """One float step → ``(state, y)`` (module docstring); parameters broadcast against
    ``[B, *shape]``."""
    if mode == "sigma":
        sigma = state.sigma + i_in
        return SDState(sigma, state.act, state.residue), sigma
    if mode == "delta":
        sigma, act = state.sigma, i_in
    else:
        sigma = state.sigma + i_in
        act = sigma + bias
        if relu:
            act = act.clamp(min=0)
    s, residue = _encode(act, state, vth)
    return SDState(sigma, act, residue), s


def fixed_step(state: SDState, a_in: Tensor, mode: str, relu: bool, vth_eff: int,
               bias_eff: Tensor, exp: int, state_exp: int) -> tuple[SDState, Tensor, Tensor]:
    """One step of Lava's fixed-point sigma-delta models on int64 tensors →
    ``(state, y, saturated)``; ``vth_eff = vth << exp``, ``bias_eff = bias << exp``,
    ``exp = spike_exp + state_exp``."""
    big = lf.V_LIMIT
    if mode == "sigma":
        pre = a_in + state.sigma
        sigma = _wrap32(pre)
        return SDState(sigma, state.act, state.residue), sigma, pre.abs() > big
    if mode == "delta":
        sigma, pre = state.sigma, a_in << exp
        act = _wrap32(pre)
    else:
        pre_sigma = a_in + state.sigma
        sigma = _wrap32(pre_sigma)
        pre = sigma + bias_eff
        act = _wrap32(pre)
        if relu:
            act = act.clamp(min=0)
        pre = torch.maximum(pre.abs(), pre_sigma.abs())
    delta_pre = act - state.act + state.residue
    delta = _wrap32(delta_pre)
    s = torch.where(delta.abs() >= vth_eff, delta, torch.zeros_like(delta))
    y = s >> state_exp
    saturated = (pre.abs() > big) | (delta_pre.abs() > big) | (y.abs() > big)
    return SDState(sigma, act, delta - s), y, saturated


class FloatParams(NamedTuple):
    mode: str
    relu: bool
    vth: Tensor
    bias: Tensor


class FixedParams(NamedTuple):
    mode: str
    relu: bool
    vth_eff: int
    bias_eff: Tensor
    exp: int
    state_exp: int


def _uniform_vth(node: SigmaDelta) -> str | None:
    v = np.asarray(node.vth, np.float32)
    if v.size and np.any(v != v.reshape(-1)[0]):
        return "per-neuron vth differs between neurons; Lava's sigma-delta takes one per layer"
    return None


def _layer_vth(node: SigmaDelta) -> float:
    return float(np.asarray(node.vth, np.float32).reshape(-1)[0])


class SigmaDeltaKind(NeuronKind):
    """Sigma-delta (module docstring)."""

    name = "sigma_delta"
    node_type = SigmaDelta
    fires = True
    binary = False
    variables = ("u", "v", "s")
    output_var = "s"
    onnx_op = "SigmaDelta"

    def initial_state(self, node: SigmaDelta, batch_shape: tuple[int, ...], fixed: bool,
                      device: torch.device | str) -> SDState:
        z = torch.zeros(batch_shape, dtype=torch.int64 if fixed else torch.float32,
                        device=device)
        return SDState(z, z.clone(), z.clone())

    def float_params(self, node: SigmaDelta, device: torch.device | str) -> FloatParams:
        def t(x: Any) -> Tensor:
            return torch.as_tensor(np.asarray(x, np.float32), device=device)

        return FloatParams(node.mode, node.activation == "relu", t(node.vth), t(node.bias))

    def float_step(self, state: SDState, i_in: Tensor, params: FloatParams,
                   spike_fn: SpikeFn | None = None) -> tuple[SDState, Tensor]:
        return float_step(state, i_in, params.mode, params.relu, params.vth, params.bias)

    def fixed_params(self, node: SigmaDelta, device: torch.device | str) -> FixedParams:
        q = node.quant
        exp = int(q.spike_exp) + int(q.state_exp)
        bias = torch.as_tensor(np.asarray(q.bias, np.int64), device=device) << exp
        return FixedParams(node.mode, node.activation == "relu", int(q.vth) << exp, bias, exp,
                           int(q.state_exp))

    def fixed_step(self, state: SDState, a_in: Tensor,
                   params: FixedParams) -> tuple[SDState, Tensor, Tensor]:
        return fixed_step(state, a_in, *params)

    def record(self, state: SDState, y: Tensor) -> dict[str, Tensor]:
        return {"u": state.sigma, "v": state.act, "s": y}

    def output(self, node: SigmaDelta, y: Tensor, fixed: bool) -> Tensor:
        """Graded spikes (mode ``sigma``: the sigma) as float: integers times ``quant.scale``
        in fixed mode."""
        y = y.to(torch.float32)
        return y * float(node.quant.scale) if fixed else y

    def decoding(self, node: SigmaDelta) -> str:
        """A sigma output is read at the last step; graded spikes add up to the activation."""
        return "last" if node.mode == "sigma" else "sum"

    # ------------------------------------------------------------ fixed point, quantization

    def fixed_refusal(self, node: SigmaDelta) -> str | None:
        return _uniform_vth(node) if node.quant is None else None

    def scale_limits(self, node: SigmaDelta, max_u: float, max_v: float,
                     bias: np.ndarray) -> list[float]:
        """The state (``u`` = sigma, ``v`` = act; a delta reaches twice the activation) within
        :data:`STATE_HEADROOM` of the 24-bit state; threshold and bias within it too."""
        top = STATE_HEADROOM * lf.V_LIMIT
        limits = [top / max(max_u, 1e-12), top / max(2 * max_v, 1e-12)]
        for value in (float(np.abs(node.vth).max(initial=0)),
                      float(np.abs(bias).max(initial=0))):
            if value > 0:
                limits.append(top / value)
        return limits

    def quantize(self, node: SigmaDelta, scale: float,
                 bias: np.ndarray) -> tuple[SigmaDeltaQ, list[str]]:
        """At scale λ (state units per float unit), with ``spike_exp = state_exp = 0`` (no
        bits are shifted away: a graded spike is the state's delta, a 24-bit message):
        ``vth = round(λ·vth)``, ``bias = round(λ·bias)``, one output unit = ``1/λ``."""
        vth = _layer_vth(node)
        vth_q = int(round(scale * vth))
        bias_q = np.round(scale * np.asarray(bias, np.float64)).astype(np.int64)
        why = sigma_delta_q_refusal(vth_q, bias_q, 0, 0)
        if why:
            raise NeurodeployError(f"node '{node.name}' (sigma_delta): at scale {scale:g}, {why}")
        notes = []
        if vth > 0 and vth_q == 0:
            notes.append(f"threshold {vth:g} rounds to 0 at scale {scale:g}: every change is sent")
        q = SigmaDeltaQ(vth=vth_q, bias=bias_q.astype(np.int32), spike_exp=0, state_exp=0,
                        scale=1.0 / scale)
        return q, notes

    # ------------------------------------------------------------ Lava

    def float_refusal(self, node: SigmaDelta) -> str | None:
        return _uniform_vth(node)

    def lava_process(self, node: SigmaDelta, shape: tuple[int, ...], fixed: bool,
                     gate_bias: bool, reset: tuple[int, int] | None = None
                     ) -> LavaNeuron | None:
        """``Sigma`` / ``Delta`` / ``SigmaDelta`` (mode); fixed: the integer ``vth``, ``bias``
        and exponents (the process scales ``vth`` and ``bias`` by ``2**(spike_exp +
        state_exp)``); float: the float ``vth``, ``bias``, exponents 0. A gated bias starts at
        0 and is set to its scaled value (the ``bias`` Var holds ``bias << E``)."""
        if reset is not None:  # Lava's sdn processes have no self-reset
            return None
        from lava.proc.sdn.process import ActivationMode, Delta, Sigma
        from lava.proc.sdn.process import SigmaDelta as LavaSigmaDelta

        if node.mode == "sigma":
            proc = Sigma(shape=shape)  # Sigma and Delta take no name
            return LavaNeuron(proc, proc.a_in, proc.s_out, {"u": proc.sigma}, [proc.sigma])
        if fixed:
            q = node.quant
            vth: Any = int(q.vth)
            exps = dict(spike_exp=int(q.spike_exp), state_exp=int(q.state_exp))
            bias = np.broadcast_to(np.asarray(q.bias, np.int64), shape).copy()
            scaled = bias << (int(q.spike_exp) + int(q.state_exp))
        else:
            vth, exps = _layer_vth(node), dict(spike_exp=0, state_exp=0)
            bias = scaled = np.broadcast_to(np.asarray(node.bias, np.float64), shape).copy()
        if node.mode == "delta":
            proc = Delta(shape=shape, vth=vth, **exps)
            resets = [proc.act, proc.residue, proc.error]
            return LavaNeuron(proc, proc.a_in, proc.s_out, {"u": proc.sigma, "v": proc.act},
                              resets)
        gated = gate_bias and bool(np.any(bias != 0))
        act = ActivationMode.RELU if node.activation == "relu" else ActivationMode.UNIT
        proc = LavaSigmaDelta(shape=shape, vth=vth, bias=np.zeros_like(bias) if gated else bias,
                              act_mode=act, name=node.name, **exps)
        resets = [proc.sigma, proc.act, proc.residue, proc.error]
        if gated:
            resets.append(proc.bias)
        return LavaNeuron(proc, proc.a_in, proc.s_out, {"u": proc.sigma, "v": proc.act},
                          resets, (proc.bias, scaled) if gated else None)

    # ------------------------------------------------------------ converters

    def to_nir(self, node: SigmaDelta, dt: float, metadata: dict[str, Any]) -> Any:
        raise NeurodeployError(f"node '{node.name}' (sigma_delta): NIR has no sigma-delta "
                               "primitive")

    def nir_types(self) -> tuple[type, ...]:
        return ()

    def from_nir(self, nir_node: Any, dt: float, where: str) -> dict[str, Any]:
        raise NeurodeployError(f"NIR node '{where}': NIR has no sigma-delta primitive")

    def onnx_state(self, node: SigmaDelta) -> tuple[str, ...]:
        return ("sigma", "act", "residue")

    def onnx_attributes(self, node: SigmaDelta) -> dict[str, Any]:
        return {"mode": node.mode, "activation": node.activation, "vth": node.vth,
                "bias": node.bias}

    def netx_neuron(self, node: SigmaDelta) -> dict[str, Any]:
        """netx's ``SDNN`` neuron; netx fixes ``spike_exp = state_exp = 6`` and ReLU."""
        q = node.quant
        if (int(q.spike_exp), int(q.state_exp)) != (lf.NETX_SPIKE_EXP, lf.NETX_STATE_EXP):
            raise NeurodeployError(
                f"node '{node.name}' (sigma_delta): spike_exp {q.spike_exp}, state_exp "
                f"{q.state_exp}; netx runs every SDNN layer with spike_exp "
                f"{lf.NETX_SPIKE_EXP} and state_exp {lf.NETX_STATE_EXP}")
        if node.mode == "sigma_delta" and node.activation != "relu":
            raise NeurodeployError(f"node '{node.name}' (sigma_delta): netx's SDNN neurons are "
                                   f"ReLU; activation '{node.activation}' has no netx form")
        out: dict[str, Any] = {"type": "SDNN", "activation": "relu", "vThMant": int(q.vth)}
        if node.mode == "sigma":
            out["sigma_output"] = True
        return out
