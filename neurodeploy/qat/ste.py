"""Straight-through estimators: a forward value computed exactly, a gradient taken elsewhere.

Every helper returns ``g + (exact − g).detach()``: its value is ``exact`` to the last bit (the
difference of two float64 tensors holding integers below 2**53 is exact), its gradient is that of
``g``.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def straight(exact: Tensor, grad_path: Tensor) -> Tensor:
    """The value of ``exact`` with the gradient of ``grad_path`` (same shape)."""
    return grad_path + (exact.to(grad_path.dtype) - grad_path).detach()


def round_grid(x: Tensor, step: int, lo: int, hi: int) -> Tensor:
    """``x`` rounded (half to even) to multiples of ``step`` and clipped to ``[lo, hi]``; the
    gradient passes straight through."""
    q = (torch.round(x.detach() / step) * step).clamp(lo, hi)
    return straight(q, x)


def floor_shift(acc: Tensor, exp: int) -> Tensor:
    """``acc << exp`` (``exp ≥ 0``) or the arithmetic ``acc >> −exp`` (floor), on float tensors
    holding integers; the gradient of ``acc · 2**exp``."""
    scaled = acc * 2.0**exp
    if exp >= 0:
        return scaled
    return straight(torch.floor(scaled.detach()), scaled)
