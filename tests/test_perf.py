"""The performance model against hand computations: one core, one hop, a chip crossing; bad
activity records; the simulator's recorded activity drives it."""

from __future__ import annotations

import numpy as np
import pytest
from profile_edit import edited_profile

from neurodeploy.energy import load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout
from neurodeploy.mapping import map_graph
from neurodeploy.perf import activity_nodes, simulate_perf


def tiny() -> Graph:
    g = Graph(metadata={"T": 2})
    g.add(Input("in", shape=(4,), encoding="rate"))
    g.add(Dense("fc1", weight=np.ones((3, 4), np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(3,)), "fc1")
    g.add(Dense("fc2", weight=np.ones((2, 3), np.float32)), "lif1")
    g.add(Readout("out", shape=(2,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def activity() -> dict[str, np.ndarray]:
    """T = 2, B = 1: 3 input spikes then none; lif1 spikes 2 then 1."""
    return {"in": np.array([[[1, 0, 1, 1]], [[0, 0, 0, 0]]], np.float32),
            "lif1": np.array([[[1, 0, 1]], [[0, 1, 0]]], np.float32),
            "out": np.zeros((2, 1, 2), np.float32)}


def hand(p, link_ns: float = 0.0, hops: int = 0, chip_hops: int = 0, routers: int = 1):
    """Per step: (time ns, dynamic pJ) of tiny() on ``activity()`` (2 cores: lif1, out)."""
    tm, en = p.time, p.energy
    out = []
    for syn0, spikes0, syn1 in ((3 * 3, 2, 2 * 2), (0, 1, 1 * 2)):
        core0 = syn0 * tm["synop_ns"] + 3 * tm["neuron_update_ns"] + spikes0 * tm["spike_ns"]
        core1 = syn1 * tm["synop_ns"] + 2 * tm["neuron_update_ns"]
        link = spikes0 * link_ns
        step = (max(core0, core1, link) + (link_ns if spikes0 else 0.0) + tm["barrier_ns"]
                + tm["barrier_ns_per_tile"] * (routers - 1))
        pj = ((syn0 + syn1) * en["ac_pj"] + 5 * en["neuron_update_pj"] + spikes0 * en["spike_pj"]
              + spikes0 * (hops * en["hop_pj"] + chip_hops * en["chip_hop_pj"]))
        out.append((step, pj))
    return out


def test_one_tile_equals_hand_computation():
    p = load_profile("loihi1")
    m = map_graph(tiny(), p)
    assert m.n_cores == 2 and {(c.x, c.y) for c in m.cores} == {(0, 0)}   # one router
    r = simulate_perf(m, activity(), p)
    want = hand(p)
    assert r.step_ns == pytest.approx([w[0] for w in want], rel=1e-12)
    assert r.dynamic_energy_pj == pytest.approx(sum(w[1] for w in want), rel=1e-12)
    assert r.latency_us == pytest.approx(sum(w[0] for w in want) / 1e3, rel=1e-12)
    assert r.busiest_link is None and r.static_energy_pj == 0.0
    assert r.core_synops[:, 0].tolist() == [9, 0] and r.core_synops[:, 1].tolist() == [4, 2]
    assert r.core_msgs_in[:, 1].tolist() == [2, 1]


def test_one_hop_equals_hand_computation(tmp_path):
    # one core per routing tile: lif1 at (0, 0), out at (1, 0): each spike crosses one link
    p = edited_profile(tmp_path, "loihi1", cores_per_tile=1, hop_ns=400.0)
    m = map_graph(tiny(), p)
    assert [(c.x, c.y) for c in m.cores] == [(0, 0), (1, 0)]
    r = simulate_perf(m, activity(), p)
    want = hand(p, link_ns=400.0, hops=1, routers=2)
    assert r.step_ns == pytest.approx([w[0] for w in want], rel=1e-12)
    assert r.dynamic_energy_pj == pytest.approx(sum(w[1] for w in want), rel=1e-12)
    assert r.busiest_link == (0, 0, 1, 0) and r.link_messages[(0, 0, 1, 0)] == 3
    assert r.core_bound_steps == 0.0   # both steps: the link (2, 1 x 400 ns) outlasts the cores


def test_chip_crossing_counts_a_chip_hop_and_static_power(tmp_path):
    p = edited_profile(tmp_path, "loihi1", cores_per_chip=1, cores_per_tile=1, mesh_tiles_x=1,
                       mesh_tiles_y=1, static_power_mw=100.0)
    m = map_graph(tiny(), p)
    assert m.n_chips == 2 and [(c.chip, c.x) for c in m.cores] == [(0, 0), (1, 1)]
    r = simulate_perf(m, activity(), p)
    want = hand(p, link_ns=p.time["chip_hop_ns"], chip_hops=1, routers=2)
    assert r.step_ns == pytest.approx([w[0] for w in want], rel=1e-12)
    assert r.dynamic_energy_pj == pytest.approx(sum(w[1] for w in want), rel=1e-12)
    latency_s = sum(w[0] for w in want) * 1e-9
    assert r.static_energy_pj == pytest.approx(0.1 * 2 * latency_s * 1e12, rel=1e-12)


def test_samples_average_and_per_sample_latency():
    p = load_profile("loihi1")
    m = map_graph(tiny(), p)
    a = activity()
    quiet = {k: np.zeros_like(v) for k, v in a.items()}
    both = {k: np.concatenate([a[k], quiet[k]], axis=1) for k in a}
    r2 = simulate_perf(m, both, p)
    r_busy, r_quiet = simulate_perf(m, a, p), simulate_perf(m, quiet, p)
    assert r2.samples == 2
    assert r2.per_sample_latency_us.tolist() == pytest.approx(
        [r_busy.latency_us, r_quiet.latency_us])
    assert r2.latency_us == pytest.approx((r_busy.latency_us + r_quiet.latency_us) / 2)


def test_bad_activity_names_the_node():
    p = load_profile("loihi1")
    m = map_graph(tiny(), p)
    a = activity()
    del a["lif1"]
    with pytest.raises(NeurodeployError, match="no entry for node 'lif1'"):
        simulate_perf(m, a, p)
    a = activity()
    a["lif1"] = np.zeros((2, 1, 4))
    with pytest.raises(NeurodeployError, match=r"node 'lif1' has shape \[2, 1, 4\], the graph "
                                               r"needs \[T, B, 3\]"):
        simulate_perf(m, a, p)
    a = activity()
    a["out"] = np.zeros((3, 1, 2))
    with pytest.raises(NeurodeployError, match="node 'out' covers"):
        simulate_perf(m, a, p)
    with pytest.raises(NeurodeployError, match="made for 'loihi1', not for 'loihi2'"):
        simulate_perf(m, activity(), load_profile("loihi2"))


def test_simulator_activity_drives_the_model():
    from neurodeploy.perf import activity_from_records
    from neurodeploy.sim import simulate

    g = tiny()
    g.nodes["lif1"].vth = np.float32(0.5)
    x = np.array([[[1, 0, 1, 1]], [[0, 1, 0, 0]]], np.float32)
    res = simulate(g, x, record=activity_nodes(g))
    act = activity_from_records(g, res.records)
    assert set(act) == {"in", "lif1", "out"} and act["lif1"].shape == (2, 1, 3)
    p = load_profile("loihi1")
    r = simulate_perf(map_graph(g, p), act, p)
    spikes = act["lif1"].sum(axis=(1, 2))
    assert r.core_synops[:, 1].tolist() == (spikes * 2).tolist()
