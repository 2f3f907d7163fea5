"""Static traffic of a mapped network: who sends to which core, over which links.

For every (layer, source) pair of a :class:`~neurodeploy.mapping.Mapping`:

- ``synapses[i, k]``: synapses from source element ``i`` into the layer's core ``k`` (a spike of
  ``i`` costs that many synaptic operations there);
- ``reaches = synapses > 0``: the spike of ``i`` is one message to core ``k``;
- when the source is itself a mapped layer, the source core of every element, so that each
  message can be routed from its source core to its destination core.

Routing is dimension-order (x first, then y) over the board's mesh of routing tiles
(:func:`neurodeploy.mapping.mapper.core_position`); cores of one tile share a router (0 hops).
A link between x = k·mesh_tiles_x − 1 and k·mesh_tiles_x joins two chips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.mapping.layers import Layer, SpatialSource
from neurodeploy.mapping.mapper import Mapping
from neurodeploy.mapping.tiling import tile_indices

Link = tuple[int, int, int, int]  # (x0, y0, x1, y1): one hop between neighbouring routers


@dataclass(frozen=True)
class Projection:
    """One source of one mapped layer."""

    layer: str
    source: str
    graded: bool                       # graded values (MACs) rather than spikes (ACs)
    dst_cores: np.ndarray              # int64 [K]: the layer's core ids
    synapses: np.ndarray               # float32 [n_src, K]
    src_cores: np.ndarray | None       # int64 [n_src]: core of each source element (None: input)


def _synapse_matrix(layer: Layer, source_index: int, boxes: list) -> np.ndarray:
    s = layer.sources[source_index]
    n_src = int(np.prod(s.shape))
    out = np.zeros((n_src, len(boxes)), np.float32)
    for k, box in enumerate(boxes):
        if isinstance(s, SpatialSource):
            vec = np.ones(1, np.float32)
            for r, (b0, b1) in zip(s.reach, box, strict=True):
                vec = np.multiply.outer(vec, r[b0:b1].sum(0).astype(np.float32)).reshape(-1)
            out[:, k] = vec
        else:
            out[:, k] = s.count[tile_indices(box, layer.shape)].sum(0)
    return out


def projections(mapping: Mapping) -> list[Projection]:
    """Every (layer, source) projection of ``mapping``."""
    cores_of: dict[str, list] = {}
    for c in mapping.cores:
        cores_of.setdefault(c.layer, []).append(c)
    shapes = {layer.name: layer.shape for layer in mapping.graph_layers}
    owner: dict[str, np.ndarray] = {}
    for name, cs in cores_of.items():
        own = np.full(int(np.prod(shapes[name])), -1, np.int64)
        for c in cs:
            own[tile_indices(c.box, shapes[name])] = c.core
        owner[name] = own
    out = []
    for layer in mapping.graph_layers:
        cs = cores_of.get(layer.name, [])
        for i, s in enumerate(layer.sources):
            out.append(Projection(
                layer=layer.name, source=s.name, graded=s.graded,
                dst_cores=np.array([c.core for c in cs], np.int64),
                synapses=_synapse_matrix(layer, i, [c.box for c in cs]),
                src_cores=owner.get(s.name)))
    return out


def route(a: tuple[int, int], b: tuple[int, int]) -> list[Link]:
    """Links from router ``a`` to router ``b``, x first then y."""
    (x, y), (x1, y1) = a, b
    links = []
    while x != x1:
        nx = x + (1 if x1 > x else -1)
        links.append((x, y, nx, y))
        x = nx
    while y != y1:
        ny = y + (1 if y1 > y else -1)
        links.append((x, y, x, ny))
        y = ny
    return links


def is_chip_link(link: Link, mesh_tiles_x: int) -> bool:
    """Does the (horizontal) link cross from one chip to the next?"""
    x0, _, x1, _ = link
    return x0 != x1 and max(x0, x1) % mesh_tiles_x == 0


__all__ = ["Link", "Projection", "is_chip_link", "projections", "route"]
