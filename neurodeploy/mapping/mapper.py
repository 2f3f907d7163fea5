"""Assign each neuron layer of a Graph to cores of a chip profile, splitting layers as needed.

A *layer* here is one neuron node (CubaLIF or Readout) with the synapse nodes that feed it
directly (Dense, Conv2d, SumPool2d, AvgPool2d, Add): as on Loihi, a neuron's incoming synapses
live in its own core's synaptic memory. The Input node is not mapped (it arrives through the
first layer's input axons). Pooling or Add nodes that feed another synapse rather than a neuron
are assumed folded into that synapse by the compiler and take no core.

Per layer, with the profile's ``[resources]``:

- ``fan_in``: largest number of connections into one neuron (padding excluded); it must not
  exceed ``max_fan_in``.
- ``synapse_bytes``: connections × (``weight_bits`` + ``synapse_overhead_bits``) / 8, the
  weights stored per neuron in a dense synapse encoding (no weight sharing: Loihi stores
  a convolution's synapses per neuron).
- a core takes at most ``neurons_per_core`` neurons, at most ``synapse_memory_bytes`` of
  synapses (plus ``neuron_state_bytes`` per neuron where the profile says memory is shared),
  and at most ``axons_in_per_core`` distinct input elements (exact receptive-field union for
  convolutions). Layers are split into contiguous chunks of neurons (C order) until each chunk
  fits; a layer where one neuron cannot fit raises NeurodeployError naming the layer, the
  resource, what it needs and what a core has.

This is an estimate of a compiler's partitioning (greedy, one layer per core, no packing of
small layers together), not Lava's own partitioner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.energy.fanout import COMPUTE_TYPES, connections, fanin, fanout
from neurodeploy.errors import NeurodeployError
from neurodeploy.hardware_profiles import Profile
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.nodes import Conv2d, CubaLIF, Dense, Flatten, Node, Readout
from neurodeploy.ir.validate import validate


@dataclass(frozen=True)
class CoreUse:
    """What one core holds."""

    core: int
    chip: int
    layer: str
    neurons: int
    synapse_bytes: int
    axons_in: int


@dataclass(frozen=True)
class LayerMap:
    """One neuron layer on the target."""

    name: str
    synapses: tuple[str, ...]
    neurons: int
    cores: int
    synapse_bytes: int
    fan_in: int
    fan_out: int
    axons_in: int                    # largest number of input axons one of its cores uses
    neurons_per_core: int            # largest chunk
    core_ids: tuple[int, ...]


@dataclass(frozen=True)
class Mapping:
    """A graph placed on a profile: layers, cores (in placement order), chips used."""

    profile: str
    layers: list[LayerMap]
    cores: list[CoreUse] = field(default_factory=list)
    cores_per_chip: int = 1
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def n_cores(self) -> int:
        return len(self.cores)

    @property
    def n_chips(self) -> int:
        return max(1, math.ceil(len(self.cores) / self.cores_per_chip)) if self.cores else 0

    def utilisation(self) -> dict[str, float]:
        """Mean use of the used cores' neurons, synapse memory and input axons (0..1)."""
        if not self.cores:
            return {"neurons": 0.0, "synapse_memory": 0.0, "axons_in": 0.0}
        n = len(self.cores)
        lim = self.limits
        return {
            "neurons": sum(c.neurons for c in self.cores) / (n * lim["neurons_per_core"]),
            "synapse_memory": sum(c.synapse_bytes for c in self.cores)
            / (n * lim["synapse_memory_bytes"]),
            "axons_in": sum(c.axons_in for c in self.cores) / (n * lim["axons_in_per_core"]),
        }

    def to_dict(self) -> dict:
        """The ``map --json`` document."""
        util = self.utilisation()
        return {
            "profile": self.profile,
            "cores": self.n_cores,
            "chips": self.n_chips,
            "limits": dict(self.limits),
            "utilisation": {k: round(v, 6) for k, v in util.items()},
            "layers": [
                {"name": m.name, "cores": m.cores, "neurons": m.neurons,
                 "synapse_bytes": m.synapse_bytes, "fan_in": m.fan_in, "fan_out": m.fan_out,
                 "axons_in": m.axons_in, "neurons_per_core": m.neurons_per_core,
                 "synapses": list(m.synapses), "core_ids": list(m.core_ids)}
                for m in self.layers
            ],
            "per_core": [
                {"core": c.core, "chip": c.chip, "layer": c.layer, "neurons": c.neurons,
                 "synapse_bytes": c.synapse_bytes, "axons_in": c.axons_in}
                for c in self.cores
            ],
        }


