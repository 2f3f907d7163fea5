"""Lava backend: lava-nc fixed_pt equals our fixed-point simulator, every layer, step and variable.

Lava's processes are OS processes and a run costs about a second, so each graph runs once, with
all its samples in one compiled network, in a module-scoped fixture.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_lava_cases import (
    N_SAMPLES,
    T_STEPS,
    conv_geometry_graph,
    conv_graph,
    graph_input,
    mlp_graph,
    netx_conv_graph,
    netx_ready,
    recurrent_graph,
    reference,
    residual_graph,
)

pytest.importorskip("lava.magma")
pytestmark = pytest.mark.lava

from neurodeploy.data import Dataset  # noqa: E402
from neurodeploy.ir import CubaLIF, Readout, save_graph  # noqa: E402
from neurodeploy.lava import compare, simulate_lava  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402

GRAPHS = {"mlp": mlp_graph, "conv_pool": conv_graph, "residual": residual_graph,
          "recurrent": recurrent_graph}


@pytest.fixture(scope="module")
def runs() -> dict:
    """Each must-show graph on 20 random inputs of 32 steps: (graph, x, sim, lava)."""
    out = {}
    for i, (key, make) in enumerate(GRAPHS.items()):
        g = make()
        x = graph_input(g, i, T=T_STEPS, B=N_SAMPLES)
        out[key] = (g, x, simulate(g, x, mode="fixed", record=True),
                    simulate_lava(g, x, record=True))
    return out


@pytest.mark.parametrize("key", list(GRAPHS))
def test_lava_equals_fixed_simulator_every_layer_and_step(runs: dict, key: str) -> None:
    g, x, sim, lava = runs[key]
    assert set(lava.records) == set(g.nodes)
    for name in g.nodes:
        for var, want in sim.records[name].items():
            got = lava.records[name][var]
            assert got.dtype == want.dtype and got.shape == want.shape == (T_STEPS, N_SAMPLES,
                                                                            *want.shape[2:])
            diff = (got != want).nonzero()
            assert len(diff) == 0, f"{key}: {name}.{var} differs first at {diff[0].tolist()}"
    for name in g.nodes:
        np.testing.assert_array_equal(lava.counts[name], sim.counts[name])
    assert lava.firing_rates == sim.firing_rates
    assert all((lava.outputs[o] == sim.outputs[o]).all() for o in g.outputs)
    assert (lava.decoded == sim.decoded).all()
    np.testing.assert_array_equal(lava.predictions, sim.predictions)
    # the runs are not trivial: every spiking layer spikes, and not always
    for name, node in g.nodes.items():
        if isinstance(node, CubaLIF):
            assert 0.02 < sim.firing_rates[name] < 0.9, (key, name)


@pytest.mark.parametrize("key", list(GRAPHS))
def test_lava_equals_numpy_reference(runs: dict, key: str) -> None:
    """Independent of the simulator: a plain numpy integer reference (tests/test_lava_cases)."""
    g, x, _, lava = runs[key]
    ref = reference(g, x)
    for name, node in g.nodes.items():
        for var in ("s", "u", "v") if isinstance(node, (CubaLIF, Readout)) else ("y",):
            np.testing.assert_array_equal(lava.records[name][var].numpy(), ref[name][var],
                                          err_msg=f"{key}: {name}.{var}")


def test_conv_layouts_strides_groups_dilation_and_padded_pools() -> None:
    g = conv_geometry_graph()
    x = graph_input(g, 9, T=16, B=3)
    sim = simulate(g, x, mode="fixed", record=True)
    lava = simulate_lava(g, x, record=True)
    for name in g.nodes:
        for var, want in sim.records[name].items():
            assert (lava.records[name][var] == want).all(), f"{name}.{var}"
    assert 0.05 < sim.firing_rates["lif0"] < 0.95 and sim.firing_rates["lif1"] > 0.01


def _mlp_dataset(g, n: int = N_SAMPLES) -> Dataset:
    x = graph_input(g, 7, T=T_STEPS, B=n)  # [T, B, 20] spikes
    return Dataset(x=np.ascontiguousarray(np.swapaxes(x, 0, 1)), y=np.zeros(n, np.int64),
                   name="mlp-spikes", encoding="spikes", n_classes=10, T=T_STEPS)


def test_compare_catches_one_lsb_weight_change_at_the_right_place() -> None:
    g = mlp_graph()
    ds = _mlp_dataset(g)
    bad = copy.deepcopy(g)
    w = bad["fc2"].quant.weight
    i, j = 3, 5
    assert -250 < w[i, j] < 250 and (w > 0).any() and (w < 0).any()  # mixed sign: LSB is 2
    w[i, j] += 2
    res = compare(g, ds, samples=N_SAMPLES, lava_graph=bad)
    assert res["identical"] is False and res["samples"] == N_SAMPLES and res["T"] == T_STEPS
    # expected: 'out' (fed by fc2) differs first in u, at the first step presynaptic neuron j
    # of lif1 spikes in any sample; fc2 has weight_exp -1, so (a + 2) >> 1 adds 1 << 6 to u
    x = np.swapaxes(ds.x, 0, 1)
    sim = simulate(g, x, mode="fixed", record=True)
    s_j = sim.records["lif1"]["s"][:, :, j].numpy()
    t, b = np.argwhere(s_j)[0]
    u = int(sim.records["out"]["u"][t, b, i])
    assert res["first_divergence"] == {"layer": "out", "step": int(t), "neuron": i,
                                       "variable": "u", "sim": u, "lava": u + 64,
                                       "sample": int(b)}
    by_layer = {e["layer"]: e for e in res["layers"]}
    assert by_layer["lif1"]["identical"] and not by_layer["out"]["identical"]


def test_compare_cli_json_identical(capsys: pytest.CaptureFixture) -> None:
    from neurodeploy.cli.main import main
    from neurodeploy.data import save_dataset

    g = mlp_graph()
    with tempfile.TemporaryDirectory() as d:
        save_graph(g, Path(d) / "m.q.ndg")
        save_dataset(_mlp_dataset(g, 4), Path(d) / "d.npz")
        code = main(["compare", str(Path(d) / "m.q.ndg"), "--data", str(Path(d) / "d.npz"),
                     "--samples", "3", "--json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    out = json.loads(captured.out)
    assert code == 0
    assert out["identical"] is True and out["first_divergence"] is None
    assert out["samples"] == 3 and out["T"] == T_STEPS
    assert [e["layer"] for e in out["layers"]] == ["lif1", "out"]


def _run_netx(g, x, path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Export, load with lava-dl netx and run; records of every layer's neuron in IR steps."""
    from lava.lib.dl.netx.hdf5 import Network

    from neurodeploy.lava.compiler import input_integers
    from neurodeploy.lava.netx import export_netx, run_network

    ex = export_netx(g, path)
    net = Network(net_config=str(path), input_message_bits=ex.input_message_bits,
                  reset_interval=x.shape[0] + len(ex.layers), reset_offset=1)
    layers = run_network(net, input_integers(g[g.inputs[0]], x))
    return {layer.neuron: rec for layer, rec in zip(ex.layers, layers, strict=True)}


