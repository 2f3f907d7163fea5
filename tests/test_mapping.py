"""Mapping to cores: splits, memory limits, fan-in errors, exact conv axons, timing, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurodeploy.energy import count_ops, load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Graph, Input, Readout, save_graph
from neurodeploy.mapping import estimate_timing, map_graph
from neurodeploy.mapping.mapper import _axons_for_chunk


def dense_net(n_in: int, n_hidden: int, n_out: int = 10) -> Graph:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(n_in,), encoding="rate"))
    g.add(Dense("fc1", weight=np.ones((n_hidden, n_in), np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(n_hidden,)), "fc1")
    g.add(Dense("fc2", weight=np.ones((n_out, n_hidden), np.float32)), "lif1")
    g.add(Readout("out", shape=(n_out,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def test_layer_larger_than_a_core_is_split():
    m = map_graph(dense_net(64, 3000), load_profile("loihi1"))   # 1,024 neurons per core
    lif1 = m.layers[0]
    assert (lif1.name, lif1.neurons, lif1.cores, lif1.neurons_per_core) == ("lif1", 3000, 3, 1024)
    assert [c.neurons for c in m.cores if c.layer == "lif1"] == [1024, 1024, 952]
    assert lif1.synapse_bytes == 64 * 3000            # 8-bit weights, dense encoding
    assert (lif1.fan_in, lif1.fan_out) == (64, 10)
    assert m.n_cores == 4 and m.n_chips == 1
    doc = m.to_dict()
    assert doc["cores"] == 4 and doc["chips"] == 1
    assert {"name", "cores", "neurons", "synapse_bytes"} <= set(doc["layers"][0])


def test_synapse_memory_limits_neurons_per_core():
    # 4,000 one-byte synapses per neuron: 131072 // 4000 = 32 neurons fit a Loihi 1 core
    m = map_graph(dense_net(4000, 600), load_profile("loihi1"))
    assert m.layers[0].neurons_per_core == 32
    assert m.layers[0].cores == math.ceil(600 / 32)
    assert all(c.synapse_bytes <= 131072 for c in m.cores)


def test_many_cores_span_chips():
    m = map_graph(dense_net(4000, 4096), load_profile("loihi1"))
    assert m.layers[0].cores == 4096 // 32 == 128
    assert m.n_cores == 129 and m.n_chips == 2 and m.cores[-1].chip == 1


def test_fan_in_over_the_limit_names_layer_and_resource():
    with pytest.raises(NeurodeployError) as err:
        map_graph(dense_net(5000, 8), load_profile("loihi2"))
    msg = str(err.value)
    assert "layer 'lif1'" in msg and "fc1" in msg and "fan-in 5000" in msg and "4096" in msg
    assert "\n" not in msg


def test_cmos_profile_cannot_be_mapped():
    with pytest.raises(NeurodeployError, match="no cores"):
        map_graph(dense_net(8, 8), load_profile("cmos45nm"))


def test_conv_chunk_axons_equal_brute_force():
    rng = np.random.default_rng(1)
    conv = Conv2d("c", weight=np.ones((4, 1, 3, 3), np.float32), stride=(2, 2),
                  padding=(1, 1), groups=2)
    in_shape, out_shape = (2, 9, 9), (4, 5, 5)
    for _ in range(10):
        a = int(rng.integers(0, 100))
        b = int(rng.integers(a + 1, 101))
        used = set()
        for idx in range(a, b):
            co, rest = divmod(idx, 25)
            oy, ox = divmod(rest, 5)
            ci = co // 2   # 2 output channels per group, 1 input channel per group
            for i in range(3):
                for j in range(3):
                    y, x = oy * 2 - 1 + i, ox * 2 - 1 + j
                    if 0 <= y < 9 and 0 <= x < 9:
                        used.add((ci, y, x))
        assert _axons_for_chunk(conv, in_shape, out_shape, a, b) == len(used)


def test_timing_model_hand_case():
    g = dense_net(4, 3, 2)
    p = load_profile("loihi1")
    counts = {"in": np.array([1.0, 0, 2, 3]), "fc1": np.ones(3), "lif1": np.array([1.0, 2, 0]),
              "fc2": np.ones(2), "out": np.ones(2)}
    T = 3
    rows = count_ops(g, counts, T)
    m = map_graph(g, p)
    t = estimate_timing(m, rows, T, p).to_dict()
    tm = p.time
    core0 = 18 / T * tm["synop_ns"] + 3 * tm["neuron_update_ns"] + 3 / T * tm["spike_ns"]
    core1 = 6 / T * tm["synop_ns"] + 2 * tm["neuron_update_ns"]
    assert t["slowest_core"] == 0
    assert t["slowest_core_ns"] == pytest.approx(core0) and core0 > core1
    assert t["step_ns"] == pytest.approx(core0 + tm["barrier_ns"])   # one tile: no hops
    assert t["latency_us"] == pytest.approx(T * t["step_ns"] / 1e3)


def test_map_cli_json(tmp_path, capsys):
    from neurodeploy.cli.main import main

    path = tmp_path / "m.ndg"
    save_graph(dense_net(64, 3000), path)
    assert main(["map", str(path), "--target", "loihi1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cores"] == 4 and doc["chips"] == 1
    assert [(r["name"], r["cores"], r["neurons"], r["synapse_bytes"]) for r in doc["layers"]] \
        == [("lif1", 3, 3000, 192000), ("out", 1, 10, 30000)]
    save_graph(dense_net(5000, 8), path)
    assert main(["map", str(path), "--target", "loihi2"]) == 1
    assert "fan-in 5000" in capsys.readouterr().err
