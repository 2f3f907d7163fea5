"""Intel's PilotNet LIF on the Loihi 2 model: the cores the mapper predicts and the calibration
the profile stores, against Intel's measurement (../shared/data, README there)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
sys.path.insert(0, str(TOOLS))

from pilotnet_loihi import NETWORK, measured, run  # noqa: E402

pytestmark = pytest.mark.skipif(not NETWORK.exists(), reason=f"{NETWORK} is not here")


@pytest.fixture(scope="module")
def pilotnet():
    from neurodeploy.hardware_profiles import load_profile

    return run(load_profile("loihi2"), "bias")


def test_cores_within_the_goals_on_one_chip(pilotnet):
    intel = measured()
    m = pilotnet["mapping"]
    assert m.n_chips == 1
    assert abs(m.n_cores / intel["cores_total"] - 1) <= 0.25
    for ours, theirs in zip([layer.cores for layer in m.layers],
                            intel["cores_by_layer"].values(), strict=True):
        assert 0.5 <= ours / theirs <= 2.0


def test_profile_holds_the_calibration_of_this_model(pilotnet):
    # step time and dynamic energy were fitted to this measurement (tools/calibrate_loihi2.py);
    # a change of the performance model that moves them needs a new calibration
    intel = measured()
    p = pilotnet["perf"]
    assert p.step_us == pytest.approx(intel["time_per_step_us"], rel=1e-3)
    assert p.dynamic_energy_pj / 1e9 == pytest.approx(
        intel["energy_per_inference_mj"]["dynamic"], rel=1e-3)
    assert p.total_energy_pj / 1e9 == pytest.approx(
        intel["energy_per_inference_mj"]["total"], rel=1e-3)
