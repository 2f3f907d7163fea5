"""Conv delays through netx files: one delay per output channel is written as slayer's conv
blocks write it (``delay`` ``[C_out]``) and read back exactly; lava-dl's netx ignores that
dataset, so a stock-exact export refuses it naming the layer; per-tap delays and other shapes
are refused naming the layer (import: tests/test_netx_delays.py)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from neurodeploy.converters.netx import from_netx
from test_lava_cases import graph_input, netx_conv_graph

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Readout
from neurodeploy.lava.netx import export_netx
from neurodeploy.sim import simulate


def _delayed_conv_net() -> object:
    g = netx_conv_graph()
    rng = np.random.default_rng(3)
    for name in ("conv1", "conv2"):
        w = g.nodes[name].weight
        per_channel = rng.integers(0, 8, w.shape[0]).reshape(-1, 1, 1, 1)
        g.nodes[name].delay = np.broadcast_to(per_channel, w.shape).astype(np.int32)
    g.nodes["fc"].delay = rng.integers(0, 8, g.nodes["fc"].weight.shape).astype(np.int32)
    return g


def test_per_channel_conv_delays_round_trip_through_a_netx_file(tmp_path: Path) -> None:
    g = _delayed_conv_net()
    ex = export_netx(g, tmp_path / "d.net", exact=False)
    assert ex.approximated == ["conv1", "conv2"]  # a stock netx loader runs them undelayed
    with h5py.File(tmp_path / "d.net") as f:
        np.testing.assert_array_equal(f["layer/1/delay"][()], g.nodes["conv1"].delay[:, 0, 0, 0])
    h = from_netx(tmp_path / "d.net")
    syn_g = [n for n in g if isinstance(n, (Dense, Conv2d))]
    syn_h = [n for n in h if isinstance(n, (Dense, Conv2d))]
    for a, b in zip(syn_g, syn_h, strict=True):
        assert b.delay.dtype == np.int32 and b.max_delay == a.max_delay > 0
        np.testing.assert_array_equal(b.delay, a.delay, err_msg=a.name)
    x = graph_input(g, 3, T=16, B=2)
    ra, rb = (simulate(k, x, mode="fixed", record=True) for k in (g, h))
    neurons = [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]
    neurons_h = [n for n in h.nodes if isinstance(h[n], (CubaLIF, Readout))]
    for na, nb in zip(neurons, neurons_h, strict=True):
        for var in "suv":
            np.testing.assert_array_equal(rb.records[nb][var].numpy(),
                                          ra.records[na][var].numpy(), err_msg=f"{na}.{var}")


def test_netx_export_refuses_conv_delays_a_stock_loader_would_drop_or_cannot_hold(tmp_path):
    g = _delayed_conv_net()
    for kw in (dict(exact=True), dict(exact=False, patch=True)):
        with pytest.raises(NeurodeployError, match=r"^node 'conv1' \(conv2d\): lava-dl's netx "
                                                   r"ignores a conv layer's 'delay'"):
            export_netx(g, tmp_path / "a.net", **kw)
    g.nodes["conv2"].delay = g.nodes["conv2"].delay.copy()
    g.nodes["conv2"].delay[0, 0, 0, 0] += 1
    with pytest.raises(NeurodeployError) as err:
        export_netx(g, tmp_path / "b.net", exact=False)
    assert str(err.value) == ("node 'conv2' (conv2d): per-tap delays have no netx form (a netx "
                              "conv 'delay' is one per output channel)")
    assert not (tmp_path / "b.net").exists()
