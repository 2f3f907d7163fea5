"""snnTorch (1.0) → IR: ``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic`` with
``init_hidden=True``.

snnTorch's algebra (``snntorch/_neurons``; ``β = clamp(beta, 0, 1)``, ``α = clamp(alpha, 0, 1)``,
θ the threshold, ``s[t] = mem[t] > θ``, ``r[t] = (mem[t−1] > θ)`` the *delayed* reset, which
with ``reset_delay=True`` (the default) is the previous step's spike ``s[t−1]``):

- Leaky, subtract: ``mem[t] = β·mem[t−1] + I[t] − θ·s[t−1]``. The IR's subtract reset would give
  ``β·(mem − θ·s)``, so when β ≠ 1 the reset is written as a recurrent synapse ``−θ`` (delay 1)
  from the neuron to itself with reset ``none``: ``du = 1, dv = 1 − β, vth = θ`` — exact. With
  β = 1 the IR's own subtract reset is the same algebra.
- Leaky, zero: ``mem[t] = β·(1 − s[t−1])·mem[t−1] + I[t]`` = the IR's zero reset (the IR
  zeroes ``v`` at once, snnTorch at the next step; spikes and every later step are identical).
- Leaky, none: ``mem[t] = β·mem[t−1] + I[t]`` → reset ``none``; when its membrane is the
  model's output it becomes a Readout (``dv = 1 − β``).
- Synaptic: ``syn[t] = α·syn[t−1] + I[t]``, ``mem[t] = β·mem[t−1] + syn[t] − θ·s[t−1]`` →
  ``du = 1 − α``, ``dv = 1 − β``, subtract handled as for Leaky.
- RLeaky / RSynaptic: as Leaky / Synaptic with ``V(s[t−1])`` added to the input (RSynaptic:
  into ``syn``); ``V`` (Linear, Conv2d or the one-to-one ``V``) becomes a recurrent
  Dense/Conv2d (delay 1) into the neuron's input (the IR's ``u``), its bias the neuron's bias.
- Zero reset in Synaptic, RLeaky and RSynaptic with ``reset_delay=True``: the step after a
  spike, ``mem[t] = (1 − s[t−1])·(β·mem[t−1] + syn[t])`` = 0 (the whole step's input to ``mem``
  is discarded; ``syn`` keeps integrating) — the IR's zero reset with a refractory period of
  one step (it quantizes and runs in Lava's fixed point as ``LIFRefractory``; netx has no
  refractory period and refuses it).
- Zero reset with ``reset_delay=False``: ``r[t]`` is then always 0 (``mem`` was zeroed when it
  crossed θ), so ``mem ← 0`` at the spike: exactly the IR's zero reset (fixed point too).
  RSynaptic with ``reset_delay=False`` is refused: snnTorch 1.0's forward reads its ``spk``
  argument there, which is None with ``init_hidden=True``, so the source model cannot run.
- ``graded_spikes_factor`` g ≠ 1: spikes of amplitude g, folded into the next synapse's weights.
- ``reset_delay=False`` with subtract resets twice when ``mem > 2θ`` (snnTorch's "avoid
  double reset" term): refused.
- ``inhibition``, ``state_quant``, and every other snnTorch neuron (Alpha, Lapicque, SLSTM, ...):
  refused, naming the module path and class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from neurodeploy.converters._common import NeuronSpec, Shape, check_finite, to_numpy

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Dense

SOURCE = "snntorch"


def _reset_name(mod: Any) -> str:
    return ("subtract", "zero", "none")[int(to_numpy(mod.reset_mechanism_val))]


def _common(mod: Any, where: str, kind: str) -> tuple[np.ndarray, np.ndarray, str, float]:
    if getattr(mod, "inhibition", False):
        raise NeurodeployError(f"module '{where}' ({kind}): inhibition=True is not supported")
    if getattr(mod, "state_quant", False):
        raise NeurodeployError(f"module '{where}' ({kind}): state_quant is not supported")
    if not getattr(mod, "init_hidden", False):
        raise NeurodeployError(f"module '{where}' ({kind}): export needs init_hidden=True (the "
                               "state inside the module, one call per time step)")
    beta = np.clip(check_finite(where, "beta", mod.beta), 0, 1)
    vth = check_finite(where, "threshold", mod.threshold)
    g = check_finite(where, "graded_spikes_factor", mod.graded_spikes_factor)
    if g.size != 1:
        raise NeurodeployError(f"module '{where}' ({kind}): per-neuron graded_spikes_factor is "
                               "not supported")
    reset = _reset_name(mod)
    if not mod.reset_delay and reset == "subtract":
        raise NeurodeployError(
            f"module '{where}' ({kind}): reset_delay=False with reset_mechanism='subtract' "
            "subtracts the threshold twice when mem > 2·threshold; no exact IR form (use "
            "reset_delay=True or reset_mechanism='zero')")
    return beta, vth, reset, float(g)


def _returns(mod: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    return names if getattr(mod, "output", False) else ("spikes",)


def leaky(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.Leaky → CubaLIF (formulas in the module docstring)."""
    beta, vth, reset, g = _common(mod, where, "Leaky")
    spec = NeuronSpec(du=1.0, dv=(1 - beta).astype(np.float32), vth=vth, reset=reset,
                      delayed_reset=reset == "subtract", spike_scale=g)
    spec.returns = _returns(mod, ("spikes", "mem"))
    return spec


