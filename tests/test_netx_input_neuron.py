"""lava-dl netx networks whose input block has a neuron (PilotNet LIF, bootstrap MNIST), and
netx's non-decaying integrator (iDecay 0 → du = −1, vDecay 4096), imported exactly.

The frame is data: an Input feeding the input neuron without a synapse. lava-dl drives the same
netx file with the frame as that neuron's bias (its PilotNet LIF test); the two give the same
spikes and voltages, every layer, every step (the input neuron's u differs: 0 under the bias
drive, ``x << 6`` as data). The reference files are read from ``../shared/data/lava-dl`` (the
tests skip where it is absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from neurodeploy.converters.netx import from_netx

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    WeightQ,
    graph_diff,
    validate,
)
from neurodeploy.lava.compiler import input_integers
from neurodeploy.sim import simulate

DATA = Path(os.environ.get("NEURODEPLOY_REFERENCE_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
PILOTNET = DATA / "lava-dl" / "pilotnet_lif" / "network.net"
IMAGE = DATA / "lava-dl" / "pilotnet_lif" / "image.npy"
BOOTSTRAP = DATA / "lava-dl" / "bootstrap_mnist" / "network.net"


def _need(*paths: Path) -> None:
    for p in paths:
        if not p.is_file():
            pytest.skip(f"reference data {p} is not here")


def _neurons(g) -> list[str]:
    return [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]


def frame_input(T: int) -> np.ndarray:
    """lava-dl's PilotNet frame as IR data ``[T, 1, C, H, W]`` (image.npy is (W, H, C))."""
    img = np.load(IMAGE).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(img.T[None, None], (T, 1) + img.T.shape))


def test_pilotnet_lif_imports_with_an_input_neuron() -> None:
    _need(PILOTNET)
    g = from_netx(PILOTNET)
    validate(g)
    assert [n.kind for n in g][:3] == ["input", "cuba_lif", "conv2d"]
    inp, lif0 = g["in"], g["layer0.neuron"]
    assert inp.shape == (3, 66, 200) and inp.encoding == "direct"
    assert (inp.quant.scale, inp.quant.bits, inp.quant.signed) == (1.0, 13, True)
    assert g.in_edges("layer0.neuron")[0].src == "in" and lif0.shape == inp.shape
    q = lif0.quant
    assert (q.du, q.dv, q.vth, q.bias_exp) == (4095, 1024, 25, 6) and not np.any(q.bias_mant)
    # the input block's weight/bias are slayer's input transform, which netx never applies
    assert g.metadata["netx_input_transform"] == {"weight": 40, "bias": 36}
    assert g.metadata["T"] == 16
    assert len(_neurons(g)) == 10
    # the output layer's vThMant 2**17 − 1 can still be reached (v > 2**23 − 64): a CubaLIF
    out = g[g.outputs[0]]
    assert isinstance(out, CubaLIF) and out.quant.vth == 2**17 - 1 and out.quant.dv == 0


def test_bootstrap_mnist_imports_with_netx_default_integrator() -> None:
    _need(BOOTSTRAP)
    g = from_netx(BOOTSTRAP)
    assert [n.kind for n in g] == ["input", "cuba_lif", "dense", "cuba_lif", "dense", "cuba_lif",
                                   "dense", "readout"]
    assert g["in"].shape == (784,)
    out = g[g.outputs[0]]
    # layer 3 has no neuron: netx's default, iDecay 0 (du = −1), vDecay 4096, vThMant 2**17
    assert isinstance(out, Readout)
    assert (out.quant.du, out.quant.dv) == (-1, 4096)
    assert float(out.du) == 0.0 and float(out.dv) == 1.0
    # u never decays and v = u + bias: the readout's v is the running sum of its input
    x = np.random.default_rng(0).integers(0, 100, (6, 2, 784)).astype(np.float32)
    rec = simulate(g, x, mode="fixed", record=["layer3", g.outputs[0]]).records
    a_in = rec["layer3"]["y"].numpy().astype(np.int64)
    np.testing.assert_array_equal(rec[g.outputs[0]]["u"].numpy(), np.cumsum(a_in << 6, axis=0))
    np.testing.assert_array_equal(rec[g.outputs[0]]["v"].numpy(), rec[g.outputs[0]]["u"].numpy())


