"""Operation counts per layer from simulated activity, and energy per hardware profile.

A *layer* is one synapse node that does arithmetic (Dense, Conv2d, SumPool2d, AvgPool2d,
Add) together with the neuron node it feeds directly, if any; a neuron node fed by no such
synapse gets a row of its own. Counts are **per inference** (one sample, all T steps), from
the simulator's ``counts`` (per element: number of nonzero output values summed over T, mean
over samples; see :mod:`neurodeploy.sim`).

Per layer (the seed formula, exact at borders):

- ``ann_macs``: the same network as an ANN, one pass (Dense ``in·out``; Conv2d
  ``k²·C_in/groups·C_out·H_out·W_out``; pooling and Add 0).
- ``snn_acs``: when the layer's input is binary (spikes from a CubaLIF, or a ``rate`` /
  ``spikes`` encoded Input): ``Σ_e events[e] · fanout[e]`` over input elements ``e``, with the
  exact per-element fan-out (:func:`neurodeploy.energy.fanout.fanout`).
- ``snn_macs``: when the input is graded (a ``direct`` encoded Input, a pooling or Add output,
  a Readout): the same sum, each event costing a multiply-accumulate. An analog input that is
  nonzero everywhere thus costs the layer's connections × T MACs ("MACs every step"); a zero
  input value is not sent (event-driven, as Loihi 2's graded spikes).
  Pooling and Add rows count their sums as ACs whatever their input.
- ``firing_rate``: spikes per neuron per step of the layer's neuron node (a Readout never
  fires: 0); for a layer that feeds no neuron, the fraction of nonzero outputs per step.

Energy per profile, in pJ per inference::

    snn = snn_macs·mac_pj + snn_acs·ac_pj + neurons·T·neuron_update_pj + spikes·spike_pj
    ann = ann_macs·mac_pj + neurons·neuron_update_pj                  (one pass)

With ``memory=True`` and a profile with a ``[memory]`` table, every MAC/AC also reads one
weight of ``weight_bits`` from the smallest SRAM that holds the layer's weights (else DRAM).
These are estimates from published per-operation energies, not measurements.

Synaptic delays (``Dense.delay``) change no count: a spike's synaptic ops happen when it
arrives at the synapse (Lava's ``DelayDense`` accumulates it then into a delay slot), and
neither Lava nor Intel documents a per-step cost for holding delay slots, so none is added;
their memory is counted by the mapper (``delay_slot_words_per_neuron``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.energy.fanout import COMPUTE_TYPES, ann_macs, connections, fanout
from neurodeploy.errors import NeurodeployError
from neurodeploy.hardware_profiles import Profile
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import Add, AvgPool2d, Flatten, Input, SumPool2d
from neurodeploy.ir.validate import validate


@dataclass(frozen=True)
class LayerOps:
    """Operation counts of one layer, per inference (one sample, all T steps)."""

    name: str                 # the synapse node (or the neuron node for a neuron-only row)
    kind: str                 # the node kind of ``name``
    inputs: tuple[str, ...]   # nodes whose events the layer receives
    neuron: str | None        # the neuron node this layer feeds directly, if any
    neurons: int              # neurons of that node (0 if none)
    synapses: int             # exact connection count (padding excluded)
    ann_macs: int
    snn_macs: float
    snn_acs: float
    input_events: float       # nonzero values received per inference
    spikes: float             # spikes emitted by ``neuron`` per inference
    firing_rate: float
    weight_bytes: float = 0.0  # weights stored, for the memory-aware estimate
    #: bits per stored weight of a quantized synapse (``quant.num_weight_bits``), else None
    weight_bits: int | None = None


def is_binary(graph: Graph, name: str, spike_data: bool = False) -> bool:
    """True when ``name``'s output values are 0/1 spikes: a neuron whose kind is ``binary``
    (CubaLIF); an Input that is rate- or spike-encoded, fed spike data (``spike_data``), or
    quantized to 1-bit unsigned messages; or a Flatten of one of these."""
    node = graph[name]
    kind = kinds.kind_of(node)
    if kind is not None:
        return kind.binary
    if isinstance(node, Input):
        q = node.quant
        return (spike_data or node.encoding in ("rate", "spikes")
                or (q is not None and q.bits == 1 and not q.signed))
    if isinstance(node, Flatten):
        (src,) = [e.src for e in graph.in_edges(name)]
        return is_binary(graph, src, spike_data)
    return False


def _count(counts: Mapping[str, Any], name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in counts:
        raise NeurodeployError(f"no activity counts for node '{name}' (simulate with counts "
                               "for every node)")
    arr = np.asarray(counts[name], dtype=np.float64)
    if arr.shape != tuple(shape):
        if arr.size == math.prod(shape):
            return arr.reshape(shape)
        raise NeurodeployError(f"activity counts of node '{name}' have shape {arr.shape}, "
                               f"the node's output is {tuple(shape)}")
    return arr


def count_ops(graph: Graph, counts: Mapping[str, Any], T: int,
              spike_data: bool = False) -> list[LayerOps]:
    """Per-layer operation counts (see the module docstring), in topological order.

    ``counts[node]``: nonzero output values per element over the ``T`` steps of one
    inference (mean over samples), shaped like the node's output (a flat array of the same
    size is accepted). ``spike_data``: the inputs were fed 0/1 spike data (e.g. Randman),
    whatever the Input's declared encoding. Raises NeurodeployError naming a node whose counts
    are missing or misshapen.
    """
    if T < 1:
        raise NeurodeployError(f"T must be >= 1, got {T}")
    shapes = validate(graph)
    order = graph.topological_order()
    claimed: set[str] = set()
    rows: list[LayerOps] = []

    def rate(name: str) -> tuple[float, float]:
        """``(spikes, firing rate)`` of neuron node ``name`` (its kind's op counts)."""
        c = _count(counts, name, shapes[name])
        spikes = kinds.neuron_kind(graph.nodes[name]).ops(c.size, T, float(c.sum())).spikes
        return spikes, spikes / (T * max(c.size, 1))

    for name in order:
        node = graph.nodes[name]
        if isinstance(node, COMPUTE_TYPES):
            srcs = tuple(e.src for e in graph.in_edges(name))
            events = 0.0
            ops = 0.0
            macs_path = False
            for src in srcs:
                ev = _count(counts, src, shapes[src])
                fo = fanout(node, shapes[src])
                events += float(ev.sum())
                ops += float((ev * fo).sum())
                if not is_binary(graph, src, spike_data):
                    macs_path = True
            graded = macs_path and not isinstance(node, (SumPool2d, AvgPool2d, Add))
            neuron = _fed_neuron(graph, name, claimed)
            if neuron is not None:
                claimed.add(neuron)
                n_neur = math.prod(shapes[neuron])
                spikes, fr = rate(neuron)
            else:
                n_neur, spikes = 0, 0.0
                c = _count(counts, name, shapes[name])
                fr = float(c.sum()) / (T * max(c.size, 1))
            in_shape = shapes[srcs[0]]
            n_syn = sum(connections(node, shapes[s]) for s in srcs)
            rows.append(LayerOps(
                name=name, kind=node.kind, inputs=srcs, neuron=neuron, neurons=n_neur,
                synapses=n_syn, ann_macs=ann_macs(node, in_shape, shapes[name]),
                snn_macs=ops if graded else 0.0, snn_acs=0.0 if graded else ops,
                input_events=events, spikes=spikes, firing_rate=fr,
                weight_bytes=float(getattr(node, "weight", np.zeros(0)).size) * 4.0,
                weight_bits=_stored_bits(node),
            ))
    for name in order:  # neuron nodes fed by no compute synapse (e.g. Input -> CubaLIF)
        node = graph.nodes[name]
        if kinds.is_neuron(node) and name not in claimed:
            srcs = tuple(e.src for e in graph.in_edges(name))
            spikes, fr = rate(name)
            events = sum(float(_count(counts, s, shapes[s]).sum()) for s in srcs)
            rows.append(LayerOps(name=name, kind=node.kind, inputs=srcs, neuron=name,
                                 neurons=math.prod(shapes[name]), synapses=0, ann_macs=0,
                                 snn_macs=0.0, snn_acs=0.0, input_events=events, spikes=spikes,
                                 firing_rate=fr))
    pos = {n: i for i, n in enumerate(order)}
    rows.sort(key=lambda r: pos[r.name])
    return rows


def _stored_bits(node: Any) -> int | None:
    q = getattr(node, "quant", None)
    return int(q.num_weight_bits) if q is not None and hasattr(q, "num_weight_bits") else None


def _fed_neuron(graph: Graph, name: str, claimed: set[str]) -> str | None:
    """The first neuron node that ``name`` feeds directly and no earlier layer has claimed."""
    for e in graph.out_edges(name):
        if kinds.is_neuron(graph.nodes[e.dst]) and e.dst not in claimed:
            return e.dst
    return None


def _weight_read_pj(profile: Profile, weight_bytes: float, weight_bits: int) -> float:
    mem = profile.memory
    if not mem:
        return 0.0
    per_access = float(mem["dram_pj"])
    for size, pj in zip(mem["sram_bytes"], mem["sram_pj"], strict=True):
        if weight_bytes <= size:
            per_access = float(pj)
            break
    return per_access * weight_bits / float(mem["access_bits"])


def layer_energy(row: LayerOps, profile: Profile, T: int, memory: bool = False,
                 weight_bits: int = 32) -> tuple[float, float]:
    """(snn, ann) energy of one layer on ``profile``, in pJ per inference."""
    e = profile.energy
    snn = (row.snn_macs * e["mac_pj"] + row.snn_acs * e["ac_pj"]
           + row.neurons * T * e["neuron_update_pj"] + row.spikes * e["spike_pj"])
    ann = row.ann_macs * e["mac_pj"] + row.neurons * e["neuron_update_pj"]
    if memory:
        read = _weight_read_pj(profile, row.weight_bytes * weight_bits / 32.0, weight_bits)
        snn += (row.snn_macs + row.snn_acs) * read
        ann += row.ann_macs * read
    return snn, ann


@dataclass(frozen=True)
class EnergyReport:
    """Counts per layer and energy per layer per profile (pJ per inference)."""

    layers: list[LayerOps]
    T: int
    profiles: list[Profile]
    energy: dict[str, list[tuple[float, float]]]  # profile name -> [(snn, ann) per layer]
    memory: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        return {
            "ann_macs": int(sum(r.ann_macs for r in self.layers)),
            "snn_macs": sum(r.snn_macs for r in self.layers),
            "snn_acs": sum(r.snn_acs for r in self.layers),
            "energy_pj": {p: {"snn": sum(s for s, _ in v), "ann": sum(a for _, a in v)}
                          for p, v in self.energy.items()},
        }

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """The ``energy --json`` document: layers, totals, profiles (+ T, memory, metadata).

        Floats are rounded to ``digits`` decimals so that the same model and data give
        byte-identical JSON."""
        def r(x: float) -> float:
            return round(float(x), digits) + 0.0

        layers = []
        for i, row in enumerate(self.layers):
            layers.append({
                "name": row.name, "ann_macs": row.ann_macs, "snn_macs": r(row.snn_macs),
                "snn_acs": r(row.snn_acs), "firing_rate": r(row.firing_rate),
                "kind": row.kind, "neuron": row.neuron, "neurons": row.neurons,
                "synapses": row.synapses, "input_events": r(row.input_events),
                "spikes": r(row.spikes),
                "energy_pj": {p: {"snn": r(v[i][0]), "ann": r(v[i][1])}
                              for p, v in self.energy.items()},
            })
        tot = self.totals()
        return {
            "layers": layers,
            "totals": {
                "ann_macs": tot["ann_macs"], "snn_macs": r(tot["snn_macs"]),
                "snn_acs": r(tot["snn_acs"]),
                "energy_pj": {p: {"snn": r(v["snn"]), "ann": r(v["ann"])}
                              for p, v in tot["energy_pj"].items()},
            },
            "profiles": [p.name for p in self.profiles],
            "profile_descriptions": {p.name: p.description for p in self.profiles},
            "T": self.T,
            "per": "inference (one sample, all T steps)",
            "memory_aware": self.memory,
            "metadata": self.metadata,
        }


def estimate_energy(graph: Graph, counts: Mapping[str, Any], T: int,
                    profiles: Sequence[Profile], memory: bool = False,
                    weight_bits: int | None = None,
                    metadata: dict[str, Any] | None = None,
                    spike_data: bool = False) -> EnergyReport:
    """Count operations (:func:`count_ops`) and price them on every profile.

    ``weight_bits`` (memory-aware estimate only): bits per stored weight; default: each
    quantized synapse's own ``num_weight_bits`` (binary weights: 2), 8 for other layers of a
    quantized graph, else 32. ``spike_data``: see :func:`count_ops`.
    """
    if not profiles:
        raise NeurodeployError("no hardware profile given (e.g. --profile cmos45nm)")
    names = [p.name for p in profiles]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise NeurodeployError(f"hardware profile '{dup}' given twice")
    rows = count_ops(graph, counts, T, spike_data)
    bits = weight_bits
    if bits is None:
        quantized = any(getattr(n, "quant", None) is not None for n in graph)
        bits = 8 if quantized else 32
    energy = {p.name: [layer_energy(r, p, T, memory, bits if weight_bits is not None
                                    or r.weight_bits is None else r.weight_bits) for r in rows]
              for p in profiles}
    return EnergyReport(layers=rows, T=T, profiles=list(profiles), energy=energy,
                        memory=memory, metadata=dict(metadata or {}))


__all__ = ["EnergyReport", "LayerOps", "count_ops", "estimate_energy", "is_binary",
           "layer_energy"]
