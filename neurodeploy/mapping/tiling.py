"""Split one layer into per-core tiles under a core's limits, with the fewest cores.

A core holds one tile: a box of the layer's neurons — ``(channels, rows, columns)`` ranges for
a spatial (conv/pool) layer, a contiguous range of neurons (C order) otherwise. What a tile
costs (:class:`CoreCost`), with the profile's ``[resources]``:

- ``neurons``: neurons in the tile;
- ``axons_in``: distinct source elements any of its neurons reads (one input axon each);
- ``axons_out``: output routes of its neurons: one per (neuron, destination core) pair that
  the neuron's spikes must reach (given by the consumers' tilings);
- ``synmem_words``: synapse memory. Dense synapses: per input axon
  ``dense_axon_words + ceil(synapses · weight_bits / synmem_word_bits)``. Convolution
  (weights shared by every position, as Loihi 2's convolutional synapses):
  ``conv_axon_words`` per input axon plus the kernel once,
  ``ceil(channels · kernel · weight_bits / synmem_word_bits)``. A chip without shared kernels
  (Loihi 1) stores a convolution as dense synapses: per input axon ``dense_axon_words + 1``
  (the bound on the rounding up) plus ``ceil(neurons · kernel · weight_bits / word_bits)``.
  A layer fed by delayed synapses (``Layer.delay_slots = D``) adds ``neurons · D ·
  delay_slot_words`` (each neuron's ``D`` delay-slot accumulators; an ESTIMATE kept in the
  synapse-memory budget, see the profile's ``delay_slot_words_per_neuron``). A delay above the
  profile's ``max_delay`` is refused naming the layer.

Spatial layers try every split of the three axes into equal blocks (the last may be smaller)
and keep the one with the fewest cores, then the smallest receptive fields (input axons) —
which keeps strips narrow rather than splitting channels that would each re-read the whole
input. Other layers take the fewest equal chunks that fit (binary search).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.mapping.layers import Layer, SpatialSource

Box = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Limits:
    """Per-core limits and synapse-memory encoding of a chip profile (see the module doc)."""

    neurons: int
    axons_in: int
    axons_out: int
    synmem_words: int
    synmem_word_bits: int
    dense_axon_words: int
    conv_axon_words: int
    max_fan_in: int
    shared_kernels: bool = True
    #: the largest synaptic delay (steps); None: the profile states none (delays refused)
    max_delay: int | None = None
    #: synapse-memory words per neuron per delay slot
    delay_slot_words: int = 0


@dataclass(frozen=True)
class CoreCost:
    neurons: int
    axons_in: int
    axons_out: int
    synmem_words: int

    def over(self, lim: Limits) -> list[tuple[str, int, int]]:
        """``(resource, need, limit)`` for every limit this tile exceeds."""
        pairs = (("neurons", self.neurons, lim.neurons),
                 ("input axons", self.axons_in, lim.axons_in),
                 ("output axons", self.axons_out, lim.axons_out),
                 ("synapse memory words", self.synmem_words, lim.synmem_words))
        return [p for p in pairs if p[1] > p[2]]


def tile_indices(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """Flat (C order) indices of the neurons in ``box``."""
    if len(box) == 1 and len(shape) != 1:  # a range of flat indices
        return np.arange(box[0][0], box[0][1])
    grids = np.ix_(*[np.arange(a, b) for a, b in box])
    return np.ravel_multi_index(grids, shape).ravel()


def _blocks(size: int, block: int) -> list[tuple[int, int]]:
    return [(a, min(a + block, size)) for a in range(0, size, block)]


def _sizes(size: int) -> list[int]:
    """Every distinct block size ``ceil(size / k)``, largest first."""
    return sorted({math.ceil(size / k) for k in range(1, size + 1)}, reverse=True)


def _spatial_words(axons: int, channels: int, neurons: int, s: SpatialSource,
                   lim: Limits) -> int:
    """Synapse-memory words of a conv/pool source in one tile (see the module doc)."""
    if lim.shared_kernels:
        return axons * lim.conv_axon_words + math.ceil(
            channels * s.kernel * s.weight_bits / lim.synmem_word_bits)
    return axons * (lim.dense_axon_words + 1) + math.ceil(
        neurons * s.kernel * s.weight_bits / lim.synmem_word_bits)


def _reach_count(reach: np.ndarray, block: tuple[int, int]) -> int:
    return int(reach[block[0]:block[1]].any(0).sum())


def tile_cost(layer: Layer, box: Box, out_axons: np.ndarray, lim: Limits) -> CoreCost:
    """The exact cost of one tile (``out_axons``: routes per neuron, layer-shaped)."""
    idx = tile_indices(box, layer.shape)
    axons = words = 0
    for s in layer.sources:
        if isinstance(s, SpatialSource):
            n = int(np.prod([_reach_count(r, b) for r, b in zip(s.reach, box, strict=True)]))
            axons += n
            words += _spatial_words(n, box[0][1] - box[0][0], int(idx.size), s, lim)
        else:
            cnt = s.count[idx].sum(0)
            cnt = cnt[cnt > 0]
            axons += int(cnt.size)
            words += int(cnt.size * lim.dense_axon_words + np.ceil(
                cnt * s.weight_bits / lim.synmem_word_bits).sum())
    words += int(idx.size) * layer.delay_slots * lim.delay_slot_words
    return CoreCost(int(idx.size), axons, int(out_axons.reshape(-1)[idx].sum()), words)


def _spatial_tiles(layer: Layer, out_axons: np.ndarray, lim: Limits) -> list[Box] | None:
    dims = layer.shape
    sizes = [_sizes(d) for d in dims]
    # per source, per axis, per block size: the largest receptive field of one block
    field = [[{b: max(_reach_count(s.reach[a], blk) for blk in _blocks(dims[a], b))
               for b in sizes[a]} for a in range(len(dims))] for s in layer.sources]
    integral = np.zeros(tuple(d + 1 for d in dims))
    acc = out_axons.reshape(dims).astype(np.float64)
    for a in range(len(dims)):
        acc = acc.cumsum(a)
    integral[tuple(slice(1, None) for _ in dims)] = acc

    cands = []
    for combo in itertools.product(*sizes):
        neurons = math.prod(combo)
        if neurons > lim.neurons:
            continue
        axons = words = 0
        for s, f in zip(layer.sources, field, strict=True):
            n = math.prod(f[a][b] for a, b in enumerate(combo))
            axons += n
            words += _spatial_words(n, combo[0], neurons, s, lim)
        words += neurons * layer.delay_slots * lim.delay_slot_words
        if axons > lim.axons_in or words > lim.synmem_words:
            continue
        cores = math.prod(math.ceil(d / b) for d, b in zip(dims, combo, strict=True))
        cands.append((cores, axons, -combo[0], combo))
    for *_, combo in sorted(cands):
        boxes = list(itertools.product(*[_blocks(d, b) for d, b in zip(dims, combo, strict=True)]))
        if not out_axons.any() or all(_box_sum(integral, b) <= lim.axons_out for b in boxes):
            return boxes
    return None


def _box_sum(integral: np.ndarray, box: Box) -> float:
    """Sum of the array behind ``integral`` (its N-D prefix sums) over ``box``."""
    total = 0.0
    for corner in itertools.product((0, 1), repeat=len(box)):
        idx = tuple(b[c] for b, c in zip(box, corner, strict=True))
        total += (-1) ** (len(box) - sum(corner)) * integral[idx]
    return total


def _chunk_fits(layer: Layer, size: int, out_axons: np.ndarray, lim: Limits) -> bool:
    n = layer.neurons
    if size > lim.neurons:
        return False
    starts = np.arange(0, n, size)
    flat_out = out_axons.reshape(-1)
    if np.add.reduceat(flat_out, starts).max(initial=0) > lim.axons_out:
        return False
    axons = np.zeros(len(starts), np.int64)
    words = np.minimum(size, n - starts) * layer.delay_slots * lim.delay_slot_words
    for s in layer.sources:  # all MatrixSource: graph_layers converts a mixed layer's sources
        cnt = np.add.reduceat(s.count, starts, axis=0)  # [chunks, source elements]
        used = cnt > 0
        axons += used.sum(1)
        words += used.sum(1) * lim.dense_axon_words + np.ceil(
            cnt * s.weight_bits / lim.synmem_word_bits).astype(np.int64).sum(1)
    return bool(axons.max(initial=0) <= lim.axons_in and words.max(initial=0) <= lim.synmem_words)


def _matrix_tiles(layer: Layer, out_axons: np.ndarray, lim: Limits) -> list[Box] | None:
    n = layer.neurons
    if not _chunk_fits(layer, 1, out_axons, lim):
        return None
    lo, hi = 1, n  # number of chunks: hi fits (one neuron each), find the smallest that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if _chunk_fits(layer, math.ceil(n / mid), out_axons, lim):
            hi = mid
        else:
            lo = mid + 1
    size = math.ceil(n / lo)
    return [((a, min(a + size, n)),) for a in range(0, n, size)]


def tile_layer(layer: Layer, out_axons: np.ndarray, lim: Limits, profile: str) -> list[Box]:
    """The tiles of ``layer`` (fewest cores that fit), or NeurodeployError naming the layer,
    the resource, what one neuron needs and what a core has."""
    what = f"layer '{layer.name}'" + (f" (fed by {', '.join(layer.synapses)})"
                                      if layer.synapses else "")
    fan_in = layer.fan_in()
    if fan_in > lim.max_fan_in:
        raise NeurodeployError(f"{what}: fan-in {fan_in} per neuron exceeds {profile}'s limit "
                               f"of {lim.max_fan_in} (resource: fan-in / input axons per neuron)")
    if layer.delay_slots and (lim.max_delay is None or layer.delay_slots > lim.max_delay):
        limit = "states no max_delay" if lim.max_delay is None else \
            f"allows at most {lim.max_delay} steps"
        raise NeurodeployError(f"{what}: synaptic delay {layer.delay_slots} steps; {profile} "
                               f"{limit} (resource: max_delay)")
    if layer.neurons == 0:
        return []
    if layer.spatial:
        tiles = _spatial_tiles(layer, out_axons, lim)
    else:
        tiles = _matrix_tiles(layer, out_axons, lim)
    if tiles is None:  # not even one neuron per core fits: say which resource
        one: Box = ((0, 1),) * len(layer.shape) if layer.spatial else ((0, 1),)
        res, need, limit = (tile_cost(layer, one, out_axons, lim).over(lim)
                            or [("output axons", int(np.max(out_axons)), lim.axons_out)])[0]
        raise NeurodeployError(f"{what}: one neuron needs {need} {res}, a {profile} core has "
                               f"{limit} (resource: {res})")
    return tiles


__all__ = ["Box", "CoreCost", "Limits", "tile_cost", "tile_indices", "tile_layer"]
