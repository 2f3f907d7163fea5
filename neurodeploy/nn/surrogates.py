"""Surrogate gradients: the forward pass is the Heaviside spike ``Θ(x) = (x > 0)``, the backward
pass replaces ``Θ'`` by a smooth pseudo-derivative ``h(x)``.

``x`` is the distance to threshold ``v − vth`` (voltage units). Each surrogate has one shape
parameter ``alpha`` with its paper default; larger ``alpha`` means a sharper ``h``:

=============  ==========================================  =======  =============================
name           h(x)                                        alpha    source
=============  ==========================================  =======  =============================
superspike     1 / (α|x| + 1)²   (fast sigmoid)            10       Zenke & Ganguli 2018; Zenke
                                                                    & Vogels 2021 (β)
sigmoid        α·σ(αx)·(1 − σ(αx))                         4        SpikingJelly ``Sigmoid``
atan           (α/2) / (1 + (π/2·α·x)²)                    2        Fang et al. 2021 (PLIF)
triangle       α·max(0, 1 − α|x|)                          2        MSG's default (α = 2)
rect           α·[|x| < 1/(2α)]   (box of area 1)           1        Wu et al. 2018 (STBP, a = 1)
ste            1   (straight-through)                      —        Bengio et al. 2013
=============  ==========================================  =======  =============================

Each surrogate is a ``torch.autograd.Function`` (:data:`FUNCTIONS`); :func:`surrogate_grad` is
the analytic ``h`` the functions use in their backward and the tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from neurodeploy.errors import NeurodeployError

Tensor = torch.Tensor


def _superspike(x: Tensor, a: float) -> Tensor:
    return 1.0 / (a * x.abs() + 1.0) ** 2


def _sigmoid(x: Tensor, a: float) -> Tensor:
    s = torch.sigmoid(a * x)
    return a * s * (1.0 - s)


def _atan(x: Tensor, a: float) -> Tensor:
    return (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2)


def _triangle(x: Tensor, a: float) -> Tensor:
    return a * torch.clamp(1.0 - a * x.abs(), min=0.0)


def _rect(x: Tensor, a: float) -> Tensor:
    return a * (x.abs() < 0.5 / a).to(x.dtype)


def _ste(x: Tensor, a: float) -> Tensor:
    return torch.ones_like(x)


#: name → (h(x, alpha), default alpha)
SURROGATES: dict[str, tuple[Callable[[Tensor, float], Tensor], float]] = {
    "superspike": (_superspike, 10.0),
    "sigmoid": (_sigmoid, 4.0),
    "atan": (_atan, 2.0),
    "triangle": (_triangle, 2.0),
    "rect": (_rect, 1.0),
    "ste": (_ste, 1.0),
}


def check_surrogate(name: str) -> None:
    """Raise NeurodeployError unless ``name`` is a known surrogate."""
    if name not in SURROGATES:
        raise NeurodeployError(f"unknown surrogate '{name}' (choose from "
                               f"{', '.join(SURROGATES)})")


def default_alpha(name: str) -> float:
    """The paper default of surrogate ``name``'s shape parameter."""
    check_surrogate(name)
    return SURROGATES[name][1]


def surrogate_grad(name: str, x: Tensor, alpha: float | None = None) -> Tensor:
    """The pseudo-derivative ``h(x)`` of surrogate ``name`` (``alpha`` None: paper default)."""
    check_surrogate(name)
    h, a0 = SURROGATES[name]
    return h(x, a0 if alpha is None else float(alpha))


def heaviside(x: Tensor) -> Tensor:
    """The spike ``Θ(x) = 1 where x > 0`` in ``x``'s dtype (strictly greater, as the IR)."""
    return (x > 0).to(x.dtype)


