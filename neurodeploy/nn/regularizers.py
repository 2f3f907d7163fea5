"""Loss terms added to the task loss: Lipschitz (spectral-norm) and spike-activity penalties."""

from __future__ import annotations

import torch
from torch import nn

from neurodeploy.nn.layers import BinaryConv2d, BinaryLinear

Tensor = torch.Tensor


def _weight(m: nn.Module) -> Tensor:
    if isinstance(m, (BinaryLinear, BinaryConv2d)):
        return m.effective_weight()
    return m.weight


def lipschitz_penalty(model: nn.Module, lam: float) -> Tensor:
    """``λ · Σ_layers σ_max(W)²`` over every Linear/Conv2d (a conv's kernel reshaped to
    ``[C_out, C_in·kH·kW]``): bounds each synaptic map's Lipschitz constant (used with SGS)."""
    total = torch.zeros(())
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            w = _weight(m).reshape(m.weight.shape[0], -1)
            total = total + torch.linalg.matrix_norm(w, ord=2) ** 2
    return lam * total


def activity_penalty(spikes: list[Tensor], strength: float, lower: float = 1e-3,
                     upper: float = 0.1) -> Tensor:
    """Zenke & Vogels (2021) activity regularisation on spike counts ``ζ`` per neuron and
    sample (sum over steps of each ``[T, B, ...]`` spike tensor), as rates per step:

    - per-neuron lower bound: ``mean_i [lower − ζ_i/T]_+²`` (silent neurons are pushed up);
    - population upper bound: ``[mean_i ζ_i/T − upper]_+²`` (the layer's mean rate is capped);

    both averaged over samples and summed over layers, times ``strength``.
    """
    total = torch.zeros(())
    for s in spikes:
        rate = s.mean(0).flatten(1)  # [B, neurons]
        low = torch.relu(lower - rate.mean(0)) ** 2  # per neuron, over the batch
        high = torch.relu(rate.mean(1) - upper) ** 2  # per sample, over the population
        total = total + low.mean() + high.mean()
    return strength * total
