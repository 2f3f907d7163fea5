"""A bundled hardware profile with some constants changed, written to a temporary TOML."""

from __future__ import annotations

import re
from pathlib import Path

from neurodeploy.hardware_profiles import _bundled_dir, load_profile

#: the smallest valid profile (a CMOS one with its four energies), for tests that break it
MINIMAL_PROFILE = """[profile]
name = "t"
kind = "cmos"
[energy]
mac_pj = 1.0
ac_pj = 0.1
neuron_update_pj = 0.1
spike_pj = 0.2
"""


def edited_profile(tmp_path: Path, base: str, **values: float | int | bool) -> object:
    """``base`` (bundled name) with ``key = value`` replaced for each keyword; returns the
    loaded Profile. Raises KeyError for a key the file does not have."""
    text = (_bundled_dir() / f"{base}.toml").read_text()
    for key, value in values.items():
        lit = str(value).lower() if isinstance(value, bool) else repr(value)
        text, n = re.subn(rf"^{key}\s*=\s*[^#\n]*", f"{key} = {lit} ", text, flags=re.M)
        if n != 1:
            raise KeyError(key)
    path = tmp_path / f"{base}-edited-{len(list(tmp_path.glob('*.toml')))}.toml"
    path.write_text(text)
    return load_profile(path)
