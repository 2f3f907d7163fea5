"""One torch intra-op thread while a graph's per-step products are small.

Measured on the 2-core machines (torch 2.3.1, MKL): a ``[32, 38] @ [38, 38]`` float32 product
costs 4.5 µs of CPU with one intra-op thread and 570 µs with two (1.2 ms wall) when the other
core is busy — MKL's threads synchronise on every small GEMM. A 12-38-7 recurrent network at
T = 256 (one small product per synapse per step) quantized in 2.5 s of CPU with one thread and
54 s with two. Big products (a convolution over a batch) still gain from a second thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from neurodeploy.ir import Conv2d, Dense, Graph, infer_shapes

#: multiply-accumulates of one synapse in one step (whole batch) below which one thread is used
SMALL_MACS = 2**21


def step_macs(graph: Graph, batch: int) -> int:
    """The largest multiply-accumulate count of one synapse in one step for ``batch`` samples."""
    shapes = infer_shapes(graph)
    top = 0
    for node in graph:
        if isinstance(node, Dense):
            top = max(top, int(np.asarray(node.weight).size))
        elif isinstance(node, Conv2d):
            w = np.asarray(node.weight)
            out = shapes[node.name]
            top = max(top, int(np.prod(out[1:])) * int(w.size))
    return top * batch


@contextmanager
def threads_for(graph: Graph, batch: int) -> Iterator[None]:
    """Within the block, one intra-op thread when ``graph``'s per-step products for ``batch``
    samples are below :data:`SMALL_MACS` (module docstring); the thread count is restored
    after."""
    n = torch.get_num_threads()
    small = n > 1 and step_macs(graph, batch) < SMALL_MACS
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(n)