def _axons_for_chunk(node: Node, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                     start: int, stop: int) -> int:
    """Distinct input elements read by output elements ``[start, stop)`` (C order)."""
    if isinstance(node, Dense):
        return int(node.weight.shape[1])
    if len(out_shape) != 3:  # Add on flat vectors: one input element per output element
        return int(stop - start)
    c_out, h_out, w_out = out_shape
    c_in, h_in, w_in = in_shape
    if isinstance(node, Conv2d):
        kh, kw = node.weight.shape[2:]
        s, p, d, groups = node.stride, node.padding, node.dilation, node.groups
    elif hasattr(node, "kernel"):
        (kh, kw), s, p, d, groups = node.kernel, node.stride, node.padding, (1, 1), c_in
    else:  # Add: one input element per output element
        return int(stop - start)
    idx = np.arange(start, stop)
    chans, rest = idx // (h_out * w_out), idx % (h_out * w_out)
    per_group_out = c_out // groups
    per_group_in = c_in // groups
    total = 0
    for grp in np.unique(chans // per_group_out):
        sel = rest[(chans // per_group_out) == grp]
        out_mask = np.zeros(h_out * w_out, dtype=bool)
        out_mask[sel] = True
        out_mask = out_mask.reshape(h_out, w_out)
        in_mask = np.zeros((h_in, w_in), dtype=bool)
        oy, ox = np.nonzero(out_mask)
        for a in range(kh):
            iy = oy * s[0] - p[0] + a * d[0]
            for b in range(kw):
                ix = ox * s[1] - p[1] + b * d[1]
                ok = (iy >= 0) & (iy < h_in) & (ix >= 0) & (ix < w_in)
                in_mask[iy[ok], ix[ok]] = True
        total += per_group_in * int(in_mask.sum())
    return total


def _layers(graph: Graph) -> list[tuple[str, list[str]]]:
    """(neuron node, [synapse nodes feeding it]) in topological order."""
    out = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        if isinstance(node, (CubaLIF, Readout)):
            syn = [e.src for e in graph.in_edges(name)
                   if isinstance(graph.nodes[e.src], COMPUTE_TYPES)]
            out.append((name, syn))
    return out


def _fan_out(graph: Graph, shapes: dict, name: str) -> int:
    """Largest number of connections leaving one element of ``name`` (through Flatten)."""
    total = 0
    for e in graph.out_edges(name):
        dst = graph.nodes[e.dst]
        if isinstance(dst, Flatten):
            total += _fan_out(graph, shapes, e.dst)
        elif isinstance(dst, COMPUTE_TYPES):
            total += int(fanout(dst, shapes[name]).max())
    return total


def _sources(graph: Graph, name: str) -> list[str]:
    return [e.src for e in graph.in_edges(name)]


def map_graph(graph: Graph, profile: Profile) -> Mapping:
    """Place every neuron layer of ``graph`` on cores of ``profile`` (a ``chip`` profile).

    Raises NeurodeployError when the profile has no cores, or naming the layer, the resource
    (fan-in, synapse memory, input axons), what one neuron needs and what a core has when a
    layer cannot be placed at any split.
    """
    if not profile.is_chip:
        raise NeurodeployError(f"hardware profile '{profile.name}' describes operation energies "
                               "only (no cores to map onto); use a chip profile such as loihi2")
    shapes = validate(graph)
    res = profile.resources
    max_neurons = int(res["neurons_per_core"])
    mem = int(res["synapse_memory_bytes"])
    max_axons = int(res["axons_in_per_core"])
    max_fan_in = int(res["max_fan_in"])
    bits = int(res["weight_bits"]) + int(res.get("synapse_overhead_bits", 0))
    state = int(res.get("neuron_state_bytes", 0))
    per_chip = int(res["cores_per_chip"])

    layers: list[LayerMap] = []
    cores: list[CoreUse] = []
    for name, syn in _layers(graph):
        shape = shapes[name]
        n = int(math.prod(shape))
        fan_in = sum(fanin(graph.nodes[s], shapes[_sources(graph, s)[0]]) *
                     len(_sources(graph, s)) for s in syn)
        total_conn = sum(connections(graph.nodes[s], shapes[src])
                         for s in syn for src in _sources(graph, s))
        fan_out = _fan_out(graph, shapes, name) if n else 0
        what = f"layer '{name}'" + (f" (fed by {', '.join(syn)})" if syn else "")
        if fan_in > max_fan_in:
            raise NeurodeployError(
                f"{what}: fan-in {fan_in} per neuron exceeds {profile.name}'s limit of "
                f"{max_fan_in} (resource: fan-in / input axons per neuron)")
        bytes_per_neuron = math.ceil(fan_in * bits / 8) + state
        if bytes_per_neuron > mem:
            raise NeurodeployError(
                f"{what}: one neuron needs {bytes_per_neuron} bytes of synapse memory, a "
                f"{profile.name} core has {mem} (resource: synapse memory)")
        cap = min(max_neurons, mem // max(bytes_per_neuron, 1)) if bytes_per_neuron else max_neurons
        conn_per_neuron = total_conn / n if n else 0.0

        def chunk_axons(start: int, stop: int, syn: list[str] = syn,
                        shape: tuple[int, ...] = shape) -> int:
            return sum(_axons_for_chunk(graph.nodes[s], shapes[src], shape, start, stop)
                       for s in syn for src in _sources(graph, s))

        one = chunk_axons(0, 1) if n else 0
        if one > max_axons:
            raise NeurodeployError(
                f"{what}: one neuron reads {one} input axons, a {profile.name} core has "
                f"{max_axons} (resource: input axons)")
        # chunk so that every core fits its input axons too: shrink until it does
        while cap > 1 and any(chunk_axons(a, min(a + cap, n)) > max_axons
                              for a in range(0, n, cap)):
            cap = max(1, cap // 2)
        ids = []
        biggest = 0
        for start in range(0, n, cap):
            stop = min(start + cap, n)
            k = stop - start
            sbytes = math.ceil(conn_per_neuron * k * bits / 8)
            core_id = len(cores)
            cores.append(CoreUse(core=core_id, chip=core_id // per_chip, layer=name, neurons=k,
                                 synapse_bytes=sbytes, axons_in=chunk_axons(start, stop)))
            ids.append(core_id)
            biggest = max(biggest, k)
        layer_cores = [c for c in cores if c.layer == name]
        layers.append(LayerMap(
            name=name, synapses=tuple(syn), neurons=n, cores=len(ids),
            synapse_bytes=math.ceil(total_conn * bits / 8), fan_in=fan_in, fan_out=fan_out,
            axons_in=max((c.axons_in for c in layer_cores), default=0),
            neurons_per_core=biggest, core_ids=tuple(ids)))
    limits = {k: int(res[k]) for k in ("cores_per_chip", "neurons_per_core",
                                        "synapse_memory_bytes", "axons_in_per_core",
                                        "max_fan_in", "weight_bits")}
    return Mapping(profile=profile.name, layers=layers, cores=cores, cores_per_chip=per_chip,
                   limits=limits)


__all__ = ["CoreUse", "LayerMap", "Mapping", "map_graph"]
