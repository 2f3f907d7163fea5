"""The hardware profiles, re-exported: see :mod:`neurodeploy.hardware_profiles`."""

from __future__ import annotations

from neurodeploy.hardware_profiles import Profile, list_profiles, load_profile

__all__ = ["Profile", "list_profiles", "load_profile"]
