"""snnTorch (1.0) → IR: ``Leaky``, ``Synaptic``, ``RLeaky`` with ``init_hidden=True``.

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
  ``du = 1 − α``, ``dv = 1 − β``, subtract handled as for Leaky. Zero reset in Synaptic also
  discards ``syn[t]`` of the step after a spike, which the IR cannot express: refused.
- RLeaky: ``mem[t] = β·mem[t−1] + I[t] + V(s[t−1]) − θ·s[t−1]``; ``V`` (Linear, Conv2d or the
  one-to-one ``V``) becomes a recurrent Dense/Conv2d (delay 1), its bias the neuron's bias.
  Zero reset discards the whole step: refused.
- ``graded_spikes_factor`` g ≠ 1: spikes of amplitude g, folded into the next synapse's weights.
- ``reset_delay=False`` with subtract resets twice when ``mem > 2θ`` (snnTorch's "avoid
  double reset" term): refused; with zero it equals the IR's zero reset.
- ``inhibition``, ``state_quant``: refused.
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


def synaptic(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.Synaptic → CubaLIF with a current state (``du = 1 − α``)."""
    beta, vth, reset, g = _common(mod, where, "Synaptic")
    if reset == "zero":
        raise NeurodeployError(f"module '{where}' (Synaptic): reset_mechanism='zero' also clears "
                               "the next step's synaptic input, which the IR cannot express")
    alpha = np.clip(check_finite(where, "alpha", mod.alpha), 0, 1)
    spec = NeuronSpec(du=(1 - alpha).astype(np.float32), dv=(1 - beta).astype(np.float32),
                      vth=vth, reset=reset, delayed_reset=reset == "subtract", spike_scale=g)
    spec.returns = _returns(mod, ("spikes", "syn", "mem"))
    return spec


def rleaky(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """snn.RLeaky → CubaLIF + recurrent synapse (delay 1)."""
    import torch.nn as nn

    beta, vth, reset, g = _common(mod, where, "RLeaky")
    if reset == "zero":
        raise NeurodeployError(f"module '{where}' (RLeaky): reset_mechanism='zero' also clears "
                               "the next step's input, which the IR cannot express")
    rec = mod.recurrent
    bias: Any = 0.0
    if isinstance(rec, nn.Linear):
        w = check_finite(where, "recurrent.weight", rec.weight) * np.float32(g)
        node: Any = Dense(f"{where}.recurrent", weight=w.astype(np.float32))
        if rec.bias is not None:
            bias = check_finite(where, "recurrent.bias", rec.bias)
    elif isinstance(rec, nn.Conv2d):
        from neurodeploy.converters.torch_fx import _conv

        node = _conv(rec, f"{where}.recurrent")
        node.weight = (node.weight * np.float32(g)).astype(np.float32)
        if node.bias is not None:
            bias = node.bias
            node.bias = None
    else:  # RecurrentOneToOne: x * V
        v = check_finite(where, "V", rec.V) * np.float32(g)
        if len(shape) != 1:
            raise NeurodeployError(f"module '{where}' (RLeaky): one-to-one V on {shape} "
                                   "neurons is not supported (1-D layers only)")
        diag = np.broadcast_to(v.reshape(-1) if v.size > 1 else v.reshape(()), shape)
        node = Dense(f"{where}.recurrent", weight=np.diag(diag).astype(np.float32))
    if isinstance(node, Conv2d) and np.ndim(bias):
        bias = np.broadcast_to(np.asarray(bias).reshape(-1, 1, 1), shape).astype(np.float32)
    spec = NeuronSpec(du=1.0, dv=(1 - beta).astype(np.float32), vth=vth, bias=bias, reset=reset,
                      delayed_reset=reset == "subtract", spike_scale=g, recurrent=[node])
    spec.returns = _returns(mod, ("spikes", "mem"))
    return spec


def handlers() -> dict[type, Any]:
    """Neuron module type → NeuronSpec function, for :func:`converters.torch_fx.capture`."""
    import snntorch as snn

    return {snn.RLeaky: rleaky, snn.Synaptic: synaptic, snn.Leaky: leaky}


def convert(module: Any, input_shape: Shape, **opts: Any) -> Any:
    """An snnTorch model (one step per call, ``init_hidden=True``) → Graph."""
    from neurodeploy.converters.torch_fx import capture

    meta = {k: opts.pop(k) for k in ("dt", "T") if opts.get(k) is not None}
    return capture(module, input_shape, handlers(), source=SOURCE, metadata=meta, **opts)
