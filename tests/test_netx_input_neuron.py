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

from neurodeploy.ir import CubaLIF, Readout, validate
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
