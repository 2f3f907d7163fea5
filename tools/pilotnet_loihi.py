"""PilotNet LIF on Loihi 2, as Intel measured it: the shared setup of tools/bench_loihi.py,
tools/calibrate_loihi2.py and the test that guards the calibration.

Intel's run (../shared/data/lava-dl/loihi2_pilotnet_lif_measured.json): lava-dl's PilotNet LIF
netx network, one frame written as the input layer's bias, 16 steps per inference. Two drives
are modelled, since the measurement's caveat says the bias may not have reached the chip:

- ``bias``: the frame drives the input neurons from their bias: the input layer fires, nothing
  enters the chip from outside (the input node sends no messages);
- ``silent``: the bias stayed 0: no neuron fires, only neuron updates and the barrier remain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "lava-dl"
NETWORK = DATA / "pilotnet_lif" / "network.net"
IMAGE = DATA / "pilotnet_lif" / "image.npy"
MEASURED = DATA / "loihi2_pilotnet_lif_measured.json"
T = 16
DRIVES = ("bias", "silent")


def measured() -> dict:
    """Intel's figures, as the JSON beside the network has them."""
    return json.loads(MEASURED.read_text())


def pilotnet_activity(graph, drive: str = "bias") -> dict[str, np.ndarray]:
    """The recorded activity of PilotNet on lava-dl's frame for ``T`` steps (fixed point)."""
    from neurodeploy.perf import activity_from_records, activity_nodes
    from neurodeploy.sim import simulate

    frame = np.load(IMAGE).transpose(2, 1, 0).astype(np.float32)   # (W, H, C) → (C, H, W)
    x = np.repeat(frame[None, None], T, axis=0)
    if drive == "silent":
        x = np.zeros_like(x)
    res = simulate(graph, x, mode="fixed", record=activity_nodes(graph))
    act = activity_from_records(graph, res.records)
    act[graph.inputs[0]] = np.zeros_like(act[graph.inputs[0]])   # the bias is no message
    return act


def run(profile, drive: str = "bias", graph=None) -> dict:
    """Import, map and run the performance model; returns the figures and the seconds taken."""
    from neurodeploy.converters.netx import from_netx

    from neurodeploy.mapping import map_graph
    from neurodeploy.perf import simulate_perf

    graph = graph if graph is not None else from_netx(NETWORK)
    t0 = time.perf_counter()
    act = pilotnet_activity(graph, drive)
    t1 = time.perf_counter()
    mapping = map_graph(graph, profile)
    perf = simulate_perf(mapping, act, profile)
    t2 = time.perf_counter()
    return {"mapping": mapping, "perf": perf, "sim_s": t1 - t0, "map_perf_s": t2 - t1,
            "graph": graph}