def _make_function(name: str) -> type[torch.autograd.Function]:
    h, a0 = SURROGATES[name]

    class _Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: Tensor, alpha: float = a0) -> Tensor:  # type: ignore[override]
            ctx.save_for_backward(x)
            ctx.alpha = float(alpha)
            return heaviside(x)

        @staticmethod
        def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
            (x,) = ctx.saved_tensors
            return grad * h(x, ctx.alpha), None

    _Spike.__name__ = _Spike.__qualname__ = "".join(p.title() for p in name.split("_")) + "Spike"
    _Spike.__doc__ = f"Heaviside spike with the '{name}' surrogate (default alpha {a0:g})."
    return _Spike


SuperSpike = _make_function("superspike")
SigmoidSpike = _make_function("sigmoid")
ATanSpike = _make_function("atan")
TriangleSpike = _make_function("triangle")
RectSpike = _make_function("rect")
STESpike = _make_function("ste")

#: name → autograd Function (``FUNCTIONS[name].apply(x, alpha)``)
FUNCTIONS: dict[str, type[torch.autograd.Function]] = {
    "superspike": SuperSpike, "sigmoid": SigmoidSpike, "atan": ATanSpike,
    "triangle": TriangleSpike, "rect": RectSpike, "ste": STESpike,
}


class SGSSpike(torch.autograd.Function):
    """Surrogate gradient scaling (SGS): the spike ``o = Θ(x)``, with backward

    ``g_x = g_o · h(x) · (1 + δ·sign(g_o)·(u − o))``

    where ``u`` is the membrane potential (``x = u − vth``) and ``h`` any unimodal surrogate.
    Call as ``SGSSpike.apply(x, u, surrogate_name, alpha, delta)``; ``u`` gets no gradient.
    """

    @staticmethod
    def forward(ctx, x: Tensor, u: Tensor, name: str, alpha: float,  # type: ignore[override]
                delta: float) -> Tensor:
        o = heaviside(x)
        ctx.save_for_backward(x, u, o)
        ctx.name, ctx.alpha, ctx.delta = name, float(alpha), float(delta)
        return o

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, u, o = ctx.saved_tensors
        h = surrogate_grad(ctx.name, x, ctx.alpha)
        scale = 1.0 + ctx.delta * torch.sign(grad) * (u - o)
        return grad * h * scale, None, None, None, None


class MaskedSpike(torch.autograd.Function):
    """Masked surrogate gradient (MSG): the spike ``Θ(x)``, with backward ``g_o·h(x)·m`` where
    ``m`` is a fresh Bernoulli mask per element and per backward pass that zeroes the surrogate
    gradient with probability ``p`` (no rescaling). Call as
    ``MaskedSpike.apply(x, surrogate_name, alpha, p)``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, name: str, alpha: float, p: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.name, ctx.alpha, ctx.p = name, float(alpha), float(p)
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        keep = (torch.rand_like(x) >= ctx.p).to(x.dtype)
        return grad * surrogate_grad(ctx.name, x, ctx.alpha) * keep, None, None, None


def asgl_smooth(x: Tensor, alpha: Tensor) -> Tensor:
    """ASGL's smooth spike ``H_α(x) = σ(x / α)``: a sigmoid of width ``α`` (learnable)."""
    return torch.sigmoid(x / alpha)


def asgl_spike(x: Tensor, alpha: Tensor, p: float, training: bool) -> Tensor:
    """Adaptive smoothing (ASGL, Wang et al. 2023). Training: a fresh Bernoulli(``p``) mask
    ``m`` per element picks the smooth ``H_α(x)`` where ``m = 1`` and the binary spike ``Θ(x)``
    elsewhere; the backward pass goes through ``H_α`` everywhere (so ``α`` gets a gradient).
    Evaluation: the plain binary spike."""
    if not training:
        return heaviside(x)
    smooth = asgl_smooth(x, alpha)
    keep_binary = (torch.rand_like(x) >= p).to(x.dtype)
    return smooth + (keep_binary * (heaviside(x) - smooth)).detach()
