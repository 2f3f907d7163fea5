"""Fit Loihi 2's free per-event constants to Intel's PilotNet LIF measurement; print the fit.

Intel has not published Loihi 2's per-event times and energies. The prior is Loihi 1's
(Davies et al. 2018, hardware_profiles/loihi1.toml). One measurement (PilotNet LIF, 16 steps,
one chip: 152.85 µs per step, 1.094 mJ dynamic per inference, 0.232 W static) fixes one scale
per quantity, so the fit is exact by construction (residual 0) and says nothing about how well
the model predicts *other* networks:

- time: every Loihi 1 per-event time × α, α = measured step / predicted step;
- dynamic energy: every Loihi 1 per-event energy × β, β = measured / predicted;
- static power: Intel's measured 232.078 mW, taken as it is (not fitted).

The fit uses the ``bias`` drive (the frame as the input layer's bias, see
tools/pilotnet_loihi.py); the ``silent`` drive is printed beside it as the other reading of the
measurement's caveat. ``--write`` stores the calibrated constants in hardware_profiles/loihi2.toml
with this provenance.

    python tools/calibrate_loihi2.py [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from neurodeploy.hardware_profiles import load_profile  # noqa: E402
from pilotnet_loihi import DRIVES, ROOT, measured, run  # noqa: E402

TIME_KEYS = ("synop_ns", "neuron_update_ns", "spike_ns", "hop_ns", "barrier_ns",
             "barrier_ns_per_tile")
ENERGY_KEYS = ("ac_pj", "mac_pj", "neuron_update_pj", "spike_pj", "hop_pj")
PROFILE = ROOT / "hardware_profiles" / "loihi2.toml"


def prior():
    """loihi2's resources with Loihi 1's per-event times and energies."""
    l1, l2 = load_profile("loihi1"), load_profile("loihi2")
    return dataclasses.replace(
        l2, time={**l2.time, **{k: l1.time[k] for k in TIME_KEYS}},
        energy={**l2.energy, **{k: l1.energy[k] for k in ENERGY_KEYS}, "static_power_mw": 0.0})


def fit() -> dict:
    meas = measured()
    base = prior()
    pred = {d: run(base, d) for d in DRIVES}
    p = pred["bias"]["perf"]
    alpha = meas["time_per_step_us"] / p.step_us
    beta = meas["energy_per_inference_mj"]["dynamic"] / (p.dynamic_energy_pj / 1e9)
    static_mw = meas["power_w"]["static"] * 1e3
    cal = dataclasses.replace(
        base, time={**base.time, **{k: base.time[k] * alpha for k in TIME_KEYS}},
        energy={**base.energy, **{k: base.energy[k] * beta for k in ENERGY_KEYS},
                "static_power_mw": static_mw})
    after = {d: run(cal, d, graph=pred[d]["graph"])["perf"] for d in DRIVES}
    return {"alpha": alpha, "beta": beta, "static_mw": static_mw, "prior": pred, "after": after,
            "profile": cal, "measured": meas}


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def write(profile) -> None:
    text = PROFILE.read_text()
    for section, keys in (("time", TIME_KEYS), ("energy", ENERGY_KEYS + ("static_power_mw",))):
        values = getattr(profile, section)
        for k in keys:
            text, n = re.subn(rf"^{k}\s*=\s*[-0-9.eE+]+", f"{k} = {_fmt(values[k])}", text,
                              flags=re.M)
            if n != 1:
                raise SystemExit(f"error: {PROFILE}: no single '{k} =' line to update")
    PROFILE.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="store the fit in loihi2.toml")
    args = ap.parse_args()
    f = fit()
    meas = f["measured"]
    m_step, m_dyn = meas["time_per_step_us"], meas["energy_per_inference_mj"]["dynamic"]
    m_total = meas["energy_per_inference_mj"]["total"]
    print("Loihi 2 calibration on PilotNet LIF (Intel's measurement, 16 steps, one chip)")
    print(f"{'':34s}{'Intel':>12s}{'prior (Loihi 1)':>17s}{'fitted':>12s}{'residual':>10s}")
    p, a = f["prior"]["bias"]["perf"], f["after"]["bias"]
    rows = [("step (µs)", m_step, p.step_us, a.step_us),
            ("dynamic energy (mJ/inference)", m_dyn, p.dynamic_energy_pj / 1e9,
             a.dynamic_energy_pj / 1e9),
            ("total energy (mJ/inference)", m_total, p.total_energy_pj / 1e9,
             a.total_energy_pj / 1e9)]
    for name, m, pr, fi in rows:
        print(f"{name:34s}{m:12.4f}{pr:17.4f}{fi:12.4f}{(fi - m) / m:10.2%}")
    print(f"α (time scale vs Loihi 1)   = {f['alpha']:.4f}")
    print(f"β (energy scale vs Loihi 1) = {f['beta']:.4f}")
    print(f"static power (measured)     = {f['static_mw']:.3f} mW")
    s = f["after"]["silent"]
    print(f"silent input drive, calibrated: {s.step_us:.2f} µs per step, "
          f"{s.dynamic_energy_pj / 1e9:.4f} mJ dynamic (not fitted)")
    for section, keys in (("time", TIME_KEYS), ("energy", ENERGY_KEYS + ("static_power_mw",))):
        print(f"[{section}] " + ", ".join(f"{k} = {_fmt(getattr(f['profile'], section)[k])}"
                                          for k in keys))
    if args.write:
        write(f["profile"])
        print(f"wrote {PROFILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
