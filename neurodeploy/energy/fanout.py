"""Exact connectivity of synapse nodes: per-input-element fan-out, per-output fan-in, MACs.

A *connection* is an (input element, output element) pair joined by a weight (or, for pooling
and Add, by a unit sum). Convolution and pooling borders are exact: a kernel tap that falls on
zero padding is not a connection. Everything here is a pure function of the node and its
input shape (per sample, per step: no time or batch dimension).
"""

from __future__ import annotations

import numpy as np

from neurodeploy.ir.nodes import Add, AvgPool2d, Conv2d, Dense, Flatten, Node, SumPool2d
from neurodeploy.ir.shapes import conv_out_size

#: synapse nodes that do arithmetic (a Flatten only relabels elements)
COMPUTE_TYPES = (Dense, Conv2d, SumPool2d, AvgPool2d, Add)


def axis_taps(size_in: int, kernel: int, stride: int, padding: int,
              dilation: int = 1) -> np.ndarray:
    """For each input position along one axis, how many (output position, kernel tap) pairs
    read it: ``int64 [size_in]``. Taps on padding are not counted."""
    size_out = conv_out_size(size_in, kernel, stride, padding, dilation)
    pos = (np.arange(size_out)[:, None] * stride - padding
           + np.arange(kernel)[None, :] * dilation).ravel()
    pos = pos[(pos >= 0) & (pos < size_in)]
    return np.bincount(pos, minlength=size_in).astype(np.int64)


def _window(node: Node) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int],
                                 tuple[int, int]]:
    if isinstance(node, Conv2d):
        kh, kw = node.weight.shape[2:]
        return (kh, kw), tuple(node.stride), tuple(node.padding), tuple(node.dilation)
    return tuple(node.kernel), tuple(node.stride), tuple(node.padding), (1, 1)


def fanout(node: Node, in_shape: tuple[int, ...]) -> np.ndarray:
    """Number of connections leaving each input element: ``int64`` array of ``in_shape``.

    Dense ``[out, in]``: ``out`` for every input. Conv2d: ``C_out/groups`` times the number of
    kernel taps that read the pixel (borders, stride, dilation exact). Sum/avg pooling: the
    number of windows that contain the pixel. Add: 1. Flatten: 0 (no arithmetic).
    """
    if isinstance(node, Dense):
        return np.full(in_shape, node.weight.shape[0], dtype=np.int64)
    if isinstance(node, Add):
        return np.ones(in_shape, dtype=np.int64)
    if isinstance(node, Flatten):
        return np.zeros(in_shape, dtype=np.int64)
    if isinstance(node, (Conv2d, SumPool2d, AvgPool2d)):
        c, h, w = in_shape
        k, s, p, d = _window(node)
        th = axis_taps(h, k[0], s[0], p[0], d[0])
        tw = axis_taps(w, k[1], s[1], p[1], d[1])
        per_channel = 1
        if isinstance(node, Conv2d):
            per_channel = node.weight.shape[0] // node.groups
        plane = np.outer(th, tw) * per_channel
        return np.broadcast_to(plane, (c, h, w)).astype(np.int64)
    raise TypeError(f"no fan-out for node kind {node.kind}")


def fanin(node: Node, in_shape: tuple[int, ...]) -> int:
    """Largest number of connections entering one output element (padding excluded)."""
    if isinstance(node, Dense):
        return int(node.weight.shape[1])
    if isinstance(node, Add):
        return 1
    if isinstance(node, (Conv2d, SumPool2d, AvgPool2d)):
        _, h, w = in_shape
        k, s, p, d = _window(node)
        per = []
        for size, kk, ss, pp, dd in ((h, k[0], s[0], p[0], d[0]), (w, k[1], s[1], p[1], d[1])):
            n_out = conv_out_size(size, kk, ss, pp, dd)
            pos = np.arange(n_out)[:, None] * ss - pp + np.arange(kk)[None, :] * dd
            per.append(int(((pos >= 0) & (pos < size)).sum(axis=1).max()))
        c_in = node.weight.shape[1] if isinstance(node, Conv2d) else 1
        return c_in * per[0] * per[1]
    return 0


def connections(node: Node, in_shape: tuple[int, ...]) -> int:
    """Exact number of connections (the sum of :func:`fanout`)."""
    if isinstance(node, Dense):
        return int(node.weight.size)
    if isinstance(node, Flatten):
        return 0
    return int(fanout(node, in_shape).sum())


def ann_macs(node: Node, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """MACs of the same layer in an ANN, one pass, the standard counters' convention.

    Dense: ``in · out``. Conv2d: ``k_h·k_w · C_in/groups · C_out · H_out · W_out`` (padding
    taps included, as ptflops and fvcore count them; biases not counted). Pooling, Add and
    Flatten: 0 (no multiplications).
    """
    if isinstance(node, Dense):
        return int(node.weight.size)
    if isinstance(node, Conv2d):
        c_out, c_in_g, kh, kw = node.weight.shape
        return int(kh * kw * c_in_g * c_out * out_shape[1] * out_shape[2])
    return 0
