"""Operation counts (MAC/AC) from simulated activity and energy from hardware profiles.

- :func:`count_ops` / :func:`estimate_energy` (:mod:`neurodeploy.energy.estimate`): per-layer
  ``ann_macs``, ``snn_macs``, ``snn_acs``, firing rate, and pJ per inference per profile.
- :mod:`neurodeploy.energy.fanout`: exact per-element fan-out / fan-in / MACs of synapse nodes.
- :func:`load_profile` / :func:`list_profiles`: the hardware profiles (``hardware_profiles/``).
"""

from __future__ import annotations

from neurodeploy.energy.estimate import (
    EnergyReport,
    LayerOps,
    count_ops,
    estimate_energy,
    is_binary,
    layer_energy,
)
from neurodeploy.energy.fanout import ann_macs, connections, fanin, fanout
from neurodeploy.hardware_profiles import Profile, list_profiles, load_profile

__all__ = [
    "EnergyReport", "LayerOps", "Profile", "ann_macs", "connections", "count_ops",
    "estimate_energy", "fanin", "fanout", "is_binary", "layer_energy", "list_profiles",
    "load_profile",
]
