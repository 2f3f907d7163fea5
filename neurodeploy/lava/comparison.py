"""``compare``: run the fixed-point simulator and Lava on the same inputs, layer by layer.

Every neuron layer's ``s``, ``u`` and ``v`` are compared at every step of every sample. The
*first divergence* is the earliest step at which any layer differs; among layers differing at
that step the first in topological order, then the first variable in the order Lava computes
them (``u``, then ``v``, then ``s``), then the lowest sample, then the lowest neuron (flat index,
C order over the layer's shape) — so a corrupted synapse is named at the neuron it feeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Graph, Readout

VARIABLES = ("u", "v", "s")


def compare_records(graph: Graph, sim: dict[str, dict[str, Any]],
                    lava: dict[str, dict[str, Any]]) -> tuple[list[dict], dict | None]:
    """Per-layer agreement and the first divergence of two record sets
    (``{layer: {var: [T, B, *shape]}}``, neurons only)."""
    layers = []
    first: tuple | None = None
    first_info: dict | None = None
    order = [n for n in graph.topological_order()
             if isinstance(graph.nodes[n], (CubaLIF, Readout))]
    for rank, name in enumerate(order):
        entry: dict[str, Any] = {"layer": name, "identical": True, "mismatches": 0}
        for vi, var in enumerate(VARIABLES):
            a = np.asarray(sim[name][var])
            b = np.asarray(lava[name][var])
            if a.shape != b.shape:
                raise NeurodeployError(f"layer '{name}': simulator and Lava records of '{var}' "
                                       f"have shapes {a.shape} and {b.shape}")
            diff = (a != b).reshape(a.shape[0], a.shape[1], -1)
            n_bad = int(diff.sum())
            entry[var] = n_bad == 0
            entry["mismatches"] += n_bad
            if n_bad:
                entry["identical"] = False
                t, bidx, neuron = np.argwhere(diff)[0]  # argwhere is C-ordered: lowest t first
                key = (int(t), rank, vi, int(bidx), int(neuron))
                if first is None or key < first:
                    first = key
                    flat_a = a.reshape(a.shape[0], a.shape[1], -1)
                    flat_b = b.reshape(b.shape[0], b.shape[1], -1)
                    first_info = {"layer": name, "step": int(t), "neuron": int(neuron),
                                  "variable": var, "sim": int(flat_a[t, bidx, neuron]),
                                  "lava": int(flat_b[t, bidx, neuron]), "sample": int(bidx)}
        layers.append(entry)
    return layers, first_info


def compare(graph: Graph, ds: Any, samples: int = 20, T: int | None = None,
            lava_graph: Graph | None = None, progress: bool = False) -> dict:
    """Run ``graph`` in the fixed-point simulator and in Lava on the first ``samples`` samples
    of ``ds`` (a ``neurodeploy.data.Dataset``, encoded as ``run_dataset`` does, seed 0) and
    compare every neuron layer's ``s``/``u``/``v`` at every step.

    ``lava_graph``: run this graph (same structure) in Lava instead of ``graph`` — to check that
    a difference is caught. Returns ``{identical, samples, T, layers: [{layer, identical,
    mismatches, s, u, v}], first_divergence: None | {layer, step, neuron, variable, sim, lava,
    sample}}``.
    """
    from neurodeploy.data import encode
    from neurodeploy.lava.run import simulate_lava
    from neurodeploy.sim import simulate
    from neurodeploy.sim.dataset import input_encoding, steps_for

    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    n = min(samples, len(ds))
    if n == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    x = encode(ds.x[:n], enc, steps, seed=0)
    neurons = [name for name, node in graph.nodes.items()
               if isinstance(node, (CubaLIF, Readout))]
    if not neurons:
        raise NeurodeployError("the graph has no neuron layers to compare")
    sim = simulate(graph, x, mode="fixed", record=neurons)
    lava = simulate_lava(lava_graph if lava_graph is not None else graph, x, record=neurons,
                         progress=progress)
    layers, first = compare_records(graph, sim.records, lava.records)
    return {"identical": first is None, "samples": n, "T": int(x.shape[0]),
            "layers": layers, "first_divergence": first}
