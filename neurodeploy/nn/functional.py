"""Pure functions of the neuron dynamics (Norse style): explicit state in, new state out.

One step is the simulator's own: the float step of each neuron kind
(:func:`neurodeploy.kinds.cuba_lif.float_step`, :func:`neurodeploy.kinds.readout.float_step`),
the IR's CUBA LIF in float, so that a model trained here and its exported graph agree operation
for operation::

    u[t] = u[t-1]·(1 − du) + I[t]
    v[t] = v[t-1]·(1 − dv) + u[t] + bias
    s[t] = v[t] > vth
    reset where s[t]: zero → v = 0 | subtract → v − vth | none → v
    refractory r > 0: v held at 0 and no spike for r steps after a spike

Training passes the kind's step a surrogate ``spike_fn`` (:func:`spike`): the spike it returns
is differentiable; the reset acts on the binary spike and is not differentiated through.

Shapes: one step is ``[B, *shape]``; a sequence is time-major ``[T, B, *shape]``. Parameters
(``du``, ``dv``, ``vth``, ``bias``) are tensors broadcastable to ``shape`` (0-d per layer, or
``shape`` per neuron).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir.nodes import DECODINGS
from neurodeploy.kinds import cuba_lif as lif_kind
from neurodeploy.kinds import readout as readout_kind
from neurodeploy.kinds.base import SpikeFn
from neurodeploy.kinds.cuba import CubaState, zero_state
from neurodeploy.nn.surrogates import (
    FUNCTIONS,
    MaskedSpike,
    SGSSpike,
    asgl_spike,
    check_surrogate,
    default_alpha,
)

Tensor = torch.Tensor

SPIKE_METHODS = ("plain", "sgs", "msg", "asgl")


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


def cuba_lif(i_seq: Tensor, du: Tensor, dv: Tensor, vth: Tensor, bias: Tensor, reset: str,
             spike_fn: SpikeFn, state: CubaState | None = None, refractory: int = 0
             ) -> tuple[Tensor, CubaState]:
    """Run CUBA LIF over ``i_seq`` ``[T, B, *shape]`` from ``state`` (zeros when None), one
    :func:`neurodeploy.kinds.cuba_lif.float_step` per step with the surrogate ``spike_fn``.
    Returns spikes ``[T, B, *shape]`` and the final state."""
    st = state if state is not None else zero_state(tuple(i_seq.shape[1:]), i_seq.dtype,
                                                    i_seq.device, refractory)
    out = []
    for t in range(i_seq.shape[0]):
        st, s = lif_kind.float_step(st, i_seq[t], du, dv, vth, bias, reset, refractory,
                                    spike_fn)
        out.append(s)
    return torch.stack(out), st


def readout(i_seq: Tensor, du: Tensor, dv: Tensor, bias: Tensor) -> Tensor:
    """The readout's voltage at every step, ``[T, B, *shape]``, from zero state (one
    :func:`neurodeploy.kinds.readout.float_step` per step)."""
    st = zero_state(tuple(i_seq.shape[1:]), i_seq.dtype, i_seq.device)
    out = []
    for t in range(i_seq.shape[0]):
        st, v = readout_kind.float_step(st, i_seq[t], du, dv, bias)
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
