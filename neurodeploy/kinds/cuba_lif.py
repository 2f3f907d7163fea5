"""The CUBA LIF kind (IR node :class:`neurodeploy.ir.CubaLIF`, kind ``cuba_lif``): Loihi's
current-based leaky integrate-and-fire neuron, Lava's ``lava.proc.lif`` LIF.

Float step (the IR's equations; :mod:`neurodeploy.kinds.cuba` for ``u`` and ``v``)::

    s[t] = v[t] > vth
    reset where s[t]: zero → v = 0 | subtract → v −= vth | none → v unchanged

With ``refractory = r > 0`` a neuron that spiked holds ``v = 0`` and cannot spike for the next
``r`` steps (u keeps integrating; the state's ``ref`` counts the blocked steps left). Training
passes a surrogate ``spike_fn``: the spike it returns is ``spike_fn(v − vth, v)`` while the reset
acts on the binary spike.

Fixed point (``PyLifModelBitAcc``): ``s = v > (vth << 6)``, then ``v = 0`` where ``s`` (u is not
reset); reset ``zero`` only. A refractory period gates it as in float: ``u`` and ``v`` by Lava's
arithmetic, then ``v`` held at 0 and no spike while blocked (Loihi 1's ``refractDelay``; Lava's
``LIFRefractory`` run by :mod:`neurodeploy.lava.refractory`). Lava: ``LIF`` (fixed and float),
``LIFRefractory`` (``refractory > 0``). NIR: ``LIF`` (du = 1, dv > 0), ``IF`` (du = 1, dv = 0,
no bias) or ``CubaLIF``. netx: ``CUBA`` with ``vThMant = vth`` (no refractory period: lava-dl's
netx ignores ``refDelay``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.nodes import RESET_MODES, CubaLIF, NeuronQ
from neurodeploy.kinds import cuba
from neurodeploy.kinds.base import InplaceNeuron, LavaNeuron, NeuronKind, SpikeFn
from neurodeploy.kinds.cuba import CubaInplace, CubaState

Tensor = torch.Tensor


def float_step(state: CubaState, i_in: Tensor, du: Any, dv: Any, vth: Any, bias: Any,
               reset: str = "zero", refractory: int = 0,
               spike_fn: SpikeFn | None = None) -> tuple[CubaState, Tensor]:
    """One float CUBA LIF step → ``(state, s)``; ``s`` 0/1 in ``i_in``'s dtype, or
    ``spike_fn(v − vth, v)`` when given. Parameters broadcast against ``[B, *shape]``. Raises
    NeurodeployError for an unknown ``reset``."""
    u, v = cuba.subthreshold_float(state, i_in, du, dv, bias)
    ref = state.ref
    if ref is not None:
        blocked = ref > 0
        v = torch.where(blocked, torch.zeros_like(v), v)
    fired = v > vth
    if ref is not None:
        fired = fired & ~blocked
    if spike_fn is None:
        s = fired.to(i_in.dtype)
    else:
        s = spike_fn(v - vth, v)
        if ref is not None:
            s = s.masked_fill(blocked, 0.0)
    if reset == "zero":
        v = torch.where(fired, torch.zeros_like(v), v)
    elif reset == "subtract":
        v = v - fired.to(v.dtype) * vth
    elif reset != "none":
        raise NeurodeployError(f"unknown reset '{reset}' (choose from {', '.join(RESET_MODES)})")
    if ref is not None:
        ref = torch.where(fired, torch.full_like(ref, refractory), (ref - 1).clamp_(min=0))
    return CubaState(u, v, ref), s


def fixed_step(state: CubaState, a_in: Tensor, du: int, dv: int, vth: int,
               bias_eff: Tensor, refractory: int = 0) -> tuple[CubaState, Tensor, Tensor]:
    """One step of Lava's ``PyLifModelBitAcc`` on int64 tensors → ``(state, s, saturated)``;
    with a refractory counter in ``state.ref`` (``refractory > 0``), the gating of
    :func:`float_step`: ``v`` held at 0 and no spike while ``ref > 0``, ``ref = refractory``
    where it spikes (Lava: ``neurodeploy.lava.refractory.PyLifRefractoryModelBitAcc``)."""
    ref = state.ref
    blocked = ref > 0 if ref is not None else None
    u, v, saturated = cuba.subthreshold_fixed(state, a_in, du, dv, bias_eff, blocked)
    s = v > (vth << lf.VTH_SHIFT)
    if blocked is not None:
        s = s & ~blocked
    v = torch.where(s, torch.zeros_like(v), v)
    if ref is not None:
        ref = torch.where(s, torch.full_like(ref, refractory), (ref - 1).clamp_(min=0))
    return CubaState(u, v, ref), s.to(torch.int64), saturated


class FloatParams(NamedTuple):
    du: Tensor
    dv: Tensor
    vth: Tensor
    bias: Tensor
    reset: str
    refractory: int


class FixedParams(NamedTuple):
    du: int
    dv: int
    vth: int
    bias_eff: Tensor
    refractory: int = 0


class CubaLIFKind(NeuronKind):
    """CUBA LIF (module docstring)."""

    name = "cuba_lif"
    node_type = CubaLIF
    fires = True
    binary = True
    variables = ("u", "v", "s")
    output_var = "s"
    onnx_op = "CubaLIF"

    def initial_state(self, node: CubaLIF, batch_shape: tuple[int, ...], fixed: bool,
                      device: torch.device | str) -> CubaState:
        return cuba.zero_state(batch_shape, cuba.state_dtype(fixed), device, node.refractory)

    def float_params(self, node: CubaLIF, device: torch.device | str) -> FloatParams:
        return FloatParams(cuba.param(node.du, device), cuba.param(node.dv, device),
                           cuba.param(node.vth, device), cuba.param(node.bias, device),
                           node.reset, node.refractory)

    def float_step(self, state: CubaState, i_in: Tensor, params: FloatParams,
                   spike_fn: SpikeFn | None = None) -> tuple[CubaState, Tensor]:
        p = params
        return float_step(state, i_in, p.du, p.dv, p.vth, p.bias, p.reset, p.refractory,
                          spike_fn)

    def fixed_params(self, node: CubaLIF, device: torch.device | str) -> FixedParams:
        q = node.quant
        return FixedParams(int(q.du), int(q.dv), int(q.vth), cuba.bias_eff(node, device),
                           int(node.refractory))

    def fixed_step(self, state: CubaState, a_in: Tensor,
                   params: FixedParams) -> tuple[CubaState, Tensor, Tensor]:
        return fixed_step(state, a_in, *params)

    def inplace(self, node: CubaLIF, batch_shape: tuple[int, ...], fixed: bool,
                device: torch.device | str, a_bound: float) -> InplaceNeuron | None:
        if fixed:
            q = node.quant
            return CubaInplace(batch_shape, True, device, lf.current_keep(int(q.du)),
                               lf.voltage_keep(int(q.dv)), cuba.bias_eff(node, device),
                               int(q.vth) << lf.VTH_SHIFT, "zero", a_bound, node.refractory)
        p = self.float_params(node, device)
        return CubaInplace(batch_shape, False, device, 1 - p.du, 1 - p.dv, p.bias, p.vth,
                           p.reset, refractory=node.refractory)

    def record(self, state: CubaState, y: Tensor) -> dict[str, Tensor]:
        return {"s": y, "u": state.u, "v": state.v}

    # ------------------------------------------------------------ fixed point, quantization

    def fixed_refusal(self, node: CubaLIF) -> str | None:
        if node.reset != "zero":
            return f"reset '{node.reset}' has no fixed-point form (Lava's LIF resets v to 0)"
        if node.quant is None:
            return cuba.nonuniform(node, ("du", "dv", "vth"))
        return None

    def scale_limits(self, node: CubaLIF, max_u: float, max_v: float,
                     bias: np.ndarray) -> list[float]:
        vth = cuba.layer_value(node, "vth")
        # the threshold at V_TARGET, and v must not clip (a negative v included) unless that
        # costs resolution
        return [cuba.V_TARGET / vth, lf.VTH_MAX / vth,
                max(cuba.U_HEADROOM / max(max_v, 1e-12), cuba.V_MIN_TARGET / vth),
                *cuba.scale_limits(max_u, max_v, bias)]

    def quantize(self, node: CubaLIF, scale: float,
                 bias: np.ndarray) -> tuple[NeuronQ, list[str]]:
        vth = cuba.layer_value(node, "vth")
        vth_q = int(round(scale * vth))
        if vth_q < 1 or vth_q > lf.VTH_MAX:
            raise NeurodeployError(f"node '{node.name}' (cuba_lif): threshold {vth:g} becomes "
                                   f"{vth_q} at scale {scale:g}, outside Loihi's "
                                   f"[1, {lf.VTH_MAX}]")
        fields, notes = cuba.quantized(node, scale, bias, vth_q)
        return NeuronQ(**fields), notes

    # ------------------------------------------------------------ Lava

    def float_refusal(self, node: CubaLIF) -> str | None:
        if node.reset != "zero":
            return f"Lava's float LIF resets v to 0; reset '{node.reset}' has no Lava model"
        return cuba.nonuniform(node, ("du", "dv", "vth"))

    def lava_process(self, node: CubaLIF, shape: tuple[int, ...], fixed: bool,
                     gate_bias: bool, reset: tuple[int, int] | None = None
                     ) -> LavaNeuron | None:
        vth = int(node.quant.vth) if fixed else cuba.layer_value(node, "vth")
        return cuba.lava_lif(node, shape, fixed, gate_bias, vth, int(node.refractory), reset)

    # ------------------------------------------------------------ converters

    def to_nir(self, node: CubaLIF, dt: float, metadata: dict[str, Any]) -> Any:
        import nir

        c = cuba.nir_constants(node, dt)
        du, dv = c["du"], c["dv"]
        vth = np.broadcast_to(np.asarray(node.vth, np.float64), tuple(node.shape)).astype(
            np.float32)
        if np.all(du == 1) and np.all(dv > 0):
            return nir.LIF(tau=c["tau_mem"], r=c["r"], v_leak=c["v_leak"], v_threshold=vth,
                           v_reset=np.zeros_like(vth), metadata=metadata)
        if np.all(du == 1) and np.all(dv == 0) and np.all(node.bias == 0):
            # IF is stepped per time step by every producer (converters/nir.py): r = 1, no dt
            return nir.IF(r=np.ones(tuple(node.shape), np.float32), v_threshold=vth,
                          v_reset=np.zeros_like(vth), metadata=metadata)
        return nir.CubaLIF(tau_syn=c["tau_syn"], tau_mem=c["tau_mem"], r=c["r"],
                           v_leak=c["v_leak"], v_threshold=vth, v_reset=np.zeros_like(vth),
                           w_in=c["w_in"], metadata=metadata)

    def nir_types(self) -> tuple[type, ...]:
        import nir

        return (nir.LIF, nir.CubaLIF, nir.IF)

    def from_nir(self, nir_node: Any, dt: float, where: str) -> dict[str, Any]:
        v_reset = getattr(nir_node, "v_reset", None)
        if v_reset is not None and np.any(cuba.f32(v_reset) != 0):
            raise NeurodeployError(f"NIR node '{where}': v_reset ≠ 0 is not supported")
        return {**cuba.from_nir(nir_node, dt, where), "vth": cuba.f32(nir_node.v_threshold),
                "reset": "zero"}

    def onnx_state(self, node: CubaLIF) -> tuple[str, ...]:
        return ("u", "v", "ref") if node.refractory > 0 else ("u", "v")

    def onnx_attributes(self, node: CubaLIF) -> dict[str, Any]:
        return {"du": node.du, "dv": node.dv, "bias": node.bias, "vth": node.vth,
                "reset": node.reset, "refractory": int(node.refractory)}

    def netx_neuron(self, node: CubaLIF) -> dict[str, Any]:
        if node.refractory > 0:
            raise NeurodeployError(f"node '{node.name}' (cuba_lif): refractory period "
                                   f"{node.refractory} has no netx form (lava-dl's netx ignores "
                                   "refDelay)")
        return cuba.netx_neuron(node, int(node.quant.vth))
