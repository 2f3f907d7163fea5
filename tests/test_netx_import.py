"""netx ``.net`` import (converters/netx.py): our netx export round-trips exactly; a file written
by lava-dl's own slayer blocks imports and our fixed-point simulation of it equals netx's
Network run in Lava, every layer, every step; unsupported content is refused in one line."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from neurodeploy.converters.netx import from_netx, optimize_weight_bits
from test_lava_cases import T_STEPS, graph_input, mlp_graph, netx_conv_graph, netx_ready

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Readout, graph_diff, load_graph
from neurodeploy.sim import simulate


def _neurons(g):
    return [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]


@pytest.mark.parametrize("make", [lambda: netx_ready(mlp_graph()), netx_conv_graph],
                         ids=["mlp", "conv"])
def test_export_then_import_is_the_same_network(make, tmp_path: Path) -> None:
    from neurodeploy.lava.netx import export_netx

    g = make()
    export_netx(g, tmp_path / "m.net")
    h = from_netx(tmp_path / "m.net")
    assert h.metadata["source"] == "netx"
    # same structure: kinds in order, same shapes, a chain
    assert [n.kind for n in h] == [n.kind for n in g]
    for a, b in zip(g, h, strict=True):
        if isinstance(a, (Dense, Conv2d)):
            np.testing.assert_array_equal(b.quant.weight, a.quant.weight, err_msg=a.name)
            assert b.quant.weight_exp == a.quant.weight_exp
            if isinstance(a, Conv2d):
                assert (b.stride, b.padding, b.dilation, b.groups) == (
                    a.stride, a.padding, a.dilation, a.groups)
        if isinstance(a, (CubaLIF, Readout)):
            qa, qb = a.quant, b.quant
            assert (qb.du, qb.dv, qb.vth, qb.bias_exp) == (qa.du, qa.dv, qa.vth, qa.bias_exp)
            np.testing.assert_array_equal(np.broadcast_to(qb.bias_mant, a.shape),
                                          np.broadcast_to(qa.bias_mant, a.shape))
            assert tuple(b.shape) == tuple(a.shape)
    # and the same integers in the fixed-point simulator, every layer, every step
    x = graph_input(g, 11, T=T_STEPS, B=4)
    ra = simulate(g, x, mode="fixed", record=True)
    rb = simulate(h, x, mode="fixed", record=True)
    for na, nb in zip(_neurons(g), _neurons(h), strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rb.records[nb][var].numpy(),
                                          ra.records[na][var].numpy(), err_msg=f"{na}.{var}")
    assert sum(ra.records[n]["s"].sum() for n in _neurons(g)) > 0
    # outputs: the readout's v times each graph's own float scale (1/64 after import)
    out_a = ra.outputs[g.outputs[0]].numpy() / g[g.outputs[0]].quant.scale
    out_b = rb.outputs[h.outputs[0]].numpy() * 64
    np.testing.assert_allclose(out_b, out_a, rtol=1e-6)
    # float equivalents: the float simulation tracks the fixed one (truncated decays)
    fl = simulate(h, x, mode="float").outputs[h.outputs[0]].numpy()
    fx = rb.outputs[h.outputs[0]].numpy()
    assert np.abs(fl - fx).max() <= 1e-3 * np.abs(fx).max()


def test_optimize_weight_bits_matches_netx() -> None:
    netx_utils = pytest.importorskip("lava.lib.dl.netx.utils")
    rng = np.random.default_rng(0)
    cases = [rng.integers(-128, 128, (5, 7)) * 2, rng.integers(-30, 31, (4, 4)),
             rng.integers(0, 200, (3, 6)), -rng.integers(1, 256, (3, 3)),
             np.array([[3, -5], [7, 1]]), rng.integers(-256, 255, (6, 6))]
    for w in cases:
        want = netx_utils.optimize_weight_bits(w.copy())
        got = optimize_weight_bits(w)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1:] == (want[1], want[2])


# ------------------------------------------------------------------ a file written by lava-dl


def _run_netx_file(path: Path, xi: np.ndarray, n_layers: int) -> list[dict[str, np.ndarray]]:
    """Run netx's own Network on binary input ``xi`` ``[T, B, n]``; per layer s/u/v."""
    from lava.lib.dl.netx.hdf5 import Network

    from neurodeploy.lava.netx import run_network

    net = Network(net_config=str(path), reset_interval=xi.shape[0] + n_layers, reset_offset=1)
    return run_network(net, xi)


def test_slayer_exported_network_imports_and_matches_lava(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    slayer = pytest.importorskip("lava.lib.dl.slayer")
    torch.manual_seed(0)
    p = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.05,
         "requires_grad": False}
    blocks = [slayer.block.cuba.Dense(p, 12, 16, weight_scale=2),
              slayer.block.cuba.Dense(p, 16, 5, weight_scale=2)]
    x = (torch.rand(1, 12, 4) > 0.5).float()
    for b in blocks:  # one forward pass sizes the neurons
        x = b(x)
    path = tmp_path / "slayer.net"
    with h5py.File(path, "w") as f:  # what slayer's tutorials' Network.export_hdf5 writes
        layer = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(f"{i}"))
    g = from_netx(path)
    assert [n.kind for n in g] == ["input", "dense", "cuba_lif", "dense", "cuba_lif"]
    assert g["layer0.neuron"].quant.du == 1023 and g["layer0.neuron"].quant.vth == 32
    xi = (np.random.default_rng(1).random((T_STEPS, 2, 12)) < 0.4).astype(np.float32)
    sim = simulate(g, xi, mode="fixed", record=True)
    lava = _run_netx_file(path, xi.astype(np.int64), 2)
    for name, rec in zip(_neurons(g), lava, strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"{name}.{var}")
    assert all(sim.records[n]["s"].sum() > 0 for n in _neurons(g))


