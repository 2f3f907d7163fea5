"""The performance model: every mapped core advanced through every time step on recorded activity.

Driven by the fixed-point simulator's activity step by step (not means): for each sample ``b``
and step ``t``, with the mapping's static traffic (:mod:`neurodeploy.perf.traffic`):

- each nonzero output of a source element (a spike, or a graded value) is one *message* to every
  core that holds a synapse from it; on arrival it costs one synaptic operation per synapse
  there (an AC for binary spikes, a MAC for graded values);
- core ``k``'s busy time is ``synops·synop_ns + neurons·neuron_update_ns + msgs_out·spike_ns``
  (every neuron is updated every step; each message sent costs the core's output stage);
- each message from core ``a`` to core ``b`` is routed x-then-y over the mesh of routing tiles
  (:func:`~neurodeploy.perf.traffic.route`); a link serialises its messages: busy
  ``messages · hop_ns`` (``chip_hop_ns`` for a chip-to-chip link);
- the step ends at the barrier::

      step = max(max_k core_k, max_l link_l) + longest path used (Σ its links' ns)
             + barrier_ns + barrier_ns_per_tile · (routing tiles used − 1)

  (cores and links work concurrently; the longest route adds its latency once).

Energy of a step: ``synops·(ac_pj | mac_pj) + neurons·neuron_update_pj + messages·spike_pj +
hops·hop_pj + chip hops·chip_hop_pj``; static energy ``static_power_mw · chips · step time``.
Messages from the graph input come from outside the chips: they cost synaptic operations where
they land, no routing. Per inference: latency = Σ_t step (layers run pipelined within a step,
as on Loihi), throughput = 1 / latency; figures are means over the samples.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.hardware_profiles import Profile
from neurodeploy.mapping.mapper import Mapping
from neurodeploy.perf.traffic import Link, is_chip_link, projections, route


@dataclass(frozen=True)
class PerfResult:
    """What :func:`simulate_perf` returns. Per-step arrays are means over the samples."""

    profile: str
    T: int
    samples: int
    cores: int
    chips: int
    step_ns: np.ndarray                 # [T]
    core_ns: np.ndarray                 # [T, cores] busy time
    core_msgs_in: np.ndarray            # [T, cores] messages received
    core_synops: np.ndarray             # [T, cores]
    core_energy_pj: np.ndarray          # [T, cores] dynamic energy spent in the core
    link_messages: dict[Link, float]    # messages per inference over each link
    routing_energy_pj: np.ndarray       # [T] hops and chip hops
    core_bound_steps: float             # fraction of steps whose slowest part is a core
    latency_us: float
    throughput_per_s: float
    dynamic_energy_pj: float
    static_energy_pj: float
    busiest_core: int
    busiest_link: Link | None
    per_sample_latency_us: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def step_us(self) -> float:
        """Mean time per step in µs."""
        return float(self.step_ns.mean() / 1e3)

    @property
    def total_energy_pj(self) -> float:
        return self.dynamic_energy_pj + self.static_energy_pj

    def to_dict(self, per_core: bool = True) -> dict:
        def r(x: float) -> float:
            return float(round(float(x), 6))

        doc = {
            "profile": self.profile, "T": self.T, "samples": self.samples,
            "cores": self.cores, "chips": self.chips, "step_us": r(self.step_us),
            "latency_us": r(self.latency_us), "throughput_per_s": r(self.throughput_per_s),
            "dynamic_energy_uj": r(self.dynamic_energy_pj / 1e6),
            "static_energy_uj": r(self.static_energy_pj / 1e6),
            "total_energy_uj": r(self.total_energy_pj / 1e6),
            "core_bound_steps": r(self.core_bound_steps),
            "step_us_by_step": [r(x / 1e3) for x in self.step_ns],
            "busiest_core": {"core": self.busiest_core,
                             "busy_us": r(self.core_ns[:, self.busiest_core].sum() / 1e3)
                             if self.cores else 0.0},
            "busiest_link": None if self.busiest_link is None else {
                "link": list(self.busiest_link),
                "messages": r(self.link_messages[self.busiest_link])},
        }
        if per_core:
            doc["per_core"] = [
                {"core": k, "busy_us": r(self.core_ns[:, k].sum() / 1e3),
                 "messages_in": r(self.core_msgs_in[:, k].sum()),
                 "synops": r(self.core_synops[:, k].sum()),
                 "energy_nj": r(self.core_energy_pj[:, k].sum() / 1e3)}
                for k in range(self.cores)]
        return doc


def check_activity(mapping: Mapping, activity: MappingABC[str, np.ndarray]) -> tuple[int, int]:
    """``(T, B)`` of ``activity`` ({node: ``[T, B, *shape]``} for the graph input and every
    mapped layer); NeurodeployError naming the node when one is missing or mis-shaped."""
    need = {layer.name: layer.shape for layer in mapping.graph_layers}
    for layer in mapping.graph_layers:
        for s in layer.sources:
            need.setdefault(s.name, s.shape)
    tb = None
    for name, shape in need.items():
        if name not in activity:
            raise NeurodeployError(f"activity record: no entry for node '{name}' of the mapped "
                                   "graph (record every neuron layer and the input)")
        a = np.asarray(activity[name])
        if a.ndim != 2 + len(shape) or tuple(a.shape[2:]) != tuple(shape):
            raise NeurodeployError(f"activity record: node '{name}' has shape {list(a.shape)}, "
                                   f"the graph needs [T, B, {', '.join(map(str, shape))}]")
        if tb is None:
            tb = a.shape[:2]
        elif a.shape[:2] != tb:
            raise NeurodeployError(f"activity record: node '{name}' covers [T, B] = "
                                   f"{list(a.shape[:2])}, other nodes {list(tb)}")
    if tb is None or min(tb) < 1:
        raise NeurodeployError("activity record: empty (T and B must be >= 1)")
    return int(tb[0]), int(tb[1])


def simulate_perf(mapping: Mapping, activity: MappingABC[str, np.ndarray],
                  profile: Profile) -> PerfResult:
    """Run the performance model (module docstring) of ``mapping`` on ``activity``
    (``{node: [T, B, *shape]}``, nonzero = a message; :func:`neurodeploy.perf.record_activity`
    records it) with the per-event times and energies of ``profile``."""
    if not profile.is_chip:
        raise NeurodeployError(f"hardware profile '{profile.name}' has no timings (not a chip)")
    if mapping.profile.split(":")[0] != profile.name.split(":")[0]:
        raise NeurodeployError(f"the mapping was made for '{mapping.profile}', not for "
                               f"'{profile.name}'")
    T, B = check_activity(mapping, activity)
    tm, en = profile.time, profile.energy
    n = mapping.n_cores
    mesh_x = int(profile.resources["mesh_tiles_x"])
    pos = [(c.x, c.y) for c in mapping.cores]
    TB = T * B
    acs = np.zeros((TB, n), np.float64)
    macs = np.zeros((TB, n), np.float64)
    msgs_in = np.zeros((TB, n), np.float64)
    msgs_out = np.zeros((TB, n), np.float64)
    pair_series: list[np.ndarray] = []
    pair_ends: list[tuple[int, int]] = []

    for p in projections(mapping):
        s = (np.asarray(activity[p.source]).reshape(TB, -1) != 0).astype(np.float32)
        syn = s @ p.synapses
        (macs if p.graded else acs)[:, p.dst_cores] += syn
        reach = (p.synapses > 0).astype(np.float32)
        if p.src_cores is None:
            msgs_in[:, p.dst_cores] += s @ reach
            continue
        for a in np.unique(p.src_cores):
            idx = p.src_cores == a
            m = s[:, idx] @ reach[idx]            # [TB, K] messages core a → each dst core
            msgs_out[:, a] += m.sum(1)
            msgs_in[:, p.dst_cores] += m
            for k in np.nonzero(reach[idx].any(0))[0]:
                pair_series.append(m[:, k])
                pair_ends.append((int(a), int(p.dst_cores[k])))

    neurons = np.array([c.neurons for c in mapping.cores], np.float64)
    core_ns = ((acs + macs) * tm["synop_ns"] + neurons[None, :] * tm["neuron_update_ns"]
               + msgs_out * tm["spike_ns"])
    core_pj = (acs * en["ac_pj"] + macs * en["mac_pj"]
               + neurons[None, :] * en["neuron_update_pj"] + msgs_out * en["spike_pj"])

    # ---- routing
    links: dict[Link, int] = {}
    paths = []
    for a, b in pair_ends:
        path = route(pos[a], pos[b])
        paths.append(path)
        for link in path:
            links.setdefault(link, len(links))
    link_list = list(links)
    link_ns = np.array([tm["chip_hop_ns"] if is_chip_link(lk, mesh_x) else tm["hop_ns"]
                        for lk in link_list])
    if pair_series:
        series = np.stack(pair_series, 1)                      # [TB, pairs]
        inc = np.zeros((len(paths), len(link_list)), np.float64)
        for i, path in enumerate(paths):
            for lk in path:
                inc[i, links[lk]] += 1
        loads = series @ inc                                    # [TB, links]
        chip = np.array([is_chip_link(lk, mesh_x) for lk in link_list], bool)
        hops = loads[:, ~chip].sum(1)
        chip_hops = loads[:, chip].sum(1)
        path_ns = inc @ link_ns                                 # [pairs]
        longest = np.where(series > 0, path_ns[None, :], 0.0).max(1)
        link_busy = (loads * link_ns[None, :]).max(1) if link_list else np.zeros(TB)
    else:
        loads = np.zeros((TB, 0))
        hops = chip_hops = longest = link_busy = np.zeros(TB)
    routing_pj = hops * en["hop_pj"] + chip_hops * en["chip_hop_pj"]

    routers = {(c.chip, c.x, c.y) for c in mapping.cores}
    barrier = tm["barrier_ns"] + tm["barrier_ns_per_tile"] * max(len(routers) - 1, 0)
    slowest_core = core_ns.max(1) if n else np.zeros(TB)
    step = np.maximum(slowest_core, link_busy) + longest + barrier    # [TB]

    chips = mapping.n_chips
    step_tb = step.reshape(T, B)
    per_sample_ns = step_tb.sum(0)
    latency_ns = float(per_sample_ns.mean())
    dynamic = float((core_pj.sum(1) + routing_pj).sum() / B)
    static = en["static_power_mw"] * 1e-3 * chips * latency_ns * 1e-9 * 1e12

    def mean_t(x: np.ndarray) -> np.ndarray:
        return x.reshape(T, B, *x.shape[1:]).mean(1)

    link_msgs = {lk: float(loads[:, i].sum() / B) for i, lk in enumerate(link_list)}
    busiest_link = max(link_msgs, key=link_msgs.__getitem__) if link_msgs else None
    core_t = mean_t(core_ns)
    return PerfResult(
        profile=profile.name, T=T, samples=B, cores=n, chips=chips, step_ns=mean_t(step),
        core_ns=core_t, core_msgs_in=mean_t(msgs_in), core_synops=mean_t(acs + macs),
        core_energy_pj=mean_t(core_pj), link_messages=link_msgs,
        routing_energy_pj=mean_t(routing_pj),
        core_bound_steps=float(np.mean(slowest_core >= link_busy)),
        latency_us=latency_ns / 1e3,
        throughput_per_s=1e9 / latency_ns if latency_ns > 0 else float("inf"),
        dynamic_energy_pj=dynamic, static_energy_pj=static,
        busiest_core=int(core_t.sum(0).argmax()) if n else -1, busiest_link=busiest_link,
        per_sample_latency_us=per_sample_ns / 1e3)


__all__ = ["PerfResult", "check_activity", "simulate_perf"]
