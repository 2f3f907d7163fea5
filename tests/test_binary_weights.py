"""Binary weights on Loihi (issue #19, part 2): a binary-weight digits model quantizes to
mantissas ±1 with its per-layer α folded into each neuron layer's scale (threshold and bias),
keeps its float accuracy in fixed point, runs identically in Lava, and maps with 2-bit synapse
memory (Lava's mixed-sign ±1: sign + one bit) instead of 8."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from neurodeploy.converters.neurodeploy_nn import to_graph

from neurodeploy.energy import load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Dense, load_graph, save_graph
from neurodeploy.kinds.cuba import V_UNIT
from neurodeploy.mapping import map_graph
from neurodeploy.nn import mlp
from neurodeploy.nn.model import build_model
from neurodeploy.nn.training import TrainConfig, load_task, train
from neurodeploy.quantize import quantize
from neurodeploy.quantize.binary import BINARY_BITS, BINARY_UNIT
from neurodeploy.sim import run_dataset, simulate

#: the issue's bound on |float − fixed| test accuracy of the binary model
MARGIN = 0.003


@pytest.fixture(scope="module")
def binary_model() -> dict:
    """A small binary-weight (one α per layer) digits model (~90 %), its float graph and quantization."""
    torch.manual_seed(0)
    r = train(TrainConfig(task="digits", method="binary", epochs=3, hidden=(64,), lr=1e-2,
                          seed=0))
    train_ds, test_ds = load_task("digits")
    g = to_graph(r.model, r.metadata)
    qg, rep = quantize(g, train_ds, target="loihi2", max_calib=256)
    return {"model": r.model, "meta": r.metadata, "graph": g, "q": qg, "report": rep,
            "train": train_ds, "test": test_ds}


def test_mantissas_are_plus_minus_one_and_alpha_is_folded_into_the_threshold(
        binary_model: dict) -> None:
    g, qg = binary_model["graph"], binary_model["q"]
    assert binary_model["meta"]["binary_alpha"] == "layer"
    unit_in = float(qg.nodes["input"].quant.scale)
    for syn, neuron in (("fc1", "lif1"), ("fc_out", "out")):
        q = qg[syn].quant
        mant = q.weight.astype(np.int64) // BINARY_UNIT
        assert set(np.unique(mant).tolist()) == {-1, 1}
        assert np.array_equal(mant * BINARY_UNIT, q.weight)  # nothing left over
        assert q.num_weight_bits == BINARY_BITS
        alpha = float(np.abs(g[syn].weight).max())
        assert np.allclose(np.abs(g[syn].weight), alpha)  # one α per layer
        # the neuron's scale is the one that puts α·unit on ±1 << 7 << exp: α folded into it
        unit = unit_in if syn == "fc1" else 1.0  # spikes into fc_out
        lam = BINARY_UNIT * 2.0**q.weight_exp / (alpha * unit)
        assert math.isclose(qg[neuron].quant.scale, 1.0 / (V_UNIT * lam), rel_tol=1e-9)
        if neuron == "lif1":  # threshold and bias: λ·vth, 64·λ·bias rounded, as any layer
            assert qg[neuron].quant.vth == round(lam * float(g[neuron].vth))
            q_n = qg[neuron].quant
            bias = q_n.bias_mant.astype(np.float64) * 2.0**q_n.bias_exp
            want = V_UNIT * lam * np.asarray(g[neuron].bias, np.float64)
            assert np.all(np.abs(bias - want) <= 0.5 * 2.0**q_n.bias_exp + 1e-6)


def test_fixed_point_accuracy_within_a_third_of_a_point_of_float(binary_model: dict) -> None:
    test_ds = binary_model["test"]
    flt = run_dataset(binary_model["graph"], test_ds).accuracy
    fx = run_dataset(binary_model["q"], test_ds, mode="fixed")
    assert flt > 0.85, flt  # a real model (chance 0.1)
    assert abs(flt - fx.accuracy) <= MARGIN, (flt, fx.accuracy)
    assert sum(fx.saturations.values()) == 0


def test_binary_graph_saves_loads_and_runs_in_lava_identically(binary_model: dict,
                                                               tmp_path: Path) -> None:
    pytest.importorskip("lava.magma")
    from neurodeploy.lava import simulate_lava

    path = tmp_path / "binary.ndg"
    save_graph(binary_model["q"], path)
    qg = load_graph(path)
    assert qg["fc1"].quant.num_weight_bits == BINARY_BITS
    from neurodeploy.data import encode

    x = encode(binary_model["test"].x[:3], "direct", 8)
    sim = simulate(qg, x, mode="fixed", record=True)
    lava = simulate_lava(qg, x, record=True)
    for name in ("lif1", "out"):
        for var, want in sim.records[name].items():
            np.testing.assert_array_equal(np.asarray(lava.records[name][var]),
                                          np.asarray(want), err_msg=f"{name}.{var}")
    assert np.array_equal(lava.predictions, sim.predictions)


def test_mapping_uses_two_bit_synapse_memory_below_eight_bit(binary_model: dict) -> None:
    g, qg = binary_model["graph"], binary_model["q"]
    eight = copy.deepcopy(g)  # the same float network quantized without the binary fold
    eight.metadata = dict(eight.metadata, binary_weights=False)
    q8, _ = quantize(eight, binary_model["train"], target="loihi2", max_calib=64)
    assert all(q8[s].quant.num_weight_bits == 8 for s in ("fc1", "fc_out"))
    prof = load_profile("loihi2")
    m1, m8 = map_graph(qg, prof), map_graph(q8, prof)
    words1 = {layer.name: layer.synmem_words for layer in m1.layers}
    words8 = {layer.name: layer.synmem_words for layer in m8.layers}
    # the hidden layer's 64x64 synapses: 2 bits instead of 8 (plus the same axon words)
    assert words1["lif1"] < words8["lif1"] / 2, (words1, words8)
    assert sum(words1.values()) < sum(words8.values()) * 0.6, (words1, words8)
    assert m1.n_cores <= m8.n_cores
    # the memory-aware energy reads each synapse's 2-bit weights, not the 8-bit default
    from neurodeploy.energy import count_ops, estimate_energy

    res = run_dataset(qg, binary_model["test"].subset(slice(0, 32)), mode="fixed")
    rows = {r.name: r for r in count_ops(qg, res.counts, 8)}
    assert rows["fc1"].weight_bits == BINARY_BITS and rows["fc_out"].weight_bits == BINARY_BITS
    cmos = [load_profile("cmos45nm")]
    own = estimate_energy(qg, res.counts, 8, cmos, memory=True).totals()["energy_pj"]
    as8 = estimate_energy(qg, res.counts, 8, cmos, memory=True, weight_bits=8).totals()
    assert own["cmos45nm"]["snn"] < as8["energy_pj"]["cmos45nm"]["snn"]


def test_per_channel_alpha_is_refused_naming_the_layer() -> None:
    torch.manual_seed(0)
    model = mlp(64, (16,), 10, binary=True, binary_alpha="channel")
    g = to_graph(model, {"binary_weights": True, "encoding": "direct", "T": 4})
    train_ds, _ = load_task("digits")
    with pytest.raises(NeurodeployError, match=r"node 'fc1' \(dense\): binary weights with one "
                                               r"α per output channel \(16 distinct values\)"):
        quantize(g, train_ds, max_calib=16)


def test_alpha_mode_is_kept_in_the_arch_and_old_entries_rebuild_per_channel() -> None:
    model = mlp(8, (4,), 3, binary=True, binary_alpha="layer")
    arch = model.arch()
    assert arch["layers"][0]["alpha"] == "layer"
    assert build_model(arch).layers[0].alpha == "layer"
    del arch["layers"][0]["alpha"]  # written before the option existed
    assert build_model(arch).layers[0].alpha == "channel"
    w = build_model(arch).layers[0].effective_weight().detach().abs()
    layer_w = model.layers[0].effective_weight().detach().abs()
    assert torch.allclose(layer_w, layer_w.flatten()[0])  # one α for the whole layer
    assert w.shape == layer_w.shape
    with pytest.raises(NeurodeployError, match="unknown binary alpha 'row'"):
        mlp(8, (4,), 3, binary=True, binary_alpha="row")
    with pytest.raises(NeurodeployError, match="unknown binary alpha 'row'"):
        TrainConfig(binary_alpha="row")


def test_float_graph_without_binary_flag_is_quantized_as_before() -> None:
    # a graph with one weight magnitude but no binary declaration keeps 8-bit weights
    from neurodeploy.ir import CubaLIF, Graph, Input, Readout

    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(4,), encoding="rate"))
    g.inputs.append("in")
    g.add(Dense("d", weight=np.where(np.eye(3, 4) > 0, 0.5, -0.5).astype(np.float32)), "in")
    g.add(CubaLIF("l", shape=(3,), du=1.0, dv=0.0, vth=0.4, bias=0.0), "d")
    g.add(Dense("o", weight=np.ones((2, 3), np.float32)), "l")
    g.add(Readout("r", shape=(2,)), "o")
    g.outputs.append("r")
    from neurodeploy.data import Dataset

    rng = np.random.default_rng(0)
    ds = Dataset(rng.random((8, 4)).astype(np.float32), rng.integers(0, 2, 8), name="toy")
    qg, _ = quantize(g, ds, max_calib=8)
    assert qg["d"].quant.num_weight_bits == 8


def test_binary_conv_takes_the_largest_power_of_two_its_states_allow() -> None:
    # Lava's fixed-point Conv has no weight exponent: on 8-bit graded input ±128 would wrap u,
    # so the first conv gets ±2**k (mantissa ±1 at 9 − k bits); the Dense on spikes gets ±128
    from neurodeploy.nn import convnet

    torch.manual_seed(0)
    model = convnet((1, 8, 8), (4,), 10, binary=True, binary_alpha="layer")
    g = to_graph(model, {"binary_weights": True, "encoding": "direct", "T": 4})
    train_ds, _ = load_task("digits-image")
    qg, _ = quantize(g, train_ds, max_calib=16)
    conv, dense = qg["conv1"].quant, qg["fc_out"].quant
    k = int(np.log2(np.abs(conv.weight).max()))
    assert 1 <= k < 7 and conv.weight_exp == 0
    assert set(np.unique(conv.weight).tolist()) == {-(2**k), 2**k}
    assert conv.num_weight_bits == 9 - k
    assert set(np.unique(dense.weight).tolist()) == {-BINARY_UNIT, BINARY_UNIT}
    assert dense.num_weight_bits == BINARY_BITS