@pytest.mark.lava
def test_pilotnet_lif_equals_lava_dl_netx_with_the_frame_as_bias() -> None:
    """lava-dl's own drive (``in_layer.neuron.bias_mant = image``) vs the frame as data."""
    _need(PILOTNET, IMAGE)
    pytest.importorskip("lava.lib.dl.netx")
    from lava.lib.dl.netx.hdf5 import Network

    from neurodeploy.lava.netx import run_network

    T = 4
    g = from_netx(PILOTNET)
    x = frame_input(T)
    sim = simulate(g, x, mode="fixed", record=True)
    net = Network(net_config=str(PILOTNET), reset_interval=T + 11, reset_offset=1)
    lava = run_network(net, x.astype(np.int64), drive="bias")
    names = _neurons(g)
    assert len(lava) == len(names)
    for name, rec in zip(names, lava, strict=True):
        for var in ("s", "v") if name == "layer0.neuron" else "suv":
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"{name}.{var}")
    # the input neuron's current: none under the bias drive, the frame << 6 as data
    assert not np.any(lava[0]["u"])
    np.testing.assert_array_equal(sim.records["layer0.neuron"]["u"].numpy(),
                                  x.astype(np.int64) << 6)
    # spikes reach the dense layers within these steps (the comparison is not vacuous)
    assert sim.records["layer7.neuron"]["s"].sum() > 0
    assert np.any(sim.records[g.outputs[0]]["v"].numpy())


# ------------------------------------------------------------------ netx export and round trip


def input_neuron_graph(seed: int = 4) -> Graph:
    """Signed 8-bit data (2, 4, 5) → input LIF fed without a synapse (du 1000: its current
    persists; a per-neuron bias netx cannot store) → conv 2×2 → LIF → flatten → dense → netx's
    non-decaying integrator as the readout (du −1, dv 4096)."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": 6, "source": "test"})
    g.add(Input("in", shape=(2, 4, 5), encoding="direct",
                quant=InputQ(scale=1 / 100, bits=8, signed=True)))
    g.add(CubaLIF("lif0", shape=(2, 4, 5), quant=NeuronQ(
        du=1000, dv=300, vth=60, bias_mant=rng.integers(-30, 60, (2, 4, 5)).astype(np.int32),
        bias_exp=3, scale=1 / 64)), "in")
    w = (rng.integers(-60, 60, (3, 2, 2, 2)) * 2).astype(np.int32)
    g.add(Conv2d("conv", weight=w.astype(np.float32), quant=WeightQ(weight=w)), "lif0")
    g.add(CubaLIF("lif1", shape=(3, 3, 4), quant=NeuronQ(du=4095, dv=500, vth=120,
                                                         scale=1 / 64)), "conv")
    g.add(Flatten("flat"), "lif1")
    w = (rng.integers(-100, 100, (6, 36)) * 2).astype(np.int32)
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w)), "flat")
    g.add(Readout("out", shape=(6,), du=0.0, dv=1.0,
                  quant=NeuronQ(du=-1, dv=4096, vth=0, scale=1 / 64)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def signed_frames(g: Graph, T: int, B: int, seed: int = 5) -> np.ndarray:
    """Steady frames ``[T, B, *shape]`` spanning the input's signed range (some clipped)."""
    node = g[g.inputs[0]]
    img = np.random.default_rng(seed).uniform(-1.5, 1.5, (B,) + node.shape).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(img, (T, B) + node.shape))


def test_round_trip_through_netx_is_the_identity(tmp_path: Path) -> None:
    """IR → .net → IR: the input neuron comes back as netx's input block with a neuron, the
    du = −1 / dv = 4096 integrator as iDecay 0 / vDecay 4096."""
    import h5py

    from neurodeploy.lava.netx import export_netx

    _need(PILOTNET, BOOTSTRAP)
    for src in (PILOTNET, BOOTSTRAP):
        g = from_netx(src)
        ex = export_netx(g, tmp_path / "rt.net")
        assert ex.layers[0].synapse is None and ex.layers[0].neuron == "layer0.neuron"
        assert ex.approximated == [] and ex.patched == []
        h = from_netx(tmp_path / "rt.net")
        assert h.metadata.pop("file") == "rt.net"
        h.metadata["file"] = g.metadata["file"]
        assert graph_diff(g, h) is None, src
    with h5py.File(tmp_path / "rt.net", "r") as f:  # bootstrap MNIST, as written
        assert "neuron" in f["layer/0"] and f["layer/0/neuron/iDecay"][()] == 4096
        assert float(f["layer/0/bias"][()]) == 64  # the input transform netx ignores, kept
        out = f["layer/3/neuron"]
        assert (out["iDecay"][()], out["vDecay"][()], out["vThMant"][()]) == (0, 4096, 2**17)
    # a generated graph: its InputQ comes back from the file's attributes, the rest as written
    g = input_neuron_graph()
    g["lif0"].quant.bias_mant = np.zeros((), np.int32)
    export_netx(g, tmp_path / "gen.net")
    h = from_netx(tmp_path / "gen.net")
    q = h["in"].quant
    assert (q.scale, q.bits, q.signed) == (1 / 100, 8, True)
    assert [n.kind for n in h] == [n.kind for n in g]
    x = signed_frames(g, 6, 3)
    ra, rb = (simulate(k, x, mode="fixed", record=True) for k in (g, h))
    for na, nb in zip(_neurons(g), _neurons(h), strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rb.records[nb][var].numpy(),
                                          ra.records[na][var].numpy(), err_msg=f"{na}.{var}")


