"""SpikingJelly (0.0.0.0.14, ``activation_based``) → IR: ``IFNode``, ``LIFNode``,
``ParametricLIFNode``, single-step mode (one call per time step; ``functional.reset_net``
between samples).

SpikingJelly's charge equations (``neuron.py``), with ``c = v_reset`` for a hard reset and
``c = 0`` for a soft one (``v_reset=None``), ``k = 1/τ`` (``sigmoid(w)`` for ParametricLIF):

- IF: ``H = V + X``
- LIF, ``decay_input=True``: ``H = V + (X − (V − c))·k``;  ``decay_input=False``:
  ``H = V − (V − c)·k + X``
- fire ``S = H ≥ θ``; hard reset ``V = (1 − S)·H + S·c``; soft reset ``V = H − S·θ``.

With ``V' = V − c`` (SpikingJelly starts at ``V = c``, so ``V'`` starts at 0 like the IR):
``V'[t] = (1 − k)·V'[t−1] + g·X[t]`` with ``g = k`` (decay_input) or 1 — a CubaLIF with
``du = 1`` (no current state), ``dv = k`` (0 for IF), threshold ``θ − c``, reset ``zero``
(hard) or ``subtract`` (soft; requires ``c = 0``), input gain ``g`` folded into the preceding
synapse (or into the threshold). ``≥`` becomes ``>`` against the next float32 below the
threshold (exact in float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from neurodeploy.converters._common import NeuronSpec, Shape, check_finite

from neurodeploy.errors import NeurodeployError

SOURCE = "spikingjelly"


def _node(mod: Any, where: str, kind: str, k: Any, decay_input: bool) -> NeuronSpec:
    if getattr(mod, "step_mode", "s") not in ("s", "m"):
        raise NeurodeployError(f"module '{where}' ({kind}): unknown step_mode {mod.step_mode}")
    theta = check_finite(where, "v_threshold", mod.v_threshold)
    if mod.v_reset is None:
        c, reset = np.float32(0.0), "subtract"
    else:
        c, reset = check_finite(where, "v_reset", mod.v_reset), "zero"
    vth = (theta - c).astype(np.float32)
    if np.any(vth <= 0):
        raise NeurodeployError(f"module '{where}' ({kind}): v_threshold {theta} must exceed "
                               f"v_reset {c}")
    k = np.asarray(k, np.float32)
    gain = k if decay_input else np.float32(1.0)
    return NeuronSpec(du=1.0, dv=k, vth=vth, reset=reset, gain=gain, ge=True)


def if_node(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """IFNode → CubaLIF with ``dv = 0``."""
    return _node(mod, where, "IFNode", 0.0, False)


def lif_node(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """LIFNode → CubaLIF with ``dv = 1/τ`` (input gain 1/τ when ``decay_input``)."""
    k = np.float32(1.0) / np.float32(mod.tau)
    return _node(mod, where, "LIFNode", k, bool(mod.decay_input))


def plif_node(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """ParametricLIFNode → CubaLIF with ``dv = sigmoid(w)``."""
    check_finite(where, "w", mod.w)
    k = mod.w.detach().sigmoid().cpu().numpy().astype(np.float32)
    return _node(mod, where, "ParametricLIFNode", k, bool(mod.decay_input))


def handlers() -> dict[type, Any]:
    """Neuron module type → NeuronSpec function."""
    from spikingjelly.activation_based import neuron

    return {neuron.ParametricLIFNode: plif_node, neuron.LIFNode: lif_node,
            neuron.IFNode: if_node}


def convert(module: Any, input_shape: Shape, **opts: Any) -> Any:
    """A SpikingJelly model → Graph (see :func:`neurodeploy.converters.torch_fx.capture`)."""
    from neurodeploy.converters.torch_fx import capture

    meta = {k: opts.pop(k) for k in ("dt", "T") if opts.get(k) is not None}
    return capture(module, input_shape, handlers(), source=SOURCE, metadata=meta, **opts)
