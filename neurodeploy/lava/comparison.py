"""``compare``: run the simulator and Lava on the same inputs, layer by layer.

Fixed mode (the simulator's fixed point vs Lava ``fixed_pt``): every neuron layer's ``s``, ``u``
and ``v`` must be identical at every step of every sample. Float mode (float simulator vs Lava
``floating_pt``): binary spikes must be identical; ``u``, ``v`` and graded spikes (a
sigma-delta layer's ``s``) agree when
``|sim − lava| ≤ rtol · max(|lava|, M)`` elementwise, ``M`` the largest ``|lava|`` of that
variable in that layer over all steps and samples (so values that are rounding residue of a
cancellation, near 0, are judged against the layer's scale, not their own). The
*first divergence* is the earliest step at which any layer differs; among layers differing at
that step the first in topological order, then the first variable in the order Lava computes
them (its kind's ``variables``: ``u``, then ``v``, then ``s``), then the lowest sample, then
the lowest neuron (flat index, C order over the layer's shape) — so a corrupted synapse is
named at the neuron it feeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph


def _mismatch(var: str, a: np.ndarray, b: np.ndarray, rtol: float | None,
              binary: bool = True) -> np.ndarray:
    """Boolean mask of disagreeing elements: exact for binary spikes and for ``rtol`` None
    (graded spikes, ``binary`` False, are values: within ``rtol`` like ``u`` and ``v``)."""
    if rtol is None or (var == "s" and binary):
        return a != b
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    scale = float(np.abs(b64).max(initial=0.0))
    return ~(np.abs(a64 - b64) <= rtol * np.maximum(np.abs(b64), scale))


def compare_records(graph: Graph, sim: dict[str, dict[str, Any]],
                    lava: dict[str, dict[str, Any]],
                    rtol: float | None = None) -> tuple[list[dict], dict | None]:
    """Per-layer agreement and the first divergence of two record sets
    (``{layer: {var: [T, B, *shape]}}``, neurons only).

    ``rtol`` None: every value must be identical (fixed point). A number: spikes identical,
    ``u``/``v`` within ``rtol`` of the layer's scale (see the module docstring); each layer's
    entry then also gives ``max_rel_error`` per variable: ``max |sim − lava| / max |lava|``.
    """
    layers = []
    first: tuple | None = None
    first_info: dict | None = None
    order = [n for n in graph.topological_order() if kinds.is_neuron(graph.nodes[n])]
    for rank, name in enumerate(order):
        entry: dict[str, Any] = {"layer": name, "identical": True, "mismatches": 0}
        kind = kinds.neuron_kind(graph.nodes[name])
        for vi, var in enumerate(kind.variables):
            a = np.asarray(sim[name][var])
            b = np.asarray(lava[name][var])
            if a.shape != b.shape:
                raise NeurodeployError(f"layer '{name}': simulator and Lava records of '{var}' "
                                       f"have shapes {a.shape} and {b.shape}")
            diff = _mismatch(var, a, b, rtol, kind.binary).reshape(a.shape[0], a.shape[1], -1)
            if rtol is not None and (var != "s" or not kind.binary):
                scale = float(np.abs(b.astype(np.float64)).max(initial=0.0))
                err = float(np.abs(a.astype(np.float64) - b).max(initial=0.0))
                entry.setdefault("max_rel_error", {})[var] = err / scale if scale else err
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
                    conv = int if rtol is None else float
                    first_info = {"layer": name, "step": int(t), "neuron": int(neuron),
                                  "variable": var, "sim": conv(flat_a[t, bidx, neuron]),
                                  "lava": conv(flat_b[t, bidx, neuron]), "sample": int(bidx)}
        layers.append(entry)
    return layers, first_info


def compare(graph: Graph, ds: Any, samples: int = 20, T: int | None = None,
            lava_graph: Graph | None = None, progress: bool = False, mode: str = "fixed",
            rtol: float = 1e-5) -> dict:
    """Run ``graph`` in the simulator and in Lava on the first ``samples`` samples of ``ds`` (a
    ``neurodeploy.data.Dataset``, encoded as ``run_dataset`` does, seed 0) and compare every
    neuron layer's ``s``/``u``/``v`` at every step.

    ``mode``: ``fixed`` (fixed-point simulator vs Lava ``fixed_pt``, exact) or ``float`` (float
    simulator vs Lava ``floating_pt``; spikes exact, ``u``/``v`` within ``rtol``, see the module
    docstring). The result then has ``mode`` and ``rtol`` too.

    ``lava_graph``: run this graph (same structure) in Lava instead of ``graph`` — to check that
    a difference is caught. Returns ``{identical, samples, T, layers: [{layer, identical,
    mismatches, s, u, v}], first_divergence: None | {layer, step, neuron, variable, sim, lava,
    sample}}``.
    """
    from neurodeploy.data import encode
    from neurodeploy.lava.run import simulate_lava
    from neurodeploy.sim import simulate
    from neurodeploy.sim.dataset import input_encoding, steps_for

    if mode not in ("fixed", "float"):
        raise NeurodeployError(f"unknown compare mode '{mode}' (choose fixed or float)")
    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    n = min(samples, len(ds))
    if n == 0:
        raise NeurodeployError(f"dataset '{ds.name}' has no samples")
    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    x = encode(ds.x[:n], enc, steps, seed=0)
    neurons = [name for name, node in graph.nodes.items() if kinds.is_neuron(node)]
    if not neurons:
        raise NeurodeployError("the graph has no neuron layers to compare")
    sim = simulate(graph, x, mode=mode, record=neurons)
    lava = simulate_lava(lava_graph if lava_graph is not None else graph, x, record=neurons,
                         progress=progress, mode=mode)
    tol = None if mode == "fixed" else float(rtol)
    layers, first = compare_records(graph, sim.records, lava.records, rtol=tol)
    out = {"identical": first is None, "samples": n, "T": int(x.shape[0]),
           "layers": layers, "first_divergence": first}
    if tol is not None:
        out.update(mode=mode, rtol=tol)
    return out
