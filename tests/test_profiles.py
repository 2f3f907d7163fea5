"""Hardware profiles: bundled files load, cite sources, and bad files fail naming file + key."""

from __future__ import annotations

import pytest
from neurodeploy.hardware_profiles import _bundled_dir, list_profiles, load_profile

from neurodeploy.errors import NeurodeployError


def test_bundled_profiles_load_with_the_requested_constants():
    assert {"cmos45nm", "loihi1", "loihi2"} <= set(list_profiles())
    cmos = load_profile("cmos45nm")
    assert (cmos.energy["mac_pj"], cmos.energy["ac_pj"]) == (3.2, 0.1)
    fp32 = load_profile("cmos45nm:fp32")
    assert fp32.name == "cmos45nm:fp32" and (fp32.energy["mac_pj"], fp32.energy["ac_pj"]) == (
        4.6, 0.9)
    l1, l2 = load_profile("loihi1"), load_profile("loihi2")
    assert l1.energy["ac_pj"] == 23.6 and l1.resources["neurons_per_core"] == 1024
    assert l1.resources["cores_per_chip"] == 128 == l2.resources["cores_per_chip"]
    assert l2.resources["neurons_per_core"] == 3200            # CALIBRATED on PilotNet (CUBA LIF)
    assert l2.resources["synmem_words_per_core"] == 12000      # Intel's compiler log


def test_every_constant_line_carries_a_comment():
    for name in list_profiles():
        text = (_bundled_dir() / f"{name}.toml").read_text()
        for line in text.splitlines():
            s = line.strip()
            if "=" in s and not s.startswith("#") and not s.startswith("["):
                key = s.split("=")[0].strip()
                if key in ("name", "kind", "description"):
                    continue
                assert "#" in s, f"{name}.toml: '{s}' has no source comment"


def test_bad_profiles_name_file_and_key(tmp_path):
    with pytest.raises(NeurodeployError, match="unknown hardware profile 'nope'"):
        load_profile("nope")
    with pytest.raises(NeurodeployError, match="no variant 'int4'"):
        load_profile("cmos45nm:int4")
    missing = tmp_path / "missing.toml"
    with pytest.raises(NeurodeployError, match="missing.toml: no such file"):
        load_profile(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile]\nname='x'\nkind='chip'\n[energy]\nmac_pj=1\n")
    with pytest.raises(NeurodeployError, match=r"bad.toml: missing key 'energy.ac_pj'"):
        load_profile(bad)
    text = (_bundled_dir() / "loihi2.toml").read_text()
    bad.write_text(text.replace("neurons_per_core = 3200", "neurons_per_core = 'many'"))
    with pytest.raises(NeurodeployError, match=r"bad.toml: key 'resources.neurons_per_core'"):
        load_profile(bad)
    bad.write_text("[profile\n")
    with pytest.raises(NeurodeployError, match="bad.toml: not valid TOML"):
        load_profile(bad)
