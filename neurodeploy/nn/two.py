"""Temporally weighted output (TWO): per-step decoding weights learnt from per-step accuracy.

After each training epoch, ``a_t`` is the training accuracy of the readout's voltage at step
``t`` alone (argmax of ``v[t]``); the weights follow ``w ← 0.7·w + 0.3·a_t / mean(a)`` from
``w = 1``. Decoding is ``Σ_t (w_t / T)·v[t]`` (a weighted mean, the IR's ``weighted`` decoding
with weights ``w / T``).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

MOMENTUM = 0.7


def step_correct(v_seq: Tensor, y: Tensor) -> Tensor:
    """Number of correct argmax predictions at each step: ``[T]`` from ``v_seq [T, B, n]``."""
    return (v_seq.argmax(-1) == y.unsqueeze(0)).sum(1)


def update_weights(w: Tensor, step_accuracy: Tensor, momentum: float = MOMENTUM) -> Tensor:
    """``w ← momentum·w + (1 − momentum)·a / mean(a)`` (a all zero: ``w`` unchanged)."""
    a = step_accuracy.to(torch.float32)
    mean = a.mean()
    if float(mean) <= 0:
        return w.clone()
    return momentum * w + (1 - momentum) * a / mean


def decoding_weights(w: Tensor) -> Tensor:
    """The readout's ``weighted`` decoding weights for TWO weights ``w``: ``w / T``."""
    return w / w.shape[0]
