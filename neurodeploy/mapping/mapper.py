"""Place every neuron layer of a Graph on the cores of a chip profile, as a Loihi compiler would.

Each layer (:mod:`neurodeploy.mapping.layers`) is cut into tiles, one per core
(:mod:`neurodeploy.mapping.tiling`), under the profile's per-core limits: neurons, input axons,
output axons and synapse memory (separate cost models for shared convolution kernels and dense
synapses). A layer's output axons depend on how its consumers are tiled (a spike is sent once
per destination core), so tiling repeats until no layer changes (at most a few rounds).

Cores are numbered in layer order and placed row by row on each chip's mesh of routing tiles
(``cores_per_tile`` cores share a router, ``mesh_tiles_x`` × ``mesh_tiles_y`` tiles per chip);
chips sit side by side along x, so the mesh of a board is ``chips·mesh_tiles_x`` wide. The Input
node takes no core (its messages come from outside the chip).

This is a model of a compiler's partitioning, not Intel's (closed) compiler: see the README's
"what the hardware model has been checked against".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.hardware_profiles import Profile
from neurodeploy.ir.graph import Graph
from neurodeploy.mapping.layers import Layer, SpatialSource, graph_layers
from neurodeploy.mapping.tiling import Box, Limits, tile_cost, tile_indices, tile_layer

MAX_ROUNDS = 6


@dataclass(frozen=True)
class CoreUse:
    """One core: where it sits, which tile of which layer it holds, what that uses."""

    core: int
    chip: int
    x: int                       # routing tile column on the board (chips side by side)
    y: int                       # routing tile row
    layer: str
    box: Box                     # the tile: (start, stop) per layer axis, or one flat range
    neurons: int
    axons_in: int
    axons_out: int
    synmem_words: int


@dataclass(frozen=True)
class LayerMap:
    """One neuron layer on the target."""

    name: str
    synapses: tuple[str, ...]
    neurons: int
    cores: int
    synmem_words: int            # summed over its cores
    fan_in: int
    axons_in: int                # largest number of input axons one of its cores uses
    axons_out: int               # largest number of output axons one of its cores uses
    neurons_per_core: int        # largest tile
    core_ids: tuple[int, ...]


@dataclass(frozen=True)
class Mapping:
    """A graph placed on a profile: layers, cores in placement order, chips used."""

    profile: str
    layers: list[LayerMap]
    cores: list[CoreUse] = field(default_factory=list)
    cores_per_chip: int = 1
    limits: dict[str, int] = field(default_factory=dict)
    #: the structural layers the mapping was computed from (used by the performance model)
    graph_layers: list[Layer] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_cores(self) -> int:
        return len(self.cores)

    @property
    def n_chips(self) -> int:
        return max(c.chip for c in self.cores) + 1 if self.cores else 0

    def utilisation(self) -> dict[str, float]:
        """Mean use of the used cores' neurons, synapse memory, input and output axons (0..1)."""
        keys = {"neurons": ("neurons", "neurons_per_core"),
                "synapse_memory": ("synmem_words", "synmem_words_per_core"),
                "axons_in": ("axons_in", "axons_in_per_core"),
                "axons_out": ("axons_out", "axons_out_per_core")}
        if not self.cores:
            return {k: 0.0 for k in keys}
        return {k: float(np.mean([getattr(c, a) / self.limits[lim] for c in self.cores]))
                for k, (a, lim) in keys.items()}

    def core_use(self, core: CoreUse) -> float:
        """The core's most used resource, as a fraction of its limit (for heat maps)."""
        lim = self.limits
        return max(core.neurons / lim["neurons_per_core"],
                   core.synmem_words / lim["synmem_words_per_core"],
                   core.axons_in / lim["axons_in_per_core"],
                   core.axons_out / lim["axons_out_per_core"])

    def to_dict(self) -> dict:
        """The ``map --json`` document."""
        return {
            "profile": self.profile,
            "cores": self.n_cores,
            "chips": self.n_chips,
            "cores_by_layer": [m.cores for m in self.layers],
            "limits": dict(self.limits),
            "utilisation": {k: round(v, 6) for k, v in self.utilisation().items()},
            "layers": [
                {"name": m.name, "cores": m.cores, "neurons": m.neurons,
                 "synmem_words": m.synmem_words, "fan_in": m.fan_in, "axons_in": m.axons_in,
                 "axons_out": m.axons_out, "neurons_per_core": m.neurons_per_core,
                 "synapses": list(m.synapses), "core_ids": list(m.core_ids)}
                for m in self.layers
            ],
            "per_core": [
                {"core": c.core, "chip": c.chip, "x": c.x, "y": c.y, "layer": c.layer,
                 "tile": [list(b) for b in c.box], "neurons": c.neurons,
                 "synmem_words": c.synmem_words, "axons_in": c.axons_in,
                 "axons_out": c.axons_out}
                for c in self.cores
            ],
        }


def limits_of(profile: Profile) -> Limits:
    """The per-core limits of a chip profile."""
    r = profile.resources
    return Limits(neurons=int(r["neurons_per_core"]), axons_in=int(r["axons_in_per_core"]),
                  axons_out=int(r["axons_out_per_core"]),
                  synmem_words=int(r["synmem_words_per_core"]),
                  synmem_word_bits=int(r["synmem_word_bits"]),
                  dense_axon_words=int(r["dense_axon_words"]),
                  conv_axon_words=int(r["conv_axon_words"]), max_fan_in=int(r["max_fan_in"]),
                  shared_kernels=bool(r["shared_conv_kernels"]),
                  max_delay=int(r["max_delay"]) if "max_delay" in r else None,
                  delay_slot_words=int(r.get("delay_slot_words_per_neuron", 0)))


