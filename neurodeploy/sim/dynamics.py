"""Neuron dynamics as pure step functions on explicit state (no graph, no time loop).

Every function takes the state of one neuron array at step ``t − 1`` and the synaptic input of
step ``t`` (tensors ``[B, *shape]``) and returns the new state (and spikes). Parameters are
tensors that broadcast against ``[B, *shape]`` (0-d for one value per layer).

Float mode follows the IR (``neurodeploy.ir.nodes``); fixed mode follows Lava's
``PyLifModelBitAcc`` exactly as written down in :mod:`neurodeploy.sim` (int64 tensors).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neurodeploy.formats import (
    ACT_SHIFT,
    DECAY_SHIFT,
    STATE_HALF,
    V_LIMIT,
    VTH_SHIFT,
    current_keep,
    shift,
    voltage_keep,
)


class NeuronState(NamedTuple):
    """State of one neuron array: current ``u``, voltage ``v``, refractory counter ``ref``
    (steps left; float mode only, None when the neuron has no refractory period)."""

    u: torch.Tensor
    v: torch.Tensor
    ref: torch.Tensor | None = None


def initial_state(batch_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str,
                  refractory: int = 0) -> NeuronState:
    """All-zero state for ``[B, *shape]`` neurons."""
    z = torch.zeros(batch_shape, dtype=dtype, device=device)
    ref = torch.zeros(batch_shape, dtype=torch.int32, device=device) if refractory > 0 else None
    return NeuronState(z, z.clone(), ref)


# ---------------------------------------------------------------- float (the IR's equations)


def cuba_float_step(state: NeuronState, i_in: torch.Tensor, du: torch.Tensor, dv: torch.Tensor,
                    vth: torch.Tensor, bias: torch.Tensor, reset: str = "zero",
                    refractory: int = 0) -> tuple[NeuronState, torch.Tensor]:
    """One step of a float CubaLIF; returns ``(state, spikes)`` with spikes 0/1 in i_in's dtype.

    ``u = u·(1 − du) + I``; ``v = v·(1 − dv) + u + bias``; ``s = v > vth``; reset ``zero``
    (v = 0), ``subtract`` (v −= vth) or ``none``. With ``refractory = r > 0`` a neuron that
    spiked holds ``v = 0`` and cannot spike for the next ``r`` steps (u keeps integrating).
    """
    u = state.u * (1 - du) + i_in
    v = state.v * (1 - dv) + u + bias
    ref = state.ref
    if ref is not None:
        blocked = ref > 0
        v = torch.where(blocked, torch.zeros_like(v), v)
    s = v > vth
    if ref is not None:
        s = s & ~blocked
    if reset == "zero":
        v = torch.where(s, torch.zeros_like(v), v)
    elif reset == "subtract":
        v = v - s.to(v.dtype) * vth
    if ref is not None:
        ref = torch.where(s, torch.full_like(ref, refractory), (ref - 1).clamp_(min=0))
    return NeuronState(u, v, ref), s.to(i_in.dtype)


def readout_float_step(state: NeuronState, i_in: torch.Tensor, du: torch.Tensor,
                       dv: torch.Tensor, bias: torch.Tensor) -> NeuronState:
    """One step of a float Readout: the CubaLIF equations without threshold or reset."""
    u = state.u * (1 - du) + i_in
    v = state.v * (1 - dv) + u + bias
    return NeuronState(u, v)


# ---------------------------------------------------------------- fixed point (Lava bit-accurate)


def decay_fixed(x: torch.Tensor, keep: int) -> torch.Tensor:
    """``sign(p)·(|p| >> 12)`` with ``p = x·keep``: Lava's decay, rounding toward zero."""
    p = x * keep
    return torch.sign(p) * (p.abs() >> DECAY_SHIFT)


def wrap_u(u: torch.Tensor) -> torch.Tensor:
    """Lava's single conditional 24-bit wrap of the current: ``u − 2**24`` where ``u > 2**23``,
    else ``u + 2**24`` where ``u <= −2**23`` (applied once, not modulo)."""
    return torch.where(u > STATE_HALF, u - 2 * STATE_HALF,
                       torch.where(u <= -STATE_HALF, u + 2 * STATE_HALF, u))


def _subthreshold_fixed(state: NeuronState, a_in: torch.Tensor, du: int, dv: int,
                        bias_eff: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lava's ``subthr_dynamics``: new ``(u, v, saturated)`` (int64), before spiking."""
    u_pre = decay_fixed(state.u, current_keep(du)) + (a_in << ACT_SHIFT)
    u = wrap_u(u_pre)
    v_pre = decay_fixed(state.v, voltage_keep(dv)) + u + bias_eff
    v = v_pre.clamp(-V_LIMIT, V_LIMIT)
    saturated = (u != u_pre) | (v != v_pre)
    return u, v, saturated


def cuba_fixed_step(state: NeuronState, a_in: torch.Tensor, du: int, dv: int, vth: int,
                    bias_eff: torch.Tensor) -> tuple[NeuronState, torch.Tensor, torch.Tensor]:
    """One step of Lava's ``PyLifModelBitAcc`` on int64 tensors.

    Returns ``(state, spikes, saturated)``: spikes int64 0/1, ``saturated`` a bool tensor marking
    neurons whose u wrapped or v was clipped this step. ``bias_eff`` is ``bias_mant << bias_exp``.
    """
    u, v, saturated = _subthreshold_fixed(state, a_in, du, dv, bias_eff)
    s = v > (vth << VTH_SHIFT)
    v = torch.where(s, torch.zeros_like(v), v)
    return NeuronState(u, v), s.to(torch.int64), saturated


def readout_fixed_step(state: NeuronState, a_in: torch.Tensor, du: int, dv: int,
                       bias_eff: torch.Tensor) -> tuple[NeuronState, torch.Tensor]:
    """A fixed-point Readout: the LIF sub-threshold dynamics, never spiking."""
    u, v, saturated = _subthreshold_fixed(state, a_in, du, dv, bias_eff)
    return NeuronState(u, v), saturated


def effective_bias(bias_mant: torch.Tensor, bias_exp: int) -> torch.Tensor:
    """``bias_mant << bias_exp`` (``>> −bias_exp`` for a negative exponent), as Lava's
    ``scale_bias``."""
    return shift(bias_mant, bias_exp)