# ------------------------------------------------------------------ refusals and the CLI


def _write(path: Path, layers: list[dict]) -> Path:
    with h5py.File(path, "w") as f:
        for i, spec in enumerate(layers):
            grp = f.create_group(f"layer/{i}")
            for key, value in spec.items():
                if key == "type":
                    grp.create_dataset(key, (1,), "S10", [value.encode("ascii")])
                elif key == "neuron":
                    for nk, nv in value.items():
                        grp.create_dataset(f"neuron/{nk}", data=nv)
                else:
                    grp.create_dataset(key, data=value)
    return path


def _cuba(**kw) -> dict:
    return {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 100, "refDelay": 1,
            "gradedSpike": False, **kw}


def _dense(n_out: int, n_in: int, **neuron) -> dict:
    return {"type": "dense", "shape": np.array([n_out]),
            "weight": np.ones((n_out, n_in)) * 4, "neuron": _cuba(**neuron)}


@pytest.mark.parametrize("layers, match", [
    ([{"type": "input", "shape": np.array([4])}, _dense(3, 4, type="RF")],
     "layer 1 \\(dense\\): neuron type 'RF' is not supported"),
    ([{"type": "input", "shape": np.array([2, 4, 4])},
      {"type": "pool", "shape": np.array([2, 2, 2])}],
     "layer 1 \\(pool\\): pooling"),
    ([{"type": "input", "shape": np.array([4])}, _dense(3, 4, iDecay=4097)],
     "layer 1 \\(dense\\): neuron/iDecay 4097 outside \\[0, 4096\\]"),
    ([{"type": "input", "shape": np.array([4])}, _dense(3, 5)],
     "layer 1 \\(dense\\): weight \\(3, 5\\) does not take"),
    ([{"type": "input", "shape": np.array([4])}, _dense(3, 4, vThMant=2**17), _dense(2, 3)],
     "layer 1 \\(dense\\): vThMant 131072 can never be reached"),
    ([{"type": "input", "shape": np.array([4])},
      {**_dense(3, 4), "delay": np.full(3, 63)}],
     "layer 1 \\(dense\\): 'delay' 63 exceeds Loihi 2's maximum synaptic delay of 62 steps"),
])
def test_refusals_name_the_file_and_layer(layers, match, tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.net", layers)
    with pytest.raises(NeurodeployError, match=f"bad.net: {match}") as err:
        from_netx(path)
    assert "\n" not in str(err.value)


def _input_block(**neuron) -> dict:
    cuba = {k: v for k, v in _cuba(**neuron).items() if v is not None}
    return {"type": "input", "shape": np.array([4]), "neuron": cuba}


@pytest.mark.parametrize("block, match", [
    (_input_block(iDecay=None), "neuron has no 'iDecay'"),
    (_input_block(vThMant=0), "neuron/vThMant 0 must be positive"),
    (_input_block(vThMant=-5), "neuron/vThMant -5 must be positive"),
    (_input_block(iDecay=4097), "neuron/iDecay 4097 outside \\[0, 4096\\]"),
    (_input_block(iDecay=-1), "neuron/iDecay -1 outside \\[0, 4096\\]"),
    (_input_block(vDecay=5000), "neuron/vDecay 5000 outside \\[0, 4096\\]"),
    (_input_block(iDecay=1.5), "neuron/iDecay must be one integer"),
    (_input_block(iDecay=np.array([4096, 4096])), "neuron/iDecay must be one integer"),
    (_input_block(type="RF"), "neuron type 'RF' is not supported"),
    ({**_input_block(), "bias": np.ones(4)}, "'bias' of shape \\(4,\\): netx reads an input "
     "block's bias as one number"),
    (_input_block(vThMant=2**17), "vThMant 131072 can never be reached"),
    ({"type": "input", "neuron": _cuba()}, "no 'shape'"),
])
def test_malformed_input_neuron_is_refused(block, match, tmp_path: Path) -> None:
    """An input block's neuron is checked like any layer's: one line, file, layer 0, field."""
    path = _write(tmp_path / "bad.net", [block, _dense(3, 4)])
    with pytest.raises(NeurodeployError, match=f"bad.net: layer 0 \\(input\\): {match}") as err:
        from_netx(path)
    assert "\n" not in str(err.value)


def test_cli_imports_net_and_refuses_in_one_line(tmp_path: Path, capsys) -> None:
    from neurodeploy.cli.main import main
    from neurodeploy.lava.netx import export_netx

    g = netx_ready(mlp_graph())
    export_netx(g, tmp_path / "m.net")
    assert main(["export", str(tmp_path / "m.net"), "-o", str(tmp_path / "m.ndg")]) == 0
    assert graph_diff(load_graph(tmp_path / "m.ndg"), from_netx(tmp_path / "m.net")) is None
    # detection by content: an HDF5 file with netx layers under another suffix
    (tmp_path / "m.h5").write_bytes((tmp_path / "m.net").read_bytes())
    assert main(["export", str(tmp_path / "m.h5"), "-o", str(tmp_path / "m2.ndg")]) == 0
    from_h5 = load_graph(tmp_path / "m2.ndg")
    assert from_h5.metadata.pop("file") == "m.h5"
    from_h5.metadata["file"] = "m.net"
    assert graph_diff(from_h5, load_graph(tmp_path / "m.ndg")) is None
    capsys.readouterr()
    bad = _write(tmp_path / "sdnn.net", [{"type": "input", "shape": np.array([4])},
                                         _dense(3, 4, type="RF")])
    assert main(["export", str(bad), "-o", str(tmp_path / "x.ndg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "sdnn.net: layer 1" in err
    assert not (tmp_path / "x.ndg").exists()
