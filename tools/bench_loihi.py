"""PilotNet LIF on the Loihi 2 hardware model beside Intel's measurement: cores, step time, energy.

    python tools/bench_loihi.py [--json]

Prints one row per figure (or, with --json, one JSON object): neurodeploy's number, Intel's, the
ratio, and whether the number was fitted to this very measurement (tools/calibrate_loihi2.py:
step time, dynamic energy and static power are; cores are predicted from per-core limits, some
of which were chosen on this network's compiler log — see hardware_profiles/loihi2.toml) — and
the same for the other reading of the measurement's caveat (the input layer silent). Also the
seconds that mapping and the performance model took.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from neurodeploy.hardware_profiles import load_profile  # noqa: E402
from pilotnet_loihi import DRIVES, measured, run  # noqa: E402

FITTED = {"step_us": "fitted", "dynamic_mj": "fitted", "total_mj": "fitted (static power "
          "measured, latency fitted)", "cores": "predicted", "cores_by_layer": "predicted",
          "chips": "predicted"}


def figures(result: dict) -> dict:
    m, p = result["mapping"], result["perf"]
    return {"cores": m.n_cores, "cores_by_layer": [layer.cores for layer in m.layers],
            "step_us": round(p.step_us, 3), "dynamic_mj": round(p.dynamic_energy_pj / 1e9, 4),
            "total_mj": round(p.total_energy_pj / 1e9, 4), "chips": m.n_chips}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    meas = measured()
    intel = {"cores": meas["cores_total"], "cores_by_layer": list(meas["cores_by_layer"].values()),
             "step_us": meas["time_per_step_us"],
             "dynamic_mj": meas["energy_per_inference_mj"]["dynamic"],
             "total_mj": meas["energy_per_inference_mj"]["total"], "chips": 1}
    profile = load_profile("loihi2")
    results = {d: run(profile, d) for d in DRIVES}
    ours = figures(results["bias"])
    doc: dict = {"network": "lava-dl PilotNet LIF (netx)", "profile": profile.name, "T": 16,
                 "drive": "bias"}
    for key, value in ours.items():
        doc[key] = value
        doc[f"intel_{key}"] = intel[key]
        if key == "cores_by_layer":
            doc["ratio_cores_by_layer"] = [round(a / b, 3) for a, b in zip(value, intel[key],
                                                                            strict=True)]
        else:
            doc[f"ratio_{key}"] = round(value / intel[key], 4)
    doc["provenance"] = FITTED
    doc["silent_input"] = figures(results["silent"])
    doc["seconds_map_and_perf"] = round(results["bias"]["map_perf_s"], 3)
    doc["seconds_simulation"] = round(results["bias"]["sim_s"], 3)
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"PilotNet LIF on {profile.name}, T = 16, frame as the input layer's bias")
    print(f"{'':18s}{'neurodeploy':>14s}{'Intel':>10s}{'ratio':>8s}  provenance")
    for key in ("cores", "chips", "step_us", "dynamic_mj", "total_mj"):
        print(f"{key:18s}{doc[key]:>14}{doc['intel_' + key]:>10}{doc['ratio_' + key]:>8.3f}  "
              f"{FITTED[key]}")
    print(f"{'cores by layer':18s}{str(doc['cores_by_layer'])}")
    print(f"{'  Intel':18s}{str(doc['intel_cores_by_layer'])}")
    print(f"{'  ratio':18s}{str(doc['ratio_cores_by_layer'])}")
    s = doc["silent_input"]
    print(f"silent input layer: {s['step_us']} µs per step, {s['dynamic_mj']} mJ dynamic, "
          f"{s['total_mj']} mJ total (not fitted)")
    print(f"mapping + performance model: {doc['seconds_map_and_perf']} s; fixed-point "
          f"simulation of the 16 steps: {doc['seconds_simulation']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
