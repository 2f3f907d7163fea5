"""A Conv2d unrolled into the dense matrix it applies (im2col), so that a delayed convolution
runs as Lava's ``DelayDense`` (lava-nc 0.10 has no delayed Conv). No Lava needed.

Each output element ``(co, oh, ow)`` reads input ``(ci, ih, iw)`` through kernel tap
``(co, ci_g, kh, kw)`` with ``ih = oh·sH − pH + kh·dH``, ``iw = ow·sW − pW + kw·dW`` and
``ci = group(co)·C_in/g + ci_g``; taps that fall into the padding read nothing. Rows and columns
are in C order of ``(C_out, H_out, W_out)`` and ``(C_in, H, W)``, the IR's layouts.
"""

from __future__ import annotations

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d

#: the most weight-matrix entries an unrolled convolution may have (Lava's DelayDense holds it
#: dense, and its delay-weight matrix ``max_delay + 1`` times over)
MAX_UNROLLED = 1 << 24


def conv_taps(conv: Conv2d, in_shape: tuple[int, int, int], out_shape: tuple[int, int, int]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, taps)``: for every (output, input) pair a kernel tap connects, the row
    (flat output index), the column (flat input index) and the tap (flat index into
    ``conv.weight``). Each pair occurs at most once (a tap reads one input per output)."""
    c_out, c_in_g, kh, kw = conv.weight.shape
    c_in, h, w = in_shape
    _, ho, wo = out_shape
    g_out = c_out // conv.groups
    co, ci, a, b, oh, ow = np.meshgrid(np.arange(c_out), np.arange(c_in_g), np.arange(kh),
                                       np.arange(kw), np.arange(ho), np.arange(wo),
                                       indexing="ij")
    ih = oh * conv.stride[0] - conv.padding[0] + a * conv.dilation[0]
    iw = ow * conv.stride[1] - conv.padding[1] + b * conv.dilation[1]
    cin = (co // g_out) * c_in_g + ci
    inside = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w)
    rows = ((co * ho + oh) * wo + ow)[inside]
    cols = ((cin * h + ih) * w + iw)[inside]
    taps = (((co * c_in_g + ci) * kh + a) * kw + b)[inside]
    return rows, cols, taps


def unroll_conv(conv: Conv2d, weight: np.ndarray, delay: np.ndarray | None,
                in_shape: tuple[int, int, int], out_shape: tuple[int, int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The dense weight ``[n_out, n_in]`` and per-synapse delays (same shape, int64) of
    ``conv`` applied with kernel ``weight`` (its float or integer weights) and ``delay``
    (the kernel's delays, None: zero) on inputs of ``in_shape`` (C, H, W). Raises
    NeurodeployError naming the node when the matrix would exceed :data:`MAX_UNROLLED`."""
    n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
    if n_out * n_in > MAX_UNROLLED:
        raise NeurodeployError(
            f"node '{conv.name}' (conv2d): a delayed convolution runs in Lava as a DelayDense "
            f"over its unrolled weights, {n_out} x {n_in} here, more than {MAX_UNROLLED} entries")
    rows, cols, taps = conv_taps(conv, in_shape, out_shape)
    w = np.zeros((n_out, n_in), np.asarray(weight).dtype)
    w[rows, cols] = np.asarray(weight).reshape(-1)[taps]
    d = np.zeros((n_out, n_in), np.int64)
    if delay is not None:
        d[rows, cols] = np.asarray(delay, np.int64).reshape(-1)[taps]
    return w, d
