"""Map a Graph onto a hardware profile: cores, chips, per-core use, fit errors; latency model.

- :func:`map_graph` (:mod:`neurodeploy.mapping.mapper`): layers split across cores under the
  profile's limits, or a NeurodeployError naming the layer and the resource.
- :func:`estimate_timing` (:mod:`neurodeploy.mapping.timing`): time per step, latency per
  inference, throughput and energy per inference from simulated activity (an estimate);
  :func:`chip_estimates` both for every chip profile of a list.
"""

from __future__ import annotations

from neurodeploy.mapping.mapper import CoreUse, LayerMap, Mapping, map_graph
from neurodeploy.mapping.timing import Timing, chip_estimates, estimate_timing

__all__ = ["CoreUse", "LayerMap", "Mapping", "Timing", "chip_estimates", "estimate_timing",
           "map_graph"]
