"""One neuron layer in fixed point, replayed on recorded input spikes (calibration's inner loop).

A calibration trial changes one layer's integer parameters; the spikes reaching that layer are
already recorded (the graph's input, or the fixed-point spike trains of the layer before). A
feed-forward layer's synaptic input then does not depend on the layer's own state, so the
synapses before the neuron (convolutions, pools, flattens, dense) run once for all steps at once
— the steps stacked along the batch axis, one call of :func:`neurodeploy.sim.simulate` in fixed
mode per chunk of steps, with no Python loop over time — and only the neuron's own step runs
step by step: in place where its kind has that form (:meth:`NeuronKind.inplace`, the fast
simulator's, bit-exact with the pure step; its int32 state where the recorded sums' largest
magnitude allows), else its kind's ``fixed_step``. The numbers are the simulator's: the synapse sums
are its fixed-mode sums (recorded as raw integers), the neuron step its kind's.

Layers with a recurrent synapse or synaptic delays (their input depends on earlier steps) are not
replayed: :func:`replay_layer` returns None and the caller simulates the layer whole.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodeploy import kinds
from neurodeploy.ir import Dense, Graph
from neurodeploy.sim import simulate

#: synaptic-input elements (steps × samples × neurons) computed per simulate call
CHUNK_ELEMENTS = 2**23


def _synapse_graph(layer: Graph, n: str) -> Graph | None:
    """The layer graph without its neuron ``n``, its output the node that feeds ``n``; None when
    the layer cannot be replayed (several inputs to ``n``, a recurrent edge, a delayed Dense,
    or a neuron fed by the input without a synapse)."""
    ins = layer.in_edges(n)
    if len(ins) != 1 or ins[0].src in layer.inputs:
        return None
    if any(e.delay for e in layer.edges) or any(
            isinstance(node, Dense) and node.max_delay > 0 for node in layer):
        return None
    syn = Graph(metadata=dict(layer.metadata))
    syn.nodes = {k: v for k, v in layer.nodes.items() if k != n}
    syn.edges = [e for e in layer.edges if n not in (e.src, e.dst)]
    syn.inputs, syn.outputs = list(layer.inputs), [ins[0].src]
    return syn


def replay_layer(layer: Graph, n: str, xin: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """Neuron layer ``n`` of the quantized single-layer graph ``layer`` (its source an Input)
    in fixed point on ``xin`` ``[T, B, *input_shape]``: what the layer outputs, ``[T, B,
    *shape]`` float32 as its kind reports it (spikes 0/1; a read-out's ``v`` in float units),
    identical to ``simulate(layer, xin, "fixed")``. None when the layer is not replayable (see
    :func:`_synapse_graph`)."""
    syn = _synapse_graph(layer, n)
    if syn is None:
        return None
    node = layer.nodes[n]
    kind = kinds.neuron_kind(node)
    x = torch.as_tensor(xin)
    T, B = int(x.shape[0]), int(x.shape[1])
    shape = tuple(node.shape)
    per_step = B * max(int(np.prod(shape)), int(np.prod(x.shape[2:])))
    chunk = max(1, min(T, CHUNK_ELEMENTS // max(per_step, 1)))
    src = syn.outputs[0]
    sums = []  # the synaptic input of every step, chunk by chunk [k, B, *shape]
    for t0 in range(0, T, chunk):
        xs = x[t0:t0 + chunk]
        k = int(xs.shape[0])
        flat = xs.reshape(1, k * B, *xs.shape[2:])
        a = simulate(syn, flat, mode="fixed", record=[src]).records[src]["y"]
        sums.append(_narrow(a.reshape(k, B, *shape)))
    a_bound = max(float(a.abs().max()) if a.numel() else 0.0 for a in sums)
    inplace = kind.inplace(node, (B, *shape), True, "cpu", a_bound)
    if inplace is None:  # the kind's pure step
        params = kind.fixed_params(node, "cpu")
        state = kind.initial_state(node, (B, *shape), True, "cpu")
        ys = []
        for a in sums:
            for t in range(a.shape[0]):
                state, y, _ = kind.fixed_step(state, a[t], params)
                ys.append(y)
        return kind.output(node, torch.stack(ys), True)
    out = torch.empty((T, B, *shape), dtype=torch.float32)  # exact: spikes 0/1, |v| < 2**24
    t = 0
    for a in sums:
        a = a.to(inplace.a_dtype)
        for i in range(a.shape[0]):
            out[t].copy_(inplace.step(a[i]))
            t += 1
    return kind.output(node, out, True)


def _narrow(a: torch.Tensor) -> torch.Tensor:
    """Exact integers ``a`` in int32 when they fit (half the memory of int64)."""
    if a.numel() and float(a.abs().max()) < 2**31:
        return a.to(torch.int32)
    return a