def _zero_refractory(reset: str, mod: Any) -> int:
    """snnTorch's delayed zero reset discards the step after a spike: refractory 1."""
    return 1 if reset == "zero" and mod.reset_delay else 0


def synaptic(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.Synaptic → CubaLIF with a current state (``du = 1 − α``)."""
    return _synaptic(mod, where, shape, "Synaptic")


def _synaptic(mod: Any, where: str, shape: Shape, kind: str) -> NeuronSpec:
    beta, vth, reset, g = _common(mod, where, kind)
    alpha = np.clip(check_finite(where, "alpha", mod.alpha), 0, 1)
    spec = NeuronSpec(du=(1 - alpha).astype(np.float32), dv=(1 - beta).astype(np.float32),
                      vth=vth, reset=reset, delayed_reset=reset == "subtract", spike_scale=g,
                      refractory=_zero_refractory(reset, mod))
    spec.returns = _returns(mod, ("spikes", "syn", "mem"))
    return spec


def _recurrent(mod: Any, where: str, shape: Shape, kind: str, g: float,
               keep_bias: bool = False) -> tuple[Any, Any]:
    """snnTorch's recurrent ``V`` as an IR synapse (weights times the spike amplitude ``g``)
    and the bias it adds to the neuron (0 with ``keep_bias``: the bias stays on the synapse)."""
    import torch.nn as nn

    rec = mod.recurrent
    bias: Any = 0.0
    if isinstance(rec, nn.Linear):
        w = check_finite(where, "recurrent.weight", rec.weight) * np.float32(g)
        node: Any = Dense(f"{where}.recurrent", weight=w.astype(np.float32))
        if rec.bias is not None:
            bias = check_finite(where, "recurrent.bias", rec.bias)
            if keep_bias:
                node.bias, bias = bias, 0.0
    elif isinstance(rec, nn.Conv2d):
        from neurodeploy.converters.torch_fx import _conv

        node = _conv(rec, f"{where}.recurrent")
        node.weight = (node.weight * np.float32(g)).astype(np.float32)
        if node.bias is not None and not keep_bias:
            bias = node.bias
            node.bias = None
    else:  # RecurrentOneToOne: x * V
        v = check_finite(where, "V", rec.V) * np.float32(g)
        if len(shape) != 1:
            raise NeurodeployError(f"module '{where}' ({kind}): one-to-one V on {shape} "
                                   "neurons is not supported (1-D layers only)")
        diag = np.broadcast_to(v.reshape(-1) if v.size > 1 else v.reshape(()), shape)
        node = Dense(f"{where}.recurrent", weight=np.diag(diag).astype(np.float32))
    if isinstance(node, Conv2d) and np.ndim(bias):
        bias = np.broadcast_to(np.asarray(bias).reshape(-1, 1, 1), shape).astype(np.float32)
    return node, bias


def rleaky(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.RLeaky → CubaLIF + recurrent synapse (delay 1)."""
    beta, vth, reset, g = _common(mod, where, "RLeaky")
    node, bias = _recurrent(mod, where, shape, "RLeaky", g)
    spec = NeuronSpec(du=1.0, dv=(1 - beta).astype(np.float32), vth=vth, bias=bias, reset=reset,
                      delayed_reset=reset == "subtract", spike_scale=g, recurrent=[node],
                      refractory=_zero_refractory(reset, mod))
    spec.returns = _returns(mod, ("spikes", "mem"))
    return spec


def rsynaptic(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.RSynaptic → CubaLIF with a current state + recurrent synapse into it (delay 1)."""
    if not mod.reset_delay:
        raise NeurodeployError(
            f"module '{where}' (RSynaptic): reset_delay=False cannot run in snnTorch 1.0 itself "
            "(its forward reads the spk argument, None with init_hidden=True); use "
            "reset_delay=True")
    spec = _synaptic(mod, where, shape, "RSynaptic")
    # V's bias enters syn, which decays: it stays on the recurrent synapse (the IR's u)
    node, _ = _recurrent(mod, where, shape, "RSynaptic", spec.spike_scale, keep_bias=True)
    spec.recurrent = [node]
    return spec


def _refuse(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    raise NeurodeployError(f"module '{where}' ({type(mod).__name__}): snnTorch's "
                           f"{type(mod).__name__} neuron has no IR form (supported: Leaky, "
                           "Synaptic, RLeaky, RSynaptic)")


def handlers() -> dict[type, Any]:
    """Neuron module type → NeuronSpec function, for :func:`converters.torch_fx.capture`."""
    import snntorch as snn
    from snntorch._neurons import SpikingNeuron

    # every other snnTorch neuron is a leaf too, so that it is refused by name instead of
    # being traced into
    return {snn.RSynaptic: rsynaptic, snn.RLeaky: rleaky, snn.Synaptic: synaptic,
            snn.Leaky: leaky, SpikingNeuron: _refuse}


def convert(module: Any, input_shape: Shape, **opts: Any) -> Any:
    """An snnTorch model (one step per call, ``init_hidden=True``) → Graph."""
    from neurodeploy.converters.torch_fx import capture

    meta = {k: opts.pop(k) for k in ("dt", "T") if opts.get(k) is not None}
    return capture(module, input_shape, handlers(), source=SOURCE, metadata=meta, **opts)
