"""Bias correction: the mean error that rounding a layer's weights puts into its current.

Rounding ``λ·W`` onto the 8-bit mantissa grid leaves each neuron an error current
``δ = (W_q − W)·s`` per step, ``W_q`` the effective weights in float units. Its mean over the
calibration activity, ``(W_q − W)·E[s]``, is systematic: a neuron integrates it step after step
(an IF neuron, ``dv = 0``, for all T steps) while the zero-mean rest partly cancels. Loihi gives
each neuron a bias mantissa of its own, so the quantizer subtracts that mean there (Nagel et al.,
"Data-Free Quantization", 2019, with the input means measured rather than modelled). The
correction enters the current in float; the neuron bias acts on ``v``, so it is folded like a
synapse bias (``_fold_candidates``: the current's mean response over T, exactly 1 for du = 1).

The means are those of the float model on the calibration data (the graph's encoded input, each
firing layer's float spikes, in float units), carried through Flatten, SumPool2d and Add to each
synapse's input. A synapse whose input mean is unknown (a non-firing source) or that reaches its
neuron through a pool or an Add is left uncorrected.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy import kinds
from neurodeploy.ir import Add, Conv2d, Dense, Flatten, Graph, Input, SumPool2d
from neurodeploy.ir.shapes import infer_shapes


def input_means(g: Graph, synapses: list[str], x: np.ndarray | torch.Tensor,
                trains: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Mean input per element of each synapse in ``synapses`` over steps and samples, float64
    of the synapse's input shape: ``x [T, B, *input_shape]`` for the graph's input, ``trains``
    (firing neuron → ``[T, B, *shape]`` float spikes) for neuron sources. Synapses whose input
    mean is unknown are absent."""
    shapes = infer_shapes(g)
    memo: dict[str, torch.Tensor | None] = {}

    def mean(name: str) -> torch.Tensor | None:
        if name in memo:
            return memo[name]
        node = g.nodes[name]
        srcs = [e.src for e in g.in_edges(name) if not e.delay]
        out: torch.Tensor | None = None
        if isinstance(node, Input):
            out = torch.as_tensor(x).to(torch.float64).mean((0, 1))
        elif kinds.fires(node):
            s = trains.get(name)
            out = None if s is None else s.to(torch.float64).mean((0, 1))
        elif isinstance(node, Flatten) and len(srcs) == 1:
            m = mean(srcs[0])
            out = None if m is None else m.reshape(shapes[name])
        elif isinstance(node, SumPool2d) and len(srcs) == 1:
            m = mean(srcs[0])
            if m is not None:
                k = node.kernel[0] * node.kernel[1]
                out = F.avg_pool2d(m[None], node.kernel, node.stride, node.padding,
                                   count_include_pad=True)[0] * k
        elif isinstance(node, Add) and srcs:
            parts = [mean(s) for s in srcs]
            out = None if any(p is None for p in parts) else torch.stack(parts).sum(0)
        memo[name] = out
        return out

    means = {}
    for s in synapses:
        ins = g.in_edges(s)
        m = mean(ins[0].src) if len(ins) == 1 else None
        if m is not None:
            means[s] = m.numpy()
    return means


def mean_error(syn: Dense | Conv2d, w_eff: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``(w_eff − W)·mean``: the mean error current per output element of synapse ``syn``
    (flat, float64) whose effective float weights are ``w_eff`` (same shape as its weight),
    for the mean input ``mean`` (its input's shape)."""
    d = torch.as_tensor(w_eff.astype(np.float64) - syn.weight.astype(np.float64))
    m = torch.as_tensor(mean, dtype=torch.float64)
    if isinstance(syn, Conv2d):
        out = F.conv2d(m[None], d, stride=syn.stride, padding=syn.padding,
                       dilation=syn.dilation, groups=syn.groups)[0]
    else:
        out = d @ m.reshape(-1)
    return out.reshape(-1).numpy()