@pytest.mark.parametrize("make", [lambda: netx_ready(mlp_graph()), netx_conv_graph],
                         ids=["mlp", "conv"])
def test_netx_export_runs_in_lava_dl_with_the_same_spikes(make, tmp_path: Path) -> None:
    g = make()
    x = graph_input(g, 11, T=T_STEPS, B=4)
    sim = simulate(g, x, mode="fixed", record=True)
    netx = _run_netx(g, x, tmp_path / "model.net")
    assert list(netx) == [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]
    for name, rec in netx.items():
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"netx {name}.{var}")
    assert sum(sim.records[n]["s"].sum() for n in netx) > 0


def test_quantizer_output_compares_identical() -> None:
    """The real pipeline: a float conv + avg-pool + recurrent graph, quantized by
    neurodeploy.quantize on digits images (graded 8×8 inputs), agrees exactly in Lava."""
    from neurodeploy.data import load_dataset
    from neurodeploy.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
    from neurodeploy.quantize import quantize

    rng = np.random.default_rng(0)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(1, 8, 8), encoding="direct"))
    g.add(Conv2d("conv", weight=rng.normal(0, .5, (4, 1, 3, 3)).astype(np.float32),
                 padding=(1, 1)), "in")
    g.add(CubaLIF("lif0", shape=(4, 8, 8), du=np.float32(0.3), dv=np.float32(0.2),
                  vth=np.float32(0.5)), "conv")
    g.add(AvgPool2d("pool"), "lif0")
    g.add(Flatten("flat"), "pool")
    g.add(Dense("fc1", weight=rng.normal(0, .3, (32, 64)).astype(np.float32),
                bias=rng.normal(0, .1, 32).astype(np.float32)), "flat")
    g.add(CubaLIF("lif1", shape=(32,), du=np.float32(0.5), dv=np.float32(0.1),
                  vth=np.float32(1.0), bias=np.float32(0.05)), "fc1")
    g.add(Dense("rec", weight=rng.normal(0, .2, (32, 32)).astype(np.float32)))
    g.connect("rec", "lif1")
    g.connect("lif1", "rec", delay=1)
    g.add(Dense("fc2", weight=rng.normal(0, .3, (10, 32)).astype(np.float32)), "lif1")
    g.add(Readout("out", shape=(10,), du=np.float32(1.0), dv=np.float32(0.1)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    ds = load_dataset("digits-image", limit=N_SAMPLES)
    qg, _ = quantize(g, ds)
    res = compare(qg, ds, samples=N_SAMPLES)
    assert res["identical"], res["first_divergence"]
    assert [e["layer"] for e in res["layers"]] == ["lif0", "lif1", "out"]
