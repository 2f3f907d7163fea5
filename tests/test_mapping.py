"""Mapping onto cores: tiles, synapse memory by hand, conv receptive fields, output axons,
chips, fit errors, and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from profile_edit import edited_profile

from neurodeploy.energy import load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Graph, Input, Readout, save_graph
from neurodeploy.mapping import map_graph
from neurodeploy.mapping.layers import graph_layers
from neurodeploy.mapping.mapper import limits_of
from neurodeploy.mapping.tiling import tile_cost


def dense_net(n_in: int, n_hidden: int, n_out: int = 10) -> Graph:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(n_in,), encoding="rate"))
    g.add(Dense("fc1", weight=np.ones((n_hidden, n_in), np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(n_hidden,)), "fc1")
    g.add(Dense("fc2", weight=np.ones((n_out, n_hidden), np.float32)), "lif1")
    g.add(Readout("out", shape=(n_out,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def conv_net(c_in: int = 2, hw: int = 9, c_out: int = 4, groups: int = 2) -> Graph:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(c_in, hw, hw), encoding="rate"))
    g.add(Conv2d("c", weight=np.ones((c_out, c_in // groups, 3, 3), np.float32), stride=(2, 2),
                 padding=(1, 1), groups=groups), "in")
    g.add(CubaLIF("lif", shape=(c_out, (hw + 1) // 2, (hw + 1) // 2)), "c")
    g.inputs, g.outputs = ["in"], ["lif"]
    return g


def test_layer_larger_than_a_core_is_split_evenly():
    m = map_graph(dense_net(64, 3000), load_profile("loihi1"))   # 1,024 neurons per core
    lif1 = m.layers[0]
    assert (lif1.name, lif1.neurons, lif1.cores, lif1.neurons_per_core) == ("lif1", 3000, 3, 1000)
    assert [c.neurons for c in m.cores if c.layer == "lif1"] == [1000, 1000, 1000]
    assert m.n_cores == 4 and m.n_chips == 1
    doc = m.to_dict()
    assert doc["cores"] == 4 and doc["cores_by_layer"] == [3, 1]
    assert {"name", "cores", "neurons", "synmem_words", "axons_out"} <= set(doc["layers"][0])


def test_dense_synapse_memory_by_hand():
    # loihi2: per input axon 2 header words + ceil(neurons · 8 bits / 32) words, 12,000 words a
    # core. 2,560 inputs: 8 neurons per core → 2560 · (2 + 2) = 10,240 words; 9 would need
    # 2560 · (2 + 3) = 12,800 (Intel's compiler log for PilotNet's dense-100 layer).
    m = map_graph(dense_net(2560, 100, 1), load_profile("loihi2"))
    lif1 = m.layers[0]
    assert lif1.cores == math.ceil(100 / 8) == 13
    words = [c.synmem_words for c in m.cores if c.layer == "lif1"]
    assert words == [2560 * 4] * 12 + [2560 * (2 + 1)]
    assert all(c.axons_in == 2560 for c in m.cores if c.layer == "lif1")


def test_conv_tile_axons_equal_brute_force():
    g = conv_net()
    layer = graph_layers(g)[0]
    lim = limits_of(load_profile("loihi2"))
    rng = np.random.default_rng(1)
    for _ in range(20):
        box = tuple(tuple(sorted(rng.choice(np.arange(d + 1), 2, replace=False)))
                    for d in (4, 5, 5))
        used = set()
        for co in range(*box[0]):
            for oy in range(*box[1]):
                for ox in range(*box[2]):
                    ci = co // 2   # 2 output channels per group, 1 input channel per group
                    for i in range(3):
                        for j in range(3):
                            y, x = oy * 2 - 1 + i, ox * 2 - 1 + j
                            if 0 <= y < 9 and 0 <= x < 9:
                                used.add((ci, y, x))
        cost = tile_cost(layer, box, np.zeros(layer.shape), lim)
        assert cost.axons_in == len(used)
        n = math.prod(b - a for a, b in box)
        # shared kernels: 1 word per input axon + the kernel of the tile's channels once
        assert cost.synmem_words == len(used) + math.ceil((box[0][1] - box[0][0]) * 9 * 8 / 32)
        assert cost.neurons == n


def test_conv_layer_keeps_channels_together_when_it_costs_no_core(tmp_path):
    # 4 x 33 x 33 = 4,356 neurons, 700 a core: 7 cores are needed; strips of 5 rows (or
    # columns) with all 4 channels give 7, with the smallest receptive field: 11 input rows
    # (stride 2, kernel 3) x 65 columns x 2 channels = 1,430 input axons
    p = edited_profile(tmp_path, "loihi2", neurons_per_core=700)
    m = map_graph(conv_net(2, 65, 4, 1), p)
    assert m.n_cores == math.ceil(4356 / 700) == 7
    assert all(c.box[0] == (0, 4) for c in m.cores)
    assert max(c.axons_in for c in m.cores) == 11 * 65 * 2
    assert sum(c.neurons for c in m.cores) == 4356


def test_output_axons_count_destination_cores(tmp_path):
    # 20 neurons a core: out (50) takes 3 cores, so every lif1 neuron needs 3 output routes
    m = map_graph(dense_net(64, 100, 50), edited_profile(tmp_path, "loihi2", neurons_per_core=20))
    assert m.layers[1].cores == 3
    lif1_cores = [c for c in m.cores if c.layer == "lif1"]
    assert [c.axons_out for c in lif1_cores] == [20 * 3] * 5


def test_output_axon_limit_splits_the_source(tmp_path):
    # 600 words: out's 200 input axons take 2 + ceil(m / 4) words each → 4 neurons a core, 16
    # cores; each lif1 neuron then needs 16 routes, 150 a core → 9 lif1 neurons a core
    p = edited_profile(tmp_path, "loihi2", axons_out_per_core=150, synmem_words_per_core=600)
    m = map_graph(dense_net(20, 200, 64), p)
    assert m.layers[1].cores == 16
    assert m.layers[0].neurons_per_core == 9 and m.layers[0].cores == 23
    assert all(c.axons_out <= 150 for c in m.cores)


def test_many_cores_span_chips_and_sit_side_by_side():
    m = map_graph(dense_net(4000, 4096), load_profile("loihi1"))
    assert m.n_chips == 2
    first_on_2 = next(c for c in m.cores if c.chip == 1)
    assert first_on_2.core == 128 and (first_on_2.x, first_on_2.y) == (8, 0)


def test_network_beyond_the_largest_system_is_refused(tmp_path):
    p = edited_profile(tmp_path, "loihi1", max_chips=1)
    with pytest.raises(NeurodeployError) as err:
        map_graph(dense_net(4000, 4096), p)
    msg = str(err.value)
    assert "cores, more than 1 loihi1 chips of 128 cores" in msg and "layer 'lif1'" in msg


def test_fan_in_over_the_limit_names_layer_and_resource():
    with pytest.raises(NeurodeployError) as err:
        map_graph(dense_net(9000, 8), load_profile("loihi2"))
    msg = str(err.value)
    assert "layer 'lif1'" in msg and "fc1" in msg and "fan-in 9000" in msg and "8192" in msg
    assert "\n" not in msg


def test_neuron_that_fits_no_core_names_the_resource(tmp_path):
    # 640 input axons x (2 header words + ceil(1 synapse x 8 bits / 32)) = 1,920 words
    p = edited_profile(tmp_path, "loihi2", synmem_words_per_core=100)
    with pytest.raises(NeurodeployError, match=r"layer 'lif1'.*one neuron needs 1920 synapse "
                                               r"memory words, a loihi2 core has 100"):
        map_graph(dense_net(640, 8), p)


def test_cmos_profile_cannot_be_mapped():
    with pytest.raises(NeurodeployError, match="no cores"):
        map_graph(dense_net(8, 8), load_profile("cmos45nm"))


def test_bad_profile_limits_name_the_key(tmp_path):
    with pytest.raises(NeurodeployError, match=r"key 'resources.axons_out_per_core' must be >= 1"):
        edited_profile(tmp_path, "loihi2", axons_out_per_core=0)
    with pytest.raises(NeurodeployError, match=r"resources.synmem_word_bits' must be a non-neg"):
        edited_profile(tmp_path, "loihi2", synmem_word_bits=-32)


def test_map_cli_json_and_html(tmp_path, capsys):
    from neurodeploy.cli.main import main

    path = tmp_path / "m.ndg"
    save_graph(dense_net(64, 3000), path)
    assert main(["map", str(path), "--target", "loihi1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cores"] == 4 and doc["chips"] == 1 and doc["cores_by_layer"] == [3, 1]
    assert [(r["name"], r["cores"], r["neurons"]) for r in doc["layers"]] \
        == [("lif1", 3, 3000), ("out", 1, 10)]
    html = tmp_path / "map.html"
    assert main(["map", str(path), "--target", "loihi1", "--html", str(html)]) == 0
    assert html.read_text().count("<svg") == 1        # the floor plan (no data: no timeline)
    assert main(["map", str(path), "--html", str(path)]) == 1
    assert "is the input" in capsys.readouterr().err
    save_graph(dense_net(9000, 8), path)
    assert main(["map", str(path), "--target", "loihi2"]) == 1
    assert "fan-in 9000" in capsys.readouterr().err
