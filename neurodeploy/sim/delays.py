"""Synaptic delays in the simulator: a synapse's weights grouped by delay, and a ring buffer.

A delayed Dense (or Conv2d: the same, per kernel tap) computes, each step, one partial sum per
distinct delay ``d`` present in its ``delay`` array — ``(weight · [delay == d]) @ x[t]`` — and
adds it into the slot of step ``t + d`` of a ring buffer of ``max_delay + 1`` slots
``[L, B, *out]``; the slot of step ``t`` is the synapse's output and is then cleared. This is Lava's ``DelayDense`` (``a_buff`` of
``max_delay + 1`` columns, lava/proc/dense/models.py) without its one-step send delay, which
the IR does not have (the Lava compiler adds it back).
"""

from __future__ import annotations

import numpy as np
import torch


def delay_groups(weight: np.ndarray, delay: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """The distinct delays of a Dense and its weight split by them.

    ``weight``, ``delay``: ``[out, in]``. Returns ``(delays, stacked)`` with ``delays`` sorted
    and ``stacked`` ``[K·out, in]``: rows ``k·out … (k+1)·out`` hold the weights of the synapses
    whose delay is ``delays[k]`` (zero elsewhere), so that one matrix product gives every
    group's partial sum.
    """
    present = tuple(int(d) for d in np.unique(delay))
    stacked = np.concatenate([np.where(delay == d, weight, 0) for d in present], axis=0)
    return present, stacked


def conv_delay_weight(weight: np.ndarray, delay: np.ndarray, groups: int
                      ) -> tuple[tuple[int, ...], np.ndarray]:
    """A Conv2d's weight ``[C_out, C_in/g, kH, kW]`` split by its distinct delays into one
    kernel of ``K·C_out`` output channels, ordered ``[g][K][C_out/g]`` so that one grouped
    convolution gives every delay group's partial sum (:func:`conv_parts` puts them in order).
    """
    present = tuple(int(d) for d in np.unique(delay))
    split = np.stack([np.where(delay == d, weight, 0) for d in present])  # [K, C_out, ...]
    k, c_out = split.shape[:2]
    split = split.reshape(k, groups, c_out // groups, *weight.shape[1:]).swapaxes(0, 1)
    return present, np.ascontiguousarray(split.reshape(k * c_out, *weight.shape[1:]))


def conv_parts(y: torch.Tensor, k: int, groups: int) -> torch.Tensor:
    """The output ``[B, K·C_out, H, W]`` of the kernel of :func:`conv_delay_weight` as one
    partial sum per delay ``[K, B, C_out, H, W]``."""
    b, kc, h, w = y.shape
    c_out = kc // k
    y = y.reshape(b, groups, k, c_out // groups, h, w).permute(2, 0, 1, 3, 4, 5)
    return y.reshape(k, b, c_out, h, w)


def new_ring(max_delay: int, shape: tuple[int, ...], dtype: torch.dtype,
             device: torch.device) -> torch.Tensor:
    """An empty ring buffer ``[max_delay + 1, *shape]`` (``shape``: ``[B, *out_shape]``)."""
    return torch.zeros((max_delay + 1, *shape), dtype=dtype, device=device)


def arrive(ring: torch.Tensor, t: int, parts: torch.Tensor, delays: tuple[int, ...]
           ) -> torch.Tensor:
    """Add step ``t``'s partial sums ``parts`` ``[K, B, *out_shape]`` (one per entry of
    ``delays``) into ``ring`` at steps ``t + d``; return what arrives at step ``t`` and clear
    its slot. ``ring`` is updated in place (it is the runner's state of this synapse)."""
    length = ring.shape[0]
    for k, d in enumerate(delays):
        ring[(t + d) % length] += parts[k]
    slot = t % length
    out = ring[slot].clone()
    ring[slot].zero_()
    return out