def test_input_neuron_bias_needs_the_patch(tmp_path: Path) -> None:
    from neurodeploy.lava.netx import export_netx

    g = input_neuron_graph()
    with pytest.raises(NeurodeployError, match=r"node 'lif0' \(cuba_lif\): netx gives its input "
                       r"block's neuron no bias"):
        export_netx(g, tmp_path / "a.net", exact=False)
    assert not (tmp_path / "a.net").exists()
    ex = export_netx(g, tmp_path / "b.net", patch=True)
    assert ex.patched == ["lif0"] and ex.input_message_bits == 8


@pytest.mark.lava
def test_exported_input_neuron_graph_runs_exactly_in_netx(tmp_path: Path) -> None:
    """Our export with an input block (patched bias, du = 1000 so the data are its current)
    loaded by load_netx and driven through the block's a_in: every layer, every step."""
    pytest.importorskip("lava.lib.dl.netx")
    from neurodeploy.lava.netx import export_netx, load_netx, run_network

    g = input_neuron_graph()
    T, B = 6, 3
    ex = export_netx(g, tmp_path / "m.net", patch=True)
    x = signed_frames(g, T, B)
    net = load_netx(ex.path, reset_interval=T + len(ex.layers), reset_offset=1)
    lava = run_network(net, input_integers(g["in"], x), drive="current")
    sim = simulate(g, x, mode="fixed", record=True)
    assert [layer.neuron for layer in ex.layers] == _neurons(g)
    for name, rec in zip(_neurons(g), lava, strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"{name}.{var}")
    assert all(sim.records[n]["s"].sum() > 0 for n in ("lif0", "lif1"))
    assert np.any(sim.records["in"]["y"].numpy() < 0)  # negative data reached the neuron


@pytest.mark.lava
def test_bootstrap_mnist_equals_lava_dl_netx() -> None:
    """The original file, driven as lava-dl does (each frame the input neuron's bias), on
    generated frames, two samples back to back; and our netx export of the imported graph,
    loaded by a stock netx Network and driven through the input neuron's a_in."""
    _need(BOOTSTRAP)
    pytest.importorskip("lava.lib.dl.netx")
    import tempfile

    from lava.lib.dl.netx.hdf5 import Network

    from neurodeploy.lava.netx import export_netx, run_network

    T, B = 6, 2
    g = from_netx(BOOTSTRAP)
    x = np.broadcast_to(np.random.default_rng(7).integers(0, 128, (B, 784)),
                        (T, B, 784)).astype(np.float32)
    sim = simulate(g, x, mode="fixed", record=True)
    names = _neurons(g)
    with tempfile.TemporaryDirectory() as d:
        path = export_netx(g, Path(d) / "b.net").path
        for src, drive in ((BOOTSTRAP, "bias"), (path, "current")):
            net = Network(net_config=str(src), reset_interval=T + len(names), reset_offset=1)
            lava = run_network(net, x.astype(np.int64), drive=drive)
            for name, rec in zip(names, lava, strict=True):
                vars_ = ("s", "v") if (name, drive) == ("layer0.neuron", "bias") else "suv"
                for var in vars_:
                    np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                                  err_msg=f"{src.name} {name}.{var}")
    assert all(sim.records[n]["s"].sum() > 0 for n in names[:-1])
    assert len({tuple(v) for v in sim.decoded.numpy()}) == B


@pytest.mark.lava
def test_deploy_bundle_with_an_input_neuron_reproduces_the_simulator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle's run.py drives netx's input block through its neuron's a_in."""
    pytest.importorskip("lava.lib.dl.netx")
    from test_deploy import _check_run, _dataset

    from neurodeploy.deploy.bundle import build_bundle

    g = input_neuron_graph()
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=6)
    assert b.info["network"] == "netx" and b.info["netx_patched"] == ["lif0"]
    _check_run(g, b.path, monkeypatch)


@pytest.mark.lava
def test_cli_export_and_compare_pilotnet_lif_on_the_frame(tmp_path: Path, capsys) -> None:
    """``neurodeploy export`` of PilotNet LIF, then ``compare`` (our Lava process network vs the
    simulator) with lava-dl's frame as a ``.npz`` dataset (x ``[1, C, H, W]``: image.npy is
    (W, H, C))."""
    import json

    _need(PILOTNET, IMAGE)
    pytest.importorskip("lava")
    from neurodeploy.cli.main import main

    assert main(["export", str(PILOTNET), "-o", str(tmp_path / "p.ndg")]) == 0
    np.savez(tmp_path / "frame.npz", x=frame_input(1)[0], y=np.zeros(1, np.int64))
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "p.ndg"), "--data", str(tmp_path / "frame.npz"),
                 "--samples", "1", "--T", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["identical"] is True and out["T"] == 3 and len(out["layers"]) == 10
