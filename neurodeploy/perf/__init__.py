"""The chip performance model: mapped cores advanced step by step on recorded activity.

- :func:`record_activity` — run the simulator (fixed point for a quantized graph) on samples and
  keep what the chip would carry: every neuron layer's spikes and the input's messages,
  ``{node: [T, B, *shape]}``.
- :func:`simulate_perf` (:mod:`neurodeploy.perf.model`) — per step and per core: busy time,
  messages, synaptic operations, energy; per link: messages; per inference: latency,
  throughput, dynamic and static energy.
- :func:`chip_estimates` — mapping + performance on every chip profile of a list.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC

import numpy as np

from neurodeploy import kinds
from neurodeploy.hardware_profiles import Profile
from neurodeploy.ir.graph import Graph
from neurodeploy.mapping.mapper import Mapping, map_graph
from neurodeploy.perf.model import PerfResult, check_activity, simulate_perf

#: samples the performance model runs on by default (it reports means over them)
DEFAULT_SAMPLES = 16


def activity_nodes(graph: Graph) -> list[str]:
    """The nodes whose outputs travel between cores: the inputs and every neuron node."""
    return [n for n, node in graph.nodes.items()
            if n in graph.inputs or kinds.is_neuron(node)]


def record_activity(graph: Graph, ds, T: int | None = None, samples: int = DEFAULT_SAMPLES,
                    mode: str | None = None) -> dict[str, np.ndarray]:
    """Simulate the first ``samples`` samples of dataset ``ds`` and return
    ``{node: [T, B, *shape]}`` (spikes of neuron layers, integer messages of the input).
    ``mode`` defaults to ``fixed`` for a quantized graph, else ``float``."""
    from neurodeploy.sim import run_dataset

    if mode is None:
        quantized = any(getattr(n, "quant", None) is not None for n in graph)
        mode = "fixed" if quantized else "float"
    sub = ds.subset(slice(0, min(samples, len(ds))))
    res = run_dataset(graph, sub, mode=mode, T=T, record=activity_nodes(graph))
    return activity_from_records(graph, res.records)


def activity_from_records(graph: Graph, records: MappingABC[str, MappingABC[str, object]]
                          ) -> dict[str, np.ndarray]:
    """The activity in a simulator result's ``records`` (recorded with
    ``record=activity_nodes(graph)``): spikes ``s`` of neurons, output ``y`` of the input."""
    out = {}
    for n in activity_nodes(graph):
        rec = records[n]
        val = rec["s"] if "s" in rec else rec["y"]
        out[n] = val.cpu().numpy() if hasattr(val, "cpu") else np.asarray(val)
    return out


def chip_estimates(graph: Graph, activity: MappingABC[str, np.ndarray], profiles: list[Profile],
                   mappings: dict[str, Mapping] | None = None
                   ) -> dict[str, tuple[Mapping, PerfResult]]:
    """Mapping and performance on every chip profile of ``profiles`` (others are skipped):
    ``{profile name: (Mapping, PerfResult)}``. ``mappings``: already computed mappings by
    profile name, reused instead of mapping again."""
    out = {}
    for p in profiles:
        if p.is_chip:
            m = (mappings or {}).get(p.name) or map_graph(graph, p)
            out[p.name] = (m, simulate_perf(m, activity, p))
    return out


__all__ = ["DEFAULT_SAMPLES", "PerfResult", "activity_from_records", "activity_nodes", "check_activity", "chip_estimates",
           "record_activity", "simulate_perf"]
