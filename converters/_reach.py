"""Can a converted layer respond at all? The largest input each node can see for spike inputs
in [0, 1], and the neurons that can never reach their threshold.

A converter that reads a time constant or a gain with the wrong convention (NIR's ``IF`` scaled
by ``dt`` when its producer stepped it per time step) leaves a network whose thresholds are
thousands of times above anything its inputs can drive: it imports, validates and stays silent.
:func:`unreachable` finds such layers so the converter can say so (one line per node).

Bound used: every graph input and every spike is at most 1 and at least 0; a synapse's output
is at most ``Σ max(w, 0)·hi + max(b, 0)`` (pools: the pooled bound); a neuron's largest
membrane after ``H`` steps of that drive follows its own float recurrence (leak included, no
reset), so a layer none of whose neurons crosses ``vth`` within ``H`` steps cannot fire for any
input in range within ``H`` steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.ir import AvgPool2d, Conv2d, CubaLIF, Dense, Flatten, Graph, Readout, SumPool2d
from neurodeploy.ir.shapes import infer_shapes

#: steps of maximal drive a layer is given to reach its threshold when the graph states no T
HORIZON = 1000


def _synapse_bound(node: Any, hi: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    if isinstance(node, Dense):
        out = np.clip(node.weight, 0, None).astype(np.float64) @ hi.reshape(-1)
        if node.bias is not None:
            out = out + np.clip(node.bias, 0, None)
        return out
    x = torch.as_tensor(hi, dtype=torch.float64)[None]
    if isinstance(node, Conv2d):
        w = torch.as_tensor(np.clip(node.weight, 0, None), dtype=torch.float64)
        y = F.conv2d(x, w, stride=node.stride, padding=node.padding, dilation=node.dilation,
                     groups=node.groups)[0].numpy()
        if node.bias is not None:
            y = y + np.clip(node.bias, 0, None).reshape(-1, 1, 1)
        return y
    y = F.avg_pool2d(x, node.kernel, node.stride, node.padding, count_include_pad=True)[0]
    if isinstance(node, SumPool2d):
        y = y * (node.kernel[0] * node.kernel[1])
    return y.numpy()


def drive_bounds(graph: Graph) -> dict[str, np.ndarray]:
    """Per node, an upper bound of its output per step (its shape, float64) for spike inputs in
    [0, 1]; neurons output spikes (bound 1), readouts their drive (they feed nothing in the
    IR). Delayed (recurrent) edges carry the spikes of the previous step (bound 1)."""
    shapes = infer_shapes(graph)
    hi: dict[str, np.ndarray] = {}
    for name in graph.topological_order():
        node = graph[name]
        ins = graph.in_edges(name)

        def src(e: Any) -> np.ndarray:
            return hi[e.src] if e.src in hi else np.ones(shapes[e.src])

        if not ins:
            hi[name] = np.ones(shapes[name])
        elif isinstance(node, (Dense, Conv2d, SumPool2d, AvgPool2d)):
            hi[name] = _synapse_bound(node, src(ins[0]))
        elif isinstance(node, Flatten):
            hi[name] = src(ins[0]).reshape(-1)
        elif isinstance(node, CubaLIF):
            hi[name] = np.ones(shapes[name])
        else:  # Add, Readout: the sum of what comes in
            hi[name] = sum(src(e) for e in ins)
    return hi


def peak_response(drive: np.ndarray, node: CubaLIF | Readout, steps: int) -> np.ndarray:
    """The largest ``v`` within ``steps`` steps of constant input ``drive`` (float recurrence of
    the CUBA step, no reset)."""
    du = np.broadcast_to(np.asarray(node.du, np.float64), drive.shape)
    dv = np.broadcast_to(np.asarray(node.dv, np.float64), drive.shape)
    bias = np.broadcast_to(np.asarray(node.bias, np.float64), drive.shape)
    u = np.zeros(drive.shape)
    v = np.zeros(drive.shape)
    peak = np.full(drive.shape, -np.inf)
    for _ in range(steps):
        u = u * (1 - du) + drive
        v = v * (1 - dv) + u + bias
        peak = np.maximum(peak, v)
    return peak


def unreachable(graph: Graph, steps: int | None = None) -> list[tuple[str, float, float]]:
    """Spiking layers none of whose neurons can cross its threshold within ``steps`` steps
    (default: ``graph.metadata['T']``, else :data:`HORIZON`) for any spike input in [0, 1]:
    ``(node, largest reachable v, smallest threshold)`` each."""
    steps = int(steps or graph.metadata.get("T") or HORIZON)
    hi = drive_bounds(graph)
    out = []
    for node in graph:
        if not isinstance(node, CubaLIF):
            continue
        drive = sum(hi[e.src] for e in graph.in_edges(node.name))
        drive = np.broadcast_to(np.asarray(drive, np.float64), tuple(node.shape))
        peak = peak_response(drive, node, steps)
        vth = np.broadcast_to(np.asarray(node.vth, np.float64), peak.shape)
        if not np.any(peak > vth):
            out.append((node.name, float(peak.max()), float(vth.min())))
    return out
