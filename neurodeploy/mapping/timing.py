"""Cycle/latency model: time per step and per inference on a chip profile, from activity.

An **estimate** in the spirit of Davies et al. 2018's per-event timings (and SANA-FE's
simulator), not a cycle-accurate model. For each core, per step (means over the T steps):

    t_core = synops · synop_ns + neurons · neuron_update_ns + spikes_out · spike_ns

where a layer's synaptic ops (``snn_acs + snn_macs`` of the synapse nodes feeding it, from
:func:`neurodeploy.energy.count_ops`) and its spikes are shared among its cores in proportion
to their neurons. Then

    t_step = max_core t_core + routing + barrier
    routing = (spikes per step, all layers) · mean_hops · hop_ns      (serialised: upper bound)
    barrier = barrier_ns + barrier_ns_per_tile · (tiles used − 1)
    latency = T · t_step;  throughput = 1 / latency

``mean_hops`` is the mean Manhattan distance between two tiles of a square mesh holding the
tiles used (``(2/3)·side``). Energy per inference: dynamic (the energy model's ``snn`` figure
plus spikes · mean_hops · hop_pj) + static (``static_power_mw`` · latency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurodeploy.energy.estimate import LayerOps, layer_energy
from neurodeploy.errors import NeurodeployError
from neurodeploy.hardware_profiles import Profile
from neurodeploy.ir import Graph
from neurodeploy.mapping.mapper import Mapping, map_graph


@dataclass(frozen=True)
class Timing:
    """Per-step and per-inference estimates on one chip profile."""

    profile: str
    T: int
    step_ns: float
    slowest_core: int
    slowest_core_ns: float
    routing_ns: float
    barrier_ns: float
    latency_us: float
    throughput_per_s: float
    dynamic_energy_pj: float
    static_energy_pj: float

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items()}


def estimate_timing(mapping: Mapping, rows: list[LayerOps], T: int,
                    profile: Profile) -> Timing:
    """Time per step and per inference, and energy per inference (see the module docstring).

    ``rows`` are :func:`neurodeploy.energy.count_ops`'s layers for the same graph, per
    inference; ``mapping`` is :func:`neurodeploy.mapping.map_graph`'s result on ``profile``.
    """
    if not profile.is_chip:
        raise NeurodeployError(f"hardware profile '{profile.name}' has no timings (not a chip)")
    if T < 1:
        raise NeurodeployError(f"T must be >= 1, got {T}")
    t = profile.time
    synops: dict[str, float] = {}
    spikes: dict[str, float] = {}
    for r in rows:
        if r.neuron is not None:
            synops[r.neuron] = synops.get(r.neuron, 0.0) + (r.snn_acs + r.snn_macs) / T
            spikes[r.neuron] = r.spikes / T
    by_layer = {m.name: m for m in mapping.layers}
    slowest, slowest_ns = -1, 0.0
    for c in mapping.cores:
        m = by_layer[c.layer]
        share = c.neurons / m.neurons if m.neurons else 0.0
        ns = (synops.get(c.layer, 0.0) * share * t["synop_ns"]
              + c.neurons * t["neuron_update_ns"]
              + spikes.get(c.layer, 0.0) * share * t["spike_ns"])
        if ns > slowest_ns or slowest < 0:
            slowest, slowest_ns = c.core, ns
    tiles = max(1, math.ceil(mapping.n_cores / int(profile.resources.get("cores_per_tile", 1))))
    side = math.ceil(math.sqrt(tiles))
    mean_hops = 2.0 * side / 3.0 if tiles > 1 else 0.0
    step_spikes = sum(spikes.values())
    routing = step_spikes * mean_hops * t["hop_ns"]
    barrier = t["barrier_ns"] + t.get("barrier_ns_per_tile", 0.0) * (tiles - 1)
    step = slowest_ns + routing + barrier
    latency_ns = T * step
    dyn = sum(layer_energy(r, profile, T)[0] for r in rows)
    dyn += step_spikes * T * mean_hops * profile.energy.get("hop_pj", 0.0)
    static = profile.energy.get("static_power_mw", 0.0) * 1e-3 * latency_ns * 1e-9 * 1e12
    return Timing(profile=profile.name, T=T, step_ns=step, slowest_core=slowest,
                  slowest_core_ns=slowest_ns, routing_ns=routing, barrier_ns=barrier,
                  latency_us=latency_ns / 1e3,
                  throughput_per_s=1e9 / latency_ns if latency_ns > 0 else float("inf"),
                  dynamic_energy_pj=dyn, static_energy_pj=static)


__all__ = ["Timing", "estimate_timing"]


def chip_estimates(graph: Graph, rows: list[LayerOps], T: int, profiles: list[Profile],
                   mappings: dict[str, Mapping] | None = None
                   ) -> dict[str, tuple[Mapping, Timing]]:
    """Mapping and timing on every chip profile of ``profiles`` (others are skipped):
    ``{profile name: (Mapping, Timing)}``, the ``chips`` argument of the energy reports.
    ``mappings``: already computed mappings by profile name, reused instead of mapping again.
    """
    out = {}
    for p in profiles:
        if p.is_chip:
            m = (mappings or {}).get(p.name) or map_graph(graph, p)
            out[p.name] = (m, estimate_timing(m, rows, T, p))
    return out
