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
from neurodeploy.lava.verdict import VarSummary, compare_samples, judge, outside, result


def _exact(var: str, binary: bool, rtol: float | None) -> bool:
    """Compared exactly: fixed point (``rtol`` None) and binary spikes."""
    return rtol is None or (var == "s" and binary)


def summarize_records(graph: Graph, sim: dict[str, dict[str, Any]],
                      lava: dict[str, dict[str, Any]],
                      rtol: float | None = None) -> dict[tuple[str, str], VarSummary]:
    """Every neuron layer's variables of one shard of samples (records ``{layer: {var: [T, B,
    *shape]}}``) as :class:`~neurodeploy.lava.verdict.VarSummary`, keyed ``(layer, var)`` in
    the order divergences are ranked: layers in topological order, each kind's variables in the
    order Lava computes them."""
    out = {}
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not kinds.is_neuron(node):
            continue
        kind = kinds.neuron_kind(node)
        for var in kind.variables:
            a = np.asarray(sim[name][var])
            b = np.asarray(lava[name][var])
            if a.shape != b.shape:
                raise NeurodeployError(f"layer '{name}': simulator and Lava records of '{var}' "
                                       f"have shapes {a.shape} and {b.shape}")
            a = a.reshape(a.shape[0], a.shape[1], -1)
            b = b.reshape(a.shape)
            scale = float(np.abs(b.astype(np.float64)).max(initial=0.0))
            err = float(np.abs(a.astype(np.float64) - b).max(initial=0.0))
            exact = _exact(var, kind.binary, rtol)
            bad = a != b if exact else outside(a, b, rtol, scale)
            t, s, n = np.nonzero(bad)  # C order: lowest step first
            out[(name, var)] = VarSummary(exact, scale, err, t.astype(np.int64),
                                          s.astype(np.int64), n.astype(np.int64), a[bad], b[bad])
    return out


def compare_records(graph: Graph, sim: dict[str, dict[str, Any]],
                    lava: dict[str, dict[str, Any]],
                    rtol: float | None = None) -> tuple[list[dict], dict | None]:
    """Per-layer agreement and the first divergence of two record sets
    (``{layer: {var: [T, B, *shape]}}``, neurons only): :func:`~neurodeploy.lava.verdict.judge`
    of one shard."""
    return judge([(0, summarize_records(graph, sim, lava, rtol))], rtol)


def compare_inputs(graph: Graph, x: np.ndarray, lava_graph: Graph | None = None,
                   progress: bool = False, mode: str = "fixed", rtol: float | None = None,
                   shard: slice = slice(None)) -> dict[tuple[str, str], VarSummary]:
    """Run ``graph`` on the samples ``shard`` of the encoded inputs ``x`` [T, B, ...] in the
    simulator and in Lava (``lava_graph`` instead, if given) and summarize every neuron
    layer's variables.

    Float mode gives the same values whatever the shard: the simulator runs all of ``x`` (its
    float32 sums depend on the batch, as BLAS blocks them) and Lava one sample after another
    (laned sums would add other lanes' zeros in a different order). Fixed point is exact.
    """
    from neurodeploy.lava.run import simulate_lava
    from neurodeploy.sim import simulate

    neurons = [name for name, node in graph.nodes.items() if kinds.is_neuron(node)]
    if not neurons:
        raise NeurodeployError("the graph has no neuron layers to compare")
    part = np.ascontiguousarray(x[:, shard])
    fixed = mode == "fixed"
    sim = simulate(graph, part if fixed else x, mode=mode, record=neurons).records
    if not fixed:
        sim = {n: {v: np.asarray(a)[:, shard] for v, a in d.items()} for n, d in sim.items()}
    lava = simulate_lava(lava_graph if lava_graph is not None else graph, part, record=neurons,
                         progress=progress, mode=mode, lanes=None if fixed else 1)
    return summarize_records(graph, sim, lava.records, rtol)


def encoded_inputs(graph: Graph, ds: Any, samples: int, T: int | None,
                   mode: str) -> np.ndarray:
    """The first ``samples`` samples of ``ds`` encoded as ``compare`` runs them (seed 0),
    after checking the arguments."""
    from neurodeploy.data import encode
    from neurodeploy.sim.dataset import input_encoding, steps_for

    n = compare_samples(mode, samples, ds)
    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    return encode(ds.x[:n], enc, steps, seed=0)


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
    x = encoded_inputs(graph, ds, samples, T, mode)
    summ = compare_inputs(graph, x, lava_graph, progress, mode,
                          None if mode == "fixed" else float(rtol))
    return result([(0, summ)], int(x.shape[1]), int(x.shape[0]), mode, rtol)