def _axis_blocks(tiles: list[Box], axis: int) -> list[tuple[int, int]]:
    return sorted({b[axis] for b in tiles})


def out_routes(layer: Layer, consumers: list[tuple[Layer, list[Box]]]) -> np.ndarray:
    """Output routes per neuron of ``layer`` (layer-shaped int64): for each neuron, the number
    of destination cores (tiles of consumer layers) its spikes must reach."""
    out = np.zeros(layer.shape, np.int64)
    for cons, tiles in consumers:
        for s in cons.sources:
            if s.name != layer.name or not tiles:
                continue
            if isinstance(s, SpatialSource):
                per_axis = []
                for a, r in enumerate(s.reach):
                    blocks = _axis_blocks(tiles, a)
                    per_axis.append(sum(r[b0:b1].any(0).astype(np.int64) for b0, b1 in blocks))
                out += np.einsum("c,h,w->chw", *per_axis).reshape(layer.shape)
            else:
                for box in tiles:
                    idx = tile_indices(box, cons.shape)
                    out += (s.count[idx].sum(0) > 0).reshape(layer.shape)
    return out


def _board(profile: Profile) -> tuple[int, int, int, int]:
    r = profile.resources
    return (int(r["cores_per_chip"]), int(r["cores_per_tile"]), int(r["mesh_tiles_x"]),
            int(r["mesh_tiles_y"]))


def core_position(core: int, profile: Profile) -> tuple[int, int, int]:
    """``(chip, x, y)`` of core number ``core`` (x counts across chips side by side)."""
    per_chip, per_tile, mx, _ = _board(profile)
    chip, local = divmod(core, per_chip)
    tile = local // per_tile
    return chip, chip * mx + tile % mx, tile // mx


def map_graph(graph: Graph, profile: Profile) -> Mapping:
    """Place every neuron layer of ``graph`` on cores of ``profile`` (a ``chip`` profile).

    Raises NeurodeployError when the profile has no cores, naming the layer, the resource, what
    one neuron needs and what a core has when a layer cannot be placed at any split, and when
    the network needs more chips than the profile's ``max_chips``.
    """
    if not profile.is_chip:
        raise NeurodeployError(f"hardware profile '{profile.name}' describes operation energies "
                               "only (no cores to map onto); use a chip profile such as loihi2")
    lim = limits_of(profile)
    layers = graph_layers(graph, int(profile.resources["weight_bits"]))
    consumers: dict[str, list[Layer]] = {layer.name: [] for layer in layers}
    for layer in layers:
        for s in layer.sources:
            if s.name in consumers and layer not in consumers[s.name]:
                consumers[s.name].append(layer)

    tiles: dict[str, list[Box]] = {}
    routes = {layer.name: np.zeros(layer.shape, np.int64) for layer in layers}
    for _ in range(MAX_ROUNDS):
        changed = False
        for layer in reversed(layers):  # consumers first: their tiles set our output axons
            new = tile_layer(layer, routes[layer.name], lim, profile.name)
            changed |= new != tiles.get(layer.name)
            tiles[layer.name] = new
        for layer in layers:
            routes[layer.name] = out_routes(
                layer, [(c, tiles[c.name]) for c in consumers[layer.name]])
        if not changed:
            break
    else:  # pragma: no cover - tiling oscillates (not seen on feed-forward or recurrent nets)
        raise NeurodeployError("mapping did not settle: output-axon limits keep changing the "
                               "tiling of some layer")

    per_chip = int(profile.resources["cores_per_chip"])
    max_chips = int(profile.resources["max_chips"])
    total = sum(len(t) for t in tiles.values())
    if total > per_chip * max_chips:
        biggest = max(layers, key=lambda m: len(tiles[m.name]))
        raise NeurodeployError(
            f"the network needs {total} cores, more than {max_chips} {profile.name} chips of "
            f"{per_chip} cores hold (largest: layer '{biggest.name}', "
            f"{len(tiles[biggest.name])} cores)")
    cores: list[CoreUse] = []
    maps: list[LayerMap] = []
    for layer in layers:
        ids = []
        for box in tiles[layer.name]:
            cost = tile_cost(layer, box, routes[layer.name], lim)
            over = cost.over(lim)
            if over:  # pragma: no cover - tile_layer only returns fitting tiles
                raise NeurodeployError(f"layer '{layer.name}': internal mapping error {over}")
            cid = len(cores)
            chip, x, y = core_position(cid, profile)
            cores.append(CoreUse(cid, chip, x, y, layer.name, box, cost.neurons, cost.axons_in,
                                 cost.axons_out, cost.synmem_words))
            ids.append(cid)
        mine = [cores[i] for i in ids]
        maps.append(LayerMap(
            name=layer.name, synapses=layer.synapses, neurons=layer.neurons, cores=len(ids),
            synmem_words=sum(c.synmem_words for c in mine), fan_in=layer.fan_in(),
            axons_in=max((c.axons_in for c in mine), default=0),
            axons_out=max((c.axons_out for c in mine), default=0),
            neurons_per_core=max((c.neurons for c in mine), default=0), core_ids=tuple(ids)))
    keys = ("cores_per_chip", "cores_per_tile", "mesh_tiles_x", "mesh_tiles_y",
            "neurons_per_core", "synmem_words_per_core", "axons_in_per_core",
            "axons_out_per_core", "max_fan_in", "weight_bits", "max_chips")
    return Mapping(profile=profile.name, layers=maps, cores=cores, cores_per_chip=per_chip,
                   limits={k: int(profile.resources[k]) for k in keys}, graph_layers=layers)


__all__ = ["CoreUse", "LayerMap", "Mapping", "core_position", "limits_of", "map_graph",
           "out_routes"]
