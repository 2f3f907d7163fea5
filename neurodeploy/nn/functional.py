"""Pure functions of the neuron dynamics (Norse style): explicit state in, new state out.

The arithmetic is the IR's CUBA LIF in float (``neurodeploy/ir/nodes.py``), operation for
operation, so that a model trained here and its exported graph agree::

    u[t] = u[t-1]·(1 − du) + I[t]
    v[t] = v[t-1]·(1 − dv) + u[t] + bias
    s[t] = v[t] > vth
    reset where s[t]: zero → v = 0 | subtract → v − vth | none → v

Shapes: one step is ``[B, *shape]``; a sequence is time-major ``[T, B, *shape]``. Parameters
(``du``, ``dv``, ``vth``, ``bias``) are tensors broadcastable to ``shape`` (0-d per layer, or
``shape`` per neuron). The reset acts on the binary spike and is not differentiated through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from neurodeploy.errors import NeurodeployError
from neurodeploy.nn.surrogates import (
    FUNCTIONS,
    MaskedSpike,
    SGSSpike,
    asgl_spike,
    check_surrogate,
    default_alpha,
)

Tensor = torch.Tensor
SpikeFn = Callable[[Tensor, Tensor], Tensor]  # (x = v − vth, v) → spikes

SPIKE_METHODS = ("plain", "sgs", "msg", "asgl")
RESETS = ("zero", "subtract", "none")
DECODINGS = ("mean", "max", "last", "sum", "weighted")


@dataclass
class SpikeConfig:
    """How a layer's spike is differentiated. ``method``: ``plain`` (the surrogate alone),
    ``sgs`` (surrogate gradient scaling, ``delta``), ``msg`` (masked surrogate gradient, mask
    probability ``p``), ``asgl`` (adaptive smoothing, noise probability ``p``, learnable width
    initialised to ``asgl_width``). ``alpha`` None means the surrogate's paper default."""

    surrogate: str = "superspike"
    alpha: float | None = None
    method: str = "plain"
    delta: float = 1e-4
    p: float = 0.5
    asgl_width: float = 0.5

    def __post_init__(self) -> None:
        check_surrogate(self.surrogate)
        if self.method not in SPIKE_METHODS:
            raise NeurodeployError(f"unknown spike method '{self.method}' (choose from "
                                   f"{', '.join(SPIKE_METHODS)})")
        if not 0.0 <= self.p <= 1.0:
            raise NeurodeployError(f"spike mask probability p must lie in [0, 1], got {self.p}")
        if self.alpha is None:
            self.alpha = default_alpha(self.surrogate)

    def to_dict(self) -> dict:
        return asdict(self)


def spike(x: Tensor, v: Tensor, cfg: SpikeConfig, width: Tensor | None = None,
          training: bool = True) -> Tensor:
    """Spikes ``Θ(x)`` (``x = v − vth``) with the gradient rule of ``cfg``. ``width`` is ASGL's
    learnable α (needed for ``asgl``)."""
    if cfg.method == "asgl":
        if width is None:
            raise NeurodeployError("spike method 'asgl' needs a width parameter")
        return asgl_spike(x, width, cfg.p, training)
    if cfg.method == "sgs":
        return SGSSpike.apply(x, v.detach(), cfg.surrogate, cfg.alpha, cfg.delta)
    if cfg.method == "msg":
        return MaskedSpike.apply(x, cfg.surrogate, cfg.alpha, cfg.p)
    return FUNCTIONS[cfg.surrogate].apply(x, cfg.alpha)


def cuba_lif_step(i: Tensor, u: Tensor, v: Tensor, du: Tensor, dv: Tensor, vth: Tensor,
                  bias: Tensor, reset: str, spike_fn: SpikeFn) -> tuple[Tensor, Tensor, Tensor]:
    """One CUBA LIF step: input current ``i`` and state ``(u, v)`` → ``(s, u, v)``."""
    u = u * (1 - du) + i
    v = v * (1 - dv) + u + bias
    x = v - vth
    s = spike_fn(x, v)
    fired = x.detach() > 0
    if reset == "zero":
        v = torch.where(fired, torch.zeros_like(v), v)
    elif reset == "subtract":
        v = torch.where(fired, v - vth, v)
    elif reset != "none":
        raise NeurodeployError(f"unknown reset '{reset}' (choose from {', '.join(RESETS)})")
    return s, u, v


def cuba_lif(i_seq: Tensor, du: Tensor, dv: Tensor, vth: Tensor, bias: Tensor, reset: str,
             spike_fn: SpikeFn, state: tuple[Tensor, Tensor] | None = None
             ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Run CUBA LIF over ``i_seq`` ``[T, B, *shape]`` from ``state`` (zeros when None).
    Returns spikes ``[T, B, *shape]`` and the final ``(u, v)``."""
    u, v = state if state is not None else (torch.zeros_like(i_seq[0]),
                                            torch.zeros_like(i_seq[0]))
    out = []
    for t in range(i_seq.shape[0]):
        s, u, v = cuba_lif_step(i_seq[t], u, v, du, dv, vth, bias, reset, spike_fn)
        out.append(s)
    return torch.stack(out), (u, v)


def readout_step(i: Tensor, u: Tensor, v: Tensor, du: Tensor, dv: Tensor,
                 bias: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the non-firing integrator: ``(u, v)`` updated as CUBA, no spike or reset."""
    u = u * (1 - du) + i
    v = v * (1 - dv) + u + bias
    return u, v


def readout(i_seq: Tensor, du: Tensor, dv: Tensor, bias: Tensor) -> Tensor:
    """The readout's voltage at every step, ``[T, B, *shape]``, from zero state."""
    u = torch.zeros_like(i_seq[0])
    v = torch.zeros_like(i_seq[0])
    out = []
    for t in range(i_seq.shape[0]):
        u, v = readout_step(i_seq[t], u, v, du, dv, bias)
        out.append(v)
    return torch.stack(out)


def decode(v_seq: Tensor, decoding: str, weights: Tensor | None = None) -> Tensor:
    """Decode a readout voltage sequence ``[T, B, n]`` to ``[B, n]`` as the IR does:
    ``mean``/``max``/``sum`` over steps, ``last`` step, or ``weighted``: ``Σ_t w[t]·v[t]``."""
    if decoding == "mean":
        return v_seq.mean(0)
    if decoding == "max":
        return v_seq.max(0).values
    if decoding == "last":
        return v_seq[-1]
    if decoding == "sum":
        return v_seq.sum(0)
    if decoding == "weighted":
        if weights is None or weights.ndim != 1 or weights.shape[0] != v_seq.shape[0]:
            got = None if weights is None else list(weights.shape)
            raise NeurodeployError(f"decoding 'weighted' needs one weight per step "
                                   f"({v_seq.shape[0]}), got {got}")
        w = weights.to(v_seq.dtype).reshape(-1, *([1] * (v_seq.ndim - 1)))
        return (w * v_seq).sum(0)
    raise NeurodeployError(f"unknown decoding '{decoding}' (choose from {', '.join(DECODINGS)})")
