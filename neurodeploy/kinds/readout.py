"""The Readout kind (IR node :class:`neurodeploy.ir.Readout`, kind ``readout``): a non-firing
CUBA integrator whose voltage ``v`` is read every step and decoded over time (``decoding``:
mean, max, last, sum, or ``weighted`` with one weight per step).

Float and fixed point: the CUBA sub-threshold dynamics of :mod:`neurodeploy.kinds.cuba`, no
threshold, no reset; what it sends is ``v`` (fixed mode: integer ``v``, reported as
``v · quant.scale``). Lava: a ``LIF`` whose threshold mantissa
:data:`neurodeploy.formats.NEVER_FIRE_VTH` no 24-bit voltage reaches (float mode: ``vth =
inf``); its ``NeuronQ.vth`` is unused (0). NIR: ``LI`` (du = 1) or ``CubaLI``. netx: ``CUBA``
with ``vThMant = NEVER_FIRE_VTH`` (netx's idiom for an output layer).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from neurodeploy import formats as lf
from neurodeploy.ir.nodes import NeuronQ, Readout
from neurodeploy.kinds import cuba
from neurodeploy.kinds.base import InplaceNeuron, LavaNeuron, NeuronKind, SpikeFn
from neurodeploy.kinds.cuba import CubaInplace, CubaState

Tensor = torch.Tensor


def float_step(state: CubaState, i_in: Tensor, du: Any, dv: Any,
               bias: Any) -> tuple[CubaState, Tensor]:
    """One float step → ``(state, v)``."""
    u, v = cuba.subthreshold_float(state, i_in, du, dv, bias)
    return CubaState(u, v), v


def fixed_step(state: CubaState, a_in: Tensor, du: int, dv: int,
               bias_eff: Tensor) -> tuple[CubaState, Tensor, Tensor]:
    """One fixed-point step (Lava's LIF sub-threshold dynamics) → ``(state, v, saturated)``."""
    u, v, saturated = cuba.subthreshold_fixed(state, a_in, du, dv, bias_eff)
    return CubaState(u, v), v, saturated


class FloatParams(NamedTuple):
    du: Tensor
    dv: Tensor
    bias: Tensor


class FixedParams(NamedTuple):
    du: int
    dv: int
    bias_eff: Tensor


class ReadoutKind(NeuronKind):
    """Readout (module docstring)."""

    name = "readout"
    node_type = Readout
    fires = False
    binary = False
    variables = ("u", "v", "s")
    output_var = "v"
    onnx_op = "Readout"

    def initial_state(self, node: Readout, batch_shape: tuple[int, ...], fixed: bool,
                      device: torch.device | str) -> CubaState:
        return cuba.zero_state(batch_shape, cuba.state_dtype(fixed), device)

    def float_params(self, node: Readout, device: torch.device | str) -> FloatParams:
        return FloatParams(cuba.param(node.du, device), cuba.param(node.dv, device),
                           cuba.param(node.bias, device))

    def float_step(self, state: CubaState, i_in: Tensor, params: FloatParams,
                   spike_fn: SpikeFn | None = None) -> tuple[CubaState, Tensor]:
        return float_step(state, i_in, params.du, params.dv, params.bias)

    def fixed_params(self, node: Readout, device: torch.device | str) -> FixedParams:
        q = node.quant
        return FixedParams(int(q.du), int(q.dv), cuba.bias_eff(node, device))

    def fixed_step(self, state: CubaState, a_in: Tensor,
                   params: FixedParams) -> tuple[CubaState, Tensor, Tensor]:
        return fixed_step(state, a_in, params.du, params.dv, params.bias_eff)

    def inplace(self, node: Readout, batch_shape: tuple[int, ...], fixed: bool,
                device: torch.device | str, a_bound: float) -> InplaceNeuron | None:
        if fixed:
            q = node.quant
            return CubaInplace(batch_shape, True, device, lf.current_keep(int(q.du)),
                               lf.voltage_keep(int(q.dv)), cuba.bias_eff(node, device), None,
                               "none", a_bound)
        p = self.float_params(node, device)
        return CubaInplace(batch_shape, False, device, 1 - p.du, 1 - p.dv, p.bias, None, "none")

    def record(self, state: CubaState, y: Tensor) -> dict[str, Tensor]:
        return {"s": torch.zeros_like(state.v), "u": state.u, "v": state.v}

    def decoding(self, node: Readout) -> str:
        return node.decoding

    # ------------------------------------------------------------ fixed point, quantization

    def fixed_refusal(self, node: Readout) -> str | None:
        return cuba.nonuniform(node, ("du", "dv")) if node.quant is None else None

    def scale_limits(self, node: Readout, max_u: float, max_v: float,
                     bias: np.ndarray) -> list[float]:
        return [cuba.U_HEADROOM / max(max_v, 1e-12), *cuba.scale_limits(max_u, max_v, bias)]

    def quantize(self, node: Readout, scale: float,
                 bias: np.ndarray) -> tuple[NeuronQ, list[str]]:
        fields, notes = cuba.quantized(node, scale, bias, vth=0)
        return NeuronQ(**fields), notes

    # ------------------------------------------------------------ Lava

    def float_refusal(self, node: Readout) -> str | None:
        return cuba.nonuniform(node, ("du", "dv"))

    def lava_process(self, node: Readout, shape: tuple[int, ...], fixed: bool,
                     gate_bias: bool, reset: tuple[int, int] | None = None
                     ) -> LavaNeuron | None:
        return cuba.lava_lif(node, shape, fixed, gate_bias,
                             lf.NEVER_FIRE_VTH if fixed else np.inf, reset=reset)

    # ------------------------------------------------------------ converters

    def to_nir(self, node: Readout, dt: float, metadata: dict[str, Any]) -> Any:
        import nir

        c = cuba.nir_constants(node, dt)
        if np.all(c["du"] == 1):
            return nir.LI(tau=c["tau_mem"], r=c["r"], v_leak=c["v_leak"], metadata=metadata)
        return nir.CubaLI(tau_syn=c["tau_syn"], tau_mem=c["tau_mem"], r=c["r"],
                          v_leak=c["v_leak"], w_in=c["w_in"], metadata=metadata)

    def nir_types(self) -> tuple[type, ...]:
        import nir

        return (nir.LI, nir.CubaLI)

    def from_nir(self, nir_node: Any, dt: float, where: str) -> dict[str, Any]:
        return {**cuba.from_nir(nir_node, dt, where), "reset": "none"}

    def onnx_state(self, node: Readout) -> tuple[str, ...]:
        return ("u", "v")

    def onnx_attributes(self, node: Readout) -> dict[str, Any]:
        attrs = {"du": node.du, "dv": node.dv, "bias": node.bias, "decoding": node.decoding}
        if node.weights is not None:
            attrs["weights"] = node.weights
        return attrs

    def netx_neuron(self, node: Readout) -> dict[str, Any]:
        return cuba.netx_neuron(node, lf.NEVER_FIRE_VTH)
