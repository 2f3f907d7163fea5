"""Synaptic delays through lava-dl netx: export writes a Dense's per-synapse delays as the
layer's ``delay`` dataset, import reads netx's every form of it (scalar, per output neuron —
slayer's axonal delay —, per input, per synapse) exactly as netx expands it, the round trip
IR → .net → IR keeps the delays, and the exported file runs in lava-dl netx identical to the
simulator; what netx would clamp or truncate is refused naming the layer."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from neurodeploy.converters.netx import from_netx
from test_lava_cases import T_STEPS, graph_input, mlp_graph, netx_ready

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Readout
from neurodeploy.lava.netx import export_netx
from neurodeploy.sim import simulate


def _delayed_mlp() -> object:
    g = netx_ready(mlp_graph())
    rng = np.random.default_rng(7)
    for name in ("fc1", "fc2"):
        g.nodes[name].delay = rng.integers(0, 8, g.nodes[name].weight.shape).astype(np.int32)
    return g


def _neurons(g) -> list[str]:
    return [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]


def test_export_import_keeps_the_delays_and_the_integers(tmp_path: Path) -> None:
    g = _delayed_mlp()
    export_netx(g, tmp_path / "d.net")
    with h5py.File(tmp_path / "d.net") as f:
        np.testing.assert_array_equal(f["layer/1/delay"][()], g.nodes["fc1"].delay)
    h = from_netx(tmp_path / "d.net")
    dense_g = [n for n in g if isinstance(n, Dense)]
    dense_h = [n for n in h if isinstance(n, Dense)]
    for a, b in zip(dense_g, dense_h, strict=True):
        assert b.delay.dtype == np.int32
        np.testing.assert_array_equal(b.delay, a.delay, err_msg=a.name)
    x = graph_input(g, 3, T=T_STEPS, B=3)
    ra, rb = (simulate(k, x, mode="fixed", record=True) for k in (g, h))
    for na, nb in zip(_neurons(g), _neurons(h), strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rb.records[nb][var].numpy(),
                                          ra.records[na][var].numpy(), err_msg=f"{na}.{var}")
    assert ra.records["lif1"]["s"].sum() > 0


def test_exported_delays_run_identically_in_lava_dl_netx(tmp_path: Path) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    from test_lava import _run_netx

    g = _delayed_mlp()
    x = graph_input(g, 4, T=T_STEPS, B=2)
    sim = simulate(g, x, mode="fixed", record=True)
    netx = _run_netx(g, x, tmp_path / "d.net")
    for name, rec in netx.items():
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"netx {name}.{var}")
    assert 0 < sim.firing_rates["lif1"] < 0.9


def _write(path: Path, delay: object, kind: str = "dense") -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("layer/0/type", (1,), "S10", [b"input"])
        f.create_dataset("layer/0/shape", data=np.array([4] if kind == "dense" else [1, 4, 4]))
        g = f.create_group("layer/1")
        g.create_dataset("type", (1,), "S10", [kind.encode()])
        if kind == "dense":
            g.create_dataset("shape", data=np.array([3]))
            g.create_dataset("weight", data=np.arange(12).reshape(3, 4) * 2 - 10)
        else:
            g.create_dataset("shape", data=np.array([2, 2, 2]))
            g.create_dataset("weight", data=np.ones((2, 1, 3, 3)) * 4)
        g.create_dataset("delay", data=delay)
        for k, v in {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 100,
                     "refDelay": 1, "gradedSpike": False}.items():
            g.create_dataset(f"neuron/{k}", data=v)
    return path


@pytest.mark.parametrize("delay", [np.float64(5.0), np.array([1, 2, 3]),
                                   np.array([0, 4, 2, 7]), np.arange(12).reshape(3, 4) % 8],
                         ids=["scalar", "per-output(axonal)", "per-input", "per-synapse"])
def test_import_expands_delays_as_netx_does(delay, tmp_path: Path) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    from lava.lib.dl.netx.hdf5 import Network

    path = _write(tmp_path / "d.net", delay)
    ours = from_netx(path).nodes["layer1"].delay
    net = Network(net_config=str(path))
    np.testing.assert_array_equal(ours, net.layers[0].synapse.delays.init)


@pytest.mark.parametrize("delay, kind, match", [
    (np.array([63, 0, 0]), "dense", "'delay' 63 exceeds Loihi 2's maximum synaptic delay of 62 "
                                    "steps \\(netx would clamp it\\)"),
    (np.array([-1, 0, 0]), "dense", "'delay' -1 is negative"),
    (np.array([1.5, 0, 0]), "dense", "'delay' holds non-integral values"),
    (np.array([1, 2]), "dense", "'delay' of shape \\(2,\\) fits neither the weight \\(3, 4\\)"),
    (np.array([1, 2, 3]), "conv", "'delay' of shape \\(3,\\): a conv layer's delay is one "
                                  "per output channel \\(2\\)$"),
])
def test_bad_delays_are_refused_naming_the_layer(delay, kind, match, tmp_path: Path) -> None:
    with pytest.raises(NeurodeployError, match=f"bad.net: layer 1 \\({kind}\\): {match}"):
        from_netx(_write(tmp_path / "bad.net", delay, kind))


def test_deploy_bundle_runs_a_delayed_graph_as_a_process_network(tmp_path: Path) -> None:
    """The bundle's run.py runs netx samples back to back without the delay gates, so a delayed
    graph gets no netx file (the bundle falls back to the process network) and says why."""
    from neurodeploy.deploy.bundle import _write_netx

    facts, why = _write_netx(_delayed_mlp(), tmp_path / "m.net")
    assert facts == {} and not (tmp_path / "m.net").exists()
    assert why == ("node 'fc1' (dense): delayed synapses keep what they hold across netx's "
                   "neuron reset between samples run back to back")
