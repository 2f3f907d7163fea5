"""Norse (1.1) → IR: ``LIFCell`` and ``LICell`` (one call per time step, e.g. inside
``norse.torch.SequentialState``; the cell's ``dt`` and parameters ``p``).

Norse's step (``functional/lif.py``, ``lif_feed_forward_step``), ``a = dt·τ_mem_inv``,
``b = dt·τ_syn_inv``::

    j[t] = i[t−1] + x[t]                    (current jump)
    v[t] = v[t−1] + a·((v_leak − v[t−1]) + j[t])
    i[t] = j[t] − b·j[t]
    z[t] = v[t] > v_th ;  v[t] ← v_reset where z[t]

With ``u = a·j`` this is the IR's CUBA neuron: ``u[t] = (1 − b)·u[t−1] + a·x[t]``,
``v[t] = (1 − a)·v[t−1] + u[t] + a·v_leak`` → ``du = b``, ``dv = a``, input gain ``a`` (folded
into the preceding synapse, or ``vth = v_th/a``), reset ``zero``. Norse starts ``v`` at
``v_leak`` and resets to ``v_reset``: both must be 0. ``LICell`` is the same without
threshold (``leaky_integrator.py``): a Readout whose ``v`` is the cell's output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from neurodeploy.converters._common import NeuronSpec, Shape, check_finite

from neurodeploy.errors import NeurodeployError

SOURCE = "norse"


def _decays(mod: Any, where: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    p, dt = mod.p, float(mod.dt)
    a = (np.float32(dt) * check_finite(where, "tau_mem_inv", p.tau_mem_inv)).astype(np.float32)
    b = (np.float32(dt) * check_finite(where, "tau_syn_inv", p.tau_syn_inv)).astype(np.float32)
    if np.any(check_finite(where, "v_leak", p.v_leak) != 0):
        raise NeurodeployError(f"module '{where}' ({kind}): v_leak ≠ 0 is not supported (Norse "
                               "starts v at v_leak; the IR starts at 0)")
    if np.any((a < 0) | (a > 1) | (b < 0) | (b > 1)):
        raise NeurodeployError(f"module '{where}' ({kind}): dt·tau_inv must lie in [0, 1] "
                               f"(got dt·tau_mem_inv={a}, dt·tau_syn_inv={b})")
    return a, b


def lif_cell(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """LIFCell → CubaLIF (``du = dt·τ_syn_inv``, ``dv = dt·τ_mem_inv``, gain ``dv``)."""
    a, b = _decays(mod, where, "LIFCell")
    if np.any(check_finite(where, "v_reset", mod.p.v_reset) != 0):
        raise NeurodeployError(f"module '{where}' (LIFCell): v_reset ≠ 0 is not supported")
    vth = check_finite(where, "v_th", mod.p.v_th)
    return NeuronSpec(du=b, dv=a, vth=vth, reset="zero", gain=a, returns=("spikes", "state"))


def li_cell(mod: Any, where: str, shape: Shape) -> NeuronSpec:
    """LICell → Readout (same decays and gain, no threshold)."""
    a, b = _decays(mod, where, "LICell")
    return NeuronSpec(du=b, dv=a, gain=a, reset="none", readout=True,
                      returns=("spikes", "state"))


def handlers() -> dict[type, Any]:
    """Neuron module type → NeuronSpec function."""
    from norse.torch import LICell, LIFCell

    return {LIFCell: lif_cell, LICell: li_cell}


def convert(module: Any, input_shape: Shape, **opts: Any) -> Any:
    """A Norse model → Graph (see :func:`neurodeploy.converters.torch_fx.capture`)."""
    from neurodeploy.converters.torch_fx import capture

    meta = {k: opts.pop(k) for k in ("dt", "T") if opts.get(k) is not None}
    return capture(_traceable(module), input_shape, handlers(), source=SOURCE, metadata=meta,
                   **opts)


def _traceable(module: Any) -> Any:
    """A ``SequentialState`` (whose forward keeps a state list fx cannot trace) as an
    equivalent chain: each stateful cell's first output feeds the next module."""
    import torch.nn as nn
    from norse.torch import SequentialState

    if not isinstance(module, SequentialState):
        return module
    cells = tuple(handlers())

    class _Chain(nn.Sequential):
        def forward(self, x: Any) -> Any:
            for m in self:
                x = m(x)[0] if isinstance(m, cells) else m(x)
            return x

    chain = _Chain()
    for name, m in module.named_children():
        chain.add_module(name, m)
    return chain
