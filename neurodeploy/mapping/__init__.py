"""Map a Graph onto a chip profile: layers cut into per-core tiles, cores placed on the mesh.

- :func:`map_graph` (:mod:`neurodeploy.mapping.mapper`): every neuron layer tiled under the
  profile's per-core limits (:mod:`neurodeploy.mapping.tiling`) and placed, or a
  NeurodeployError naming the layer, the resource, need and limit.
- :mod:`neurodeploy.mapping.layers`: the exact connectivity the tiling works on.

Time and energy on the mapped cores: :mod:`neurodeploy.perf`.
"""

from __future__ import annotations

from neurodeploy.mapping.mapper import CoreUse, LayerMap, Mapping, map_graph

__all__ = ["CoreUse", "LayerMap", "Mapping", "map_graph"]
