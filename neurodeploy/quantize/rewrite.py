"""Graph rewrites before quantization that keep the float semantics exactly.

AvgPool2d has no fixed-point form: it becomes a SumPool2d, and its ``1/k²`` is folded into the
adjacent synapse's float weights (downstream Dense/Conv reached through Flatten, else the
upstream Dense/Conv that feeds only the pool).
"""

from __future__ import annotations

import copy

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, SumPool2d


def _downstream_synapses(graph: Graph, name: str) -> list[str] | None:
    """Synapses fed by ``name`` through Flatten only, or None if another kind is reached."""
    found: list[str] = []
    for e in graph.out_edges(name):
        node = graph.nodes[e.dst]
        if isinstance(node, (Dense, Conv2d)):
            found.append(e.dst)
        elif isinstance(node, Flatten):
            sub = _downstream_synapses(graph, e.dst)
            if sub is None:
                return None
            found += sub
        else:
            return None
    return found


def fold_avgpools(graph: Graph) -> Graph:
    """A copy of ``graph`` with every AvgPool2d turned into a SumPool2d (same name), its
    ``1/(kh·kw)`` folded into an adjacent synapse. Raises NeurodeployError naming the pool when
    no synapse can take the factor."""
    g = copy.deepcopy(graph)
    for name in list(g.nodes):
        node = g.nodes[name]
        if not isinstance(node, AvgPool2d):
            continue
        k = float(node.kernel[0] * node.kernel[1])
        down = _downstream_synapses(g, name)
        ins = g.in_edges(name)
        if down:
            targets = down
            if any(len(g.in_edges(t)) != 1 for t in targets):
                targets = []
        else:
            targets = []
        if not targets and len(ins) == 1 and ins[0].delay == 0:
            up = g.nodes[ins[0].src]
            if isinstance(up, (Dense, Conv2d)) and len(g.out_edges(up.name)) == 1:
                up.weight = (up.weight / k).astype(np.float32)
                if up.bias is not None:
                    up.bias = (up.bias / k).astype(np.float32)
                targets = ["<upstream>"]
        elif targets:
            for t in targets:
                syn = g.nodes[t]
                syn.weight = (syn.weight / k).astype(np.float32)
        if not targets:
            raise NeurodeployError(f"node '{name}' (avgpool2d): average pooling needs a Dense or "
                                   "Conv2d right before or after it to take its 1/k² on Loihi")
        g.nodes[name] = SumPool2d(name, kernel=tuple(node.kernel), stride=tuple(node.stride),
                                  padding=tuple(node.padding))
    return g
